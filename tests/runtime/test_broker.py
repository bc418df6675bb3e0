"""The message broker: topic routing, concrete publish topics, and queue-group point-to-point."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest

from greenroom.actors import ActorSystem, ManualClock
from greenroom.runtime.broker import BrokerMessage, MessageBroker, MessageBrokerActor, Publish
from greenroom.runtime.bus import GetStats, GetSubscriptions, Subscribe
from greenroom.testing import TestProbe

WAIT = 5.0  # guards awaits on events so a broken broker fails instead of hanging


def run(scenario: Callable[[ActorSystem], Awaitable[None]]) -> None:
    """Run `scenario` with its own actor system, created inside the running loop."""

    async def main() -> None:
        async with ActorSystem(name="broker-test") as system:
            await scenario(system)

    asyncio.run(main())


def test_a_message_reaches_matching_subscribers_with_its_fields(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    exact, wild, tail, other = (TestProbe(actor_system) for _ in range(4))
    broker = MessageBroker(actor_system)
    broker.subscribe_nowait("reports.daily", exact.ref)
    broker.subscribe_nowait("reports.*", wild.ref)
    broker.subscribe_nowait("reports.>", tail.ref)
    broker.subscribe_nowait("billing.>", other.ref)
    manual_clock.advance(60)
    broker.publish_nowait("reports.daily", {"rows": 3}, sender="etl")
    message = exact.expect_message_type(BrokerMessage)
    assert (message.topic, message.content, message.sender) == ("reports.daily", {"rows": 3}, "etl")
    assert message.timestamp == manual_clock.time()
    assert re.fullmatch(r"[0-9a-f]{32}", message.message_id)
    wild.expect_message(message)
    tail.expect_message(message)
    other.expect_no_message(0.05)
    assert broker.ref.ask(Publish(BrokerMessage("reports.daily.eu"))) == 1


def test_publish_returns_the_delivered_count() -> None:
    async def scenario(system: ActorSystem) -> None:
        broker = MessageBroker(system)
        probe = TestProbe(system)
        assert await broker.publish("jobs.new", "j1") == 0
        await broker.subscribe("jobs.*", probe.ref)
        await broker.subscribe(">", probe.ref)
        assert await broker.publish("jobs.new", "j2", sender="api") == 2
        stats = await broker.stats()
        assert (stats.received, stats.delivered) == (2, 2)

    run(scenario)


@pytest.mark.parametrize("topic", ["jobs.*", "jobs.>", "*", "", "jobs..new", "jobs new"])
def test_a_publish_topic_must_be_concrete(topic: str) -> None:
    async def scenario(system: ActorSystem) -> None:
        broker = MessageBroker(system)
        probe = TestProbe(system)
        await broker.subscribe(">", probe.ref)
        with pytest.raises(ValueError, match=re.escape(repr(topic))):
            await broker.publish(topic, "x")
        with pytest.raises(ValueError, match=re.escape(repr(topic))):
            broker.publish_nowait(topic, "x")
        assert (await broker.stats()).received == 0

    run(scenario)


@pytest.mark.parametrize("pattern", ["a..b", "a.>.b", "jobs*", ""])
def test_an_invalid_pattern_is_rejected_and_nothing_changes(pattern: str) -> None:
    async def scenario(system: ActorSystem) -> None:
        broker = MessageBroker(system)
        probe = TestProbe(system)
        with pytest.raises(ValueError, match=re.escape(repr(pattern))):
            await broker.subscribe(pattern, probe.ref)
        with pytest.raises(ValueError, match=re.escape(repr(pattern))):
            await broker.subscribe(pattern, probe.ref, queue_group="workers")
        assert await broker.subscriptions() == []

    run(scenario)


def test_unsubscribe_by_id() -> None:
    async def scenario(system: ActorSystem) -> None:
        broker = MessageBroker(system)
        probe = TestProbe(system)
        subscription_id = await broker.subscribe("a.b", probe.ref)
        assert await broker.unsubscribe(subscription_id)
        assert not await broker.unsubscribe(subscription_id)
        assert await broker.publish("a.b", 1) == 0

    run(scenario)


# Queue groups ---------------------------------------------------------------------------------


def test_a_queue_group_takes_turns_while_plain_subscribers_get_everything(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    workers = [TestProbe(actor_system) for _ in range(3)]
    audit = TestProbe(actor_system)
    broker = actor_system.spawn(MessageBrokerActor, dispatcher=dispatcher)
    for worker in workers:
        broker.ask(Subscribe("jobs.*", worker.ref, queue_group="workers"))
    broker.ask(Subscribe("jobs.>", audit.ref))
    counts = [broker.ask(Publish(BrokerMessage("jobs.new", n))) for n in range(7)]
    assert counts == [2] * 7
    assert [m.content for m in audit.receive_messages(7)] == list(range(7))
    assert [m.content for m in workers[0].receive_messages(3)] == [0, 3, 6]
    assert [m.content for m in workers[1].receive_messages(2)] == [1, 4]
    assert [m.content for m in workers[2].receive_messages(2)] == [2, 5]


def test_each_queue_group_gets_one_copy(actor_system: ActorSystem) -> None:
    group_a = [TestProbe(actor_system) for _ in range(2)]
    group_b = [TestProbe(actor_system) for _ in range(2)]
    broker = MessageBroker(actor_system)
    for probe in group_a:
        broker.subscribe_nowait("orders.>", probe.ref, queue_group="a")
    for probe in group_b:
        broker.subscribe_nowait("orders.>", probe.ref, queue_group="b")
    for n in range(4):
        broker.publish_nowait("orders.created", n)
    assert broker.ref.ask(GetStats()).delivered == 8
    for probe in (*group_a, *group_b):
        assert len(probe.receive_messages(2)) == 2


def test_a_stopped_group_member_loses_no_message(actor_system: ActorSystem) -> None:
    first, second = TestProbe(actor_system), TestProbe(actor_system)
    broker = actor_system.spawn(MessageBrokerActor)
    broker.ask(Subscribe("tasks", first.ref, queue_group="pool"))
    broker.ask(Subscribe("tasks", second.ref, queue_group="pool"))
    actor_system.stop(first.ref)
    assert [broker.ask(Publish(BrokerMessage("tasks", n))) for n in range(3)] == [1, 1, 1]
    assert [m.content for m in second.receive_messages(3)] == [0, 1, 2]
    assert [s.handler for s in broker.ask(GetSubscriptions())] == [second.ref]


def test_a_member_that_leaves_hands_its_turns_to_the_rest() -> None:
    async def scenario(system: ActorSystem) -> None:
        broker = MessageBroker(system)
        first, second = TestProbe(system), TestProbe(system)
        leaving = await broker.subscribe("q", first.ref, queue_group="g")
        await broker.subscribe("q", second.ref, queue_group="g")
        assert await broker.unsubscribe(leaving)
        for n in range(3):
            assert await broker.publish("q", n) == 1
        received = await asyncio.to_thread(second.receive_messages, 3)
        assert [m.content for m in received] == [0, 1, 2]

    run(scenario)


def test_a_group_may_span_patterns(actor_system: ActorSystem) -> None:
    eu, anywhere = TestProbe(actor_system), TestProbe(actor_system)
    broker = actor_system.spawn(MessageBrokerActor)
    broker.ask(Subscribe("orders.eu", eu.ref, queue_group="g"))
    broker.ask(Subscribe("orders.*", anywhere.ref, queue_group="g"))
    topics = ["orders.us", "orders.eu", "orders.eu", "orders.us"]
    assert [broker.ask(Publish(BrokerMessage(t, i))) for i, t in enumerate(topics)] == [1] * 4
    assert [m.content for m in anywhere.receive_messages(3)] == [0, 2, 3]
    assert [m.content for m in eu.receive_messages(1)] == [1]


def test_async_handlers_in_a_queue_group_alternate() -> None:
    async def scenario(system: ActorSystem) -> None:
        broker = MessageBroker(system)
        got: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

        def member(name: str) -> Callable[[BrokerMessage], Awaitable[None]]:
            async def handle(message: BrokerMessage) -> None:
                await got.put((name, message.content))

            return handle

        await broker.subscribe("work", member("left"), queue_group="pair")
        await broker.subscribe("work", member("right"), queue_group="pair")
        for n in range(4):
            assert await broker.publish("work", n) == 1
        results = sorted([await asyncio.wait_for(got.get(), WAIT) for _ in range(4)])
        assert results == [("left", 0), ("left", 2), ("right", 1), ("right", 3)]

    run(scenario)


@pytest.mark.parametrize("group", ["", "two words", 7])
def test_an_invalid_queue_group_is_rejected(actor_system: ActorSystem, group: object) -> None:
    broker = MessageBroker(actor_system)
    probe = TestProbe(actor_system)
    with pytest.raises(ValueError, match="queue_group"):
        broker.subscribe_nowait("a", probe.ref, queue_group=group)  # type: ignore[arg-type]
    assert broker.ref.ask(GetSubscriptions()) == ()
