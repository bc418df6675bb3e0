"""Turning validation failures into `ManifestIssue`s that point at the manifest as written.

Pydantic reports where its models failed; a reader wants where the manifest is wrong. So each
error is moved to the key it is about (a model-level "cron_expression: required" sits at
`triggers[0].cron_expression`), mapped back to the spelling the manifest used (a shorthand
`cron:` or an alias such as `max_daily_cost`), given a "did you mean" for an unknown key, and
placed at the line and column of that key in the YAML source.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from greenroom.manifest.errors import ManifestIssue
from greenroom.manifest.schema import AgentManifestSchema, ProcessSettings
from greenroom.manifest.shorthand import shorthand_aliases
from greenroom.manifest.source import Path, Problem
from greenroom.runtime.config import TriggerConfig

__all__ = ["format_path", "issues_from_problems", "issues_from_validation"]

_EXTRA_ALIASES: Mapping[type[BaseModel], list[tuple[str, str]]] = {
    TriggerConfig: shorthand_aliases(),
}
_HEAD = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[[^\]]+\]|\.[A-Za-z_][A-Za-z0-9_]*)*): (.+)$", re.DOTALL
)
_TAIL = re.compile(r"\[([^\]]+)\]|\.([A-Za-z_][A-Za-z0-9_]*)")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_UNION = object()
_CONFIG_KEYS = frozenset(ProcessSettings.model_fields)
_TOP_KEYS = frozenset(AgentManifestSchema.model_fields)


def format_path(path: Path) -> str:
    """`triggers[0].cron`: keys joined by dots, indexes (and odd keys) in brackets."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def issues_from_problems(problems: list[Problem],
                         marks: Mapping[Path, tuple[int, int]]) -> list[ManifestIssue]:
    """Problems found before validation, placed in the source."""
    return _ordered([_issue(problem.path, problem.message, marks, problem.mark)
                     for problem in problems])


def issues_from_validation(exc: ValidationError, data: Any,
                           marks: Mapping[Path, tuple[int, int]]) -> list[ManifestIssue]:
    """Every error of `exc` (raised validating `data`) as an issue at the key it is about."""
    issues: list[ManifestIssue] = []
    seen: set[tuple[str, str]] = set()
    union_paths: set[Path] = set()
    for error in exc.errors(include_url=False, include_input=False):
        path, in_union = _model_path(tuple(error["loc"]))
        message = error["msg"].removeprefix("Value error, ")
        path, message = _move_into_message_head(path, message, data)
        if error["type"] == "extra_forbidden":
            message = _unknown_key(path)
        elif error["type"] == "missing":
            message = "required"
        elif error["type"] in ("model_type", "dict_type", "model_attributes_type"):
            message = f"expected a mapping, got {_kind(_at(data, path))}"
        elif error["type"] == "callable_type":
            message = "a manifest cannot give a Python callable here"
        elif error["type"] == "list_type":
            message = f"expected a list, got {_kind(_at(data, path))}"
        path = _as_written(path, data)
        if in_union:
            if path in union_paths:
                continue
            union_paths.add(path)
        issue = _issue(path, message, marks)
        if (issue["path"], issue["message"]) not in seen:
            seen.add((issue["path"], issue["message"]))
            issues.append(issue)
    return _ordered(issues)


def _issue(path: Path, message: str, marks: Mapping[Path, tuple[int, int]],
           mark: tuple[int, int] | None = None) -> ManifestIssue:
    if mark is None:
        for end in range(len(path), 0, -1):
            if path[:end] in marks:
                mark = marks[path[:end]]
                break
    return ManifestIssue(path=format_path(path), message=message,
                         line=mark[0] if mark else None, column=mark[1] if mark else None)


def _ordered(issues: list[ManifestIssue]) -> list[ManifestIssue]:
    """In source order (issues without a position last), keeping the order among equals."""
    return sorted(issues, key=lambda issue: (issue["line"] is None, issue["line"] or 0,
                                             issue["column"] or 0))


# Walking the schema ------------------------------------------------------------------------

