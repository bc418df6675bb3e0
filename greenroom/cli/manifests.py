"""Manifest commands: `validate` (check `.agent` files), `init` (write a template) and
`deploy` (send a manifest's process to a running runtime). The manifest loader (and with it the
configs and the runtime's pieces they name) is imported when a command needs it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenroom.cli.output import emit, emit_json, error
from greenroom.cli.remote import add_remote_options, remote_command
from greenroom.manifest.errors import ManifestError, ManifestIssue, ManifestValidationError
from greenroom.manifest.templates import TEMPLATE_KINDS, manifest_template

if TYPE_CHECKING:
    from greenroom.api.client import OrchestrationClient

__all__ = ["manifest_paths", "register"]



def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the manifest commands to the CLI."""
    validate = commands.add_parser(
        "validate", help="check .agent manifests and print every error",
        description="Exit code 0 if every manifest is valid, 1 otherwise. A directory stands "
                    "for the *.agent files in it.")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or dirs")
    validate.add_argument("--json", action="store_true",
                          help="print one result per file as JSON")
    validate.set_defaults(func=_validate)

    init = commands.add_parser("init", help="write a manifest template",
                               description="Print a manifest template, or write it to FILE.")
    init.add_argument("-t", "--template", choices=TEMPLATE_KINDS, default="basic",
                      help="which template (default: basic)")
    init.add_argument("-o", "--output", type=Path, metavar="FILE",
                      help="write to FILE instead of stdout")
    init.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    init.set_defaults(func=_init)

    deploy = commands.add_parser(
        "deploy", help="deploy a manifest's process to a running runtime",
        description="Load and validate the manifest here (${VAR} references resolve from this "
                    "shell's environment), then register its process over the API.")
    deploy.add_argument("file", type=Path, help="the .agent manifest")
    deploy.add_argument("--name", help="deploy under this name instead of the manifest's")
    deploy.add_argument("--start", action="store_true", help="start the process too")
    add_remote_options(deploy)
    deploy.set_defaults(func=_deploy)


def manifest_paths(paths: list[str]) -> list[Path]:
    """The manifest files named by `paths`: files as given, directories as their `*.agent`
    files (sorted). Raises `ManifestError` for a path that does not exist or a directory
    without manifests."""
    from greenroom.manifest.loader import MANIFEST_SUFFIX, manifest_files  # noqa: PLC0415

    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = manifest_files(path)
            if not files:
                msg = f"no *{MANIFEST_SUFFIX} files in this directory"
                raise ManifestError(msg, file_path=str(path))
            found.extend(files)
        elif path.exists():
            found.append(path)
        else:
            raise ManifestError("no such file or directory", file_path=str(path))
    return found


def _validate(args: argparse.Namespace) -> int:
    try:
        files = manifest_paths(args.paths)
    except ManifestError as exc:
        return error(str(exc))
    results = [_check(path) for path in files]
    if args.json:
        emit_json(results)
    else:
        for result in results:
            for problem in result["errors"]:
                emit(f"{problem['location']}: error: {problem['message']}")
            for warning in result["warnings"]:
                emit(f"{result['file']}: warning: {warning}")
            if result["valid"]:
                emit(f"{result['file']}: ok")
        invalid = sum(not result["valid"] for result in results)
        emit(f"{len(results) - invalid} valid, {invalid} invalid")
    return 0 if all(result["valid"] for result in results) else 1


def _check(path: Path) -> dict[str, Any]:
    """Validate one manifest: `{file, valid, errors: [{location, path, message}], warnings}`."""
    from greenroom.manifest.loader import validate_manifest  # noqa: PLC0415

    result: dict[str, Any] = {"file": str(path), "valid": True, "errors": [], "warnings": []}
    try:
        result["warnings"] = list(validate_manifest(path))
    except ManifestValidationError as exc:
        result["valid"] = False
        result["errors"] = [_field_error(path, item) for item in exc.errors]
    except ManifestError as exc:
        result["valid"] = False
        result["errors"] = [{"location": _location(path, exc.line, exc.column), "path": None,
                             "message": exc.message}]
    return result


def _field_error(path: Path, issue: ManifestIssue) -> dict[str, Any]:
    """One problem of a `ManifestValidationError`, with its `file:line:col` location."""
    field_path = issue["path"] or None
    message = f"{field_path}: {issue['message']}" if field_path else issue["message"]
    return {"location": _location(path, issue["line"], issue["column"]), "path": field_path,
            "message": message}


def _location(path: Path, line: int | None, column: int | None) -> str:
    """`file`, `file:line` or `file:line:col`, as far as they are known."""
    parts = [str(part) for part in (path, line, column) if part is not None]
    return ":".join(parts) if line is not None else str(path)


def _init(args: argparse.Namespace) -> int:
    text = manifest_template(args.template)
    output: Path | None = args.output
    if output is None:
        emit(text.rstrip("\n"))
        return 0
    if output.exists() and not args.force:
        return error(f"{output} exists; pass --force to overwrite it")
    output.write_text(text, encoding="utf-8")
    emit(f"wrote the {args.template} template to {output}; check it with "
         f"`greenroom validate {output}`")
    return 0


async def _deploy_with(client: OrchestrationClient, args: argparse.Namespace) -> int:
    from greenroom.manifest.loader import manifest_to_process_config  # noqa: PLC0415

    manifest = args.manifest
    name = args.name or manifest.name
    config = manifest_to_process_config(manifest).model_dump(mode="json")
    if not args.json:
        emit(f"deploying {name} from {args.file}" + (" and starting it" if args.start else "")
             + "...")
    answer = await client.deploy(name, config, start=args.start)
    if args.json:
        emit_json(answer)
    else:
        emit(f"{name}: deployed ({answer.get('state', 'created')}), process id "
             f"{answer.get('process_id')}")
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from greenroom.manifest.loader import load_manifest  # noqa: PLC0415

    try:
        args.manifest = load_manifest(args.file)
    except ManifestValidationError as exc:
        for item in exc.errors:
            problem = _field_error(args.file, item)
            error(f"{problem['location']}: {problem['message']}")
        return 1
    except ManifestError as exc:
        return error(str(exc))
    return remote_command(_deploy_with)(args)
