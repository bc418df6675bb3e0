"""AgentRuntime: a registry of processes under one supervisor, with the seed's errors."""

from __future__ import annotations

import asyncio
import logging

import pytest
from process_support import EventLog, echo, eventually

from greenroom.actors import ActorSystem, ManualClock
from greenroom.agents.invocation import Invocation
from greenroom.runtime.bus import BusEvent
from greenroom.runtime.config import ProcessConfig, RuntimeConfig
from greenroom.runtime.errors import RuntimeBaseError
from greenroom.runtime.lifecycle import ProcessState
from greenroom.runtime.runtime import AgentRuntime
from greenroom.triggers import TriggerEvent


def test_processes_are_registered_started_and_stopped_together() -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            log = EventLog()
            runtime.add_listener(log)
            for name in ("a", "b"):
                await runtime.add_process(name, ProcessConfig(model=echo))
            assert set(runtime.processes) == {"a", "b"}
            assert [p["state"] for p in runtime.list_processes()] == ["created", "created"]
            await runtime.start_all()
            await log.wait_for("process.started", 2)
            status = runtime.status()
            assert status["process_count"] == 2
            assert status["running"] == 2
            await runtime.get_process("b").inject(TriggerEvent("t", "manual", payload="x"))
            await log.wait_for("invocation.completed")
            assert runtime.process_status("b")["invocation_count"] == 1
            await runtime.stop_all()
            assert {p.state for p in runtime.processes.values()} == {ProcessState.STOPPED}

    asyncio.run(main())


def test_duplicate_and_unknown_names() -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            await runtime.add_process("a", ProcessConfig(model=echo))
            with pytest.raises(RuntimeBaseError, match="'a' already exists"):
                await runtime.add_process("a", ProcessConfig(model=echo))
            with pytest.raises(KeyError, match="no process named 'zed'"):
                runtime.get_process("zed")
            with pytest.raises(KeyError):
                runtime.process_status("zed")
            with pytest.raises(KeyError):
                await runtime.start_process("zed")
            assert list(runtime.processes) == ["a"]

    asyncio.run(main())


def test_processes_live_under_the_runtime_supervisor() -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            await runtime.add_process("worker", ProcessConfig(model=echo))
            await runtime.start_process("worker")
            actor = runtime.system.lookup("/runtime/process-worker/process")
            assert actor is not None
            assert actor.is_alive()

    asyncio.run(main())


def test_remove_and_restart() -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            log = EventLog()
            runtime.add_listener(log)
            await runtime.add_process("a", ProcessConfig(model=echo))
            await runtime.start_process("a")
            await runtime.restart_process("a")
            await log.wait_for("process.started", 2)
            assert runtime.get_process("a").state is ProcessState.RUNNING
            await runtime.remove_process("a")
            assert "a" not in runtime.processes
            assert runtime.system.lookup("/runtime/process-a") is None

    asyncio.run(main())


def test_from_config_registers_every_process() -> None:
    async def main() -> None:
        config = RuntimeConfig(processes={"x": ProcessConfig(model=echo),
                                          "y": ProcessConfig(model=echo)})
        runtime = await AgentRuntime.from_config(config)
        async with runtime:
            assert sorted(runtime.processes) == ["x", "y"]

    asyncio.run(main())


def test_runtime_embeds_in_a_users_actor_system() -> None:
    async def main() -> None:
        async with ActorSystem(name="mine") as system:
            runtime = AgentRuntime(system=system)
            await runtime.add_process("a", ProcessConfig(model=echo))
            await runtime.start_process("a")
            assert system.lookup("/runtime/process-a/process") is not None
            await runtime.close()
            assert system.lookup("/runtime") is None

    asyncio.run(main())


def test_runtime_events_are_emitted_on_the_event_bus() -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            seen: asyncio.Queue[str] = asyncio.Queue()
            loop = asyncio.get_running_loop()

            async def on_event(event: BusEvent) -> None:
                loop.call_soon_threadsafe(seen.put_nowait, event.event_type)

            await runtime.event_bus.subscribe("process.*", on_event)
            await runtime.add_process("a", ProcessConfig(model=echo))
            await runtime.start_process("a")
            assert await asyncio.wait_for(seen.get(), 10) == "process.started"
            assert runtime.system.lookup("/runtime/event-bus") is not None
            assert runtime.system.lookup("/runtime/message-broker") is not None

    asyncio.run(main())


