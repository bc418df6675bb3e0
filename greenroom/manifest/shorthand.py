"""The overview's trigger shorthand, expanded into `TriggerConfig` fields.

A trigger in a manifest is either the long form, a mapping with `type` and the `TriggerConfig`
fields (`{type: cron, cron_expression: "*/5 * * * *"}`), or one shorthand key whose value is the
trigger's main field, with other `TriggerConfig` fields as sibling keys:

    - cron: "*/5 * * * *"          -> type: cron,       cron_expression: "*/5 * * * *"
    - webhook: /alert               -> type: webhook,    webhook_path: /alert
      verify_hmac: true                (siblings are kept: verify_hmac: true)
    - file_watch: /data/*.csv       -> type: file_watch, watch_path: /data, watch_patterns: [*.csv]
    - event: pipeline.*             -> type: event,      event_type: pipeline.*
    - message: analysis.complete    -> type: message,    topic: analysis.complete

A glob in the last component of a `file_watch` path becomes `watch_patterns` (as
`greenroom.triggers.FileWatchTrigger` does); a glob in a directory component is refused, because
no watcher could honour it. Problems are raised as `ValueError("<key>: <what>")`, so the schema
reports them at `triggers[i].<key>`.
"""

from __future__ import annotations

import difflib
import glob
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["SHORTHAND_FIELDS", "expand_trigger", "shorthand_aliases"]

SHORTHAND_FIELDS: Mapping[str, str] = {
    "cron": "cron_expression",
    "webhook": "webhook_path",
    "file_watch": "watch_path",
    "event": "event_type",
    "message": "topic",
}
"""Each shorthand key and the `TriggerConfig` field its value fills (its `type` is the key)."""


def shorthand_aliases() -> list[tuple[str, str]]:
    """(shorthand key, field it fills) pairs, including the glob half of `file_watch`."""
    return [*SHORTHAND_FIELDS.items(), ("file_watch", "watch_patterns")]


def expand_trigger(entry: Any) -> Any:
    """The long form of one manifest trigger. A long-form mapping (with `type`) and anything
    that is not a mapping (a `TriggerConfig`, or a mistake) are returned unchanged, for the
    `TriggerConfig` validation to judge.
    """
    if not isinstance(entry, Mapping):
        return entry
    keys = [key for key in SHORTHAND_FIELDS if key in entry]
    if "type" in entry:
        if keys:
            msg = f"{keys[0]}: a shorthand key cannot be combined with 'type'"
            raise ValueError(msg)
        return entry
    if not keys:
        raise ValueError(_missing_type(entry))
    if len(keys) > 1:
        msg = f"{keys[1]}: one trigger takes one shorthand key, got {keys[0]!r} and {keys[1]!r}"
        raise ValueError(msg)
    key = keys[0]
    field = SHORTHAND_FIELDS[key]
    value = entry[key]
    if field in entry:
        msg = f"{field}: given twice, as {key!r} and as {field!r}"
        raise ValueError(msg)
    if not isinstance(value, str) or not value.strip():
        msg = f"{key}: expected a non-empty string"
        raise ValueError(msg)
    expanded = {name: item for name, item in entry.items() if name != key}
    expanded["type"] = key
    if key == "file_watch":
        expanded.update(_split_watch_path(value, has_patterns="watch_patterns" in entry))
    else:
        expanded[field] = value
    return expanded


def _missing_type(entry: Mapping[Any, Any]) -> str:
    """Why a trigger without `type` or a shorthand key is refused, with a guess when a key is
    a misspelt shorthand."""
    choices = ["type", *SHORTHAND_FIELDS]
    for key in entry:
        close = difflib.get_close_matches(str(key), choices, n=1)
        if close:
            return f"{key}: unknown key {key!r}; did you mean {close[0]!r}?"
    return "needs a 'type' or one of the shorthand keys " + ", ".join(SHORTHAND_FIELDS)


def _split_watch_path(path: str, *, has_patterns: bool) -> dict[str, Any]:
    """`watch_path` (and `watch_patterns` when the last component is a glob) from a path."""
    directory, name = os.path.split(path)
    if glob.has_magic(directory):
        msg = "file_watch: only the last path component may be a glob pattern"
        raise ValueError(msg)
    if not glob.has_magic(name):
        return {"watch_path": path}
    if has_patterns:
        msg = "file_watch: give the glob in the path or in watch_patterns, not in both"
        raise ValueError(msg)
    return {"watch_path": directory or ".", "watch_patterns": [name]}
