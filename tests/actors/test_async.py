"""pipe_to and awaitable futures: the io loop never blocks and actors are never blocked."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from greenroom.actors import Actor, ActorSystem, Failure
from greenroom.testing import TestProbe


class Piper(Actor):
    """Pipes a coroutine per request; reports results and whether it stayed responsive."""

    def __init__(self, probe: Any) -> None:
        super().__init__()
        self.probe = probe
        self.handle: Any = None

    def on_receive(self, message: Any) -> Any:
        match message:
            case ("pipe", coro):
                self.handle = self.pipe_to(coro)
            case ("pipe_to", coro, target):
                self.pipe_to(coro, to=target)
            case "cancel":
                self.handle.cancel()
            case "ping":
                return "pong"
            case _:
                self.probe.tell(message)
        return None


async def _value(value: Any, delay: float = 0.0) -> Any:
    await asyncio.sleep(delay)
    return value


async def _boom() -> None:
    raise LookupError("nothing here")


def test_pipe_to_delivers_the_result(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Piper, probe.ref, dispatcher=dispatcher)
    ref.tell(("pipe", _value(41)))
    probe.expect_message(41)


def test_pipe_to_wraps_an_exception_in_failure(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Piper, probe.ref, dispatcher=dispatcher)
    ref.tell(("pipe", _boom()))
    failure = probe.expect_message_type(Failure)
    assert isinstance(failure.exception, LookupError)
    assert ref.ask("ping", timeout=3) == "pong"


def test_pipe_to_another_actor(actor_system: ActorSystem, dispatcher: str) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Piper, None, dispatcher=dispatcher)
    ref.tell(("pipe_to", _value("for you"), probe.ref))
    probe.expect_message("for you")


def test_actor_stays_responsive_while_a_pipe_runs(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    release = threading.Event()

    async def wait_for_release() -> str:
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        return "released"

    ref = actor_system.spawn(Piper, probe.ref, dispatcher=dispatcher)
    ref.tell(("pipe", wait_for_release()))
    assert ref.ask("ping", timeout=3) == "pong"
    release.set()
    probe.expect_message("released")


def test_cancelled_pipe_delivers_a_cancellation_failure(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Piper, probe.ref, dispatcher=dispatcher)
    ref.tell(("pipe", _value("never", delay=60)))
    ref.tell("cancel")
    failure = probe.expect_message_type(Failure)
    assert isinstance(failure.exception, asyncio.CancelledError)


def test_pipes_are_cancelled_when_the_actor_stops(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    started = threading.Event()
    cancelled = threading.Event()

    async def long_call() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    ref = actor_system.spawn(Piper, None, dispatcher=dispatcher)
    ref.tell(("pipe", long_call()))
    assert started.wait(5)
    actor_system.stop(ref)
    assert cancelled.wait(5)


def test_awaiting_a_future_lets_other_coroutines_run(dispatcher: str) -> None:
    gate = threading.Event()

    class Slow(Actor):
        def on_receive(self, message: Any) -> Any:
            gate.wait(10)
            return message * 2

    async def main() -> tuple[int, int]:
        async with ActorSystem(name="await") as system:
            ref = system.spawn(Slow, dispatcher=dispatcher)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    if ticks == 20:
                        gate.set()
                    await asyncio.sleep(0)

            task = asyncio.create_task(ticker())
            result = await ref.ask(21, block=False)
            task.cancel()
            return result, ticks

    result, ticks = asyncio.run(main())
    assert result == 42
    assert ticks >= 20  # the loop kept running while the future was pending


def test_awaiting_a_failed_future_raises(dispatcher: str) -> None:
    class Bad(Actor):
        def on_receive(self, message: Any) -> Any:
            raise ArithmeticError("nope")

    async def main() -> None:
        async with ActorSystem(name="await-fail") as system:
            ref = system.spawn(Bad, dispatcher=dispatcher)
            await ref.ask("x", block=False)

    with pytest.raises(ArithmeticError, match="nope"):
        asyncio.run(main())


def test_awaiting_stop_and_combinators(dispatcher: str) -> None:
    class Echo(Actor):
        def on_receive(self, message: Any) -> Any:
            return message

    async def main() -> tuple[Any, bool]:
        async with ActorSystem(name="await-combo") as system:
            ref = system.spawn(Echo, dispatcher=dispatcher)
            first, *rest = [ref.ask(i, block=False) for i in range(3)]
            joined = await first.join(*rest)
            mapped = await ref.ask(5, block=False).map(lambda v: v + 1)
            stopped = await ref.stop(block=False)
            return (joined, mapped), stopped

    (joined, mapped), stopped = asyncio.run(main())
    assert joined == [0, 1, 2]
    assert mapped == 6
    assert stopped is True


def test_the_system_uses_the_running_loop_as_io_loop(dispatcher: str) -> None:
    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def main() -> bool:
        arrived = asyncio.Event()
        seen: list[asyncio.AbstractEventLoop] = []
        loop = asyncio.get_running_loop()

        class Asker(Actor):
            def on_receive(self, message: Any) -> Any:
                if isinstance(message, asyncio.AbstractEventLoop):
                    seen.append(message)
                    loop.call_soon_threadsafe(arrived.set)
                else:
                    self.pipe_to(where())

        async with ActorSystem(name="loop") as system:
            system.spawn(Asker, dispatcher=dispatcher).tell("go")
            await asyncio.wait_for(arrived.wait(), 5)
        return seen == [loop]

    assert asyncio.run(main())
