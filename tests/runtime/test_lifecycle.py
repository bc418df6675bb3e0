"""The lifecycle state machine: transition table, history, snapshots and precise errors."""

from __future__ import annotations

import json
import pickle
import re
from datetime import UTC, datetime

import pytest

from greenroom.runtime.errors import ProcessStateError, RuntimeBaseError
from greenroom.runtime.lifecycle import (
    VALID_TRANSITIONS,
    ProcessLifecycle,
    ProcessState,
    ProcessTransition,
)

S = ProcessState

EXPECTED_TABLE = {
    S.CREATED: {S.STARTING, S.STOPPED},
    S.STARTING: {S.RUNNING, S.FAILED, S.STOPPING},
    S.RUNNING: {S.SUSPENDED, S.STOPPING, S.FAILED, S.AWAITING},
    S.SUSPENDED: {S.RUNNING, S.STOPPING, S.FAILED},
    S.AWAITING: {S.RUNNING, S.STOPPING, S.FAILED},
    S.STOPPING: {S.STOPPED, S.FAILED},
    S.STOPPED: {S.STARTING},
    S.FAILED: {S.STARTING, S.STOPPING},
}


class FakeClock:
    """Wall time that moves only when a test says so."""

    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def lifecycle_in(state: ProcessState, clock: FakeClock | None = None) -> ProcessLifecycle:
    return ProcessLifecycle(state, clock=clock or FakeClock())


def test_states_are_lowercase_strings() -> None:
    assert [s.value for s in ProcessState] == [
        "created",
        "starting",
        "running",
        "suspended",
        "awaiting",
        "stopping",
        "stopped",
        "failed",
    ]
    assert ProcessState.RUNNING == "running"  # type: ignore[comparison-overlap]
    assert isinstance(ProcessState.RUNNING, str)


def test_table_matches_reference() -> None:
    assert {state: set(targets) for state, targets in VALID_TRANSITIONS.items()} == EXPECTED_TABLE


@pytest.mark.parametrize(
    ("source", "target"),
    [(source, target) for source, targets in EXPECTED_TABLE.items() for target in targets],
)
def test_every_allowed_transition_succeeds(source: ProcessState, target: ProcessState) -> None:
    lifecycle = lifecycle_in(source)
    assert lifecycle.can_transition(target)
    record = lifecycle.transition(target, reason="test")
    assert lifecycle.state is target
    assert (record.from_state, record.to_state, record.reason) == (source, target, "test")


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (source, target)
        for source in ProcessState
        for target in ProcessState
        if target not in EXPECTED_TABLE[source]
    ],
)
def test_every_forbidden_transition_raises_and_changes_nothing(
    source: ProcessState, target: ProcessState
) -> None:
    lifecycle = lifecycle_in(source)
    assert not lifecycle.can_transition(target)
    with pytest.raises(ProcessStateError) as caught:
        lifecycle.transition(target)
    error = caught.value
    assert error.current_state == source.value
    assert error.attempted_state == target.value
    assert set(error.allowed) == {s.value for s in EXPECTED_TABLE[source]}
    assert lifecycle.state is source
    assert lifecycle.history == []


def test_error_message_names_current_target_and_allowed() -> None:
    lifecycle = ProcessLifecycle(S.RUNNING, process_id="monitor")
    with pytest.raises(ProcessStateError) as caught:
        lifecycle.transition(S.CREATED)
    assert str(caught.value) == (
        "process 'monitor' cannot move from 'running' to 'created'; "
        "allowed from 'running': awaiting, failed, stopping, suspended"
    )
    assert caught.value.process_id == "monitor"


def test_error_is_runtime_base_error_and_value_error() -> None:
    assert issubclass(ProcessStateError, RuntimeBaseError)
    assert issubclass(ProcessStateError, ValueError)
    assert issubclass(RuntimeBaseError, RuntimeError)
    with pytest.raises(ValueError, match="cannot move from 'created' to 'running'"):
        ProcessLifecycle().transition(S.RUNNING)


def test_self_transition_is_refused() -> None:
    for state in ProcessState:
        assert not lifecycle_in(state).can_transition(state)


def test_string_targets_are_accepted() -> None:
    lifecycle = ProcessLifecycle()
    lifecycle.transition("starting")
    assert lifecycle.state is S.STARTING
    assert lifecycle.can_transition("running")


def test_unknown_target_names_the_value() -> None:
    lifecycle = ProcessLifecycle()
    with pytest.raises(ValueError, match="target: 'paused' is not a process state"):
        lifecycle.transition("paused")
    assert not lifecycle.can_transition("paused")
    assert lifecycle.state is S.CREATED


def test_unknown_initial_state_is_rejected() -> None:
    with pytest.raises(ValueError, match="initial: 'zombie' is not a process state"):
        ProcessLifecycle("zombie")


def test_history_records_time_reason_and_metadata_from_the_clock() -> None:
    clock = FakeClock(1_767_225_600.0)
    lifecycle = ProcessLifecycle(clock=clock)
    lifecycle.transition(S.STARTING, reason="user requested")
    clock.now += 2.5
    lifecycle.transition(S.RUNNING, metadata={"attempt": 1})
    first, second = lifecycle.history
    assert first.timestamp == datetime(2026, 1, 1, tzinfo=UTC)
    assert first.reason == "user requested"
    assert second.timestamp == datetime(2026, 1, 1, 0, 0, 2, 500000, tzinfo=UTC)
    assert second.metadata == {"attempt": 1}
    assert [(t.from_state, t.to_state) for t in lifecycle.history] == [
        (S.CREATED, S.STARTING),
        (S.STARTING, S.RUNNING),
    ]


