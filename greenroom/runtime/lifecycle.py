"""The process lifecycle: states, the transition table, and an audited state machine.

This is the pure core the process actor drives: no locks, no threads, no I/O. Time comes from an
injected `TimeSource`, so tests can record transitions at simulated instants.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from greenroom.runtime.errors import ProcessStateError
from greenroom.timestamps import parse_timestamp

__all__ = [
    "ACCEPTING_STATES",
    "DEFAULT_HISTORY_LIMIT",
    "VALID_TRANSITIONS",
    "ProcessLifecycle",
    "ProcessState",
    "ProcessTransition",
    "SystemTime",
    "TimeSource",
]

DEFAULT_HISTORY_LIMIT = 1000


class TimeSource(Protocol):
    """Anything with a wall-clock `time()`, such as the actor system's `Clock`."""

    def time(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemTime:
    """The real wall clock, used when no `TimeSource` is injected."""

    def time(self) -> float:
        """`time.time()`."""
        return time.time()


class ProcessState(StrEnum):
    """Where an agent process is in its life; values are the lowercase names."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    SUSPENDED = "suspended"
    AWAITING = "awaiting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


_S = ProcessState

ACCEPTING_STATES = frozenset({_S.RUNNING, _S.SUSPENDED})
"""States in which a process takes new events (suspended: they queue)."""

VALID_TRANSITIONS: Mapping[ProcessState, frozenset[ProcessState]] = {
    _S.CREATED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STARTING: frozenset({_S.RUNNING, _S.FAILED, _S.STOPPING}),
    _S.RUNNING: frozenset({_S.SUSPENDED, _S.STOPPING, _S.FAILED, _S.AWAITING}),
    _S.SUSPENDED: frozenset({_S.RUNNING, _S.STOPPING, _S.FAILED}),
    _S.AWAITING: frozenset({_S.RUNNING, _S.STOPPING, _S.FAILED}),
    _S.STOPPING: frozenset({_S.STOPPED, _S.FAILED}),
    _S.STOPPED: frozenset({_S.STARTING}),
    _S.FAILED: frozenset({_S.STARTING, _S.STOPPING}),
}
"""Allowed targets from each state; no state may move to itself."""

_STATE_VALUES = frozenset(state.value for state in ProcessState)


def _parse_state(value: object, field_name: str) -> ProcessState:
    """Coerce a state or its string value, naming `field_name` when it is not one."""
    if isinstance(value, ProcessState):
        return value
    if isinstance(value, str) and value in _STATE_VALUES:
        return ProcessState(value)
    allowed = ", ".join(state.value for state in ProcessState)
    msg = f"{field_name}: {value!r} is not a process state (one of: {allowed})"
    raise ValueError(msg)


@dataclass(frozen=True)
class ProcessTransition:
    """One recorded move of the state machine, with when (UTC) and why."""

    from_state: ProcessState
    to_state: ProcessState
    timestamp: datetime
    reason: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the timestamp is an ISO 8601 string."""
        return {
            "from_state": self.from_state.value,
            "to_state": self.to_state.value,
            "timestamp": self.timestamp.isoformat(),
            "reason": self.reason,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessTransition:
        """Rebuild a transition from `to_dict()` output; a bad field raises `ValueError`."""
        if not isinstance(data, Mapping):
            msg = f"transition: expected a mapping, got {type(data).__name__}"
            raise ValueError(msg)
        timestamp = parse_timestamp(data.get("timestamp"))
        reason = data.get("reason", "")
        metadata = data.get("metadata", {})
        if not isinstance(reason, str):
            msg = f"reason: expected a string, got {type(reason).__name__}"
            raise ValueError(msg)
        if not isinstance(metadata, Mapping):
            msg = f"metadata: expected a mapping, got {type(metadata).__name__}"
            raise ValueError(msg)
        return cls(
            from_state=_parse_state(data.get("from_state"), "from_state"),
            to_state=_parse_state(data.get("to_state"), "to_state"),
            timestamp=timestamp,
            reason=reason,
            metadata=dict(metadata),
        )


class ProcessLifecycle:
    """The state machine of one process: validates moves and keeps their history.

    Not thread-safe on purpose: exactly one actor owns it and serialises every call. The history
    keeps the last `history_limit` transitions, so a long-lived process does not grow without
    bound; the journal holds the complete record.
    """

    def __init__(
        self,
        initial: ProcessState | str = ProcessState.CREATED,
        *,
        clock: TimeSource | None = None,
        process_id: str | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
    ) -> None:
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            msg = f"history_limit: expected an int, got {type(history_limit).__name__}"
            raise TypeError(msg)
        if history_limit < 1:
            msg = f"history_limit: must be >= 1, got {history_limit}"
            raise ValueError(msg)
        self._state = _parse_state(initial, "initial")
        self._clock: TimeSource = clock if clock is not None else SystemTime()
        self._process_id = process_id
        self._history: deque[ProcessTransition] = deque(maxlen=history_limit)

    @property
    def state(self) -> ProcessState:
        """The current state."""
        return self._state

    @property
    def process_id(self) -> str | None:
        """The owning process, used in error messages."""
        return self._process_id

    @property
    def history(self) -> list[ProcessTransition]:
        """Recorded transitions, oldest first (a copy)."""
        return list(self._history)

    @property
    def history_limit(self) -> int:
        """How many transitions the history keeps."""
        limit = self._history.maxlen
        assert limit is not None
        return limit

    def allowed_targets(self) -> frozenset[ProcessState]:
        """The states reachable in one move from the current state."""
        return VALID_TRANSITIONS[self._state]

    def can_transition(self, target: ProcessState | str) -> bool:
        """Whether `target` is reachable in one move; an unknown state is never reachable."""
        try:
            parsed = _parse_state(target, "target")
        except ValueError:
            return False
        return parsed in VALID_TRANSITIONS[self._state]

    def transition(
        self,
        target: ProcessState | str,
        *,
        reason: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> ProcessTransition:
        """Move to `target` and record it; an invalid move raises and changes nothing."""
        parsed = _parse_state(target, "target")
        if parsed not in VALID_TRANSITIONS[self._state]:
            raise ProcessStateError(
                self._state.value,
                parsed.value,
                (state.value for state in VALID_TRANSITIONS[self._state]),
                process_id=self._process_id,
            )
        record = ProcessTransition(
            from_state=self._state,
            to_state=parsed,
            timestamp=datetime.fromtimestamp(self._clock.time(), tz=UTC),
            reason=reason,
            metadata=dict(metadata or {}),
        )
        self._state = parsed
        self._history.append(record)
        return record

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready dict of the current state and the kept history."""
        return {
            "state": self._state.value,
            "process_id": self._process_id,
            "history": [record.to_dict() for record in self._history],
        }

    @classmethod
    def from_snapshot(
        cls,
        data: Mapping[str, Any],
        *,
        clock: TimeSource | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
    ) -> ProcessLifecycle:
        """Rebuild a lifecycle from `snapshot()` output.

        The history must be a chain of allowed moves ending in the recorded state; otherwise a
        `ValueError` names the offending field.
        """
        if not isinstance(data, Mapping):
            msg = f"snapshot: expected a mapping, got {type(data).__name__}"
            raise ValueError(msg)
        process_id = data.get("process_id")
        if process_id is not None and not isinstance(process_id, str):
            msg = f"process_id: expected a string or None, got {type(process_id).__name__}"
            raise ValueError(msg)
        raw_history = data.get("history", [])
        if not isinstance(raw_history, list):
            msg = f"history: expected a list, got {type(raw_history).__name__}"
            raise ValueError(msg)
        lifecycle = cls(
            _parse_state(data.get("state"), "state"),
            clock=clock,
            process_id=process_id,
            history_limit=history_limit,
        )
        records = [ProcessTransition.from_dict(item) for item in raw_history]
        _check_chain(records, lifecycle.state)
        lifecycle._history.extend(records)
        return lifecycle


def _check_chain(records: list[ProcessTransition], final: ProcessState) -> None:
    """Reject a history with a forbidden move, a gap, or an end other than `final`."""
    for index, record in enumerate(records):
        if record.to_state not in VALID_TRANSITIONS[record.from_state]:
            msg = (
                f"history[{index}]: {record.from_state.value!r} -> {record.to_state.value!r} "
                "is not an allowed transition"
            )
            raise ValueError(msg)
        if index and records[index - 1].to_state is not record.from_state:
            msg = (
                f"history[{index}]: starts at {record.from_state.value!r} but the previous "
                f"transition ended at {records[index - 1].to_state.value!r}"
            )
            raise ValueError(msg)
    if records and records[-1].to_state is not final:
        msg = (
            f"state: {final.value!r} does not match the last transition's target "
            f"{records[-1].to_state.value!r}"
        )
        raise ValueError(msg)
