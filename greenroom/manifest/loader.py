"""Loading, saving and checking `.agent` manifests, and turning them into `ProcessConfig`s.

A manifest is data: it is read with `yaml.SafeLoader`, validated by `AgentManifestSchema`, and
nothing in it is imported or executed (a `python:<name>` model names an agent the program has
registered; `entrypoint` is reserved and ignored). `${VAR}` references are resolved from the
environment at load time, except under `secrets` (see `greenroom.manifest.variables`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from greenroom.agents.registry import lookup_agent, registered_agents
from greenroom.manifest.diagnostics import issues_from_problems, issues_from_validation
from greenroom.manifest.errors import ManifestError, ManifestIssue, ManifestValidationError
from greenroom.manifest.schema import NAME_PATTERN, AgentManifestSchema
from greenroom.manifest.source import Source, parse_yaml
from greenroom.manifest.variables import SKIPPED_SECTIONS, escape_references, resolve_references
from greenroom.runtime.config import ExecutionMode, ProcessConfig

__all__ = [
    "MANIFEST_SUFFIX",
    "load_manifest",
    "load_process_configs",
    "manifest_files",
    "manifest_from_dict",
    "manifest_to_process_config",
    "manifest_to_yaml",
    "manifest_warnings",
    "save_manifest",
    "validate_manifest",
]

MANIFEST_SUFFIX = ".agent"
"""The file suffix `load_directory` looks for."""

_ENABLED_SECTIONS = ("budget", "health", "mission", "secrets")


def load_manifest(path: str | os.PathLike[str], *,
                  environ: Mapping[str, str] | None = None) -> AgentManifestSchema:
    """Read, parse and validate the manifest at `path`, resolving `${VAR}` from `environ`
    (default `os.environ`).

    Raises `ManifestError` when the file cannot be read or is not valid YAML (with its line and
    column), `ManifestValidationError` listing every problem otherwise.
    """
    file_path = os.fspath(path)
    try:
        text = Path(file_path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        msg = f"not UTF-8 text (byte {exc.start})"
        raise ManifestError(msg, file_path=file_path) from None
    except OSError as exc:
        msg = f"cannot read the manifest: {exc.strerror or exc}"
        raise ManifestError(msg, file_path=file_path) from None
    source = parse_yaml(text, file_path)
    if source.problems:
        raise ManifestValidationError(issues_from_problems(source.problems, source.marks),
                                      file_path=file_path)
    return _validate(source, file_path, environ)


def manifest_from_dict(data: Any, *, source: str = "<dict>",
                       environ: Mapping[str, str] | None = None) -> AgentManifestSchema:
    """Validate a manifest given as data (an API body, a parsed file), resolving `${VAR}` from
    `environ` (default `os.environ`; pass `{}` to allow no environment reference at all).
    `source` names it in errors. Raises `ManifestValidationError`.
    """
    return _validate(Source(data), source, environ)


def _validate(source: Source, file_path: str,
              environ: Mapping[str, str] | None) -> AgentManifestSchema:
    data = source.data
    if data is None:
        raise _invalid(file_path, "the manifest is empty")
    if not isinstance(data, Mapping):
        raise _invalid(file_path, "expected a mapping of keys such as name, model and "
                                  f"triggers, got {type(data).__name__}")
    resolved, problems = resolve_references(data, os.environ if environ is None else environ)
    if problems:
        raise ManifestValidationError(issues_from_problems(problems, source.marks),
                                      file_path=file_path)
    try:
        return AgentManifestSchema.model_validate(resolved)
    except ValidationError as exc:
        issues = issues_from_validation(exc, resolved, source.marks)
        raise ManifestValidationError(issues, file_path=file_path) from None


def _invalid(file_path: str, message: str) -> ManifestValidationError:
    return ManifestValidationError(
        [ManifestIssue(path="", message=message, line=None, column=None)], file_path=file_path
    )


# Writing -----------------------------------------------------------------------------------

class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def manifest_to_yaml(manifest: AgentManifestSchema) -> str:
    """The manifest as YAML text: defaults left out, `enabled` kept on the sections that have
    it, and `${` escaped outside `secrets` (so loading the text gives the same manifest).
    Raises `ValueError` naming a field that holds a Python callable (such as a trigger's
    callable filter), which a manifest cannot carry.
    """
    data = {"version": manifest.version, **_minimal(manifest, "")}
    for name in _ENABLED_SECTIONS:
        section = getattr(manifest, name)
        if section is not None:
            data[name] = {"enabled": section.enabled, **data.get(name, {})}
    if "inbox" in data.get("config", {}):
        data["config"]["inbox"] = {"enabled": manifest.config.inbox.enabled,
                                   **data["config"]["inbox"]}
    data = {key: value if key in SKIPPED_SECTIONS else _escaped(value)
            for key, value in data.items()}
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    return text


def _minimal(model: BaseModel, path: str) -> dict[str, Any]:
    """The fields of `model` that differ from their defaults, as JSON data."""
    dumped = model.model_dump(mode="json")
    data: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if field.exclude or (not field.is_required()
                             and value == field.get_default(call_default_factory=True)):
            continue
        data[name] = _minimal_value(value, dumped[name], f"{path}.{name}" if path else name)
    return data


def _minimal_value(value: Any, dumped: Any, path: str) -> Any:
    if isinstance(value, BaseModel):
        return _minimal(value, path)
    if isinstance(value, list):
        return [_minimal_value(item, dumped[index], f"{path}[{index}]")
                for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _minimal_value(item, dumped[key], f"{path}.{key}")
                for key, item in value.items()}
    if callable(value):
        msg = f"{path}: holds a Python callable, which a manifest cannot carry"
        raise ValueError(msg)
    return dumped


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return escape_references(value)
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def save_manifest(manifest: AgentManifestSchema, path: str | os.PathLike[str]) -> None:
    """Write `manifest` to `path` as YAML (`manifest_to_yaml`), replacing the file in one step
    so a reader never sees half of it. `load_manifest(path) == manifest` afterwards."""
    target = Path(path)
    text = manifest_to_yaml(manifest)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# Checking and converting -------------------------------------------------------------------

def validate_manifest(path: str | os.PathLike[str], *,
                      environ: Mapping[str, str] | None = None) -> list[str]:
    """Load the manifest at `path` and return its warnings (`manifest_warnings`); raises like
    `load_manifest` when it is invalid."""
    environ = os.environ if environ is None else environ
    return manifest_warnings(load_manifest(path, environ=environ), environ=environ)


def manifest_warnings(manifest: AgentManifestSchema, *,
                      environ: Mapping[str, str] | None = None) -> list[str]:
    """What is valid but will not do what the manifest seems to ask, in this environment."""
    environ = os.environ if environ is None else environ
    warnings: list[str] = []
    provider, _, name = manifest.model.partition(":")
    if provider == "python" and lookup_agent(name) is None:
        known = ", ".join(registered_agents()) or "none"
        warnings.append(f"model: no Python agent is registered as {name!r} yet (registered: "
                        f"{known}); the process fails to start unless the program registers it")
    if provider == "openai" and not environ.get("OPENAI_API_KEY"):
        warnings.append("model: OPENAI_API_KEY is not set; the process fails to start "
                        "without it")
    if manifest.servers:
        warnings.append(f"servers: MCP servers are not supported by this release; "
                        f"{', '.join(sorted(manifest.servers))} will not be connected")
    context = manifest.context
    memory_in_context = context is not None and any(
        name.startswith("memory_") for name in context.model_fields_set)
    if manifest.memory is not None or memory_in_context:
        warnings.append("memory: processes get no memory provider in this release; the memory "
                        "settings are kept in the config but unused")
    if manifest.execution_mode is ExecutionMode.OPEN:
        warnings.append("execution_mode: open mode's self-modification tools are not "
                        "implemented in this release; the agent runs with its configured tools")
    elif manifest.open_mode is not None:
        warnings.append("open_mode: ignored because execution_mode is 'strict'")
    if manifest.entrypoint is not None:
        warnings.append(f"entrypoint: reserved; greenroom never imports code named by a "
                        f"manifest, so {manifest.entrypoint!r} is ignored")
    warnings += _secret_warnings(manifest, environ)
    return warnings


def _secret_warnings(manifest: AgentManifestSchema, environ: Mapping[str, str]) -> list[str]:
    """Secrets whose `${VAR}` is unset now, so the process would not start."""
    if manifest.secrets is None or not manifest.secrets.enabled:
        return []
    warnings = []
    for name, value in manifest.secrets.secrets.items():
        if value.startswith("${") and ":-" not in value:
            variable = value[2:-1]
            if variable not in environ:
                warnings.append(f"secrets.secrets.{name}: environment variable {variable} is "
                                "not set; the process fails to start without it")
    return warnings


def manifest_to_process_config(manifest: AgentManifestSchema) -> ProcessConfig:
    """The `ProcessConfig` the manifest describes (sections left out keep their defaults)."""
    fields: dict[str, Any] = {
        "model": manifest.model,
        "instructions": manifest.instructions,
        "servers": {name: spec.model_dump(mode="json", exclude_none=True)
                    for name, spec in manifest.servers.items()},
        "triggers": list(manifest.triggers),
        "context": manifest.context_config(),
        "execution_mode": manifest.execution_mode,
        **manifest.config.process_fields(),
    }
    for name in ("journal", *_ENABLED_SECTIONS, "open_mode"):
        section = getattr(manifest, name)
        if section is not None:
            fields[name] = section
    return ProcessConfig(**fields)


# Many manifests ----------------------------------------------------------------------------

def manifest_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Every `*.agent` file directly in `directory`, sorted by name; `ManifestError` if it is
    not a readable directory."""
    folder = Path(directory)
    try:
        return sorted(entry for entry in folder.iterdir()
                      if entry.suffix == MANIFEST_SUFFIX and entry.is_file())
    except OSError as exc:
        msg = f"cannot list the manifests: {exc.strerror or exc}"
        raise ManifestError(msg, file_path=os.fspath(folder)) from None


