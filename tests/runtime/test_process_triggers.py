"""Triggers inside processes: started and stopped with the process, added and removed while it
runs, refused while it cannot take events, and restarted without touching it."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest
from process_support import EventLog, eventually

from greenroom.actors import ManualClock
from greenroom.agents.invocation import Invocation
from greenroom.runtime.config import ProcessConfig
from greenroom.runtime.process import AgentProcess
from greenroom.runtime.runtime import AgentRuntime
from greenroom.triggers import (
    CronTrigger,
    EventTrigger,
    MessageTrigger,
    TriggerConfig,
    TriggerError,
    TriggerEvent,
    WebhookTrigger,
    register_trigger_type,
    unregister_trigger_type,
)
from greenroom.triggers.signatures import sign


class Recorder:
    """An agent that records each run's event."""

    def __init__(self) -> None:
        self.events: list[TriggerEvent] = []

    async def __call__(self, invocation: Invocation) -> str:
        self.events.append(invocation.event)
        return "ok"


async def subscribers(runtime: AgentRuntime, count: int) -> None:
    async def enough() -> None:
        while len(await runtime.event_bus.subscriptions()) < count:  # type: ignore[attr-defined]
            await asyncio.sleep(0.001)

    await asyncio.wait_for(enough(), 10)


def test_an_event_trigger_wakes_its_process_in_a_runtime() -> None:
    async def main() -> None:
        agent = Recorder()
        async with AgentRuntime() as runtime:
            log = EventLog()
            runtime.add_listener(log)
            before = len(await runtime.event_bus.subscriptions())  # type: ignore[attr-defined]
            config = ProcessConfig(model=agent, triggers=[EventTrigger("orders.*")])
            await runtime.add_process("clerk", config)
            await runtime.start_process("clerk")
            await subscribers(runtime, before + 1)
            await runtime.event_bus.emit("orders.new", {"id": 7}, source="shop")
            await log.wait_for("invocation.completed")
            assert agent.events[0].payload["data"] == {"id": 7}
            [trigger] = runtime.process_status("clerk")["triggers"]
            assert trigger["type"] == "event"
            assert trigger["source"] == "config"
            assert trigger["fire_count"] == 1
            assert trigger["last_fired"] is not None

    asyncio.run(main())


def test_a_cron_trigger_catches_up_after_the_process_was_stopped() -> None:
    async def main() -> None:
        clock = ManualClock(start=1_767_225_600.0)  # 2026-01-01 00:00 UTC
        agent = Recorder()
        config = ProcessConfig(model=agent, triggers=[CronTrigger("*/5 * * * *")])
        process = AgentProcess("ticker", config, clock=clock)
        log = EventLog()
        process.add_listener(log)
        try:
            await process.start()
            await eventually(lambda: clock.pending() > 0)  # the cron timer (no heartbeat here)
            await asyncio.to_thread(clock.advance, 300)
            await log.wait_for("invocation.completed")
            assert agent.events[0].payload["scheduled_time"] == "2026-01-01T00:05:00+00:00"
            assert agent.events[0].payload["catch_up"] is False
            [trigger] = process.status()["triggers"]
            assert trigger["checkpoint"] == 1_767_225_900.0
            await process.stop()
            await asyncio.to_thread(clock.advance, 1800)  # six slots pass while stopped
            await process.start()
            await log.wait_for("invocation.completed", 2)
            catch_up = agent.events[1].payload
            assert catch_up["catch_up"] is True
            assert catch_up["scheduled_time"] == "2026-01-01T00:35:00+00:00"
            assert catch_up["missed_count"] == 6
        finally:
            await process.close()

    asyncio.run(main())


def test_triggers_are_added_and_removed_while_the_process_runs() -> None:
    async def main() -> None:
        agent = Recorder()
        async with AgentRuntime() as runtime:
            log = EventLog()
            runtime.add_listener(log)
            process = await runtime.add_process("worker", ProcessConfig(model=agent))
            await process.start()
            with pytest.raises(TriggerError, match="unknown trigger type 'sqs'"):
                await process.add_trigger(TriggerConfig(type="sqs"))
            missing = "/nonexistent/greenroom-watch"
            with pytest.raises(TriggerError, match=f"watch_path: '{missing}' does not exist"):
                await process.add_trigger(TriggerConfig(type="file_watch", watch_path=missing))
            assert process.status()["triggers"] == []
            before = len(await runtime.broker.subscriptions())  # type: ignore[attr-defined]
            trigger_id = await process.add_trigger(MessageTrigger("jobs.>"))
            assert trigger_id.startswith("message-")

            async def subscribed(count: int) -> None:
                while len(await runtime.broker.subscriptions()) != count:  # type: ignore[attr-defined]
                    await asyncio.sleep(0.001)

            await asyncio.wait_for(subscribed(before + 1), 10)
            await runtime.broker.publish("jobs.one", "first", sender="boss")
            await log.wait_for("invocation.completed")
            [status] = process.status()["triggers"]
            assert (status["id"], status["source"]) == (trigger_id, "dynamic")
            await process.remove_trigger(trigger_id)
            await asyncio.wait_for(subscribed(before), 10)
            assert await runtime.broker.publish("jobs.two", "second") == 0
            assert process.status()["triggers"] == []
            with pytest.raises(KeyError, match=trigger_id):
                await process.remove_trigger(trigger_id)
            assert [e.payload["content"] for e in agent.events] == ["first"]

    asyncio.run(main())


