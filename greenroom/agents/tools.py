"""Tools offered to an agent: a `ToolSpec` (name, description, JSON schema of the arguments),
built from a plain Python function's type hints and docstring by `tool_spec`.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue, PydanticUserError, TypeAdapter

__all__ = ["ToolSpec", "tool_spec"]

_TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_ARGS_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:$")
_OTHER_SECTION = re.compile(r"^(Returns?|Raises|Yields?|Examples?|Notes?|See Also)\s*:$")
_PARAM_LINE = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class ToolSpec(_Frozen):
    """How a tool is offered to a model: its name, what it does, and a JSON schema of its inputs."""

    name: str
    description: str
    parameters: dict[str, JsonValue]


def _split_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The text before the first section, and per-parameter text from an `Args:` section."""
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    param_indent: int | None = None
    for line in doc.splitlines():
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if _ARGS_SECTION.match(text) or _OTHER_SECTION.match(text):
            section = "args" if _ARGS_SECTION.match(text) else "other"
            current, param_indent = None, None
        elif section is None:
            summary.append(text)
        elif section == "args" and text:
            match = _PARAM_LINE.match(text)
            if match and (param_indent is None or indent <= param_indent):
                param_indent = indent
                current = match.group(1)
                params[current] = match.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {text}".strip()
    return "\n".join(summary).strip(), params


def _parameter_schema(
    annotation: Any, where: str, defs: dict[str, JsonValue]
) -> dict[str, JsonValue]:
    """The JSON schema of one parameter; shared model definitions are moved into `defs`."""
    try:
        schema: dict[str, JsonValue] = TypeAdapter(annotation).json_schema()
    except PydanticUserError as exc:
        msg = f"{where}: its type hint has no JSON schema ({exc.message})"
        raise TypeError(msg) from None
    nested = schema.pop("$defs", None)
    if isinstance(nested, dict):
        defs.update(nested)
    return schema


def tool_spec(fn: Callable[..., Any]) -> ToolSpec:
    """Describe a callable as a tool from its name, type hints and docstring.

    The description is the docstring text before its first section; parameter descriptions come
    from a Google-style `Args:` section. Every parameter needs a type hint with a JSON schema, and
    `*args` / `**kwargs` are refused. Errors name the tool and the parameter.
    """
    if not callable(fn):
        msg = f"tool: expected a callable, got {type(fn).__name__}"
        raise TypeError(msg)
    name = getattr(fn, "__name__", type(fn).__name__)
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        msg = f"tool {name!r}: needs a name of letters, digits, '_' or '-' (wrap it in a def)"
        raise ValueError(msg)
    try:
        hints = typing.get_type_hints(fn)
        signature = inspect.signature(fn)
    except (NameError, TypeError, ValueError) as exc:
        msg = f"tool {name!r}: cannot read its signature ({exc})"
        raise TypeError(msg) from None
    description, docs = _split_docstring(inspect.getdoc(fn) or "")
    properties: dict[str, JsonValue] = {}
    required: list[JsonValue] = []
    defs: dict[str, JsonValue] = {}
    for param in signature.parameters.values():
        where = f"tool {name!r}: parameter {param.name!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            msg = f"{where}: *args and **kwargs cannot be described to a model"
            raise TypeError(msg)
        if param.name not in hints:
            msg = f"{where}: needs a type hint"
            raise TypeError(msg)
        schema = _parameter_schema(hints[param.name], where, defs)
        if param.name in docs:
            schema["description"] = docs[param.name]
        if param.default is param.empty:
            required.append(param.name)
        else:
            with contextlib.suppress(TypeError, ValueError):
                schema["default"] = json.loads(json.dumps(param.default, allow_nan=False))
        properties[param.name] = schema
    parameters: dict[str, JsonValue] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    if defs:
        parameters["$defs"] = defs
    return ToolSpec(name=name, description=description or name, parameters=parameters)