def test_history_is_a_copy() -> None:
    lifecycle = ProcessLifecycle()
    lifecycle.transition(S.STARTING)
    lifecycle.history.clear()
    assert len(lifecycle.history) == 1


def test_metadata_is_copied() -> None:
    metadata = {"k": "v"}
    record = ProcessLifecycle().transition(S.STARTING, metadata=metadata)
    metadata["k"] = "changed"
    assert record.metadata == {"k": "v"}


def test_history_limit_keeps_the_newest() -> None:
    lifecycle = ProcessLifecycle(S.RUNNING, history_limit=3)
    for _ in range(5):
        lifecycle.transition(S.SUSPENDED)
        lifecycle.transition(S.RUNNING)
    assert len(lifecycle.history) == 3
    assert lifecycle.history[-1].to_state is S.RUNNING
    assert lifecycle.history_limit == 3


@pytest.mark.parametrize(("limit", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_bad_history_limit(limit: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="history_limit"):
        ProcessLifecycle(history_limit=limit)  # type: ignore[arg-type]


def test_allowed_targets() -> None:
    assert ProcessLifecycle().allowed_targets() == frozenset({S.STARTING, S.STOPPED})


def full_cycle() -> ProcessLifecycle:
    clock = FakeClock()
    lifecycle = ProcessLifecycle(clock=clock, process_id="p-1")
    for target in (S.STARTING, S.RUNNING, S.SUSPENDED, S.RUNNING, S.STOPPING, S.STOPPED):
        clock.now += 1
        lifecycle.transition(target, reason=f"to {target}", metadata={"n": int(clock.now)})
    return lifecycle


def test_snapshot_is_json_and_round_trips() -> None:
    lifecycle = full_cycle()
    snapshot = json.loads(json.dumps(lifecycle.snapshot()))
    restored = ProcessLifecycle.from_snapshot(snapshot)
    assert restored.state is S.STOPPED
    assert restored.process_id == "p-1"
    assert restored.history == lifecycle.history
    assert restored.snapshot() == lifecycle.snapshot()


def test_restored_lifecycle_keeps_enforcing_the_table() -> None:
    restored = ProcessLifecycle.from_snapshot(full_cycle().snapshot())
    with pytest.raises(ProcessStateError, match="process 'p-1' cannot move from 'stopped'"):
        restored.transition(S.RUNNING)
    restored.transition(S.STARTING)
    assert restored.state is S.STARTING


def test_snapshot_without_history() -> None:
    restored = ProcessLifecycle.from_snapshot({"state": "failed"})
    assert restored.state is S.FAILED
    assert restored.history == []


def corrupt(path: tuple[str | int, ...], value: object) -> dict[str, object]:
    snapshot = full_cycle().snapshot()
    target = snapshot
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return snapshot


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("state",), "zombie", "state: 'zombie' is not a process state"),
        (("state",), "running", "state: 'running' does not match the last transition"),
        (("history",), "nope", "history: expected a list, got str"),
        (("process_id",), 7, "process_id: expected a string or None, got int"),
        (("history", 0, "to_state"), "zombie", "to_state: 'zombie' is not a process state"),
        (("history", 0, "timestamp"), "yesterday", "timestamp: 'yesterday' is not an ISO 8601"),
        (("history", 0, "reason"), 5, "reason: expected a string, got int"),
        (("history", 0, "metadata"), [], "metadata: expected a mapping, got list"),
        (("history", 0, "to_state"), "stopped", "history[1]: starts at 'starting'"),
        (("history", 1), "x", "transition: expected a mapping, got str"),
    ],
)
def test_bad_snapshot_names_the_field(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ProcessLifecycle.from_snapshot(corrupt(path, value))


def test_snapshot_with_forbidden_move_is_rejected() -> None:
    snapshot = {
        "state": "running",
        "history": [
            {
                "from_state": "created",
                "to_state": "running",
                "timestamp": "2026-01-01T00:00:00+00:00",
            }
        ],
    }
    with pytest.raises(ValueError, match="'created' -> 'running' is not an allowed transition"):
        ProcessLifecycle.from_snapshot(snapshot)


def test_snapshot_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="snapshot: expected a mapping, got list"):
        ProcessLifecycle.from_snapshot([])  # type: ignore[arg-type]


def test_transition_dict_round_trip() -> None:
    record = ProcessTransition(
        S.RUNNING, S.FAILED, datetime(2026, 1, 1, tzinfo=UTC), "boom", {"error": "x"}
    )
    assert ProcessTransition.from_dict(record.to_dict()) == record
    assert record.to_dict()["timestamp"] == "2026-01-01T00:00:00+00:00"


def test_default_clock_uses_wall_time() -> None:
    before = datetime.now(UTC)
    record = ProcessLifecycle().transition(S.STARTING)
    assert before <= record.timestamp <= datetime.now(UTC)


def test_state_error_survives_pickling() -> None:
    with pytest.raises(ProcessStateError) as caught:
        ProcessLifecycle(S.STOPPED, process_id="p-9").transition(S.RUNNING)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert (copy.process_id, copy.current_state, copy.attempted_state, copy.allowed) == (
        "p-9",
        "stopped",
        "running",
        ("starting",),
    )