def test_user_supplied_bus_and_broker_are_used() -> None:
    class MyBus:
        def __init__(self) -> None:
            self.emitted: list[str] = []

        def subscribe(self, event_type: str, handler: object) -> None:
            del event_type, handler

        def emit(self, event_type: str, data: object = None) -> None:
            self.emitted.append(event_type)

    class MyBroker:
        def subscribe(self, topic: str, handler: object) -> None:
            del topic, handler

        def publish(self, topic: str, content: object) -> None:
            del topic, content

    async def main() -> None:
        bus = MyBus()
        async with AgentRuntime(event_bus=bus, broker=MyBroker()) as runtime:
            log = EventLog()
            runtime.add_listener(log)
            assert runtime.system.lookup("/runtime/event-bus") is None
            await runtime.add_process("a", ProcessConfig(model=echo))
            await runtime.start_process("a")
            await log.wait_for("process.started")
            await eventually(lambda: "process.started" in bus.emitted)

    asyncio.run(main())


def test_supervision_events_are_relayed_to_the_bus(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)

    async def main() -> None:
        clock = ManualClock()

        async def broken(invocation: Invocation) -> str:
            raise RuntimeError("down")

        async with AgentRuntime(clock=clock) as runtime:
            seen: asyncio.Queue[BusEvent] = asyncio.Queue()
            loop = asyncio.get_running_loop()

            async def on_event(event: BusEvent) -> None:
                loop.call_soon_threadsafe(seen.put_nowait, event)

            await runtime.event_bus.subscribe("supervision.>", on_event)
            config = ProcessConfig(model=broken, max_consecutive_failures=1,
                                   restart_policy="on_failure", max_restarts=3)
            await runtime.add_process("a", config)
            await runtime.start_process("a")
            await runtime.get_process("a").inject(TriggerEvent("t", "manual"))
            kinds: list[str] = []
            while "supervision.child_restarted" not in kinds:
                event = await asyncio.wait_for(seen.get(), 10)
                kinds.append(event.event_type)
            restarted = next(e for e in [event] if e.event_type == "supervision.child_restarted")
            assert restarted.data["supervisor"] == "/runtime/process-a"
            assert restarted.data["child_id"] == "process"
            assert "supervision.child_failed" in kinds

    asyncio.run(main())


def test_supervision_events_reach_a_subscriber_that_came_later() -> None:
    """The relay only takes the events the bus's subscribers may want, and that is read when
    each event happens: nothing of the start before the subscription, all of the one after."""

    async def main() -> None:
        async with AgentRuntime() as runtime:
            seen: asyncio.Queue[BusEvent] = asyncio.Queue()
            loop = asyncio.get_running_loop()

            async def on_event(event: BusEvent) -> None:
                loop.call_soon_threadsafe(seen.put_nowait, event)

            await runtime.add_process("a", ProcessConfig(model=echo))
            await runtime.add_process("b", ProcessConfig(model=echo))
            await runtime.start_process("a")
            await runtime.event_bus.subscribe("supervision.child_started", on_event)
            await runtime.start_process("b")
            started: list[tuple[str, str]] = []
            while ("/runtime", "process-b") not in started:
                event = await asyncio.wait_for(seen.get(), 10)
                started.append((event.data["supervisor"], event.data["child_id"]))
            assert started == [("/runtime/process-b", "process"), ("/runtime", "process-b")]

    asyncio.run(main())


def test_start_all_starts_the_others_when_some_cannot_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The starts overlap: a process that cannot start (no agent) does not keep the later ones
    from starting; the first failure is raised once all have ended, the next ones logged."""

    async def main() -> None:
        async with AgentRuntime() as runtime:
            await runtime.add_process("a", ProcessConfig(model=echo))
            await runtime.add_process("broken-1", ProcessConfig())
            await runtime.add_process("b", ProcessConfig(model=echo))
            await runtime.add_process("broken-2", ProcessConfig())
            with caplog.at_level(logging.ERROR, logger="greenroom.runtime"), \
                    pytest.raises(ValueError, match="no agent configured"):
                await runtime.start_all()
            states = {name: p.state for name, p in runtime.processes.items()}
            assert states == {"a": ProcessState.RUNNING, "broken-1": ProcessState.FAILED,
                              "b": ProcessState.RUNNING, "broken-2": ProcessState.FAILED}
            logged = [r.getMessage() for r in caplog.records if "start_all" in r.getMessage()]
            assert len(logged) == 1
            assert "'broken-2' did not start" in logged[0]

    asyncio.run(main())
