"""The event bus: NATS-style routing through the actor, handlers of both kinds, and bad input."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from greenroom.actors import ActorSystem, DeadLetter, ManualClock
from greenroom.runtime.bus import (
    BusEvent,
    Emit,
    EventBus,
    EventBusActor,
    GetStats,
    GetSubscriptions,
    Subscribe,
    Subscription,
    SubscriptionTable,
    Unsubscribe,
)
from greenroom.testing import TestProbe

WAIT = 5.0  # guards awaits on events so a broken bus fails instead of hanging


def run(scenario: Callable[[ActorSystem], Awaitable[None]]) -> None:
    """Run `scenario` with its own actor system, created inside the running loop."""

    async def main() -> None:
        async with ActorSystem(name="bus-test") as system:
            await scenario(system)

    asyncio.run(main())


# Routing through the actor ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "event_type", "delivered"),
    [
        ("orders.created", "orders.created", True),
        ("orders.created", "orders.updated", False),
        ("orders.*", "orders.created", True),
        ("orders.*", "orders.created.eu", False),
        ("*.created", "orders.created", True),
        ("orders.>", "orders.created.eu.north", True),
        ("orders.>", "orders", False),
        (">", "anything.at.all", True),
        ("*.*.eu", "orders.created.eu", True),
    ],
)
def test_patterns_select_events_through_the_actor(
    actor_system: ActorSystem, dispatcher: str, pattern: str, event_type: str, delivered: bool
) -> None:
    probe = TestProbe(actor_system)
    bus = actor_system.spawn(EventBusActor, dispatcher=dispatcher)
    bus.ask(Subscribe(pattern, probe.ref))
    event = BusEvent(event_type, {"n": 1}, source="test")
    assert bus.ask(Emit(event)) == int(delivered)
    if delivered:
        probe.expect_message(event)
    else:
        probe.expect_no_message(0.05)


def test_emit_counts_every_matching_subscriber(actor_system: ActorSystem) -> None:
    probes = [TestProbe(actor_system) for _ in range(4)]
    bus = EventBus(actor_system)
    for pattern, probe in zip(["a.b", "a.*", "a.>", "x.>"], probes, strict=True):
        bus.subscribe_nowait(pattern, probe.ref)
    bus.emit_nowait("a.b", 42, source="me")
    received = [probe.expect_message_type(BusEvent) for probe in probes[:3]]
    assert {event.event_id for event in received} == {received[0].event_id}
    assert received[0].data == 42
    assert received[0].source == "me"
    probes[3].expect_no_message(0.05)
    stats = bus.ref.ask(GetStats())
    assert (stats.subscriptions, stats.received, stats.delivered) == (4, 1, 3)


def test_events_are_stamped_with_the_system_clock(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    probe = TestProbe(actor_system)
    bus = EventBus(actor_system)
    bus.subscribe_nowait("tick", probe.ref)
    manual_clock.advance(3600)
    bus.emit_nowait("tick")
    event = probe.expect_message_type(BusEvent)
    assert event.timestamp == manual_clock.time()
    assert re.fullmatch(r"[0-9a-f]{32}", event.event_id)


def test_an_actor_subscriber_gets_events_in_emit_order(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    bus = EventBus(actor_system)
    bus.subscribe_nowait("seq.>", probe.ref)
    for n in range(50):
        bus.emit_nowait(f"seq.{n % 3}", n)
    assert [event.data for event in probe.receive_messages(50)] == list(range(50))


def test_a_stopped_subscriber_is_dropped(actor_system: ActorSystem) -> None:
    gone, kept = TestProbe(actor_system), TestProbe(actor_system)
    bus = actor_system.spawn(EventBusActor)
    bus.ask(Subscribe("jobs.*", gone.ref))
    bus.ask(Subscribe("jobs.*", kept.ref))
    actor_system.stop(gone.ref)
    assert bus.ask(Emit(BusEvent("jobs.done"))) == 1
    assert [sub.handler for sub in bus.ask(GetSubscriptions())] == [kept.ref]


def test_subscribing_again_with_an_id_replaces_the_subscription(
    actor_system: ActorSystem,
) -> None:
    first, second = TestProbe(actor_system), TestProbe(actor_system)
    bus = actor_system.spawn(EventBusActor)
    bus.ask(Subscribe("a", first.ref, subscription_id="s1"))
    assert bus.ask(Subscribe("b", second.ref, subscription_id="s1")) == "s1"
    assert bus.ask(GetSubscriptions()) == (Subscription("s1", "b", second.ref),)
    assert bus.ask(Emit(BusEvent("a"))) == 0
    assert bus.ask(Emit(BusEvent("b"))) == 1


def test_a_message_the_bus_does_not_understand_is_a_dead_letter(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    actor_system.dead_letters.subscribe(probe.ref, DeadLetter)
    bus = actor_system.spawn(EventBusActor)
    bus.tell("hello")
    letter = probe.expect_message_type(DeadLetter)
    assert (letter.message, letter.recipient) == ("hello", bus)
    assert bus.ask(GetStats()).received == 0


def test_a_raising_sync_handler_does_not_break_the_bus(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)

    def explode(event: BusEvent) -> None:
        probe.ref.tell(("ran", event.data))
        raise RuntimeError("handler bug")

    bus = actor_system.spawn(EventBusActor)
    bus.ask(Subscribe("boom", explode))
    for n in range(3):
        assert bus.ask(Emit(BusEvent("boom", n))) == 1
    assert probe.receive_messages(3) == [("ran", 0), ("ran", 1), ("ran", 2)]
    assert bus.is_alive()


# Async callable handlers through the facade ---------------------------------------------------


def test_async_handlers_get_the_event_on_the_io_loop() -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        got: asyncio.Future[BusEvent] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()

        async def handler(event: BusEvent) -> None:
            assert asyncio.get_running_loop() is loop
            got.set_result(event)

        subscription_id = await bus.subscribe("deploy.*", handler)
        assert re.fullmatch(r"[0-9a-f]{32}", subscription_id)
        assert await bus.emit("deploy.finished", {"ok": True}, source="ci") == 1
        event = await asyncio.wait_for(got, WAIT)
        assert (event.event_type, event.source) == ("deploy.finished", "ci")
        assert event.data == {"ok": True}
        await bus.close()

    run(scenario)


def test_a_raising_async_handler_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        raised, healthy = asyncio.Event(), asyncio.Event()

        async def bad(event: BusEvent) -> None:
            raised.set()
            raise ValueError(f"cannot handle {event.event_type}")

        async def good(_: BusEvent) -> None:
            healthy.set()

        await bus.subscribe("alerts.>", bad)
        await bus.subscribe("alerts.>", good)
        assert await bus.emit("alerts.db.down") == 2
        await asyncio.wait_for(raised.wait(), WAIT)
        await asyncio.wait_for(healthy.wait(), WAIT)
        stats = await bus.stats()
        assert (stats.delivered, stats.failed) == (2, 1)
        assert await bus.emit("alerts.db.up") == 2

    with caplog.at_level(logging.ERROR, logger="greenroom.runtime.bus"):
        run(scenario)
    assert "cannot handle alerts.db.down" in caplog.text


def test_sync_callables_run_on_the_io_loop_too() -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        seen: asyncio.Queue[Any] = asyncio.Queue()
        await bus.subscribe("n", seen.put_nowait)
        await bus.emit("n", 1)
        event = await asyncio.wait_for(seen.get(), WAIT)
        assert event.data == 1

    run(scenario)


# Unsubscribing ---------------------------------------------------------------------------------


def test_unsubscribe_by_id_by_handler_and_by_pattern_and_handler() -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        probe = TestProbe(system)
        other = TestProbe(system)
        first = await bus.subscribe("a.*", probe.ref)
        await bus.subscribe("b.*", probe.ref)
        await bus.subscribe("c.*", probe.ref)
        await bus.subscribe("c.*", other.ref)
        assert await bus.unsubscribe(first)
        assert not await bus.unsubscribe(first)
        assert await bus.unsubscribe("b.*", probe.ref)  # the seed's (event_type, handler) form
        assert not await bus.unsubscribe("b.*", probe.ref)
        assert [s.pattern for s in await bus.subscriptions()] == ["c.*", "c.*"]
        assert await bus.unsubscribe(probe.ref)
        assert [s.handler for s in await bus.subscriptions()] == [other.ref]
        assert await bus.emit("a.x") == 0
        assert await bus.emit("c.x") == 1

    run(scenario)


def test_unsubscribe_nowait_is_ordered_with_later_requests(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    bus = EventBus(actor_system)
    subscription_id = bus.subscribe_nowait("x", probe.ref)
    bus.unsubscribe_nowait(subscription_id)
    bus.emit_nowait("x")
    assert bus.ref.ask(GetSubscriptions()) == ()
    assert bus.ref.ask(GetStats()).delivered == 0


# Bad input changes nothing ---------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["", "a..b", ".a", "a.", "a.>.b", "a*", "a.b>", "a b", ">x"])
def test_invalid_patterns_are_rejected_and_nothing_changes(pattern: str) -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        probe = TestProbe(system)
        await bus.subscribe("ok.*", probe.ref)
        before = await bus.subscriptions()
        with pytest.raises(ValueError, match=re.escape(repr(pattern))):
            await bus.subscribe(pattern, probe.ref)
        with pytest.raises(ValueError, match=re.escape(repr(pattern))):
            bus.subscribe_nowait(pattern, probe.ref)
        assert await bus.subscriptions() == before

    run(scenario)


@pytest.mark.parametrize("event_type", ["a.*", "a.>", "", "a..b", "a b"])
def test_emitting_a_pattern_or_bad_type_is_rejected(event_type: str) -> None:
    async def scenario(system: ActorSystem) -> None:
        bus = EventBus(system)
        with pytest.raises(ValueError, match=re.escape(repr(event_type))):
            await bus.emit(event_type)
        with pytest.raises(ValueError, match=re.escape(repr(event_type))):
            bus.emit_nowait(event_type)
        assert (await bus.stats()).received == 0

    run(scenario)


def test_bad_handlers_and_arguments_are_rejected(actor_system: ActorSystem) -> None:
    bus = EventBus(actor_system)
    with pytest.raises(TypeError, match="handler"):
        bus.subscribe_nowait("a", "not a handler")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source"):
        bus.emit_nowait("a", source=7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pattern may only be given"):
        Unsubscribe("some-id", pattern="a")
    with pytest.raises(ValueError, match="queue_group"):
        Subscribe("a", print, queue_group="two words")
    assert bus.ref.ask(GetSubscriptions()) == ()


# The facade's life -----------------------------------------------------------------------------


def test_close_stops_an_owned_actor_and_leaves_a_given_one(actor_system: ActorSystem) -> None:
    async def scenario() -> None:
        owned = EventBus(actor_system, name="owned")
        borrowed = EventBus(actor_system, ref=actor_system.spawn(EventBusActor, name="shared"))
        await owned.close()
        await owned.close()
        await borrowed.close()
        assert not owned.ref.is_alive()
        assert borrowed.ref.is_alive()
        assert actor_system.lookup("/owned") is None

    asyncio.run(scenario())


# The pure table ---------------------------------------------------------------------------------


def test_table_routes_oldest_subscription_first_across_literal_and_wildcard() -> None:
    table = SubscriptionTable()
    for sid, pattern in [("w1", "a.*"), ("l1", "a.b"), ("w2", ">"), ("l2", "a.b")]:
        table.add(Subscription(sid, pattern, print))
    order: list[str] = []

    def deliver(sub: Subscription) -> bool:
        order.append(sub.subscription_id)
        return True

    assert table.route("a.b", deliver) == 4
    assert order == ["w1", "l1", "w2", "l2"]
    assert table.remove("l1") is not None
    assert table.remove("l1") is None
    order.clear()
    table.route("a.b", deliver)
    assert order == ["w1", "w2", "l2"]
    assert len(table) == 3