def _step(annotation: Any, part: str | int) -> Any:
    """The annotation one step below `annotation` at `part`; `_UNION` at a union of several
    types (pydantic then adds a tag to the path), None where the schema says nothing."""
    annotation = _unwrap(annotation)
    if annotation is _UNION or annotation is None:
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(part, str):
            name = dict(_aliases(annotation)).get(part, part)
            field = annotation.model_fields.get(name)
            return field.annotation if field is not None else None
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and isinstance(part, int) and args:
        return args[0]
    if origin is dict and isinstance(part, str) and len(args) == 2:
        return args[1]
    return None


def _unwrap(annotation: Any) -> Any:
    """`X` from `Annotated[X, ...]` and `X | None`; `_UNION` for a union of several types."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else _UNION
    return annotation


def _model_at(path: Path) -> type[BaseModel] | None:
    annotation: Any = AgentManifestSchema
    for part in path:
        annotation = _step(annotation, part)
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _aliases(model: type[BaseModel]) -> list[tuple[str, str]]:
    """(input key, field) pairs a model accepts besides its field names."""
    declared: Mapping[str, str] = getattr(model, "ALIASES", {})  # StrictConfig models
    return [*declared.items(), *_EXTRA_ALIASES.get(model, [])]


def _input_keys(model: type[BaseModel]) -> list[str]:
    return sorted({*model.model_fields, *(alias for alias, _ in _aliases(model))})


def _model_path(loc: tuple[str | int, ...]) -> tuple[Path, bool]:
    """The error location without pydantic's union tags; True if it went through a union."""
    annotation: Any = AgentManifestSchema
    path: list[str | int] = []
    for part in loc:
        if _unwrap(annotation) is _UNION:
            return tuple(path), True
        path.append(part)
        annotation = _step(annotation, part)
    return tuple(path), False


# Messages ----------------------------------------------------------------------------------

def _move_into_message_head(path: Path, message: str, data: Any) -> tuple[Path, str]:
    """Validators name the field they refuse at the head of their message ("cron_expression:
    required ..."); move that name into the path, when it is a key at that place."""
    match = _HEAD.match(message)
    if match is None:
        return path, message
    head, tail, rest = match.groups()
    extra: list[str | int] = [
        int(index) if index.isdigit() else (index.strip("'\"") if index else name)
        for index, name in _TAIL.findall(tail)
    ]
    if path and head == path[-1]:
        return (*path, *extra), rest
    model = _model_at(path)
    node = _at(data, path)
    known = (model is not None and head in _input_keys(model)) or \
        (isinstance(node, Mapping) and head in node)
    if known:
        return (*path, head, *extra), rest
    return path, message


def _unknown_key(path: Path) -> str:
    """"unknown key 'x'", with the key it most likely meant or, failing that, the keys allowed."""
    key = path[-1]
    parent = path[:-1]
    if isinstance(key, str) and key in _CONFIG_KEYS and parent != ("config",):
        return f"unknown key {key!r}; did you mean 'config.{key}'?"
    if isinstance(key, str) and key in _TOP_KEYS and parent == ("config",):
        return f"unknown key {key!r}; {key!r} is a top-level key of the manifest"
    model = _model_at(parent)
    allowed = _input_keys(model) if model is not None else []
    close = difflib.get_close_matches(str(key), allowed, n=1)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r} (allowed: {', '.join(allowed)})"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


# Back to the source ------------------------------------------------------------------------

def _at(data: Any, path: Path) -> Any:
    """The value at `path`, following the keys as written (aliases, shorthand); None if the
    path leaves the data."""
    node = data
    for part in _as_written(path, data):
        node = _child(node, part)
    return node


def _child(node: Any, part: str | int) -> Any:
    """`node[part]` for a mapping key or a list index that exists, else None."""
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _as_written(path: Path, data: Any) -> Path:
    """`path` with each field name replaced by the alias the manifest used for it."""
    written: list[str | int] = []
    node = data
    annotation: Any = AgentManifestSchema
    for part in path:
        model = _unwrap(annotation)
        if isinstance(node, Mapping) and part not in node and isinstance(model, type) \
                and issubclass(model, BaseModel):
            for alias, name in _aliases(model):
                if name == part and alias in node:
                    part = alias  # noqa: PLW2901 (the spelling as written)
                    break
        written.append(part)
        annotation = _step(annotation, part)
        node = _child(node, part)
    return tuple(written)
