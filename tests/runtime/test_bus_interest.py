"""Interest: emitters skip events no subscriber wants, and never miss one that is subscribed."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from greenroom.actors import ActorSystem
from greenroom.runtime import AgentRuntime, ProcessConfig
from greenroom.runtime.bus import BusEvent, EventBus
from greenroom.runtime.interest import Interest
from greenroom.triggers import TriggerEvent

WAIT = 5.0


def test_wants_only_what_a_pattern_in_the_table_matches() -> None:
    interest = Interest()
    assert not interest.wants("orders.created")
    interest.table_changed(["orders.*", "audit.>"])
    assert interest.wants("orders.created")
    assert interest.wants("audit.a.b")
    assert not interest.wants("orders.created.eu")
    interest.table_changed([])
    assert not interest.wants("orders.created")


def test_a_requested_pattern_counts_until_the_table_holds_it() -> None:
    interest = Interest()
    interest.requested("sub-1", "orders.*")
    interest.table_changed(["other.x"])  # an earlier change: sub-1 is still on its way
    assert interest.wants("orders.created")
    interest.table_changed(["other.x", "orders.*"], applied="sub-1")
    assert interest.wants("orders.created")
    interest.table_changed(["other.x"])  # unsubscribed
    assert not interest.wants("orders.created")


def test_an_invalid_event_type_raises() -> None:
    interest = Interest()
    interest.table_changed([">"])
    with pytest.raises(ValueError, match="wildcards"):
        interest.wants("orders.*")


def test_answers_stay_right_while_another_thread_changes_the_table() -> None:
    interest = Interest()
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            interest.table_changed(["a.*"])
            interest.table_changed(["b.*"])

    thread = threading.Thread(target=flip)
    thread.start()
    try:
        for _ in range(2000):
            interest.wants("a.x")
            interest.wants("b.x")
    finally:
        stop.set()
        thread.join(WAIT)
    interest.table_changed(["a.*"])
    assert interest.wants("a.x")
    assert not interest.wants("b.x")


def run(scenario: Any) -> None:
    async def main() -> None:
        async with ActorSystem(name="interest-test") as system:
            await scenario(system)

    asyncio.run(main())


def test_unwanted_events_never_reach_the_bus_actor() -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        assert await bus.emit("nobody.listens") == 0
        bus.emit_nowait("nobody.listens")
        assert (await bus.stats()).received == 0
        with pytest.raises(TypeError, match="source"):
            bus.emit_nowait("nobody.listens", source=3)  # type: ignore[arg-type]
        await bus.close()

    run(scenario)


def test_an_event_emitted_right_after_subscribe_nowait_is_delivered() -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        got: asyncio.Queue[BusEvent] = asyncio.Queue()

        async def handler(event: BusEvent) -> None:
            await got.put(event)

        bus.subscribe_nowait("orders.*", handler)
        bus.emit_nowait("orders.created", {"id": 1})  # before the bus handled the Subscribe
        event = await asyncio.wait_for(got.get(), WAIT)
        assert (event.event_type, event.data) == ("orders.created", {"id": 1})
        await bus.unsubscribe(handler)
        assert await bus.emit("orders.created") == 0
        assert (await bus.stats()).received == 1
        await bus.close()

    run(scenario)


def test_a_runtime_skips_its_events_until_someone_subscribes() -> None:
    async def agent(inv: Any) -> str:
        del inv
        return "ok"

    async def main() -> None:
        async with AgentRuntime() as runtime:
            process = await runtime.add_process("p", ProcessConfig(model=agent))
            await runtime.start_process("p")
            seen: asyncio.Queue[BusEvent] = asyncio.Queue()

            async def handler(event: BusEvent) -> None:
                await seen.put(event)

            before = (await runtime.event_bus.stats()).received
            await runtime.event_bus.subscribe("invocation.completed", handler)
            await process.inject(TriggerEvent("manual", "manual", payload=1))
            event = await asyncio.wait_for(seen.get(), WAIT)
            assert event.data["process"] == "p"
            assert (await runtime.event_bus.stats()).received == before + 1

    asyncio.run(main())
