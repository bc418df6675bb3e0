"""The "loop" dispatcher: turns on the io loop thread, caller runs, and the pool when the loop ends.

Most tests run the way an application does: the `ActorSystem` is created inside a running
asyncio loop, so its loop actors share the thread with the test's coroutines. The owned-loop
tests (the `actor_system` fixture, no loop running) check the same rules on greenroom's own
loop thread, and that failures, watch, timers and kills behave exactly as on "pooled".
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pykka
import pytest

from greenroom.actors import (
    Actor,
    ActorFailed,
    ActorKilled,
    ActorSystem,
    DeadLetter,
    MailboxFull,
    ManualClock,
)
from greenroom.actors.loop_dispatch import THROUGHPUT
from greenroom.supervision import ChildSpec, Supervisor
from greenroom.testing import TestProbe, time_factor

TIMEOUT = 5.0 * time_factor()


def run_in_loop(scenario: Callable[[], Any]) -> Any:
    """Run an async scenario in a fresh loop (`asyncio.run`) and return its result."""
    return asyncio.run(scenario())


class Where(Actor):
    """Answers with the thread and the running loop its turn ran on; fails on an exception."""

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Exception):
            raise message
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        return message, threading.current_thread(), loop

    def locate(self, message: Any) -> Any:
        """The same, called through a proxy."""
        return self.on_receive(message)


class Relay(Actor):
    """Asks `target` synchronously (a blocking `get()` inside its own turn) and returns that."""

    def __init__(self, target: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.target = target

    def on_receive(self, message: Any) -> Any:
        return self.target.ask(message, timeout=TIMEOUT)


class Recorder(Actor):
    """Keeps what it is told and answers `"seen"` with it; resolves `done` (an asyncio future,
    which only its loop's thread may touch) with the list once `expected` messages arrived."""

    def __init__(
        self, expected: int = 0, done: asyncio.Future[list[Any]] | None = None
    ) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.expected = expected
        self.done = done

    def on_receive(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        self.seen.append(message)
        if self.done is not None and len(self.seen) == self.expected:
            self.done.set_result(list(self.seen))
        return None


class Stopping(Actor):
    """Appends its path to `stopped` in `on_stop` (a list: the test reads it after shutdown)."""

    def __init__(self, stopped: list[str]) -> None:
        super().__init__()
        self.stopped = stopped

    def on_receive(self, message: Any) -> Any:
        return message

    def on_stop(self) -> None:
        self.stopped.append(self.path)


# Where turns run --------------------------------------------------------------------------------


def test_turns_run_on_the_loop_that_created_the_system() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with ActorSystem(name="loop-here") as system:
            assert system.io.loop is loop
            ref = system.spawn(Where, dispatcher="loop")
            message, thread, running = await ref.ask("hi", block=False)
            assert (message, thread, running) == ("hi", threading.current_thread(), loop)

    run_in_loop(scenario)


def test_turns_run_on_the_systems_own_loop_thread(actor_system: ActorSystem) -> None:
    ref = actor_system.spawn(Where, dispatcher="loop")
    message, thread, running = ref.ask("hi", timeout=TIMEOUT)
    assert message == "hi"
    assert running is actor_system.io.loop
    assert thread.name == f"{actor_system.name}-io"


def test_on_start_runs_in_the_spawning_thread(actor_system: ActorSystem) -> None:
    started: list[threading.Thread] = []

    class Starter(Actor):
        def on_start(self) -> None:
            started.append(threading.current_thread())

    actor_system.spawn(Starter, dispatcher="loop")
    assert started == [threading.current_thread()]


def test_an_ask_awaited_from_another_loop_is_answered(actor_system: ActorSystem) -> None:
    ref = actor_system.spawn(Where, dispatcher="loop")

    async def scenario() -> Any:
        return await ref.ask("from afar", block=False)

    message, thread, _ = run_in_loop(scenario)
    assert message == "from afar"
    assert thread.name == f"{actor_system.name}-io"


# Ordering and fairness --------------------------------------------------------------------------


def test_messages_from_each_sender_arrive_in_order() -> None:
    per_sender = 300

    async def scenario() -> list[Any]:
        loop = asyncio.get_running_loop()
        async with ActorSystem(name="fifo") as system:
            done: asyncio.Future[list[Any]] = loop.create_future()
            recorder = system.spawn(Recorder, 4 * per_sender, done, dispatcher="loop")

            class Sender(Actor):
                def on_receive(self, message: Any) -> Any:
                    for i in range(per_sender):
                        recorder.tell(("actor", i))

            def from_thread(name: str) -> None:
                for i in range(per_sender):
                    recorder.tell((name, i))

            threads = [threading.Thread(target=from_thread, args=(n,)) for n in ("t1", "t2")]
            for thread in threads:
                thread.start()
            system.spawn(Sender).tell("go")
            for i in range(per_sender):
                recorder.tell(("coroutine", i))
                if i % 50 == 0:
                    await asyncio.sleep(0)  # let the loop run turns meanwhile
            seen = await asyncio.wait_for(done, TIMEOUT)
            for thread in threads:
                await asyncio.to_thread(thread.join, TIMEOUT)
            return seen

    seen = run_in_loop(scenario)
    for sender in ("actor", "t1", "t2", "coroutine"):
        assert [i for name, i in seen if name == sender] == list(range(per_sender)), sender


def test_a_busy_loop_actor_does_not_starve_another_one() -> None:
    async def scenario() -> tuple[list[str], list[int]]:
        order: list[str] = []
        ticks_seen: list[int] = []
        ticks = 0

        class Worker(Actor):
            def on_receive(self, message: Any) -> Any:
                order.append(message)
                ticks_seen.append(ticks)

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        async with ActorSystem(name="fair") as system:
            busy = system.spawn(Worker, dispatcher="loop")
            quick = system.spawn(Worker, dispatcher="loop")
            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)
            for _ in range(20 * THROUGHPUT):
                busy.tell("busy")
            quick.tell("quick")
            await busy.ask("busy", block=False)
            task.cancel()
        return order, ticks_seen

    order, ticks_seen = run_in_loop(scenario)
    assert order.index("quick") <= THROUGHPUT  # right after the busy actor's first turn
    assert ticks_seen[-1] - ticks_seen[0] >= 10  # coroutines ran between the busy actor's turns


def test_many_loop_actors_answer_concurrent_asks() -> None:
    async def scenario() -> list[Any]:
        async with ActorSystem(name="many") as system:
            refs = [system.spawn(Where, dispatcher="loop") for _ in range(200)]
            answers = await asyncio.gather(*(ref.ask(i, block=False) for i, ref in enumerate(refs)))
            return [message for message, _, _ in answers]

    assert run_in_loop(scenario) == list(range(200))


def test_a_turn_leaves_no_sender_behind_for_the_coroutines() -> None:
    async def scenario() -> tuple[Any, Any]:
        async with ActorSystem(name="sender") as system:
            probe = TestProbe(system)

            class Teller(Actor):
                def on_receive(self, message: Any) -> Any:
                    probe.ref.tell(message)

            teller = system.spawn(Teller, dispatcher="loop")
            await teller.ask("from the actor", block=False)
            probe.expect_message("from the actor")  # the probe is pooled: blocking here is safe
            from_actor = probe.last_sender
            probe.ref.tell("from the coroutine")
            probe.expect_message("from the coroutine")
            return (from_actor is teller), probe.last_sender

    from_actor, from_coroutine = run_in_loop(scenario)
    assert from_actor
    assert from_coroutine is None


# Blocking on the loop thread: caller runs -------------------------------------------------------


def test_a_blocking_ask_from_a_coroutine_is_answered_by_the_loop_thread() -> None:
    async def scenario() -> tuple[Any, Any]:
        async with ActorSystem(name="caller-runs") as system:
            ref = system.spawn(Where, dispatcher="loop")
            plain = ref.ask("sync", timeout=TIMEOUT)  # blocks the loop thread, which runs the turn
            via_proxy = ref.proxy().locate("proxy").get(timeout=TIMEOUT)
            return plain, via_proxy

    (message, thread, _), (proxied, _, _) = run_in_loop(scenario)
    assert (message, proxied) == ("sync", "proxy")
    assert thread is threading.current_thread()


def test_a_blocking_chain_loop_pooled_loop_does_not_deadlock() -> None:
    async def scenario() -> tuple[Any, Any]:
        async with ActorSystem(name="chain", pool_size=1) as system:
            last = system.spawn(Where, dispatcher="loop")
            middle = system.spawn(Relay, last)  # pooled, blocks its worker on the loop actor
            first = system.spawn(Relay, middle, dispatcher="loop")
            blocking = first.ask("blocking", timeout=TIMEOUT)
            awaited = await first.ask("awaited", block=False)
            return blocking, awaited

    (blocking, thread, _), (awaited, _, _) = run_in_loop(scenario)
    assert (blocking, awaited) == ("blocking", "awaited")
    assert thread is threading.current_thread()


def test_blocking_asks_between_actors_on_the_systems_own_loop(actor_system: ActorSystem) -> None:
    last = actor_system.spawn(Where, dispatcher="loop")
    middle = actor_system.spawn(Relay, last, dispatcher="loop")  # blocks the io thread: it helps
    first = actor_system.spawn(Relay, middle)
    message, thread, _ = first.ask("through", timeout=TIMEOUT)
    assert message == "through"
    assert thread.name == f"{actor_system.name}-io"


def test_an_actor_asking_itself_synchronously_times_out() -> None:
    class Narcissus(Actor):
        def on_receive(self, message: Any) -> Any:
            if message == "ask yourself":
                try:
                    self.actor_ref.ask("ping", timeout=0.2)
                except pykka.Timeout:
                    return "timed out"
                return "answered"
            return "pong"

    async def scenario() -> Any:
        async with ActorSystem(name="self-ask") as system:
            ref = system.spawn(Narcissus, dispatcher="loop")
            return await ref.ask("ask yourself", block=False)

    assert run_in_loop(scenario) == "timed out"


def test_a_blocking_get_times_out_when_no_answer_comes() -> None:
    class Silent(Actor):
        def on_receive(self, message: Any) -> Any:
            self.defer_reply()  # never answered

    async def scenario() -> None:
        async with ActorSystem(name="timeout") as system:
            ref = system.spawn(Silent, dispatcher="loop")
            ref.ask("anything", timeout=0.1)

    with pytest.raises(pykka.Timeout):
        run_in_loop(scenario)


# Failures and supervision -----------------------------------------------------------------------


@pytest.mark.parametrize("dispatcher", ["pooled", "loop"])
def test_a_failing_tell_fails_the_actor_as_on_the_pool(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    failures = TestProbe(actor_system)
    actor_system.event_stream.subscribe(failures.ref, ActorFailed)

    class Fragile(Actor):
        def on_receive(self, message: Any) -> Any:
            raise LookupError(message)

        def on_failure(self, *exc_info: Any) -> None:
            probe.ref.tell(("on_failure", type(exc_info[1])))

    ref = actor_system.spawn(Fragile, dispatcher=dispatcher)
    probe.watch(ref)
    with pytest.raises(LookupError):
        ref.ask("an ask only fails the ask", timeout=TIMEOUT)
    ref.tell("a tell fails the actor")
    probe.expect_message(("on_failure", LookupError))
    assert isinstance(probe.expect_terminated(ref).reason, LookupError)
    assert isinstance(failures.expect_message_type(ActorFailed).reason, LookupError)
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("too late", timeout=TIMEOUT)


def test_a_supervisor_restarts_a_failed_loop_child_on_the_loop() -> None:
    async def scenario() -> tuple[Any, Any]:
        async with ActorSystem(name="restart") as system:
            spec = ChildSpec("worker", Where, dispatcher="loop")
            sup = system.spawn(Supervisor, children=[spec], dispatcher="loop")
            handle = await sup.proxy().child_ref("worker")
            before = await sup.proxy().which_children()
            handle.tell(RuntimeError("crash"))
            while True:  # the restart is asynchronous: ask until the new incarnation answers
                try:
                    answer = await handle.ask("after", block=False)
                except pykka.ActorDeadError:
                    continue
                break
            after = await sup.proxy().which_children()
            return (before[0][1], after[0][1]), answer

    (before, after), (message, thread, _) = run_in_loop(scenario)
    assert before is not after
    assert message == "after"
    assert thread is threading.current_thread()


@pytest.mark.parametrize("dispatcher", ["pooled", "loop"])
def test_an_actor_that_does_not_stop_in_time_is_killed(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe = TestProbe(actor_system)
    release = threading.Event()

    class Stubborn(Actor):
        def on_stop(self) -> None:
            release.wait(TIMEOUT)  # (blocks the loop thread too on "loop": only for this test)

    ref = actor_system.spawn(Stubborn, dispatcher=dispatcher)
    probe.watch(ref)
    try:
        assert actor_system.stop(ref, timeout=0.2) is True
        assert isinstance(probe.expect_terminated(ref).reason, ActorKilled)
    finally:
        release.set()


def test_timers_fire_on_the_loop_thread(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    probe = TestProbe(actor_system)

    class Ticking(Actor):
        def on_start(self) -> None:
            self.timers.start_periodic_timer("tick", "tick", 1.0)

        def on_receive(self, message: Any) -> Any:
            probe.ref.tell((message, threading.current_thread().name))

    actor_system.spawn(Ticking, dispatcher="loop")
    manual_clock.advance(2.5)
    where = f"{actor_system.name}-io"
    assert probe.receive_messages(2) == [("tick", where), ("tick", where)]


# Bounded mailboxes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overflow", "kept", "dropped"),
    [("drop_new", [1, 2, 3], [4, 5]), ("drop_oldest", [3, 4, 5], [1, 2])],
)
def test_a_full_loop_mailbox_drops_by_its_policy(
    overflow: str, kept: list[int], dropped: list[int]
) -> None:
    async def scenario() -> tuple[list[Any], list[Any]]:
        async with ActorSystem(name="bounded") as system:
            letters = TestProbe(system)
            system.dead_letters.subscribe(letters.ref, DeadLetter)
            done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            ref = system.spawn(Recorder, 3, done, dispatcher="loop", mailbox_size=3,
                               overflow=overflow)
            for i in range(1, 6):  # no await: the actor cannot run meanwhile
                ref.tell(i)
            seen = await asyncio.wait_for(done, TIMEOUT)
            lost = [letters.expect_message_type(DeadLetter).message for _ in dropped]
            return seen, lost

    assert run_in_loop(scenario) == (kept, dropped)


def test_a_full_loop_mailbox_with_fail_refuses_the_sender() -> None:
    async def scenario() -> list[Any]:
        async with ActorSystem(name="bounded-fail") as system:
            done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            ref = system.spawn(Recorder, 2, done, dispatcher="loop", mailbox_size=2,
                               overflow="fail")
            ref.tell(1)
            ref.tell(2)
            with pytest.raises(MailboxFull):
                ref.tell(3)
            with pytest.raises(MailboxFull):
                await ref.ask("seen", block=False)
            return await asyncio.wait_for(done, TIMEOUT)

    assert run_in_loop(scenario) == [1, 2]


# When the loop is gone --------------------------------------------------------------------------


def test_loop_actors_keep_working_on_the_pool_after_the_loop_closed() -> None:
    stopped: list[str] = []

    async def scenario() -> tuple[ActorSystem, dict[str, Any]]:
        system = ActorSystem(name="after-loop")
        refs = {
            "counter": system.spawn(Recorder, dispatcher="loop"),
            "before": system.spawn(Where, dispatcher="loop"),
            "stopping": system.spawn(Stopping, stopped, dispatcher="loop", name="stopping"),
        }
        for i in range(100):  # still queued when the loop ends
            refs["counter"].tell(i)
        return system, refs

    system, refs = run_in_loop(scenario)
    try:
        assert refs["counter"].ask("seen", timeout=TIMEOUT) == list(range(100))
        after = system.spawn(Where, dispatcher="loop")
        for ref in (refs["before"], after):
            message, thread, loop = ref.ask("now", timeout=TIMEOUT)
            assert (message, loop) == ("now", None)
            assert thread.name.startswith(f"{system.name}-pool")
        assert system.stop(refs["stopping"], timeout=TIMEOUT) is True
        assert stopped == ["/stopping"]
    finally:
        assert system.shutdown(timeout=TIMEOUT) == []
    assert not refs["counter"].is_alive()


def _supervised_and_top(system: ActorSystem, stopped: list[str]) -> None:
    spec = ChildSpec("child", Stopping, (stopped,), dispatcher="loop")
    system.spawn(Supervisor, children=[spec], dispatcher="loop", name="sup")
    system.spawn(Stopping, stopped, dispatcher="loop", name="top")


def test_shutdown_after_the_loop_closed_stops_everything() -> None:
    stopped: list[str] = []

    async def scenario() -> ActorSystem:
        system = ActorSystem(name="shutdown-after-loop")
        _supervised_and_top(system, stopped)
        return system

    system = run_in_loop(scenario)
    assert system.shutdown(timeout=TIMEOUT) == []
    assert sorted(stopped) == ["/sup/child", "/top"]
    assert system.actor_count() == 0


def test_a_blocking_shutdown_on_the_loop_thread_stops_loop_actors_in_time() -> None:
    stopped: list[str] = []

    async def scenario() -> list[str]:
        system = ActorSystem(name="sync-shutdown")
        _supervised_and_top(system, stopped)
        return system.shutdown(timeout=TIMEOUT)  # blocks the loop thread until all stopped

    assert run_in_loop(scenario) == []
    assert sorted(stopped) == ["/sup/child", "/top"]


def test_a_blocking_stop_on_the_loop_thread_stops_a_loop_supervisor_and_its_children() -> None:
    stopped: list[str] = []

    async def scenario() -> bool:
        async with ActorSystem(name="sync-stop") as system:
            _supervised_and_top(system, stopped)
            sup = system.lookup("/sup")
            assert sup is not None
            return system.stop(sup, timeout=TIMEOUT)  # caller runs both stops

    assert run_in_loop(scenario) is True
    assert stopped[0] == "/sup/child"
