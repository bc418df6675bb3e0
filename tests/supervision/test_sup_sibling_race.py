"""A sibling that fails on its own while its supervisor is stopping it for a restart.

The supervisor stops the siblings of a failed child and then starts them again under the same
names, so it relies on "stop returned" meaning "the old incarnation is gone". Here sibling b
fails while the supervisor is stopping it, and b's end-of-life bookkeeping (the kernel hook
`_gr_on_dead`, which `Supervisor` itself overrides to retire handles) is held open by the test,
so that the ordering is deterministic rather than a matter of thread scheduling.

Expected: the supervisor restarts a and b only once b is really gone, with no failed restart.
"""

from __future__ import annotations

import logging
import threading

import pytest
from sup_support import CRASH, Worker, child, drain, new_probe, which, worker

from greenroom.actors.system import ActorSystem
from greenroom.supervision import ChildFailed, ChildSpec, ChildStarted, Supervisor
from greenroom.testing.probe import TestProbe


class SlowToFinish(Worker):
    """A worker whose last bookkeeping step waits for the test."""

    def __init__(self, log: object, child_id: str, finish: threading.Event) -> None:
        super().__init__(log, child_id)  # type: ignore[arg-type]
        self.finish = finish

    def _gr_on_dead(self, reason: BaseException | None) -> None:
        self.finish.wait(10)


def test_sibling_failing_while_being_stopped_is_restarted_once_gone(
    actor_system: ActorSystem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildFailed, ChildStarted)
    release, finish = threading.Event(), threading.Event()
    sup = actor_system.spawn(
        Supervisor, strategy="one_for_all", name="sup",
        children=[worker(log, "a"),
                  ChildSpec("b", SlowToFinish, (log.ref, "b", finish), dispatcher="thread")],
    )
    try:
        assert log.receive_messages(2) == [("start", "a"), ("start", "b")]
        assert len(drain(events)) == 2
        child(sup, "b").tell(("block_then_crash", release))
        log.expect_message(("blocked", "b"))
        child(sup, "a").tell(CRASH)
        assert events.expect_message_type(ChildFailed).child_id == "a"
        release.set()  # b fails now, while (or just before) the supervisor stops it
        # Until b has finished dying its name is taken, so a restart of b cannot work yet; the
        # supervisor must still be waiting. Look for a failed restart of b meanwhile.
        try:
            failed_restart = events.fish_for_message(
                lambda e: isinstance(e, ChildFailed) and e.child_id == "b", timeout=0.5
            )
        except AssertionError:  # nothing: the supervisor is waiting, as it should
            failed_restart = None
    finally:
        finish.set()
    assert failed_restart is None, (
        f"b was restarted while the old b was still registered: {failed_restart.reason!r}"
    )
    started = [events.expect_message_type(ChildStarted) for _ in range(2)]
    assert [e.child_id for e in started] == ["a", "b"]
    assert which(sup) == [("a", "running"), ("b", "running")]
    assert [m for m in drain(log) if m[0] == "start"] == [("start", "a"), ("start", "b")]
    assert [e for e in drain(events) if isinstance(e, ChildFailed)] == []
