"""Event and message triggers: bus and broker subscriptions as actors, with their filters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from trigger_support import RecordingHost

from greenroom.actors import ActorStartError, ActorSystem
from greenroom.runtime.adapters import as_event_bus
from greenroom.runtime.broker import MessageBroker
from greenroom.runtime.bus import EventBus
from greenroom.triggers import EventTrigger, MessageTrigger, TriggerConfig, TriggerStats
from greenroom.triggers.event_trigger import EventTriggerActor
from greenroom.triggers.message_trigger import MessageTriggerActor

WAIT = 5.0


def run(scenario: Callable[[ActorSystem], Awaitable[None]]) -> None:
    async def main() -> None:
        async with ActorSystem(name="trigger-test") as system:
            await scenario(system)

    asyncio.run(main())


async def subscribed(source: Any, count: int = 1) -> None:
    """Wait until `source` (a greenroom bus or broker) has `count` subscriptions."""
    async def reached() -> None:
        while len(await source.subscriptions()) < count:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(reached(), WAIT)


async def next_event(host: RecordingHost) -> Any:
    return await asyncio.to_thread(host.next_event, WAIT)


def spawn(system: ActorSystem, actor: type, config: TriggerConfig, host: RecordingHost,
          trigger_id: str = "t1") -> TriggerStats:
    stats = TriggerStats(trigger_id, config.type)
    system.spawn(actor, config, trigger_id, host, stats)
    return stats


def test_an_event_trigger_fires_on_matching_events_with_the_seed_payload() -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        host = RecordingHost(event_bus=bus)
        stats = spawn(system, EventTriggerActor, EventTrigger("pipeline.*"), host)
        await subscribed(bus)
        assert await bus.emit("pipeline.other.deep", {"n": 0}, source="etl") == 0
        assert await bus.emit("pipeline.done", {"rows": 3}, source="etl") == 1
        event = await next_event(host)
        assert event.trigger_id == "t1"
        assert event.trigger_type == "event"
        assert event.payload["event_type"] == "pipeline.done"
        assert event.payload["source"] == "etl"
        assert event.payload["data"] == {"rows": 3}
        assert event.idempotency_key == f"t1@{event.payload['event_id']}"
        assert stats.fired == 1
        assert host.drain() == []

    run(scenario)


def test_an_event_trigger_keeps_to_its_source_and_skips_its_own_process() -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        host = RecordingHost(event_bus=bus, process_name="me")
        spawn(system, EventTriggerActor, EventTrigger("jobs.>"), host, "all")
        spawn(system, EventTriggerActor, EventTrigger("jobs.>", source="ci"), host, "ci")
        spawn(system, EventTriggerActor,
              EventTrigger("jobs.>", include_own_events=True), host, "own")
        await subscribed(bus, 3)
        await bus.emit("jobs.a", 1, source="me")
        await bus.emit("jobs.b", 2, source="process:me")
        await bus.emit("jobs.c", 3, source="ci")
        seen = sorted((e.trigger_id, e.payload["data"]) for e in [
            await next_event(host) for _ in range(5)
        ])
        assert seen == [("all", 3), ("ci", 3), ("own", 1), ("own", 2), ("own", 3)]

    run(scenario)


def test_a_filter_drops_events_and_counts_them() -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        host = RecordingHost(event_bus=bus)
        config = EventTrigger("alerts.*", filter_expression="data.level == 'high'")
        stats = spawn(system, EventTriggerActor, config, host)
        await subscribed(bus)
        await bus.emit("alerts.db", {"level": "low"})
        await bus.emit("alerts.db", {"level": "high"})
        event = await next_event(host)
        assert event.payload["data"] == {"level": "high"}
        assert (stats.fired, stats.filtered) == (1, 1)

    run(scenario)


def test_a_message_trigger_fires_on_its_topic_and_sender() -> None:
    async def scenario(system: ActorSystem) -> None:
        broker = MessageBroker(system)
        host = RecordingHost(broker=broker)
        spawn(system, MessageTriggerActor, MessageTrigger("analysis.>"), host, "any")
        spawn(system, MessageTriggerActor,
              MessageTrigger("analysis.>", from_agent="analyst"), host, "analyst")
        await subscribed(broker, 2)
        await broker.publish("analysis.done", {"score": 9}, sender="analyst")
        await broker.publish("analysis.done", "late", sender="intern")
        await broker.publish("other.topic", "x", sender="analyst")
        events = [await next_event(host) for _ in range(3)]
        by_trigger = sorted((e.trigger_id, repr(e.payload["content"])) for e in events)
        assert by_trigger == [("analyst", "{'score': 9}"), ("any", "'late'"),
                              ("any", "{'score': 9}")]
        first = next(e for e in events if e.trigger_id == "analyst")
        assert first.payload["topic"] == "analysis.done"
        assert first.payload["sender"] == "analyst"
        assert first.idempotency_key == f"analyst@{first.payload['message_id']}"

    run(scenario)


def test_user_supplied_bus_and_broker_work_through_the_adapters() -> None:
    class PlainBus:
        def __init__(self) -> None:
            self.handlers: list[tuple[str, Any]] = []

        def subscribe(self, event_type: str, handler: Any) -> None:
            self.handlers.append((event_type, handler))

        async def emit(self, event_type: str, data: Any = None, source: str = "") -> None:
            for wanted, handler in self.handlers:
                if wanted == event_type:
                    await handler(SimpleNamespace(event_type=event_type, data=data,
                                                  source=source))

    async def scenario(system: ActorSystem) -> None:
        plain = PlainBus()
        bus = as_event_bus(plain, system)
        host = RecordingHost(event_bus=bus)
        spawn(system, EventTriggerActor, EventTrigger("deploys.done"), host)

        async def registered() -> None:
            while not plain.handlers:
                await asyncio.sleep(0.001)

        await asyncio.wait_for(registered(), WAIT)
        await plain.emit("deploys.done", {"v": 2}, source="ci")
        event = await next_event(host)
        assert event.payload["data"] == {"v": 2}
        assert event.payload["source"] == "ci"

    run(scenario)


def test_an_event_trigger_without_a_bus_does_not_start(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    with pytest.raises(ActorStartError, match="needs an event bus"):
        spawn(actor_system, EventTriggerActor, EventTrigger("a.b"), host)
