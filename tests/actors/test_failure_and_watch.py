"""Failures never vanish: death watch, parent notification, SystemExit containment."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from greenroom.actors import Actor, ActorFailed, ActorSystem, Terminated
from greenroom.testing import TestProbe


class Fragile(Actor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        return message


def test_watcher_gets_terminated_on_normal_stop(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Fragile, dispatcher=dispatcher)
    probe.watch(ref)
    ref.stop()
    terminated = probe.expect_terminated(ref)
    assert terminated.reason is None
    assert not terminated.failed


def test_watcher_gets_terminated_with_the_exception_on_failure(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Fragile, dispatcher=dispatcher)
    probe.watch(ref)
    ref.tell(KeyError("lost"))
    terminated = probe.expect_terminated(ref)
    assert terminated.failed
    assert isinstance(terminated.reason, KeyError)
    assert not ref.is_alive()


def test_watching_a_dead_actor_reports_at_once(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Fragile, dispatcher=dispatcher)
    ref.tell(ValueError("gone"))
    first = TestProbe(actor_system)
    first.watch(ref)
    assert isinstance(first.expect_terminated(ref).reason, ValueError)
    probe.watch(ref)
    assert isinstance(probe.expect_terminated(ref).reason, ValueError)


def test_unwatch_stops_notifications(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Fragile, dispatcher=dispatcher)
    probe.watch(ref)
    probe.unwatch(ref)
    actor_system.stop(ref)
    probe.expect_no_message(0.05)


def test_actor_watch_delivers_terminated_to_on_receive(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    target = actor_system.spawn(Fragile, dispatcher=dispatcher)

    class Watcher(Actor):
        def on_start(self) -> None:
            self.watch(target)

        def on_receive(self, message: Any) -> Any:
            probe.ref.tell(message)

    actor_system.spawn(Watcher, dispatcher=dispatcher)
    target.tell(RuntimeError("x"))
    message = probe.expect_message_type(Terminated)
    assert message.ref is target


def test_failure_of_a_tell_reaches_the_parent(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)

    class Parent(Actor):
        def on_start(self) -> None:
            self.kid = self.spawn(Fragile, name="kid", dispatcher=dispatcher)

        def on_receive(self, message: Any) -> Any:
            return self.kid

        def on_child_terminated(
            self, ref: pykka.ActorRef[Any], reason: BaseException | None
        ) -> None:
            probe.ref.tell(("child", ref.path, type(reason).__name__))

    parent = actor_system.spawn(Parent, name="p", dispatcher=dispatcher)
    parent.ask("kid").tell(ZeroDivisionError())
    probe.expect_message(("child", "/p/kid", "ZeroDivisionError"))
    assert parent.is_alive()


def test_failures_are_published_on_the_event_stream(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    actor_system.event_stream.subscribe(probe.ref, ActorFailed)
    ref = actor_system.spawn(Fragile, name="f", dispatcher=dispatcher)
    ref.tell(OSError("disk"))
    event = probe.expect_message_type(ActorFailed)
    assert event.path == "/f"
    assert isinstance(event.reason, OSError)


def test_event_stream_where_filters_before_delivery(actor_system: ActorSystem) -> None:
    """A `where` predicate is checked when the event is published: an event it rejects is
    never told (the next one arrives first), and one it raises on is delivered, with a log."""
    probe = TestProbe(actor_system)

    def where(event: Any) -> bool:
        if event == "odd":
            raise ValueError("cannot tell")
        return event != "skip"

    actor_system.event_stream.subscribe(probe.ref, str, where=where)
    actor_system.event_stream.publish("skip")
    actor_system.event_stream.publish(42)
    actor_system.event_stream.publish("keep")
    actor_system.event_stream.publish("odd")
    assert probe.expect_message("keep") == "keep"
    assert probe.expect_message("odd") == "odd"


def test_on_failure_hook_runs_on_a_tell_failure(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)

    class Hooked(Fragile):
        def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
            probe.ref.tell(("on_failure", exc_type))

        def on_stop(self) -> None:
            probe.ref.tell("on_stop")

    ref = actor_system.spawn(Hooked, dispatcher=dispatcher)
    ref.tell(ValueError())
    probe.expect_message(("on_failure", ValueError))
    probe.expect_no_message(0.05)


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_base_exception_is_contained_to_one_actor(
    actor_system: ActorSystem, dispatcher: str, exc_type: type[BaseException]
) -> None:
    probe = TestProbe(actor_system)
    victim = actor_system.spawn(Fragile, dispatcher=dispatcher)
    bystander = actor_system.spawn(Fragile, dispatcher=dispatcher)
    probe.watch(victim)
    victim.tell(exc_type())
    assert isinstance(probe.expect_terminated(victim).reason, exc_type)
    assert bystander.ask("still here", timeout=3) == "still here"


def test_base_exception_in_an_ask_fails_the_actor_not_the_caller(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    ref = actor_system.spawn(Fragile, dispatcher=dispatcher)
    with pytest.raises(pykka.ActorDeadError, match="SystemExit"):
        ref.ask(SystemExit(3), timeout=3)
    assert not ref.is_alive()


def test_base_exception_in_plain_pykka_actor_does_not_stop_others(
    actor_system: ActorSystem,
) -> None:
    class Plain(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            raise SystemExit(1)

    probe = TestProbe(actor_system)
    plain = actor_system.spawn(Plain)
    other = actor_system.spawn(Fragile)
    probe.watch(plain)
    plain.tell("die")
    assert isinstance(probe.expect_terminated(plain).reason, SystemExit)
    assert other.ask("fine", timeout=3) == "fine"


def test_children_stop_before_their_parent(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)

    class Node(Actor):
        def __init__(self, depth: int) -> None:
            super().__init__()
            self.depth = depth

        def on_start(self) -> None:
            if self.depth < 2:
                for i in range(2):
                    self.spawn(Node, self.depth + 1, name=f"n{i}", dispatcher=dispatcher)

        def on_stop(self) -> None:
            probe.ref.tell(self.path)

    root = actor_system.spawn(Node, 0, name="root", dispatcher=dispatcher)
    assert actor_system.stop(root) is True
    assert actor_system.actor_count() == 1  # only the probe is left
    order = probe.receive_messages(7)
    assert order[-1] == "/root"
    for path in order:
        children = [p for p in order if p.startswith(path + "/")]
        assert all(order.index(c) < order.index(path) for c in children)
    assert order.index("/root/n1") < order.index("/root/n0")


def test_shutdown_kills_an_actor_that_will_not_stop(actor_system: ActorSystem) -> None:
    gate = threading.Event()
    entered = threading.Event()

    class Stuck(Actor):
        def on_receive(self, message: Any) -> Any:
            entered.set()
            gate.wait(30)

    ref = actor_system.spawn(Stuck, name="stuck", dispatcher="thread")
    ref.tell("hang")
    assert entered.wait(5)
    try:
        assert actor_system.shutdown(timeout=0.2) == ["/stuck"]
        assert not ref.is_alive()
        with pytest.raises(pykka.ActorDeadError):
            ref.ask("hello?", timeout=1)
    finally:
        gate.set()