def load_process_configs(
    paths: Iterable[str | os.PathLike[str]],
    taken: Collection[str] = (),
    *,
    name_override: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[tuple[str, ProcessConfig]]:
    """(name, config) for every manifest of `paths`, all validated before any is returned.

    A name must be new (not in `taken`, not used by two of the files). `name_override` renames
    the one manifest of `paths`. The first failing file's error is raised as it is when only
    one file fails; when several do, a `ManifestError` lists them all.
    """
    files = [os.fspath(path) for path in paths]
    if name_override is not None and len(files) != 1:
        msg = "name_override: renames one manifest, not several"
        raise ValueError(msg)
    loaded: list[tuple[str, ProcessConfig]] = []
    failures: list[ManifestError] = []
    owners: dict[str, str] = {}
    for file_path in files:
        try:
            manifest = load_manifest(file_path, environ=environ)
            name = manifest.name if name_override is None else name_override
            _check_name(name, file_path, taken, owners, renamed=name_override is not None)
            owners[name] = file_path
            loaded.append((name, manifest_to_process_config(manifest)))
        except ManifestError as exc:
            failures.append(exc)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        lines = [f"{len(failures)} of {len(files)} manifests are invalid; none was loaded"]
        lines += [f"  {line}" for failure in failures for line in str(failure).splitlines()]
        raise ManifestError("\n".join(lines)) from failures[0]
    return loaded


def _check_name(name: str, file_path: str, taken: Collection[str], owners: Mapping[str, str],
                *, renamed: bool) -> None:
    problem = None
    if renamed and not re.match(NAME_PATTERN, name):
        problem = f"name_override {name!r}: expected a letter, then at most 63 letters, " \
                  "digits, '_' or '-'"
    elif name in taken:
        problem = f"a process named {name!r} is already registered"
    elif name in owners:
        problem = f"{name!r} is also the name in {owners[name]}"
    if problem is not None:
        raise ManifestValidationError(
            [ManifestIssue(path="name", message=problem, line=None, column=None)],
            file_path=file_path,
        )
