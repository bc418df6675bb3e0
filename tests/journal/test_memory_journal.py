"""InMemoryJournal: the journal contract (JSON only, checkpoints, compaction, fallback)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from greenroom.journal.entry import JournalEntry
from greenroom.journal.memory import InMemoryJournal
from greenroom.journal.provider import JournalError, JournalProvider

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(kind: str = "context_update", pid: str = "p", **data: object) -> JournalEntry:
    return JournalEntry(pid, kind, dict(data))


def types(journal: InMemoryJournal, pid: str = "p") -> list[str]:
    return [e.entry_type for e in journal.read(pid)]


def test_is_a_journal_provider() -> None:
    assert isinstance(InMemoryJournal(), JournalProvider)


def test_read_returns_entries_in_order_per_process() -> None:
    journal = InMemoryJournal()
    first, second = entry(key="a"), entry(key="b")
    journal.append(first)
    journal.append_many([entry(pid="other", key="x"), second])
    assert [e.entry_id for e in journal.read("p")] == [first.entry_id, second.entry_id]
    assert [e.data for e in journal.read("other")] == [{"key": "x"}]
    assert journal.read("nobody") == []
    got = journal.read("p")[0]
    assert (got.process_id, got.entry_type, got.timestamp) == ("p", "context_update",
                                                               first.timestamp)


def test_read_filters_by_time_type_and_limit() -> None:
    journal = InMemoryJournal()
    stamps = [T0 + timedelta(seconds=i) for i in range(4)]
    kinds = ["trigger_event", "error", "trigger_event", "trigger_event"]
    journal.append_many([JournalEntry("p", k, {"i": i}, timestamp=t)
                         for i, (k, t) in enumerate(zip(kinds, stamps, strict=True))])
    assert [e.data["i"] for e in journal.read("p", since=stamps[1])] == [1, 2, 3]
    naive = stamps[2].replace(tzinfo=None)
    assert [e.data["i"] for e in journal.read("p", since=naive)] == [2, 3]
    assert [e.data["i"] for e in journal.read("p", entry_type="trigger_event")] == [0, 2, 3]
    assert [e.data["i"] for e in journal.read("p", entry_type="trigger_event", limit=2)] \
        == [0, 2]
    assert journal.read("p", limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        journal.read("p", limit=-1)


def test_read_returns_json_copies() -> None:
    journal = InMemoryJournal()
    nested = {"k": "v"}
    journal.append(JournalEntry("p", "context_update", {"items": (1, 2), "nested": nested}))
    nested["k"] = "changed"
    got = journal.read("p")[0]
    assert got.data == {"items": [1, 2], "nested": {"k": "v"}}
    got.data["nested"]["k"] = "mutated by a reader"
    assert journal.read("p")[0].data["nested"] == {"k": "v"}


@pytest.mark.parametrize("bad", [{"when": T0}, {"x": float("nan")}, {"s": {1, 2}}])
def test_non_json_data_refuses_the_whole_batch(bad: dict[str, object]) -> None:
    journal = InMemoryJournal()
    journal.append(entry(key="kept"))
    with pytest.raises(JournalError, match="not JSON"):
        journal.append_many([entry(key="good"), JournalEntry("p", "context_update", bad)])
    assert [e.data for e in journal.read("p")] == [{"key": "kept"}]


def test_checkpoint_numbers_and_marks_each_checkpoint() -> None:
    journal = InMemoryJournal()
    assert journal.last_checkpoint("p") is None
    journal.append(entry(key="a"))
    journal.checkpoint("p", {"context_state": {"a": 1}})
    journal.checkpoint("p", {"context_state": {"a": 2}})
    markers = journal.read("p", entry_type="checkpoint")
    assert [m.data for m in markers] == [{"seq": 1}, {"seq": 2}]
    assert journal.last_checkpoint("p") == {"context_state": {"a": 2}, "checkpoint_seq": 2}
    assert journal.checkpoint_seqs("p") == [1, 2]
    assert journal.last_checkpoint("other") is None


def test_last_checkpoint_is_a_copy() -> None:
    journal = InMemoryJournal()
    state = {"context_state": {"a": 1}}
    journal.checkpoint("p", state)
    state["context_state"]["a"] = 99
    got = journal.last_checkpoint("p")
    assert got is not None
    got["context_state"]["a"] = 42
    assert journal.last_checkpoint("p") == {"context_state": {"a": 1}, "checkpoint_seq": 1}


def test_compaction_keeps_two_checkpoints_and_entries_from_the_older_marker() -> None:
    journal = InMemoryJournal()
    journal.append(entry(key="e1"))
    journal.checkpoint("p", {"n": 1})
    journal.append(entry(key="e2"))
    assert types(journal) == ["context_update", "checkpoint", "context_update"]
    journal.checkpoint("p", {"n": 2})
    journal.append(entry(key="e3"))
    assert [(e.entry_type, e.data) for e in journal.read("p")] == [
        ("checkpoint", {"seq": 1}), ("context_update", {"key": "e2"}),
        ("checkpoint", {"seq": 2}), ("context_update", {"key": "e3"}),
    ]
    journal.checkpoint("p", {"n": 3})
    assert [(e.entry_type, e.data) for e in journal.read("p")] == [
        ("checkpoint", {"seq": 2}), ("context_update", {"key": "e3"}),
        ("checkpoint", {"seq": 3}),
    ]
    assert journal.checkpoint_seqs("p") == [2, 3]


def test_compaction_touches_only_the_checkpointed_process() -> None:
    journal = InMemoryJournal()
    journal.append_many([entry(key="p1"), entry(pid="q", key="q1")])
    for n in range(3):
        journal.checkpoint("p", {"n": n})
    assert [e.data for e in journal.read("q")] == [{"key": "q1"}]


def test_size_stays_bounded_for_a_process_that_runs_forever() -> None:
    journal = InMemoryJournal()
    for run in range(500):
        journal.append_many([entry("trigger_event", run=run), entry("invocation_result", run=run)])
        if run % 10 == 9:
            journal.checkpoint("p", {"runs": run + 1})
    assert len(journal.read("p")) <= 2 * 10 + 2
    assert journal.checkpoint_seqs("p") == [49, 50]


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = InMemoryJournal()
    journal.checkpoint("p", {"n": 1})
    journal.checkpoint("p", {"n": 2})
    assert journal.corrupt_checkpoint("p") == 2
    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        assert journal.last_checkpoint("p") == {"n": 1, "checkpoint_seq": 1}
    assert "checkpoint 2 is unreadable" in caplog.text


def test_unreadable_only_checkpoint_before_any_compaction_gives_none() -> None:
    journal = InMemoryJournal()
    journal.append(entry(key="a"))
    journal.checkpoint("p", {"n": 1})
    journal.corrupt_checkpoint("p", 1)
    assert journal.last_checkpoint("p") is None


def test_no_readable_checkpoint_after_compaction_is_a_journal_error() -> None:
    journal = InMemoryJournal()
    for n in range(3):
        journal.checkpoint("p", {"n": n})
    journal.corrupt_checkpoint("p", 3)
    journal.corrupt_checkpoint("p", 2)
    with pytest.raises(JournalError, match="compacted"):
        journal.last_checkpoint("p")


def test_corrupt_checkpoint_without_such_checkpoint_raises_key_error() -> None:
    journal = InMemoryJournal()
    with pytest.raises(KeyError):
        journal.corrupt_checkpoint("p")
    journal.checkpoint("p", {})
    with pytest.raises(KeyError):
        journal.corrupt_checkpoint("p", 7)


@pytest.mark.parametrize("state", [{"when": T0}, ["not", "a", "dict"]])
def test_a_bad_checkpoint_state_changes_nothing(state: object) -> None:
    journal = InMemoryJournal()
    journal.checkpoint("p", {"n": 1})
    with pytest.raises(JournalError):
        journal.checkpoint("p", state)  # type: ignore[arg-type]
    assert journal.checkpoint_seqs("p") == [1]
    assert types(journal) == ["checkpoint"]
    journal.checkpoint("p", {"n": 2})
    assert journal.last_checkpoint("p") == {"n": 2, "checkpoint_seq": 2}


def test_closed_journal_refuses_everything() -> None:
    journal = InMemoryJournal()
    journal.append(entry())
    journal.close()
    journal.close()
    for call in (lambda: journal.append(entry()), lambda: journal.read("p"), journal.sync,
                 lambda: journal.checkpoint("p", {}), lambda: journal.last_checkpoint("p"),
                 lambda: journal.checkpoint_seqs("p")):
        with pytest.raises(JournalError, match="closed"):
            call()


def test_concurrent_appends_and_checkpoints_lose_nothing() -> None:
    journal = InMemoryJournal()
    start = threading.Barrier(9)

    def writer(name: str) -> None:
        start.wait()
        for i in range(200):
            journal.append(JournalEntry(name, "context_update", {"i": i}))

    def checkpointer() -> None:
        start.wait()
        for n in range(50):
            journal.checkpoint("cp", {"n": n})

    threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(8)]
    threads.append(threading.Thread(target=checkpointer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k in range(8):
        assert [e.data["i"] for e in journal.read(f"w{k}")] == list(range(200))
    assert journal.checkpoint_seqs("cp") == [49, 50]
    assert journal.last_checkpoint("cp") == {"n": 49, "checkpoint_seq": 50}
