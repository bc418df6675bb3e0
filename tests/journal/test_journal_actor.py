"""JournalActor: group commit, failure propagation, fsync policies, checkpoint ordering."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pykka
import pytest

from greenroom.actors import Actor, ActorRef, ActorSystem, Future, ManualClock
from greenroom.journal.actor import (
    Append,
    Checkpoint,
    GetJournalStats,
    JournalActor,
    JournalClient,
    JournalIntake,
    JournalStats,
)
from greenroom.journal.entry import JournalEntry
from greenroom.journal.memory import InMemoryJournal
from greenroom.journal.provider import JournalError
from greenroom.supervision import ChildSpec, ChildStarted, Supervisor
from greenroom.testing import TestProbe

WAIT = TestProbe.scaled(5.0)


class FakeJournal(InMemoryJournal):
    """Records every call; can hold the first write until released, or fail chosen writes."""

    def __init__(self, *, hold_first: bool = False) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.written: set[str] = set()
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        self.failures: dict[int, BaseException] = {}  # append_many call number (1-based)
        self.fail_sync = False
        self._calls_lock = threading.Lock()

    def append_many(self, entries: Sequence[JournalEntry], *, sync: bool = True) -> None:
        self.entered.set()
        assert self.release.wait(WAIT), "the test never released the first write"
        with self._calls_lock:
            self.calls.append(("append_many", ([e.entry_id for e in entries], sync)))
            failure = self.failures.pop(self.count("append_many"), None)
        if failure is not None:
            raise failure
        super().append_many(entries, sync=sync)
        with self._calls_lock:
            self.written.update(e.entry_id for e in entries)

    def sync(self) -> None:
        self.calls.append(("sync", None))
        if self.fail_sync:
            raise OSError("disk gone")

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> None:
        self.calls.append(("checkpoint", process_id))
        super().checkpoint(process_id, state)

    def count(self, name: str) -> int:
        return sum(1 for call, _ in self.calls if call == name)


def entry(n: int, pid: str = "p") -> JournalEntry:
    return JournalEntry(pid, "trigger_event", {"n": n})


def spawn(system: ActorSystem, journal: FakeJournal, dispatcher: str = "pooled",
          **kwargs: Any) -> tuple[ActorRef[Any], JournalClient]:
    intake = JournalIntake()
    ref = system.spawn(JournalActor, journal, dispatcher=dispatcher, intake=intake, **kwargs)
    return ref, JournalClient(ref, intake)


def stats(ref: ActorRef[Any]) -> JournalStats:
    result: JournalStats = ref.ask(GetJournalStats(), timeout=WAIT)
    return result


def test_fifty_concurrent_appenders_share_a_couple_of_writes(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    journal = FakeJournal(hold_first=True)
    _ref, client = spawn(actor_system, journal, dispatcher)
    resolved_after_write: dict[str, bool] = {}

    def check(e: JournalEntry) -> Any:
        return lambda _f: resolved_after_write.__setitem__(e.entry_id, e.entry_id in
                                                           journal.written)

    first = entry(0)
    first_done = client.append(first)
    first_done.add_done_callback(check(first))
    assert journal.entered.wait(WAIT)  # the actor is now inside the first write
    futures: list[Future[None]] = []
    lock = threading.Lock()
    start = threading.Barrier(49)

    def appender(n: int) -> None:
        start.wait()
        e = entry(n)
        done = client.append(e)
        done.add_done_callback(check(e))
        with lock:
            futures.append(done)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(1, 50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any(f.done() for f in futures)
    journal.release.set()
    for done in [first_done, *futures]:
        assert done.get(timeout=WAIT) is None
    assert journal.count("append_many") == 2
    assert len(resolved_after_write) == 50
    assert all(resolved_after_write.values())
    assert len(journal.read("p")) == 50


def test_many_appends_from_one_process_keep_their_order(actor_system: ActorSystem) -> None:
    journal = FakeJournal()
    _ref, client = spawn(actor_system, journal)
    futures = [client.append(entry(n)) for n in range(200)]
    for done in futures:
        done.get(timeout=WAIT)
    assert [e.data["n"] for e in journal.read("p")] == list(range(200))
    assert stats(_ref).entries == 200


def test_a_failed_write_fails_its_whole_batch_and_the_next_batch_is_tried_afresh(
    actor_system: ActorSystem, caplog: pytest.LogCaptureFixture
) -> None:
    journal = FakeJournal(hold_first=True)
    ref, client = spawn(actor_system, journal)
    first = client.append(entry(0))
    assert journal.entered.wait(WAIT)
    batch = [client.append(entry(n)) for n in (1, 2, 3)]
    journal.failures[2] = OSError("no space left on device")
    journal.release.set()
    first.get(timeout=WAIT)
    for done in batch:
        with pytest.raises(JournalError, match="no space left") as info:
            done.get(timeout=WAIT)
        assert isinstance(info.value.__cause__, OSError)
    assert "no space left" in caplog.text
    client.append(entry(4)).get(timeout=WAIT)
    assert [e.data["n"] for e in journal.read("p")] == [0, 4]
    assert stats(ref) == JournalStats(batches=2, entries=2, syncs=0, failed_batches=1)


def test_a_journal_error_from_the_provider_reaches_the_appender_unchanged(
    actor_system: ActorSystem,
) -> None:
    journal = FakeJournal()
    _ref, client = spawn(actor_system, journal)
    journal.failures[1] = JournalError("journal file x: line 3: bad CRC")
    with pytest.raises(JournalError, match="bad CRC"):
        client.append(entry(0)).get(timeout=WAIT)


def test_a_non_json_entry_fails_only_its_batch(actor_system: ActorSystem) -> None:
    journal = FakeJournal()
    _ref, client = spawn(actor_system, journal)
    with pytest.raises(JournalError, match="not JSON"):
        client.append(JournalEntry("p", "context_update", {"value": object()})).get(timeout=WAIT)
    client.append(entry(1)).get(timeout=WAIT)
    assert [e.data for e in journal.read("p")] == [{"n": 1}]


def test_a_raising_done_callback_does_not_break_the_batch(actor_system: ActorSystem) -> None:
    journal = FakeJournal(hold_first=True)
    ref, client = spawn(actor_system, journal)
    client.append(entry(0))
    assert journal.entered.wait(WAIT)
    bad, good = client.append(entry(1)), client.append(entry(2))

    def explode(_f: Future[None]) -> None:
        raise RuntimeError("a careless callback")

    bad.add_done_callback(explode)
    journal.release.set()
    good.get(timeout=WAIT)
    bad.get(timeout=WAIT)
    assert ref.is_alive()


def test_fsync_always_writes_synchronously_and_never_calls_sync(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    journal = FakeJournal()
    ref, client = spawn(actor_system, journal, fsync="always")
    client.append(entry(0)).get(timeout=WAIT)
    manual_clock.advance(1.0)
    stats(ref)
    assert journal.calls == [("append_many", ([journal.read("p")[0].entry_id], True))]


def test_fsync_batch_syncs_on_the_timer_only_when_something_was_written(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    journal = FakeJournal()
    ref, client = spawn(actor_system, journal, fsync="batch", sync_interval=0.5)
    manual_clock.advance(0.5)
    assert stats(ref).syncs == 0
    client.append(entry(0)).get(timeout=WAIT)
    assert journal.calls[-1][0] == "append_many"
    assert journal.calls[-1][1][1] is False
    assert journal.count("sync") == 0
    manual_clock.advance(0.25)
    assert stats(ref).syncs == 0
    manual_clock.advance(0.25)
    assert stats(ref).syncs == 1
    manual_clock.advance(5.0)
    assert stats(ref).syncs == 1
    assert journal.count("sync") == 1


def test_fsync_batch_retries_a_failed_sync(
    actor_system: ActorSystem, manual_clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    journal = FakeJournal()
    ref, client = spawn(actor_system, journal, fsync="batch", sync_interval=1.0)
    client.append(entry(0)).get(timeout=WAIT)
    journal.fail_sync = True
    manual_clock.advance(1.0)
    assert stats(ref).syncs == 0
    assert "journal sync failed" in caplog.text
    journal.fail_sync = False
    manual_clock.advance(1.0)
    assert stats(ref).syncs == 1


def test_fsync_never_does_not_sync(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    journal = FakeJournal()
    ref, client = spawn(actor_system, journal, fsync="never")
    client.append(entry(0)).get(timeout=WAIT)
    manual_clock.advance(10.0)
    stats(ref)
    assert journal.calls[0][1][1] is False
    assert journal.count("sync") == 0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"fsync": "sometimes"}, "fsync"), ({"sync_interval": 0}, "sync_interval")])
def test_bad_settings_are_refused(
    actor_system: ActorSystem, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        actor_system.spawn(JournalActor, FakeJournal(), **kwargs)


def test_a_checkpoint_is_applied_after_the_appends_sent_before_it(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    journal = FakeJournal()
    _ref, client = spawn(actor_system, journal, dispatcher)
    appended = client.append(entry(1))
    checkpointed = client.checkpoint("p", {"invocation_count": 1})
    after = client.append(entry(2))
    for done in (appended, checkpointed, after):
        done.get(timeout=WAIT)
    assert [name for name, _ in journal.calls] == ["append_many", "checkpoint", "append_many"]
    assert [(e.entry_type, e.data) for e in journal.read("p")] == [
        ("trigger_event", {"n": 1}), ("checkpoint", {"seq": 1}), ("trigger_event", {"n": 2})]


def test_a_failed_checkpoint_fails_its_future(actor_system: ActorSystem) -> None:
    journal = FakeJournal()
    _ref, client = spawn(actor_system, journal)
    with pytest.raises(JournalError, match="not JSON"):
        client.checkpoint("p", {"when": object()}).get(timeout=WAIT)
    client.checkpoint("p", {"ok": True}).get(timeout=WAIT)
    assert journal.last_checkpoint("p") == {"ok": True, "checkpoint_seq": 1}


def test_stop_flushes_what_is_buffered(actor_system: ActorSystem) -> None:
    journal = FakeJournal(hold_first=True)
    ref, client = spawn(actor_system, journal)
    client.append(entry(0))
    assert journal.entered.wait(WAIT)
    buffered: Future[None] = Future()
    taken = ref.ask(Append((entry(1),), buffered), block=False)
    # Runs in the actor right after it buffered the append, before its flush is handled: the
    # stop jumps the queue, so only on_stop can write the entry.

    def stop(_f: Future[Any]) -> None:
        ref.stop(block=False)

    taken.add_done_callback(stop)
    journal.release.set()
    buffered.get(timeout=WAIT)
    assert ref.actor_stopped.wait(WAIT)
    assert [e.data["n"] for e in journal.read("p")] == [0, 1]


def test_messages_can_be_told_without_futures(actor_system: ActorSystem) -> None:
    journal = FakeJournal()
    ref, _client = spawn(actor_system, journal)
    ref.tell(Append((entry(1),)))
    ref.tell(Checkpoint("p", {"runs": 1}))
    stats(ref)
    assert [e.entry_type for e in journal.read("p")] == ["trigger_event", "checkpoint"]
    assert journal.last_checkpoint("p") == {"runs": 1, "checkpoint_seq": 1}


def test_appends_to_a_stopped_journal_actor_fail_instead_of_hanging(
    actor_system: ActorSystem,
) -> None:
    ref, client = spawn(actor_system, FakeJournal())
    ref.stop()
    with pytest.raises(JournalError, match="journal actor"):
        client.append(entry(0)).get(timeout=WAIT)
    with pytest.raises(JournalError):
        client.checkpoint("p", {}).get(timeout=WAIT)


def test_an_unexpected_message_is_refused(actor_system: ActorSystem) -> None:
    ref, client = spawn(actor_system, FakeJournal())
    with pytest.raises(TypeError, match="unexpected message"):
        ref.ask("hello", timeout=WAIT)
    client.append(entry(0)).get(timeout=WAIT)


def test_a_coroutine_awaits_durability(actor_system: ActorSystem) -> None:
    journal = FakeJournal()
    _ref, client = spawn(actor_system, journal)

    async def accept() -> bool:
        e = entry(7)
        await client.append(e)
        return e.entry_id in journal.written

    assert asyncio.run(accept()) is True


class Accepting(Actor):
    """A ProcessActor in miniature: acknowledges an event once its entry is durable."""

    def __init__(self, journal: JournalClient, probe: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.journal = journal
        self.probe = probe

    def on_receive(self, message: Any) -> None:
        match message:
            case ("event", n):
                me = self.actor_ref
                done = self.journal.append(entry(n))
                done.add_done_callback(lambda f: me.tell(("journaled", n, f)))
                self.probe.tell(("accepted", n))
            case ("journaled", n, future):
                try:
                    future.get()
                except JournalError as exc:
                    self.probe.tell(("refused", n, str(exc)))
                else:
                    self.probe.tell(("acknowledged", n))


def test_an_actor_acknowledges_only_after_its_entry_is_durable(
    actor_system: ActorSystem,
) -> None:
    journal = FakeJournal(hold_first=True)
    _ref, client = spawn(actor_system, journal)
    probe = TestProbe(actor_system)
    process = actor_system.spawn(Accepting, client, probe.ref)
    process.tell(("event", 1))
    probe.expect_message(("accepted", 1))
    assert journal.entered.wait(WAIT)
    process.tell(("event", 2))
    probe.expect_message(("accepted", 2))
    assert journal.written == set()
    journal.failures[1] = OSError("disk full")
    journal.release.set()
    probe.expect_message_matching(lambda m: m[:2] == ("refused", 1) and "disk full" in m[2])
    probe.expect_message(("acknowledged", 2))


def test_a_restarted_journal_actor_takes_appends_again(actor_system: ActorSystem) -> None:
    """While the crashed actor is down its appends fail at once; its restart (same intake, as
    the runtime gives it) writes them again."""
    journal = FakeJournal()
    intake = JournalIntake()
    started = TestProbe(actor_system)
    actor_system.event_stream.subscribe(started.ref, ChildStarted)
    sup = actor_system.spawn(Supervisor, name="journal-sup")
    spec = ChildSpec("journal", JournalActor, args=(journal,), kwargs={"intake": intake})
    handle = sup.proxy().start_child(spec).get(timeout=WAIT)
    started.expect_message_type(ChildStarted)
    client = JournalClient(handle, intake)
    client.append(entry(1)).get(timeout=WAIT)
    handle.tell("not a journal message")  # told, not asked: the actor fails
    assert started.expect_message_type(ChildStarted).child_id == "journal"  # the restart
    client.append(entry(2)).get(timeout=WAIT)
    assert [e.data["n"] for e in journal.read("p")] == [1, 2]


def test_a_closed_intake_hands_back_what_it_held_and_refuses_more() -> None:
    """What a stopping or failing actor relies on: `close` returns the items not taken, later
    offers fail at once naming why, and `open` (a restart) accepts again."""
    intake = JournalIntake()
    nobody = _Nobody()
    held: Future[None] = Future()
    intake.offer(Append((entry(1),), held), nobody)
    assert nobody.told == 1
    intake.offer(Append((entry(2),)), nobody)
    assert nobody.told == 1  # one flush request per batch
    assert [item.entries[0].data["n"] for item in intake.close("the journal actor failed")
            if isinstance(item, Append)] == [1, 2]
    assert not held.done()  # the actor fails or writes them
    refused: Future[None] = Future()
    intake.offer(Append((entry(3),), refused), nobody)
    with pytest.raises(JournalError, match="the journal actor failed; the entries were not"):
        refused.get(timeout=WAIT)
    intake.open()
    intake.offer(Append((entry(4),)), nobody)
    assert nobody.told == 2
    assert len(intake.take()) == 1


class _Nobody:
    """Stands for the actor's ref: counts the flush requests it is told."""

    def __init__(self) -> None:
        self.told = 0

    def tell(self, message: Any) -> None:
        del message
        self.told += 1
