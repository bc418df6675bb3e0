"""Backoff before restarts, driven by a `ManualClock`: nothing restarts until time is advanced.

Delays are powers of two (jitter 0) so that clock arithmetic is exact. After each supervision
event the tests ask the supervisor something (`which`): the ask is handled after the turn that
armed the restart timer, so the timer exists before the clock is advanced.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka
import pytest
from sup_support import CRASH, Echo, Note, Worker, child, drain, new_probe, refs, which, worker

from greenroom.actors.clock import ManualClock
from greenroom.actors.messages import DeadLetter
from greenroom.actors.ref import ActorRef
from greenroom.actors.system import ActorSystem
from greenroom.supervision import (
    Backoff,
    ChildFailed,
    ChildRestarted,
    ChildSpec,
    ChildStarted,
    Supervisor,
)
from greenroom.testing.probe import TestProbe

EXACT = Backoff(min=0.25, max=1.0, jitter=0.0, reset_after=60.0)


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The crashes in these tests are on purpose."""
    caplog.set_level(logging.CRITICAL)


def spawn_sup(
    system: ActorSystem, dispatcher: str, *specs: ChildSpec, **kwargs: Any
) -> ActorRef[Any]:
    kwargs.setdefault("backoff", EXACT)
    kwargs.setdefault("max_restarts", 10)
    return system.spawn(Supervisor, children=list(specs), name="sup", dispatcher=dispatcher,
                        **kwargs)


def expect_restart_after(
    sup: pykka.ActorRef[Any], log: TestProbe, clock: ManualClock, child_id: str, delay: float
) -> None:
    """The child is not restarted before `delay` has passed on the clock, and is after."""
    assert dict(which(sup))[child_id] == "restarting"  # the timer is armed now
    log.expect_no_message(0.05)
    clock.advance(delay / 2)
    assert dict(which(sup))[child_id] == "restarting"
    clock.advance(delay / 2 - delay / 8)
    assert dict(which(sup))[child_id] == "restarting"
    log.expect_no_message(0.05)
    clock.advance(delay / 8)
    log.expect_message(("start", child_id))
    assert dict(which(sup))[child_id] == "running"


def test_delays_double_up_to_max_and_nothing_restarts_early(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "w", dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    for attempt, delay in enumerate([0.25, 0.5, 1.0, 1.0], start=1):
        handle.tell(CRASH)
        restarted = events.expect_message_type(ChildRestarted)
        assert (restarted.supervisor, restarted.child_id) == ("/sup", "w")
        assert (restarted.attempt, restarted.delay) == (attempt, delay)
        expect_restart_after(sup, log, manual_clock, "w", delay)
    assert sup.proxy().restart_counts().get(timeout=10) == {"w": 4}


def test_attempts_reset_after_the_child_ran_long_enough(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted)
    backoff = Backoff(min=0.25, max=8.0, jitter=0.0, reset_after=16.0)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "w", dispatcher=dispatcher),
                    backoff=backoff)
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    for attempt, delay in [(1, 0.25), (2, 0.5)]:
        handle.tell(CRASH)
        assert events.expect_message_type(ChildRestarted).delay == delay
        assert sup.proxy().restart_counts().get(timeout=10) == {"w": attempt}
        expect_restart_after(sup, log, manual_clock, "w", delay)
    manual_clock.advance(15.5)  # ran 15.5 s: not long enough
    handle.tell(CRASH)
    assert (events.expect_message_type(ChildRestarted).delay) == 1.0
    expect_restart_after(sup, log, manual_clock, "w", 1.0)
    manual_clock.advance(16.0)  # ran 16 s: the count starts over
    handle.tell(CRASH)
    restarted = events.expect_message_type(ChildRestarted)
    assert (restarted.attempt, restarted.delay) == (1, 0.25)
    expect_restart_after(sup, log, manual_clock, "w", 0.25)


def test_jitter_keeps_the_delay_within_its_band(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted)
    sup = spawn_sup(actor_system, "pooled", worker(log, "w"),
                    backoff=Backoff(min=1.0, max=8.0, jitter=0.5))
    log.expect_message(("start", "w"))
    child(sup, "w").tell(CRASH)
    delay = events.expect_message_type(ChildRestarted).delay
    assert 0.5 <= delay <= 1.5
    assert which(sup) == [("w", "restarting")]
    manual_clock.advance(0.49)
    assert which(sup) == [("w", "restarting")]
    manual_clock.advance(1.01)
    log.expect_message(("start", "w"))


