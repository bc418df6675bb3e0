"""Indented JSON for prompts, without the standard library's slow path.

`json.dumps(value, indent=2, ...)` cannot use the C encoder (it handles only compact output), so
it runs the pure-Python encoder: a chain of generators per container that costs more than the
rest of framing a trigger event. `indented_json` writes exactly the same text with one recursive
function over the few JSON types, leaving the strings to the C escaper.
"""

from __future__ import annotations

import json.encoder
import math
from typing import Any

__all__ = ["indented_json"]

_escape = json.encoder.encode_basestring
"""The C string escaper when available (as `ensure_ascii=False` uses it)."""

_INF = float("inf")


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    """A dict key as JSON turns it into a member name (the order of checks is `json`'s)."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    msg = f"keys must be str, int, float, bool or None, not {type(key).__name__}"
    raise TypeError(msg)


def indented_json(value: Any) -> str:
    """The text of `json.dumps(value, indent=2, ensure_ascii=False, default=str)`, and the same
    errors (`ValueError` on a circular reference, `TypeError` on a bad key)."""
    parts: list[str] = []
    _write(value, parts, "\n", set())
    return "".join(parts)


def _write(value: Any, out: list[str], newline: str, seen: set[int]) -> None:  # noqa: PLR0912
    """Append `value`'s JSON to `out`; `newline` is the line break and indent of its level."""
    if isinstance(value, str):
        out.append(_escape(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, list | tuple | dict):
        if not value:
            out.append("{}" if isinstance(value, dict) else "[]")
            return
        marker = id(value)
        if marker in seen:
            msg = "Circular reference detected"
            raise ValueError(msg)
        seen.add(marker)
        inner = newline + "  "
        if isinstance(value, dict):
            out.append("{")
            separator = inner
            for key, item in value.items():
                out.append(separator)
                out.append(_escape(key if type(key) is str else _key(key)))
                out.append(": ")
                _write(item, out, inner, seen)
                separator = "," + inner
            out.append(newline + "}")
        else:
            out.append("[")
            separator = inner
            for item in value:
                out.append(separator)
                _write(item, out, inner, seen)
                separator = "," + inner
            out.append(newline + "]")
        seen.discard(marker)
    else:
        out.append(_escape(str(value)))  # default=str
