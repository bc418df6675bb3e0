"""Restart intensity: giving up, the sliding window, failed restarts, and escalation.

These tests run on a `ManualClock`, so the intensity window only moves when a test says so.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka
import pytest
from sup_support import CRASH, Worker, child, drain, new_probe, which, worker

from greenroom.actors.clock import ManualClock
from greenroom.actors.messages import ActorFailed, DeadLetter
from greenroom.actors.system import ActorSystem
from greenroom.supervision import (
    ChildFailed,
    ChildRestarted,
    ChildSpec,
    ChildStarted,
    IntensityExceeded,
    RestartIntensityExceeded,
    Supervisor,
)
from greenroom.testing.probe import TestProbe


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The crashes in these tests are on purpose."""
    caplog.set_level(logging.CRITICAL)


def crash_and_await_restart(handle: pykka.ActorRef[Any], log: TestProbe, child_id: str) -> None:
    handle.tell(CRASH)
    log.expect_message(("start", child_id))


def test_more_than_max_restarts_within_the_window_fails_the_supervisor(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, IntensityExceeded, ActorFailed)
    dead = TestProbe(actor_system)
    actor_system.dead_letters.subscribe(dead.ref, DeadLetter)
    sup = actor_system.spawn(
        Supervisor, children=[worker(log, "a", dispatcher=dispatcher),
                              worker(log, "b", dispatcher=dispatcher)],
        max_restarts=2, within=5.0, name="sup", dispatcher=dispatcher,
    )
    assert log.receive_messages(2) == [("start", "a"), ("start", "b")]
    handle = child(sup, "a")
    crash_and_await_restart(handle, log, "a")
    crash_and_await_restart(handle, log, "a")
    assert [e.path for e in drain(events)] == ["/sup/a", "/sup/a"]  # ActorFailed, restarted
    handle.tell(CRASH)  # the third restart within 5 s is one too many

    assert events.expect_message_type(ActorFailed).path == "/sup/a"
    exceeded = events.expect_message_type(IntensityExceeded)
    assert (exceeded.supervisor, exceeded.child_id, exceeded.max_restarts, exceeded.within) == (
        "/sup", "a", 2, 5.0
    )
    failed = events.expect_message_type(ActorFailed)
    assert failed.ref is sup
    assert failed.path == "/sup"
    assert isinstance(failed.reason, RestartIntensityExceeded)
    assert "more than 2 restarts within 5.0 s (last: child 'a')" in str(failed.reason)

    assert drain(log) == [("stop", "b")]  # the supervisor stopped its other children
    assert actor_system.lookup("/sup") is None
    assert actor_system.lookup("/sup/b") is None
    assert not handle.is_alive()
    handle.tell("hello?")
    letter = dead.expect_message_type(DeadLetter)
    assert letter.message == "hello?"
    assert letter.recipient is handle
    assert "supervisor /sup failed" in letter.reason


def test_restarts_that_leave_the_window_no_longer_count(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, IntensityExceeded)
    watcher = TestProbe(actor_system)
    sup = actor_system.spawn(
        Supervisor, children=[worker(log, "a")], max_restarts=1, within=5.0, name="sup"
    )
    watcher.watch(sup)
    log.expect_message(("start", "a"))
    handle = child(sup, "a")
    crash_and_await_restart(handle, log, "a")  # restart 1 at t=0
    manual_clock.advance(4.0)
    assert which(sup) == [("a", "running")]
    manual_clock.advance(1.0)
    crash_and_await_restart(handle, log, "a")  # t=5: the first has left the window
    manual_clock.advance(4.5)
    handle.tell(CRASH)  # t=9.5: two within 5 s
    assert events.expect_message_type(IntensityExceeded).child_id == "a"
    terminated = watcher.expect_terminated(sup)
    assert isinstance(terminated.reason, RestartIntensityExceeded)


def test_max_restarts_zero_gives_up_at_the_first_failure(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted, IntensityExceeded)
    sup = actor_system.spawn(Supervisor, children=[worker(log, "a")], max_restarts=0, name="sup")
    log.expect_message(("start", "a"))
    child(sup, "a").tell(CRASH)
    assert events.expect_message_type(IntensityExceeded).child_id == "a"  # no ChildRestarted
    assert drain(log) == []


def test_failed_restarts_are_retried_and_count_toward_intensity(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildFailed, ChildStarted, IntensityExceeded)
    watcher = TestProbe(actor_system)
    broken = threading.Event()
    sup = actor_system.spawn(
        Supervisor, children=[ChildSpec("a", Worker, (log.ref, "a", broken),
                                        dispatcher=dispatcher)],
        max_restarts=3, within=5.0, name="sup", dispatcher=dispatcher,
    )
    watcher.watch(sup)
    log.expect_message(("start", "a"))
    events.expect_message_type(ChildStarted)
    broken.set()  # from now on, every restart fails in on_start
    child(sup, "a").tell(CRASH)
    # The crash counts as one restart, each failed restart as one more, and each failed restart
    # is retried at once (no backoff, and no waiting for the clock to move): the third failed
    # restart is the fourth restart within the window, one too many.
    failures = [events.expect_message_type(ChildFailed) for _ in range(4)]
    assert [str(f.reason) for f in failures] == [
        "a crashed on purpose", "a cannot start", "a cannot start", "a cannot start"
    ]
    exceeded = events.expect_message_type(IntensityExceeded)
    assert exceeded.child_id == "a"
    assert isinstance(watcher.expect_terminated(sup).reason, RestartIntensityExceeded)
    assert drain(log) == []


