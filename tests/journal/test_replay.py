"""ReplayEngine: last checkpoint + later entries rebuild the state, or a clear JournalError."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from greenroom.journal.entry import JournalEntry
from greenroom.journal.memory import InMemoryJournal
from greenroom.journal.provider import JournalError
from greenroom.journal.replay import InDoubtToolCall, RecoveryResult, ReplayEngine
from greenroom.triggers.event import TriggerEvent

PID = "proc"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Scribe:
    """Writes entries the way the runtime does, into an InMemoryJournal."""

    def __init__(self, journal: InMemoryJournal | None = None) -> None:
        self.journal = journal if journal is not None else InMemoryJournal()

    def write(self, entry_type: str, **data: Any) -> JournalEntry:
        entry = JournalEntry(PID, entry_type, data)
        self.journal.append(entry)
        return entry

    def event(self, event_id: str, *, trigger: str = "t", **metadata: Any) -> TriggerEvent:
        event = TriggerEvent(trigger, "webhook", event_id=event_id, timestamp=T0,
                             payload={"n": event_id}, metadata=metadata)
        self.write("trigger_event", event=event.to_dict())
        return event

    def result(self, event_id: str, key: str | None = None, reply: str = "ok") -> None:
        messages = [{"role": "user", "content": event_id}, {"role": "assistant", "content": reply}]
        self.write("invocation_result", event_id=event_id, key=key or event_id,
                   messages=messages, response=reply, duration_ms=1.0)

    def error(self, event_id: str) -> None:
        self.write("error", event_id=event_id, key=event_id, error="boom")

    def dead_letter(self, event_id: str) -> None:
        self.write("dead_letter", event_id=event_id, key=event_id, reason="stopped")

    def recover(self, **kwargs: Any) -> RecoveryResult:
        return ReplayEngine(self.journal).recover(PID, **kwargs)


def ids(result: RecoveryResult) -> list[str]:
    return [event.event_id for event in result.pending_events]


def test_empty_journal_gives_defaults() -> None:
    result = Scribe().recover()
    assert result == RecoveryResult()
    assert result.lifecycle_state is None
    assert result.last_entry_type is None
    assert result.entries_replayed == 0
    assert result.checkpoint == {}
    assert (result.budget, result.mission) == (None, None)


def test_without_checkpoint_every_entry_is_replayed() -> None:
    s = Scribe()
    s.write("state_transition", from_state="created", to_state="starting", reason="start")
    s.write("state_transition", from_state="starting", to_state="running", reason="start")
    s.write("context_update", key="city", value="Oslo", source="agent")
    s.write("context_update", key="city", value="Bergen", source="agent")
    s.write("context_update", key="count", value=3, source="api")
    s.event("e1")
    s.result("e1", reply="done 1")
    s.event("e2")
    s.error("e2")
    result = s.recover()
    assert result.lifecycle_state == "running"
    assert result.context_state == {"city": "Bergen", "count": 3}
    assert (result.invocation_count, result.failed_invocations) == (1, 1)
    assert result.conversation == [{"role": "user", "content": "e1"},
                                   {"role": "assistant", "content": "done 1"}]
    assert result.pending_events == []
    assert result.processed_keys == ["e1", "e2"]
    assert result.entries_replayed == 9
    assert result.last_entry_type == "error"


def test_seed_keys_are_available_as_items_and_in_to_dict() -> None:
    s = Scribe()
    s.write("state_transition", from_state="created", to_state="running", reason="start")
    s.event("e1")
    s.write("tool_call", event_id="e1", call_id="c1", tool="pay", arguments={"eur": 5})
    result = s.recover()
    assert result["lifecycle_state"] == "running"
    assert result["entries_replayed"] == 3
    with pytest.raises(KeyError):
        result["no_such_key"]
    as_dict = result.to_dict()
    assert as_dict["context_state"] == {}
    assert as_dict["last_entry_type"] == "tool_call"
    assert as_dict["pending_events"][0]["event_id"] == "e1"
    assert as_dict["in_doubt_tool_calls"][0]["tool"] == "pay"
    json.dumps(as_dict)


def test_checkpoint_is_the_starting_point_and_earlier_entries_are_not_replayed() -> None:
    s = Scribe()
    s.write("context_update", key="a", value=1, source="agent")
    s.event("e1")
    s.result("e1")
    s.journal.checkpoint(PID, {
        "context_state": {"a": 1, "b": 2}, "lifecycle_state": "running",
        "invocation_count": 1, "failed_invocations": 0,
        "conversation": [{"role": "user", "content": "e1"}], "pending_events": [],
        "processed_keys": ["e1"], "trigger_checkpoints": {"cron": "2026-01-01T00:05"},
        "budget": {"runs_today": 1}, "mission": {"state": "active"},
    })
    s.write("context_update", key="b", value=3, source="agent")
    s.event("e2")
    s.result("e2", reply="two")
    result = s.recover()
    assert result.context_state == {"a": 1, "b": 3}
    assert result.invocation_count == 2
    assert result.conversation == [{"role": "user", "content": "e1"},
                                   {"role": "user", "content": "e2"},
                                   {"role": "assistant", "content": "two"}]
    assert result.processed_keys == ["e1", "e2"]
    assert result.entries_replayed == 3
    assert result.last_entry_type == "invocation_result"
    assert result.trigger_checkpoints == {"cron": "2026-01-01T00:05"}
    assert result.budget == {"runs_today": 1}
    assert result.mission == {"state": "active"}
    assert result.checkpoint["checkpoint_seq"] == 1
    assert result.checkpoint["context_state"] == {"a": 1, "b": 2}


def test_checkpoint_with_nothing_after_it() -> None:
    s = Scribe()
    s.journal.checkpoint(PID, {"lifecycle_state": "suspended", "invocation_count": 7})
    result = s.recover()
    assert (result.lifecycle_state, result.invocation_count) == ("suspended", 7)
    assert result.entries_replayed == 0
    assert result.last_entry_type == "checkpoint"


def test_events_without_a_completion_are_pending_in_arrival_order_with_their_ids() -> None:
    s = Scribe()
    held = TriggerEvent("cron", "cron", event_id="held", metadata={"idempotency_key": "slot-1"})
    s.journal.checkpoint(PID, {"pending_events": [held.to_dict()], "processed_keys": []})
    first = s.event("e1")
    s.event("e2")
    s.event("e3")
    s.result("e2")
    result = s.recover()
    assert ids(result) == ["held", "e1", "e3"]
    assert result.pending_events[0] == held
    assert result.pending_events[1] == first
    assert result.pending_events[1].payload == {"n": "e1"}


def test_results_errors_and_dead_letters_clear_pending() -> None:
    s = Scribe()
    for event_id in ("ok", "failed", "dropped", "waiting"):
        s.event(event_id)
    s.result("ok")
    s.error("failed")
    s.dead_letter("dropped")
    result = s.recover()
    assert ids(result) == ["waiting"]
    assert (result.invocation_count, result.failed_invocations) == (1, 1)
    assert result.processed_keys == ["ok", "failed", "dropped"]


def test_completion_of_an_event_pending_in_the_checkpoint_clears_it() -> None:
    s = Scribe()
    held = TriggerEvent("t", "webhook", event_id="held")
    s.journal.checkpoint(PID, {"pending_events": [held.to_dict()]})
    s.result("held")
    result = s.recover()
    assert result.pending_events == []
    assert result.invocation_count == 1


def test_already_processed_keys_are_not_pending_again() -> None:
    s = Scribe()
    s.journal.checkpoint(PID, {"processed_keys": ["delivery-1"]})
    s.event("redelivered", idempotency_key="delivery-1")
    s.event("fresh", idempotency_key="delivery-2")
    s.event("fresh-again", idempotency_key="delivery-2")
    s.result("fresh", key="delivery-2")
    s.event("late-retry", idempotency_key="delivery-2")
    result = s.recover()
    assert result.pending_events == []
    assert result.invocation_count == 1
    assert result.processed_keys == ["delivery-1", "delivery-2"]


def test_a_result_for_another_id_of_the_same_key_settles_the_pending_one() -> None:
    s = Scribe()
    s.event("first-delivery", idempotency_key="k")
    s.result("second-delivery", key="k")
    result = s.recover()
    assert result.pending_events == []
    assert result.processed_keys == ["k"]


def test_processed_keys_are_bounded_newest_last() -> None:
    s = Scribe()
    s.journal.checkpoint(PID, {"processed_keys": ["old-1", "old-2"]})
    for n in range(5):
        s.event(f"e{n}")
        s.result(f"e{n}")
    result = s.recover(max_processed=3)
    assert result.processed_keys == ["e2", "e3", "e4"]
    assert result.invocation_count == 5
    with pytest.raises(ValueError, match="max_processed"):
        s.recover(max_processed=0)


def test_tool_calls_without_a_result_are_reported_in_doubt() -> None:
    s = Scribe()
    s.event("e1")
    s.write("invocation_start", event_id="e1")
    s.write("tool_call", event_id="e1", call_id="c1", tool="search", arguments={"q": "x"})
    s.write("tool_result", call_id="c1", ok=True, result="found")
    pay = s.write("tool_call", event_id="e1", call_id="c2", tool="pay", arguments={"eur": 5})
    result = s.recover()
    assert result.in_doubt_tool_calls == [
        InDoubtToolCall(call_id="c2", tool="pay", arguments={"eur": 5}, event_id="e1",
                        entry_id=pay.entry_id)]
    assert ids(result) == ["e1"]


def test_pending_events_whose_run_had_started_are_interrupted() -> None:
    s = Scribe()
    s.event("finished")
    s.write("invocation_start", event_id="finished")
    s.result("finished")
    s.event("running")
    s.write("invocation_start", event_id="running")
    s.event("queued")
    result = s.recover()
    assert ids(result) == ["running", "queued"]
    assert result.interrupted == ["running"]


def test_trigger_checkpoints_follow_the_replayed_events() -> None:
    s = Scribe()
    s.journal.checkpoint(PID, {"trigger_checkpoints": {"cron": "00:05", "other": "x"}})
    s.event("slot-10", trigger="cron", checkpoint="00:10")
    s.event("plain", trigger="hook")
    s.event("slot-15", trigger="cron", checkpoint="00:15")
    result = s.recover()
    assert result.trigger_checkpoints == {"cron": "00:15", "other": "x"}


def test_unknown_and_informational_entries_are_skipped_but_counted() -> None:
    s = Scribe()
    s.write("from_a_future_version", anything=True)
    s.write("secret_access", name="API_KEY", action="access")
    s.write("budget_violation", limit="runs")
    s.write("recovered", entries=3)
    result = s.recover()
    assert result.entries_replayed == 4
    assert result.last_entry_type == "recovered"
    assert result.context_state == {}
    assert result.lifecycle_state is None


@pytest.mark.parametrize(("entry_type", "data"), [
    ("trigger_event", {"event": {"trigger_id": "t"}}),
    ("trigger_event", {"event": "not a dict"}),
    ("trigger_event", {}),
    ("state_transition", {"from_state": "running"}),
    ("context_update", {"key": 5, "value": 1}),
    ("invocation_result", {"key": "k"}),
    ("invocation_result", {"event_id": "e", "messages": "hello"}),
    ("error", {"event_id": ""}),
    ("tool_call", {"call_id": "c"}),
    ("tool_result", {}),
    ("checkpoint", {"seq": "one"}),
])
def test_a_malformed_entry_is_a_journal_error_naming_it(
    entry_type: str, data: dict[str, Any]
) -> None:
    s = Scribe()
    s.write("context_update", key="fine", value=1, source="agent")
    bad = s.write(entry_type, **data)
    with pytest.raises(JournalError, match=bad.entry_id):
        s.recover()


@pytest.mark.parametrize("state", [
    {"context_state": ["not", "a", "dict"]},
    {"invocation_count": "3"},
    {"conversation": [1, 2]},
    {"processed_keys": [1]},
    {"pending_events": [{"event_id": "no trigger"}]},
    {"budget": "full"},
])
def test_a_malformed_checkpoint_is_a_journal_error(state: dict[str, Any]) -> None:
    s = Scribe()
    s.journal.checkpoint(PID, state)
    with pytest.raises(JournalError, match="checkpoint 1 is malformed"):
        s.recover()


def run_scenario(s: Scribe) -> None:
    """Three checkpoints with work between them, as a runtime would write them."""
    state: dict[str, Any] = {"context_state": {}, "lifecycle_state": "running",
                             "invocation_count": 0, "failed_invocations": 0,
                             "conversation": [], "pending_events": [], "processed_keys": []}
    s.write("state_transition", from_state="starting", to_state="running", reason="start")
    for n in range(9):
        event = s.event(f"e{n}")
        s.write("context_update", key="last", value=n, source="agent")
        s.result(f"e{n}")
        state["context_state"]["last"] = n
        state["invocation_count"] += 1
        state["conversation"] += [{"role": "user", "content": f"e{n}"},
                                  {"role": "assistant", "content": "ok"}]
        state["processed_keys"].append(event.idempotency_key)
        if n % 3 == 2:
            s.journal.checkpoint(PID, json.loads(json.dumps(state)))
    s.event("tail")
    s.write("context_update", key="tail", value=True, source="agent")


def comparable(result: RecoveryResult) -> dict[str, Any]:
    fields = result.to_dict()
    del fields["checkpoint"], fields["entries_replayed"]
    return fields


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one_plus_replay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    intact, damaged = Scribe(), Scribe()
    run_scenario(intact)
    run_scenario(damaged)
    damaged.journal.corrupt_checkpoint(PID)
    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        fallback = damaged.recover()
    assert "unreadable" in caplog.text
    expected = intact.recover()
    assert fallback.checkpoint["checkpoint_seq"] == 2
    assert expected.checkpoint["checkpoint_seq"] == 3
    assert comparable(fallback) == comparable(expected)
    assert fallback.invocation_count == 9
    assert ids(fallback) == ["tail"]
    assert fallback.context_state == {"last": 8, "tail": True}


def test_no_readable_checkpoint_after_compaction_refuses_to_recover() -> None:
    s = Scribe()
    run_scenario(s)
    s.journal.corrupt_checkpoint(PID, 3)
    s.journal.corrupt_checkpoint(PID, 2)
    with pytest.raises(JournalError, match="compacted"):
        s.recover()


class NoCheckpointJournal(InMemoryJournal):
    """A provider that lost every checkpoint but kept the (compacted) entries."""

    def last_checkpoint(self, process_id: str) -> dict[str, Any] | None:
        return None


def test_replay_itself_refuses_markers_without_a_readable_checkpoint() -> None:
    s = Scribe(NoCheckpointJournal())
    run_scenario(s)
    with pytest.raises(JournalError, match="no readable checkpoint"):
        s.recover()


def test_no_readable_first_checkpoint_replays_the_uncompacted_journal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = Scribe()
    s.event("e1")
    s.result("e1")
    s.journal.checkpoint(PID, {"invocation_count": 1, "processed_keys": ["e1"]})
    s.event("e2")
    s.journal.corrupt_checkpoint(PID)
    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        result = s.recover()
    assert "replaying every entry" in caplog.text
    assert result.invocation_count == 1
    assert ids(result) == ["e2"]


class MissingMarkerJournal(InMemoryJournal):
    """Hides the marker of one checkpoint, as after a crash between checkpoint and marker."""

    def __init__(self, hidden_seq: int) -> None:
        super().__init__()
        self.hidden_seq = hidden_seq

    def read(self, process_id: str, *, since: datetime | None = None,
             entry_type: str | None = None, limit: int | None = None) -> list[JournalEntry]:
        return [e for e in super().read(process_id, since=since, entry_type=entry_type,
                                        limit=limit)
                if not (e.entry_type == "checkpoint" and e.data["seq"] == self.hidden_seq)]


def test_missing_marker_replays_from_the_previous_one_without_counting_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    intact, damaged = Scribe(), Scribe(MissingMarkerJournal(hidden_seq=3))
    run_scenario(intact)
    run_scenario(damaged)
    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        result = damaged.recover()
    assert "marker of checkpoint 3 is missing" in caplog.text
    assert comparable(result) == comparable(intact.recover())
    assert result.invocation_count == 9


def test_replay_of_a_journal_written_with_state_changes_only_from_the_checkpoint() -> None:
    s = Scribe()
    s.write("state_transition", from_state="running", to_state="suspended", reason="budget")
    s.journal.checkpoint(PID, {"lifecycle_state": "suspended"})
    s.write("state_transition", from_state="suspended", to_state="running", reason="resume")
    s.write("state_transition", from_state="running", to_state="stopping", reason="stop")
    result = s.recover()
    assert result.lifecycle_state == "stopping"
    assert result.entries_replayed == 2


def test_a_pending_event_that_cannot_be_rebuilt_is_a_journal_error_naming_its_entry() -> None:
    s = Scribe()
    raw = TriggerEvent("t", "webhook", event_id="e1").to_dict() | {"timestamp": "yesterday"}
    bad = s.write("trigger_event", event=raw)
    with pytest.raises(JournalError, match=f"entry {bad.entry_id}.*cannot be rebuilt"):
        s.recover()
    s.result("e1")
    assert s.recover().invocation_count == 1


def test_a_pending_event_of_the_checkpoint_that_cannot_be_rebuilt() -> None:
    s = Scribe()
    raw = TriggerEvent("t", "webhook", event_id="e1").to_dict() | {"timestamp": None}
    s.journal.checkpoint(PID, {"pending_events": [raw]})
    with pytest.raises(JournalError, match="checkpoint 1 is malformed"):
        s.recover()
