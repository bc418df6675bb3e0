"""Stable child handles follow restarts and refuse with a reason when the child is down."""

from __future__ import annotations

import logging
from typing import Any

import pykka
import pytest
from sup_support import CRASH, STOP, Echo, child, drain, echo, new_probe, refs, which, worker

from greenroom.actors.messages import DeadLetter, Terminated
from greenroom.actors.ref import ActorRef
from greenroom.actors.system import ActorSystem
from greenroom.supervision import ChildHandle, ChildSpec, ChildStarted, Supervisor
from greenroom.testing.probe import TestProbe


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The crashes in these tests are on purpose."""
    caplog.set_level(logging.CRITICAL)


def spawn_sup(system: ActorSystem, dispatcher: str, *specs: ChildSpec) -> ActorRef[Any]:
    return system.spawn(Supervisor, children=list(specs), name="sup", dispatcher=dispatcher)


def dead_letter_probe(system: ActorSystem) -> TestProbe:
    probe = TestProbe(system)
    system.dead_letters.subscribe(probe.ref, DeadLetter)
    return probe


def test_handle_follows_the_child_across_restarts(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildStarted)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "w", dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    first = events.expect_message_type(ChildStarted).ref
    handle = child(sup, "w")
    assert isinstance(handle, ChildHandle)
    assert handle.path == "/sup/w"
    assert handle.is_alive()
    assert handle.current is first
    assert echo(handle, 1) == Echo("w", first, 1)

    for exit_message in (CRASH, STOP):
        previous = handle.current
        handle.tell(exit_message)
        log.fish_for_message(lambda m: m == ("start", "w"))
        current = events.expect_message_type(ChildStarted).ref
        assert current is not previous
        assert echo(handle, 2) == Echo("w", current, 2)
        assert handle.current is current is refs(sup)["w"]
        assert child(sup, "w") is handle  # the same handle


def test_tells_right_after_a_crash_reach_the_next_incarnation(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    """No backoff: whatever is sent around the crash is delivered, in order, to the new one."""
    log = TestProbe(actor_system)
    dead = dead_letter_probe(actor_system)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "w", dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    handle.tell(CRASH)
    for i in range(20):
        handle.tell(("note", i))
    log.expect_message(("start", "w"))
    notes = log.receive_messages(20)
    assert [n.value for n in notes] == list(range(20))
    assert {n.ref for n in notes} == {handle.current}
    assert drain(dead) == []


def test_terminate_child_dead_letters_with_a_reason_until_restarted(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    dead = dead_letter_probe(actor_system)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "w", dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    sup.proxy().terminate_child("w").get(timeout=10)
    log.expect_message(("stop", "w"))

    handle.tell(("note", "lost"))
    letter = dead.expect_message_type(DeadLetter)
    assert letter.message == ("note", "lost")
    assert letter.recipient is handle
    assert letter.reason == "child 'w' was terminated by /sup"
    with pytest.raises(pykka.ActorDeadError, match="child 'w' was terminated by /sup"):
        echo(handle, 1)
    assert handle.is_alive()  # down, not gone: the spec is still there
    assert handle.current is None

    sup.proxy().restart_child("w").get(timeout=10)
    log.expect_message(("start", "w"))
    assert echo(handle, 2).ref is handle.current
    assert drain(dead) == []


def test_delete_child_kills_the_handle(actor_system: ActorSystem, dispatcher: str) -> None:
    log = TestProbe(actor_system)
    dead = dead_letter_probe(actor_system)
    watcher = TestProbe(actor_system)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "w", dispatcher=dispatcher))
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    watcher.watch(handle)
    sup.proxy().terminate_child("w").get(timeout=10)
    sup.proxy().delete_child("w").get(timeout=10)
    terminated = watcher.expect_terminated(handle)
    assert terminated == Terminated(handle, None)
    assert not handle.is_alive()

    handle.tell("anyone?")
    letter = dead.expect_message_type(DeadLetter)
    assert (letter.message, letter.recipient) == ("anyone?", handle)
    assert letter.reason == "child 'w' was removed from /sup"
    with pytest.raises(pykka.ActorDeadError, match="was removed from /sup"):
        echo(handle, 1)
    # Watching it now reports at once, like any dead actor.
    late = TestProbe(actor_system)
    late.watch(handle)
    assert late.expect_terminated(handle).reason is None


def test_transient_child_that_exits_normally_is_down_with_a_reason(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    dead = dead_letter_probe(actor_system)
    sup = spawn_sup(actor_system, dispatcher,
                    worker(log, "w", dispatcher=dispatcher, restart="transient"))
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    handle.tell(STOP)
    log.expect_message(("stop", "w"))
    assert which(sup) == [("w", "stopped")]
    handle.tell("after")
    letter = dead.expect_message_type(DeadLetter)
    assert (letter.message, letter.recipient) == ("after", handle)
    assert letter.reason == "child 'w' exited and is transient"


def test_temporary_child_that_exits_is_gone(actor_system: ActorSystem, dispatcher: str) -> None:
    log = TestProbe(actor_system)
    dead = dead_letter_probe(actor_system)
    watcher = TestProbe(actor_system)
    sup = spawn_sup(actor_system, dispatcher,
                    worker(log, "w", dispatcher=dispatcher, restart="temporary"))
    log.expect_message(("start", "w"))
    handle = child(sup, "w")
    watcher.watch(handle)
    handle.tell(CRASH)
    assert watcher.expect_terminated(handle).reason is None
    assert which(sup) == []
    handle.tell("after")
    letter = dead.expect_message_type(DeadLetter)
    assert letter.recipient is handle
    assert letter.reason == "child 'w' was removed from /sup"


def test_stopping_the_supervisor_kills_every_handle(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    dead = dead_letter_probe(actor_system)
    watcher = TestProbe(actor_system)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "a", dispatcher=dispatcher),
                    worker(log, "b", dispatcher=dispatcher))
    assert log.receive_messages(2) == [("start", "a"), ("start", "b")]
    handles = [child(sup, i) for i in ("a", "b")]
    for handle in handles:
        watcher.watch(handle)
    actor_system.stop(sup)
    assert {watcher.receive_message().ref for _ in handles} == set(handles)
    for handle in handles:
        assert not handle.is_alive()
        handle.tell("late")
        letter = dead.expect_message_type(DeadLetter)
        assert (letter.message, letter.recipient, letter.reason) == (
            "late", handle, "supervisor /sup stopped"
        )
