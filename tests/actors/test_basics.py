"""Spawning, paths, tell/ask semantics, ordering, and pykka compatibility, on both dispatchers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pykka
import pytest

from greenroom.actors import Actor, ActorRef, ActorStartError, ActorSystem, Future
from greenroom.testing import TestProbe


class Echo(Actor):
    def on_receive(self, message: Any) -> Any:
        return message


class Recorder(Actor):
    def __init__(self, probe: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.probe = probe

    def on_receive(self, message: Any) -> Any:
        self.probe.tell(message)
        return None


class Counter(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def increment(self, by: int = 1) -> int:
        self.count += by
        return self.count


def test_ask_returns_reply_and_future(actor_system: ActorSystem, dispatcher: str) -> None:
    ref = actor_system.spawn(Echo, dispatcher=dispatcher)
    assert ref.ask("hello") == "hello"
    future = ref.ask(42, block=False)
    assert isinstance(future, Future)
    assert isinstance(future, pykka.Future)
    assert future.get(timeout=3) == 42


def test_refs_are_pykka_refs_with_paths(actor_system: ActorSystem, dispatcher: str) -> None:
    ref = actor_system.spawn(Echo, name="echo", dispatcher=dispatcher)
    assert isinstance(ref, pykka.ActorRef)
    assert isinstance(ref, ActorRef)
    assert ref.path == "/echo"
    assert actor_system.lookup("/echo") is ref
    assert actor_system.lookup("/nobody") is None


def test_child_path_is_parent_path_plus_name(actor_system: ActorSystem, dispatcher: str) -> None:
    class Parent(Actor):
        def on_start(self) -> None:
            self.child = self.spawn(Echo, name="kid", dispatcher=dispatcher)

        def on_receive(self, message: Any) -> Any:
            return self.child

    parent = actor_system.spawn(Parent, name="mom", dispatcher=dispatcher)
    child = parent.ask("child?")
    assert child.path == "/mom/kid"
    assert actor_system.lookup("/mom/kid") is child


def test_proxy_calls_work_as_in_pykka(actor_system: ActorSystem, dispatcher: str) -> None:
    proxy = actor_system.spawn(Counter, dispatcher=dispatcher).proxy()
    proxy.increment().get(timeout=3)
    assert proxy.increment(5).get(timeout=3) == 6
    assert proxy.count.get(timeout=3) == 6


def test_messages_from_one_sender_arrive_in_order(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Recorder, probe.ref, dispatcher=dispatcher)
    for i in range(500):
        ref.tell(i)
    assert probe.receive_messages(500) == list(range(500))


def test_messages_from_each_of_several_senders_stay_in_order(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Recorder, probe.ref, dispatcher=dispatcher)

    def send(sender: int) -> None:
        for i in range(200):
            ref.tell((sender, i))

    threads = [threading.Thread(target=send, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = probe.receive_messages(800)
    for sender in range(4):
        assert [i for s, i in received if s == sender] == list(range(200))


def test_ask_exception_fails_only_the_ask(actor_system: ActorSystem, dispatcher: str) -> None:
    class Picky(Actor):
        def on_receive(self, message: Any) -> Any:
            if message == "bad":
                raise ValueError("no thanks")
            return message

    ref = actor_system.spawn(Picky, dispatcher=dispatcher)
    with pytest.raises(ValueError, match="no thanks"):
        ref.ask("bad", timeout=3)
    assert ref.ask("good", timeout=3) == "good"


def test_ask_to_a_dead_actor_fails_at_once(actor_system: ActorSystem, dispatcher: str) -> None:
    ref = actor_system.spawn(Echo, dispatcher=dispatcher)
    assert actor_system.stop(ref) is True
    future = ref.ask("anyone?", block=False)
    assert future.done()
    with pytest.raises(pykka.ActorDeadError):
        future.get(timeout=0)
    assert actor_system.stop(ref) is False


def test_stop_goes_ahead_of_queued_messages(actor_system: ActorSystem, dispatcher: str) -> None:
    gate = threading.Event()
    probe = TestProbe(actor_system)

    class Slow(Actor):
        def on_receive(self, message: Any) -> Any:
            if message == "block":
                probe.ref.tell("blocked")
                gate.wait(10)
            probe.ref.tell(message)
            return None

    ref = actor_system.spawn(Slow, dispatcher=dispatcher)
    ref.tell("block")
    probe.expect_message("blocked")
    queued = [ref.ask(i, block=False) for i in range(3)]
    stopping = ref.stop(block=False)
    gate.set()
    assert stopping.get(timeout=3) is True
    probe.expect_message("block")
    for future in queued:
        with pytest.raises(pykka.ActorDeadError):
            future.get(timeout=3)
    probe.expect_no_message(0.05)


def test_spawn_raises_when_on_start_fails(actor_system: ActorSystem, dispatcher: str) -> None:
    class Broken(Actor):
        def on_start(self) -> None:
            raise RuntimeError("cannot start")

    with pytest.raises(ActorStartError, match="cannot start") as info:
        actor_system.spawn(Broken, name="broken", dispatcher=dispatcher)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert actor_system.lookup("/broken") is None
    assert actor_system.spawn(Echo, name="broken", dispatcher=dispatcher).ask(1) == 1


def test_on_start_runs_before_any_message(actor_system: ActorSystem, dispatcher: str) -> None:
    class Greeter(Actor):
        def on_start(self) -> None:
            self.actor_ref.tell("from on_start")
            self.ready = True

        def on_receive(self, message: Any) -> Any:
            return (message, self.ready)

    ref = actor_system.spawn(Greeter, dispatcher=dispatcher)
    assert ref.ask("q", timeout=3) == ("q", True)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "a/b"}, "name"),
        ({"name": ""}, "name"),
        ({"dispatcher": "fibers"}, "dispatcher"),
        ({"mailbox_size": 0}, "mailbox_size"),
        ({"overflow": "block"}, "overflow"),
    ],
)
def test_spawn_rejects_bad_arguments(
    actor_system: ActorSystem, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        actor_system.spawn(Echo, **kwargs)
    assert actor_system.actor_count() == 0


def test_spawn_rejects_a_taken_name(actor_system: ActorSystem) -> None:
    actor_system.spawn(Echo, name="one")
    with pytest.raises(ValueError, match="already lives at /one"):
        actor_system.spawn(Echo, name="one")


def test_actors_are_not_constructed_directly() -> None:
    with pytest.raises(TypeError, match=r"ActorSystem\.spawn"):
        Echo()
    with pytest.raises(TypeError, match=r"ActorSystem\.spawn"):
        Echo.start()


def test_plain_pykka_actor_runs_in_a_system(actor_system: ActorSystem) -> None:
    class Plain(pykka.ThreadingActor):
        def __init__(self, greeting: str) -> None:
            super().__init__()
            self.greeting = greeting

        def on_receive(self, message: Any) -> Any:
            return f"{self.greeting} {message}"

        def shout(self, word: str) -> str:
            return word.upper()

    ref = actor_system.spawn(Plain, "hi", name="plain")
    assert ref.ask("there", timeout=3) == "hi there"
    assert ref.proxy().shout("hey").get(timeout=3) == "HEY"
    assert ref.path == "/plain"


def test_system_context_managers() -> None:
    with ActorSystem(name="cm") as system:
        ref = system.spawn(Echo)
        assert ref.ask(1) == 1
    assert not ref.is_alive()
    with pytest.raises(RuntimeError, match="shut down"):
        system.spawn(Echo)


async def _use_async_system() -> bool:
    async with ActorSystem(name="acm") as system:
        ref = system.spawn(Echo)
        assert await ref.ask(7, block=False) == 7
    return ref.is_alive()


def test_async_context_manager() -> None:
    assert asyncio.run(_use_async_system()) is False
