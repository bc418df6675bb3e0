"""What only the pooled dispatcher promises: fairness, and no deadlock when a handler blocks."""

from __future__ import annotations

import threading
from typing import Any

from greenroom.actors import Actor, ActorSystem
from greenroom.testing import TestProbe


def test_a_busy_actor_does_not_starve_others() -> None:
    with ActorSystem(name="fair", pool_size=1) as system:
        probe = TestProbe(system)
        order: list[str] = []
        gate = threading.Event()

        class Worker(Actor):
            def on_receive(self, message: Any) -> Any:
                if message == "hold":
                    gate.wait(10)
                    return None
                order.append(message)
                if message == "quick":
                    probe.ref.tell("quick done")
                return None

        busy = system.spawn(Worker, name="busy")
        quick = system.spawn(Worker, name="quick")
        busy.tell("hold")  # keep the only worker busy while the queues fill
        for _ in range(1000):
            busy.tell("busy")
        quick.tell("quick")
        gate.set()
        probe.expect_message("quick done")
        assert order.index("quick") < 100  # served after at most a few batches of the busy one


def test_blocking_ask_between_pooled_actors_does_not_deadlock() -> None:
    with ActorSystem(name="blocking", pool_size=1) as system:

        class Callee(Actor):
            def on_receive(self, message: Any) -> Any:
                return message + 1

        class Caller(Actor):
            def __init__(self, callee: Any) -> None:
                super().__init__()
                self.callee = callee

            def on_receive(self, message: Any) -> Any:
                return self.callee.ask(message, timeout=5)  # blocks a pool worker

        callee = system.spawn(Callee)
        caller = system.spawn(Caller, callee)
        assert caller.ask(1, timeout=5) == 2


def test_last_sender_is_the_sending_actor(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)

    class Forwarder(Actor):
        def on_receive(self, message: Any) -> Any:
            probe.ref.tell(message)

    ref = actor_system.spawn(Forwarder, dispatcher=dispatcher)
    ref.tell("hi")
    probe.expect_message("hi")
    assert probe.last_sender is ref
    probe.ref.tell("from outside")
    probe.expect_message("from outside")
    assert probe.last_sender is None
