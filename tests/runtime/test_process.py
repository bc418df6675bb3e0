"""AgentProcess over its actors: lifecycle, queue, concurrency, stop, failure and restart."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from process_support import EventLog, GatedAgent, echo, eventually

from greenroom.actors import ManualClock
from greenroom.agents.invocation import Invocation
from greenroom.runtime.config import ProcessConfig
from greenroom.runtime.errors import ProcessStateError
from greenroom.runtime.lifecycle import ProcessState
from greenroom.runtime.process import AgentProcess
from greenroom.supervision import ChildRestarted
from greenroom.testing import TestProbe
from greenroom.triggers import TriggerEvent


def event(payload: Any = None) -> TriggerEvent:
    return TriggerEvent("manual", "manual", payload=payload)


async def started(config: ProcessConfig, **kwargs: Any) -> tuple[AgentProcess, EventLog]:
    log = EventLog()
    process = AgentProcess("p", config, **kwargs)
    process.add_listener(log)
    await process.start()
    return process, log


def test_inject_runs_the_agent_and_keeps_the_conversation() -> None:
    async def main() -> None:
        process, log = await started(ProcessConfig(model=echo))
        try:
            assert process.state is ProcessState.RUNNING
            assert await process.inject(event("hello")) is True
            await log.wait_for("invocation.completed")
            status = process.status()
            assert status["invocation_count"] == 1
            assert status["conversation_messages"] == 2
            prompt, reply = process.record.conversation.get_messages()
            assert "hello" in prompt["content"]
            assert "untrusted-trigger-payload-" in prompt["content"]
            assert reply == {"role": "assistant", "content": "echo hello"}
        finally:
            await process.close()
        assert process.state is ProcessState.STOPPED

    asyncio.run(main())


@pytest.mark.parametrize("when", ["created", "stopped"])
def test_inject_outside_running_or_suspended_is_refused(when: str) -> None:
    async def main() -> None:
        process = AgentProcess("p", ProcessConfig(model=echo))
        try:
            if when == "stopped":
                await process.start()
                await process.stop()
            with pytest.raises(ProcessStateError, match="inject is accepted only while"):
                await process.inject(event())
            assert process.status()["queue_size"] == 0
        finally:
            await process.close()

    asyncio.run(main())


def test_suspended_process_queues_and_resume_drains_in_order() -> None:
    async def main() -> None:
        seen: list[Any] = []

        async def record(invocation: Invocation) -> str:
            seen.append(invocation.event.payload)
            return "ok"

        process, log = await started(ProcessConfig(model=record))
        try:
            await process.suspend()
            for i in range(5):
                await process.inject(event(i))
            assert process.status()["queue_size"] == 5
            assert log.count("invocation.completed") == 0
            await process.resume()
            await log.wait_for("invocation.completed", 5)
            assert seen == [0, 1, 2, 3, 4]
            assert log.types()[:3] == ["process.started", "process.suspended", "process.resumed"]
        finally:
            await process.close()

    asyncio.run(main())


def test_at_most_concurrency_runs_at_once() -> None:
    async def main() -> None:
        agent = GatedAgent()
        process, log = await started(ProcessConfig(model=agent, concurrency=2))
        try:
            for i in range(5):
                await process.inject(event(i))
            await agent.started.wait()
            status = process.status()
            assert status["in_flight"] == 2
            assert status["queue_size"] == 5
            agent.gate.set()
            await log.wait_for("invocation.completed", 5)
            assert agent.max_running == 2
        finally:
            await process.close()

    asyncio.run(main())


def test_concurrent_runs_each_get_their_own_conversation_copy() -> None:
    async def main() -> None:
        gate = asyncio.Event()
        seen: list[list[dict[str, Any]]] = []

        async def agent(invocation: Invocation) -> str:
            seen.append(invocation.messages)
            invocation.messages.append({"role": "user", "content": "scribble"})
            await gate.wait()
            return "ok"

        process, log = await started(ProcessConfig(model=agent, concurrency=2))
        try:
            await process.inject(event("a"))
            await process.inject(event("b"))
            await eventually(lambda: len(seen) == 2)
            assert seen[0] is not seen[1]
            gate.set()
            await log.wait_for("invocation.completed", 2)
            kept = process.record.conversation.get_messages()
            assert all(m["content"] != "scribble" for m in kept)
        finally:
            await process.close()

    asyncio.run(main())


def test_stop_drains_a_run_that_finishes_in_time() -> None:
    async def main() -> None:
        agent = GatedAgent()
        process, _log = await started(ProcessConfig(model=agent))
        try:
            await process.inject(event("in flight"))
            await process.inject(event("queued"))
            await agent.started.wait()
            stopping = asyncio.create_task(process.stop(drain_timeout=30))
            await eventually(lambda: process.state is ProcessState.STOPPING)
            agent.gate.set()
            report = await stopping
            assert report["state"] == "stopped"
            assert report["cancelled"] == []
            assert len(report["dead_lettered"]) == 1
            assert process.status()["invocation_count"] == 1
        finally:
            await process.close()

    asyncio.run(main())


def test_stop_without_drain_cancels_runs_and_reports_them() -> None:
    async def main() -> None:
        agent = GatedAgent()
        process, _log = await started(ProcessConfig(model=agent))
        try:
            first = event("in flight")
            await process.inject(first)
            await agent.started.wait()
            report = await process.stop(drain_timeout=0)
            assert report["cancelled"] == [first.event_id]
            status = process.status()
            assert status["state"] == "stopped"
            assert status["dead_letter_count"] == 1
            assert status["invocation_count"] == 0
        finally:
            await process.close()

    asyncio.run(main())


def test_failures_in_a_row_make_the_process_failed_with_policy_never() -> None:
    async def main() -> None:
        async def broken(invocation: Invocation) -> str:
            raise RuntimeError("model down")

        process, log = await started(ProcessConfig(model=broken, max_consecutive_failures=2))
        try:
            await process.suspend()
            for i in range(3):
                await process.inject(event(i))
            await process.resume()
            await log.wait_for("process.failed")
            status = process.status()
            assert status["state"] == "failed"
            assert status["failed_invocations"] == 2
            assert status["dead_letter_count"] == 1  # the third event, left queued
            assert "model down" in status["last_error"]
            with pytest.raises(ProcessStateError):
                await process.inject(event())
        finally:
            await process.close()

    asyncio.run(main())


def test_a_success_resets_the_failure_streak() -> None:
    async def main() -> None:
        async def sometimes(invocation: Invocation) -> str:
            if invocation.event.payload == "bad":
                raise ValueError("bad input")
            return "fine"

        process, log = await started(ProcessConfig(model=sometimes, max_consecutive_failures=2))
        try:
            for payload in ["bad", "good", "bad", "good"]:
                await process.inject(event(payload))
            await log.wait_for("invocation.completed", 2)
            status = process.status()
            assert status["state"] == "running"
            assert status["consecutive_failures"] == 0
            assert status["failed_invocations"] == 2
        finally:
            await process.close()

    asyncio.run(main())


def test_restart_policy_restarts_through_the_supervisor_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL)

    async def main() -> None:
        clock = ManualClock()
        attempts = {"n": 0}

        async def flaky(invocation: Invocation) -> str:
            attempts["n"] += 1
            if attempts["n"] <= 2:
                raise ConnectionError("upstream")
            return "recovered"

        config = ProcessConfig(model=flaky, max_consecutive_failures=2,
                               restart_policy="on_failure", max_restarts=2)
        process, log = await started(config, clock=clock)
        scheduled = TestProbe(process.system)
        process.system.event_stream.subscribe(scheduled.ref, ChildRestarted)
        try:
            await process.suspend()
            await process.inject(event(1))
            await process.inject(event(2))
            await process.inject(event(3))
            await process.resume()
            await log.wait_for("process.failed")
            restart = await asyncio.to_thread(scheduled.expect_message_type, ChildRestarted)
            assert 0.9 <= restart.delay <= 1.1  # backoff: 1 s +/- 10 %
            assert log.count("process.restarted") == 0
            await asyncio.to_thread(clock.advance, 1.2)
            await log.wait_for("process.restarted")
            await log.wait_for("invocation.completed")
            status = process.status()
            assert status["state"] == "running"
            assert status["restart_count"] == 1
            assert status["invocation_count"] == 1  # the third event survived the restart
        finally:
            await process.close()

    asyncio.run(main())


def test_start_without_a_model_fails_naming_the_field() -> None:
    async def main() -> None:
        process = AgentProcess("p", ProcessConfig())
        try:
            with pytest.raises(ValueError, match=r"ProcessConfig\.model"):
                await process.start()
            assert process.state is ProcessState.FAILED
        finally:
            await process.close()

    asyncio.run(main())


def test_a_full_queue_dead_letters_the_overflow() -> None:
    async def main() -> None:
        process, _log = await started(ProcessConfig(model=echo, max_queue_size=2))
        try:
            await process.suspend()
            results = [await process.inject(event(i)) for i in range(3)]
            assert results == [True, True, False]
            status = process.status()
            assert status["queue_size"] == 2
            assert status["dead_letter_count"] == 1
            assert process.record.queue.dead[-1].reason == "queue full (2 events)"
        finally:
            await process.close()

    asyncio.run(main())


def test_idle_process_suspends_and_wakes_on_its_next_event() -> None:
    async def main() -> None:
        clock = ManualClock()
        config = ProcessConfig(model=echo, idle_timeout=30, heartbeat_interval=10)
        process, log = await started(config, clock=clock)
        try:
            await asyncio.to_thread(clock.advance, 40)
            await log.wait_for("process.suspended")
            assert process.status()["suspend_reason"] == "idle"
            await process.inject(event("wake up"))
            await log.wait_for("invocation.completed")
            assert process.state is ProcessState.RUNNING
        finally:
            await process.close()

    asyncio.run(main())


def test_a_heartbeat_runs_only_for_a_process_that_has_something_to_check() -> None:
    """Without `idle_timeout` or `max_lifetime` the heartbeat would find nothing to do, so an
    idle process keeps no timer; with either, it ticks every `heartbeat_interval`."""

    async def main() -> None:
        for limits, timers in (({}, 0), ({"idle_timeout": 30}, 1), ({"max_lifetime": 60}, 1)):
            clock = ManualClock()
            process, _ = await started(ProcessConfig(model=echo, **limits), clock=clock)
            try:
                assert clock.pending() == timers, limits
            finally:
                await process.close()

    asyncio.run(main())


def test_start_twice_is_a_state_error() -> None:
    async def main() -> None:
        process, _ = await started(ProcessConfig(model=echo))
        try:
            with pytest.raises(ProcessStateError, match="'running' to 'starting'"):
                await process.start()
        finally:
            await process.close()

    asyncio.run(main())


def test_a_users_stop_cancels_a_pending_restart(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)

    async def main() -> None:
        clock = ManualClock()

        async def broken(invocation: Invocation) -> str:
            raise RuntimeError("down")

        config = ProcessConfig(model=broken, max_consecutive_failures=1,
                               restart_policy="always", max_restarts=5)
        process, log = await started(config, clock=clock)
        try:
            await process.inject(event())
            await log.wait_for("process.failed")
            report = await process.stop()
            assert report["state"] == "stopped"
            await asyncio.to_thread(clock.advance, 120)
            assert log.count("process.restarted") == 0
            assert process.state is ProcessState.STOPPED
            await process.start()  # a stopped process can be started again by hand
            assert process.state is ProcessState.RUNNING
        finally:
            await process.close()

    asyncio.run(main())


def test_restarts_without_a_success_are_exhausted_and_the_process_stays_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL)

    async def main() -> None:
        clock = ManualClock()

        async def broken(invocation: Invocation) -> str:
            raise RuntimeError("down")

        config = ProcessConfig(model=broken, max_consecutive_failures=1,
                               restart_policy="on_failure", max_restarts=2)
        process, log = await started(config, clock=clock)
        scheduled = TestProbe(process.system)
        process.system.event_stream.subscribe(scheduled.ref, ChildRestarted)
        try:
            await process.suspend()
            for i in range(5):
                await process.inject(event(i))
            await process.resume()
            for restarts in (1, 2):
                await log.wait_for("process.failed", count=restarts)
                await asyncio.to_thread(scheduled.expect_message_type, ChildRestarted)
                await asyncio.to_thread(clock.advance, 61)
                await log.wait_for("process.restarted", count=restarts)
            await log.wait_for("process.restart_exhausted")
            exhausted = next(d for t, d in log.events if t == "process.restart_exhausted")
            assert exhausted == {"process": "p", "restart_count": 2, "max_restarts": 2}
            assert process.state is ProcessState.FAILED
            status = process.status()
            assert status["restart_count"] == 2
            assert status["queue_size"] == 0
            assert status["dead_letter_count"] == 2  # three runs failed, two events never ran
            await asyncio.to_thread(clock.advance, 120)
            assert log.count("process.restarted") == 2
        finally:
            await process.close()

    asyncio.run(main())


def test_status_has_the_reference_keys_that_apply() -> None:
    async def main() -> None:
        process, _log = await started(ProcessConfig(model=echo))
        try:
            status = process.status()
            expected = {
                "name", "process_id", "state", "execution_mode", "invocation_count",
                "consecutive_failures", "restart_count", "journal_enabled", "trigger_count",
                "custom_tool_count", "conversation_messages", "has_memory", "suspend_reason",
                "queue_size", "dead_letter_count", "filtered_count", "pending_retries",
                "uptime_seconds", "triggers",
            }
            assert expected <= status.keys()
            assert status["execution_mode"] == "strict"
            assert status["has_memory"] is False
        finally:
            await process.close()

    asyncio.run(main())
