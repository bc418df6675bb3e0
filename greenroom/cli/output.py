"""Terminal output of the CLI: aligned tables, key/value listings, JSON, short durations.

Human output is for reading; `--json` output is the API's answer, unchanged, for scripts.
Every line is flushed as it is written, so progress shows at once even through a pipe.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

__all__ = [
    "duration",
    "emit",
    "emit_json",
    "error",
    "flatten",
    "mapping_lines",
    "short_json",
    "short_time",
    "table",
]

MAX_CELL = 60
"""Characters of a table cell or listed value kept before it is cut with an ellipsis."""


def emit(line: str = "", *, stream: TextIO | None = None) -> None:
    """Write one line to stdout (or `stream`) and flush it."""
    print(line, file=stream or sys.stdout, flush=True)


def error(message: str, code: int = 1) -> int:
    """Report an error on stderr as `greenroom: error: ...`; returns the exit code `code`."""
    emit(f"greenroom: error: {message}", stream=sys.stderr)
    return code


def emit_json(value: Any) -> None:
    """Write `value` as indented JSON (sorted keys, so output is stable for scripts)."""
    emit(json.dumps(value, indent=2, sort_keys=True, default=str))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """The lines of a table: a header and one line per row, columns padded to their widest
    cell (cells are cut at `MAX_CELL` characters; None shows as "-")."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(value))
    return [_line(headers, widths), *(_line(row, widths) for row in cells)]


def mapping_lines(mapping: Mapping[str, Any]) -> list[str]:
    """`key  value` lines for a (nested) mapping, keys aligned; nested keys are dotted."""
    pairs = list(flatten(mapping))
    width = max((len(key) for key, _ in pairs), default=0)
    return [f"{key.ljust(width)}  {_cell(value)}".rstrip() for key, value in pairs]


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """(dotted key, value) pairs of a nested mapping; an empty nested mapping shows as "-"."""
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, None if isinstance(value, Mapping) else value


def short_json(value: Any) -> str:
    """`value` as compact one-line JSON."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def duration(seconds: float | None) -> str:
    """A duration to the two largest units: `45s`, `3m05s`, `2h07m`, `3d04h` ("-" for None)."""
    if seconds is None:
        return "-"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def short_time(raw: Any) -> str:
    """An ISO 8601 timestamp as local `YYYY-MM-DD HH:MM:SS` (the raw value if it is not one)."""
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None:
        return _cell(raw)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, bool | int):
        text = str(value)
    elif isinstance(value, list | tuple) and all(
        isinstance(item, str | int | float) for item in value
    ):
        text = ", ".join(str(item) for item in value) or "-"
    else:
        text = short_json(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else f"{text[: MAX_CELL - 1]}…"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
