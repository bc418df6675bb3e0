"""`JournalEntry`, `JournalLevel`, the entry types the runtime writes, and which level writes what.

Levels:

- `none`: nothing is written.
- `checkpoint` (the default of a configured journal): what recovery needs for its promise.
  That is `trigger_event` (an accepted event), `invocation_result` (a finished run, with the
  conversation messages it added), `error` (a failed run), `dead_letter` (an event the process
  will not run), `state_transition`, `context_update`, `checkpoint`, `recovered`,
  `restart`, `restart_exhausted`, `run_interrupted`, and the governance entries
  (`tool_denied`, `budget_violation`, `secret_access`, `mission_evaluation`, `mission_failed`).
- `full`: everything above, plus `invocation_start`, `tool_call` and `tool_result`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from greenroom.ids import new_id

__all__ = ["CHECKPOINT_TYPES", "FULL_ONLY_TYPES", "EntryType", "JournalEntry", "JournalLevel",
           "records"]


class JournalLevel(StrEnum):
    """How much a process journals: nothing, what recovery needs, or everything."""

    NONE = "none"
    CHECKPOINT = "checkpoint"
    FULL = "full"


class EntryType(StrEnum):
    """The entry types the runtime writes."""

    STATE_TRANSITION = "state_transition"
    TRIGGER_EVENT = "trigger_event"
    INVOCATION_START = "invocation_start"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    TOOL_DENIED = "tool_denied"
    INVOCATION_RESULT = "invocation_result"
    ERROR = "error"
    DEAD_LETTER = "dead_letter"
    CONTEXT_UPDATE = "context_update"
    CHECKPOINT = "checkpoint"
    RECOVERED = "recovered"
    RESTART = "restart"
    RESTART_EXHAUSTED = "restart_exhausted"
    RUN_INTERRUPTED = "run_interrupted"
    SECRET_ACCESS = "secret_access"
    BUDGET_VIOLATION = "budget_violation"
    MISSION_EVALUATION = "mission_evaluation"
    MISSION_FAILED = "mission_failed"
    API_REQUEST = "api_request"


FULL_ONLY_TYPES = frozenset({EntryType.INVOCATION_START, EntryType.TOOL_CALL,
                             EntryType.TOOL_RESULT})
"""Written at the `full` level only."""

CHECKPOINT_TYPES = frozenset(EntryType) - FULL_ONLY_TYPES
"""Written at the `checkpoint` level (and at `full`)."""


def records(level: JournalLevel | str, entry_type: str) -> bool:
    """Whether a journal at `level` writes entries of `entry_type` (unknown types: `full` only)."""
    level = JournalLevel(level)
    if level is JournalLevel.NONE:
        return False
    if level is JournalLevel.FULL:
        return True
    return entry_type in CHECKPOINT_TYPES


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JournalEntry:
    """One journal record. `process_id` is the process *name*, so it survives restarts.

    `data` must be JSON-serialisable (a journal refuses anything else with `JournalError`).
    """

    process_id: str
    entry_type: str
    data: dict[str, Any] = field(default_factory=dict)
    entry_id: str = field(default_factory=new_id)
    timestamp: datetime = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamp as ISO 8601)."""
        return {
            "entry_id": self.entry_id,
            "process_id": self.process_id,
            "timestamp": self.timestamp.isoformat(),
            "entry_type": self.entry_type,
            "data": self.data,
        }

    @classmethod
    def trusted(cls, process_id: str, entry_type: str, data: dict[str, Any], entry_id: str,
                timestamp: datetime) -> JournalEntry:
        """An entry from fields already checked (a journal reading its own records): built
        without the frozen dataclass's per-field `__setattr__`, which dominates bulk reads."""
        entry = object.__new__(cls)
        entry.__dict__.update(process_id=process_id, entry_type=entry_type, data=data,
                              entry_id=entry_id, timestamp=timestamp)
        return entry

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JournalEntry:
        """The inverse of `to_dict`; `KeyError`/`ValueError`/`TypeError` on a malformed dict."""
        timestamp = datetime.fromisoformat(raw["timestamp"])
        if timestamp.tzinfo is None:
            msg = f"timestamp without a time zone: {raw['timestamp']!r}"
            raise ValueError(msg)
        data = raw["data"]
        if not isinstance(data, dict):
            msg = f"data: expected an object, got {type(data).__name__}"
            raise TypeError(msg)
        return cls(str(raw["process_id"]), str(raw["entry_type"]), data,
                   str(raw["entry_id"]), timestamp)