# Escalation --------------------------------------------------------------------------------


def test_escalation_through_two_levels(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    """inner gives up -> outer restarts it -> inner gives up again -> outer gives up."""
    log = TestProbe(actor_system)
    events = new_probe(actor_system, IntensityExceeded, ActorFailed, ChildStarted)
    inner = ChildSpec(
        "inner", Supervisor, dispatcher=dispatcher,
        kwargs={"children": [worker(log, "w", dispatcher=dispatcher)], "max_restarts": 0},
    )
    outer = actor_system.spawn(
        Supervisor, children=[worker(log, "side", dispatcher=dispatcher), inner],
        max_restarts=1, within=10.0, name="outer", dispatcher=dispatcher,
    )
    assert log.receive_messages(2) == [("start", "side"), ("start", "w")]
    assert [(e.supervisor, e.child_id) for e in drain(events)] == [
        ("/outer", "side"), ("/outer/inner", "w"), ("/outer", "inner")
    ]
    first_inner = actor_system.lookup("/outer/inner")
    assert first_inner is not None

    # Round 1: w fails; inner (max_restarts=0) gives up; outer restarts inner, which starts w.
    w = actor_system.lookup("/outer/inner/w")
    assert w is not None
    w.tell(CRASH)
    assert events.expect_message_type(ActorFailed).path == "/outer/inner/w"
    assert events.expect_message_type(IntensityExceeded).supervisor == "/outer/inner"
    inner_failed = events.expect_message_type(ActorFailed)
    assert inner_failed.path == "/outer/inner"
    assert isinstance(inner_failed.reason, RestartIntensityExceeded)
    restarted_w = events.expect_message_type(ChildStarted)
    assert (restarted_w.supervisor, restarted_w.child_id) == ("/outer/inner", "w")
    restarted_inner = events.expect_message_type(ChildStarted)
    assert (restarted_inner.supervisor, restarted_inner.child_id) == ("/outer", "inner")
    assert restarted_inner.ref is not first_inner
    log.expect_message(("start", "w"))
    assert which(outer) == [("side", "running"), ("inner", "running")]

    # Round 2: the same again, but now outer has used up its one restart.
    restarted_w.ref.tell(CRASH)
    assert events.expect_message_type(ActorFailed).path == "/outer/inner/w"
    assert events.expect_message_type(IntensityExceeded).supervisor == "/outer/inner"
    assert events.expect_message_type(ActorFailed).path == "/outer/inner"
    exceeded = events.expect_message_type(IntensityExceeded)
    assert (exceeded.supervisor, exceeded.child_id, exceeded.max_restarts) == (
        "/outer", "inner", 1
    )
    outer_failed = events.expect_message_type(ActorFailed)
    assert outer_failed.ref is outer
    assert outer_failed.path == "/outer"
    assert isinstance(outer_failed.reason, RestartIntensityExceeded)
    assert "last: child 'inner'" in str(outer_failed.reason)
    assert drain(log) == [("stop", "side")]
    assert actor_system.lookup("/outer") is None
    assert actor_system.lookup("/outer/inner") is None
    assert actor_system.lookup("/outer/side") is None
    assert actor_system.actor_count() == 2  # the two probes


def test_escalated_failure_is_a_child_failure_for_the_parent(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    """A transient inner supervisor that gives up is restarted (its exit is abnormal)."""
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildFailed, ChildRestarted)
    inner = ChildSpec("inner", Supervisor, restart="transient",
                      kwargs={"children": [worker(log, "w")], "max_restarts": 0})
    outer = actor_system.spawn(Supervisor, children=[inner], name="outer")
    log.expect_message(("start", "w"))
    w = actor_system.lookup("/outer/inner/w")
    assert w is not None
    w.tell(CRASH)
    assert events.expect_message_type(ChildFailed).child_id == "w"
    failed = events.expect_message_type(ChildFailed)
    assert (failed.supervisor, failed.child_id) == ("/outer", "inner")
    assert isinstance(failed.reason, RestartIntensityExceeded)
    restarted = events.expect_message_type(ChildRestarted)
    assert (restarted.supervisor, restarted.child_id, restarted.attempt) == ("/outer", "inner", 1)
    log.expect_message(("start", "w"))
    assert which(outer) == [("inner", "running")]