def test_events_from_triggers_are_refused_while_the_process_is_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL)

    async def broken(invocation: Invocation) -> str:
        raise RuntimeError("down")

    async def main() -> None:
        async with AgentRuntime() as runtime:
            log = EventLog()
            runtime.add_listener(log)
            before = len(await runtime.event_bus.subscriptions())  # type: ignore[attr-defined]
            config = ProcessConfig(model=broken, max_consecutive_failures=1,
                                   triggers=[EventTrigger("work.*")])
            process = await runtime.add_process("fragile", config)
            await process.start()
            await subscribers(runtime, before + 1)
            await runtime.event_bus.emit("work.a", 1)
            await log.wait_for("process.failed")
            await runtime.event_bus.emit("work.b", 2)

            def refused() -> bool:
                return bool(process.status()["triggers"][0]["refused_count"] == 1)

            await eventually(refused)
            assert process.record.queue.dead[-1].reason == "process failed"
            assert process.record.queue.dead[-1].event.payload["data"] == 2

    asyncio.run(main())


class Ticker:
    """A custom trigger that fails once on its first wait, then serves a queue."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[Any] = asyncio.Queue()
        self.failed = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def wait_for_next(self) -> TriggerEvent:
        if not self.failed:
            self.failed = True
            msg = "flaky source"
            raise ConnectionError(msg)
        return TriggerEvent("x", "ticker", payload=await self.items.get())


def test_a_crashing_trigger_is_restarted_and_the_process_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL)
    made: list[Ticker] = []

    def factory(config: TriggerConfig, **_: Any) -> Ticker:
        made.append(Ticker())
        return made[-1]

    async def main() -> None:
        clock = ManualClock()
        agent = Recorder()
        process = AgentProcess("steady", ProcessConfig(model=agent,
                               triggers=[TriggerConfig(type="ticker")]), clock=clock)
        log = EventLog()
        process.add_listener(log)
        try:
            await process.start()
            await eventually(lambda: bool(made) and made[0].failed)
            await eventually(lambda: clock.pending() > 0)  # the trigger's restart timer
            await asyncio.to_thread(clock.advance, 2)
            made[0].items.put_nowait("after restart")
            await log.wait_for("invocation.completed")
            assert agent.events[0].payload == "after restart"
            status = process.status()
            assert status["state"] == "running"
            assert status["restart_count"] == 0
            assert status["triggers"][0]["error_count"] == 1
        finally:
            await process.close()

    register_trigger_type("ticker", factory)
    try:
        asyncio.run(main())
    finally:
        unregister_trigger_type("ticker")


def test_a_signed_webhook_reaches_the_agent_and_is_refused_while_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL)

    async def main() -> None:
        seen: list[Any] = []

        async def picky(invocation: Invocation) -> str:
            seen.append(invocation.event.payload)
            if invocation.event.payload.get("fail"):
                raise RuntimeError("bad order")
            return "ok"

        hook = WebhookTrigger("/orders", webhook_port=0, hmac_secret="s3cret",
                              signature_scheme="github")
        config = ProcessConfig(model=picky, triggers=[hook], max_consecutive_failures=1)
        async with AgentRuntime() as runtime:
            log = EventLog()
            runtime.add_listener(log)
            process = await runtime.add_process("shop", config)
            await process.start()
            url = process.status()["triggers"][0]["url"]
            async with aiohttp.ClientSession() as http:
                body = json.dumps({"order": 1}).encode()
                headers = {"Content-Type": "application/json",
                           **sign("github", "s3cret", body, delivery_id="d-1")}
                async with http.post(url, data=body, headers=headers) as response:
                    assert response.status == 202
                    accepted = await response.json()
                await log.wait_for("invocation.completed")
                assert seen == [{"order": 1}]
                assert accepted["status"] == "accepted"
                async with http.post(url, data=body, headers={"X-Hub-Signature-256": "sha256=00"}) \
                        as response:
                    assert response.status == 401
                bad = json.dumps({"fail": True}).encode()
                async with http.post(url, data=bad, headers=sign("github", "s3cret", bad)) as r:
                    assert r.status == 202
                await log.wait_for("process.failed")
                async with http.post(url, data=body, headers=sign("github", "s3cret", body)) as r:
                    assert r.status == 503
                    assert r.headers["Retry-After"] == "30"
            await process.stop()
            assert process.status()["triggers"][0]["fire_count"] == 2

    asyncio.run(main())


def test_a_custom_factory_is_called_once_per_start_of_the_trigger() -> None:
    made: list[Ticker] = []

    def factory(config: TriggerConfig, **_: Any) -> Ticker:
        made.append(Ticker())
        made[-1].failed = True  # serve the queue from the first wait
        return made[-1]

    async def main() -> None:
        process = AgentProcess("counted", ProcessConfig(model=Recorder()))
        try:
            await process.add_trigger(TriggerConfig(type="counted"))
            assert made == []  # not running: only the type is checked
            await process.start()
            assert len(made) == 1
            await process.add_trigger(TriggerConfig(type="counted", trigger_id="second"))
            assert len(made) == 2
        finally:
            await process.close()

    register_trigger_type("counted", factory)
    try:
        asyncio.run(main())
    finally:
        unregister_trigger_type("counted")