def test_siblings_wait_for_the_backoff_too(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted)
    sup = spawn_sup(actor_system, dispatcher,
                    *(worker(log, i, dispatcher=dispatcher) for i in "abc"),
                    strategy="rest_for_one")
    assert log.receive_messages(3) == [("start", "a"), ("start", "b"), ("start", "c")]
    child(sup, "b").tell(CRASH)
    assert [(e.child_id, e.attempt, e.delay) for e in events.receive_messages(2)] == [
        ("b", 1, 0.25), ("c", 1, 0.25)
    ]
    assert which(sup) == [("a", "running"), ("b", "restarting"), ("c", "restarting")]
    assert drain(log) == [("stop", "c")]
    manual_clock.advance(0.125)
    assert which(sup) == [("a", "running"), ("b", "restarting"), ("c", "restarting")]
    manual_clock.advance(0.125)
    assert log.receive_messages(2) == [("start", "b"), ("start", "c")]
    assert which(sup) == [("a", "running"), ("b", "running"), ("c", "running")]


def test_messages_sent_during_backoff_reach_the_new_incarnation(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted, ChildStarted)
    sup = spawn_sup(actor_system, dispatcher,
                    worker(log, "w", dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    events.expect_message_type(ChildStarted)
    handle = child(sup, "w")
    old = refs(sup)["w"]
    release = threading.Event()
    try:
        # While the first incarnation is busy, two notes queue up in its own mailbox...
        handle.tell(("block_then_crash", release))
        log.expect_message(("blocked", "w"))
        handle.tell(("note", 1))
        handle.tell(("note", 2))
    finally:
        release.set()  # ...then it crashes with them unhandled.
    events.expect_message_type(ChildRestarted)
    assert which(sup) == [("w", "restarting")]
    # During the backoff, a tell and an ask through the stable handle are held.
    handle.tell(("note", 3))
    answer = handle.ask(("echo", "during backoff"), block=False)
    log.expect_no_message(0.05)
    assert not answer.done()
    manual_clock.advance(0.25)
    log.expect_message(("start", "w"))
    new = events.expect_message_type(ChildStarted).ref
    assert new is not old
    # The crashed incarnation's leftovers first, in order, then what was held meanwhile.
    assert log.receive_messages(3) == [Note("w", new, 1), Note("w", new, 2), Note("w", new, 3)]
    assert answer.get(timeout=10) == Echo("w", new, "during backoff")
    assert handle.current is new


def test_terminate_child_during_backoff_cancels_the_restart(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted)
    dead = TestProbe(actor_system)
    actor_system.dead_letters.subscribe(dead.ref, DeadLetter)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "w", dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    handle.tell(CRASH)
    events.expect_message_type(ChildRestarted)
    handle.tell(("note", "held"))
    sup.proxy().terminate_child("w").get(timeout=10)
    letter = dead.expect_message_type(DeadLetter)  # what was held is refused, with the reason
    assert letter.message == ("note", "held")
    assert "terminated" in letter.reason
    manual_clock.advance(1.0)  # the restart timer would have fired by now
    assert which(sup) == [("w", "stopped")]
    log.expect_no_message(0.05)
    sup.proxy().restart_child("w").get(timeout=10)
    log.expect_message(("start", "w"))
    assert which(sup) == [("w", "running")]


def test_delete_child_during_backoff_dead_letters_the_held_messages(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted)
    dead = TestProbe(actor_system)
    actor_system.dead_letters.subscribe(dead.ref, DeadLetter)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "w", dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    handle.tell(CRASH)
    events.expect_message_type(ChildRestarted)
    handle.tell(("note", "held"))
    asked = handle.ask(("echo", "held"), block=False)
    sup.proxy().delete_child("w").get(timeout=10)
    letter = dead.expect_message_type(DeadLetter)
    assert (letter.message, letter.recipient) == (("note", "held"), handle)
    assert "was removed from /sup" in letter.reason
    with pytest.raises(pykka.ActorDeadError, match="was removed from /sup"):
        asked.get(timeout=10)
    manual_clock.advance(1.0)
    assert which(sup) == []
    log.expect_no_message(0.05)
    assert not handle.is_alive()


def test_a_failed_restart_is_retried_after_the_next_delay(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildRestarted, ChildFailed)
    broken = threading.Event()
    sup = spawn_sup(actor_system, dispatcher,
                    ChildSpec("w", Worker, (log.ref, "w", broken), dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    broken.set()
    child(sup, "w").tell(CRASH)
    assert str(events.expect_message_type(ChildFailed).reason) == "w crashed on purpose"
    first = events.expect_message_type(ChildRestarted)
    assert (first.attempt, first.delay) == (1, 0.25)
    assert which(sup) == [("w", "restarting")]
    manual_clock.advance(0.25)  # the restart fails in on_start...
    assert str(events.expect_message_type(ChildFailed).reason) == "w cannot start"
    second = events.expect_message_type(ChildRestarted)  # ...and is tried again later
    assert (second.attempt, second.delay) == (2, 0.5)
    assert which(sup) == [("w", "restarting")]
    broken.clear()
    manual_clock.advance(0.25)
    assert which(sup) == [("w", "restarting")]
    log.expect_no_message(0.05)
    manual_clock.advance(0.25)
    log.expect_message(("start", "w"))
    assert which(sup) == [("w", "running")]
