"""`${VAR}` references in a manifest's string values, resolved when the manifest is loaded.

`${VAR}` is the variable's value (an error naming the path and the variable when it is unset),
`${VAR:-default}` falls back to `default` when `VAR` is unset or empty (as in a POSIX shell and
as `SecretScope` does), and `$${` is a literal `${`. References can sit inside a longer string
(`http://${HOST}:8000/`). Keys are never resolved, and nothing under `secrets` is: those
references stay as written so the process's `SecretScope` resolves them at start and never
holds them in its config. The same pass refuses values YAML makes that JSON cannot carry (an
unquoted date becomes a `date`), since a config must survive JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from greenroom.manifest.source import Path, Problem

__all__ = ["SKIPPED_SECTIONS", "escape_references", "resolve_references"]

SKIPPED_SECTIONS = frozenset({"secrets"})
"""Top-level sections whose references are left for later (the secret scope's own)."""

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


def resolve_references(data: Any, environ: Mapping[str, str]) -> tuple[Any, list[Problem]]:
    """A copy of `data` with every reference resolved from `environ`, and the problems found
    (unset variables, malformed references, values that are not JSON). `data` is the top-level
    mapping of a manifest.
    """
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        return data, problems
    resolved = {
        key: value if key in SKIPPED_SECTIONS else _resolve(value, (key,), environ, problems)
        for key, value in data.items()
    }
    return resolved, problems


def escape_references(value: str) -> str:
    """`value` written so that resolving it gives `value` back (`${` becomes `$${`)."""
    return value.replace("${", "$${")


def _resolve(value: Any, path: Path, environ: Mapping[str, str], problems: list[Problem]) -> Any:
    if isinstance(value, str):
        return _substitute(value, path, environ, problems)
    if isinstance(value, Mapping):
        return {key: _resolve(item, (*path, key), environ, problems)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, (*path, index), environ, problems)
                for index, item in enumerate(value)]
    if isinstance(value, dt.date | dt.time):
        problems.append(Problem(path, f"YAML read this as a {type(value).__name__}; quote it "
                                      "to keep it as text"))
    elif isinstance(value, bytes | set):
        problems.append(Problem(path, f"a YAML {type(value).__name__} is not a manifest value"))
    return value


def _substitute(text: str, path: Path, environ: Mapping[str, str],
                problems: list[Problem]) -> str:
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        token, variable, default = match.group(0), match.group(1), match.group(2)
        if token == "$${":
            return "${"
        if variable is None:
            problems.append(Problem(path, "malformed reference; write ${VAR} or "
                                          "${VAR:-default} (and $${ for a literal ${)"))
            return token
        found = environ.get(variable)
        if found is None or (found == "" and default is not None):
            if default is None:
                problems.append(Problem(path, f"environment variable {variable} is not set "
                                              f"(write ${{{variable}:-default}} to give a "
                                              "default)"))
                return token
            return default
        return found

    return _REFERENCE.sub(replace, text)
