"""User-supplied buses and brokers (seed-shaped, sync or async) behind greenroom's interface."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from greenroom.actors import ActorSystem
from greenroom.runtime.adapters import (
    BrokerAdapter,
    BrokerLike,
    EventBusAdapter,
    EventBusLike,
    as_broker,
    as_event_bus,
)
from greenroom.runtime.broker import BrokerMessage, MessageBroker, MessageBrokerActor
from greenroom.runtime.bus import BusEvent, EventBus, EventBusActor
from greenroom.testing import TestProbe

WAIT = 5.0  # guards awaits on events so a broken adapter fails instead of hanging

Callback = Callable[[Any], Any]


def run(scenario: Callable[[ActorSystem], Awaitable[None]]) -> None:
    """Run `scenario` with its own actor system, created inside the running loop."""

    async def main() -> None:
        async with ActorSystem(name="adapter-test") as system:
            await scenario(system)

    asyncio.run(main())


# Seed-shaped user objects ------------------------------------------------------------------------


@dataclass
class SeedEvent:
    event_type: str
    data: Any
    source: str = ""
    event_id: str = "evt-1"


@dataclass
class SeedMessage:
    topic: str
    content: Any
    sender: Any = None
    message_id: str = "msg-1"


class SyncBus:
    """Plain methods; calls each handler and ignores what it returns; no delivered count."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callback]] = {}

    def subscribe(self, event_type: str, handler: Callback) -> None:
        self.handlers.setdefault(event_type, []).append(handler)

    def unsubscribe(self, event_type: str, handler: Callback) -> None:
        self.handlers[event_type].remove(handler)

    def emit(self, event_type: str, data: Any = None) -> None:
        for handler in list(self.handlers.get(event_type, [])):
            handler(SeedEvent(event_type, data))


class AsyncBus:
    """Async methods; awaits each handler in turn, like the seed's in-process bus."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callback]] = {}
        self.errors: list[BaseException] = []

    async def subscribe(self, event_type: str, handler: Callback) -> None:
        self.handlers.setdefault(event_type, []).append(handler)

    async def unsubscribe(self, event_type: str, handler: Callback) -> None:
        self.handlers[event_type].remove(handler)

    async def emit(self, event_type: str, data: Any = None, source: str = "") -> int:
        count = 0
        for handler in list(self.handlers.get(event_type, [])):
            try:
                await handler(SeedEvent(event_type, data, source, event_id=f"evt-{count}"))
            except Exception as exc:
                self.errors.append(exc)
            count += 1
        return count


class ListenOnlyBus:
    """Subscribe and emit, no unsubscribe; passes the bare data to handlers."""

    def __init__(self) -> None:
        self.handlers: list[tuple[str, Callback]] = []

    def subscribe(self, event_type: str, handler: Callback) -> None:
        self.handlers.append((event_type, handler))

    def emit(self, event_type: str, data: Any = None) -> int:
        for name, handler in self.handlers:
            if name == event_type:
                handler(data)
        return len(self.handlers)


class SyncBroker:
    """Plain methods; `subscribe` returns an id, `publish` knows no sender."""

    def __init__(self) -> None:
        self.subs: dict[str, tuple[str, Callback]] = {}
        self._ids = itertools.count(1)

    def subscribe(self, topic: str, handler: Callback) -> str:
        subscription_id = f"sub-{next(self._ids)}"
        self.subs[subscription_id] = (topic, handler)
        return subscription_id

    def unsubscribe(self, subscription_id: str) -> None:
        del self.subs[subscription_id]

    def publish(self, topic: str, content: Any) -> int:
        targets = [h for t, h in list(self.subs.values()) if t == topic]
        for handler in targets:
            handler(SeedMessage(topic, content))
        return len(targets)


class AsyncBroker(SyncBroker):
    """Async methods that await the handlers and pass the sender on."""

    async def subscribe(self, topic: str, handler: Callback) -> str:  # type: ignore[override]
        return SyncBroker.subscribe(self, topic, handler)

    async def unsubscribe(self, subscription_id: str) -> None:  # type: ignore[override]
        SyncBroker.unsubscribe(self, subscription_id)

    async def publish(  # type: ignore[override]
        self, topic: str, content: Any, sender: Any = None
    ) -> int:
        targets = [h for t, h in list(self.subs.values()) if t == topic]
        for handler in targets:
            await handler(SeedMessage(topic, content, sender))
        return len(targets)


class SubscribeOnlyBroker:
    """The least a message trigger needs: `subscribe(topic, handler)`, nothing else."""

    def __init__(self) -> None:
        self.handlers: list[Callback] = []

    def subscribe(self, topic: str, handler: Callback) -> None:
        del topic
        self.handlers.append(handler)


# Choosing the implementation -------------------------------------------------------------------


def test_as_event_bus_creates_ours_keeps_ours_and_adapts_the_rest(
    actor_system: ActorSystem,
) -> None:
    created = as_event_bus(None, actor_system)
    assert isinstance(created, EventBus)
    assert actor_system.lookup("/event-bus") is created.ref
    assert as_event_bus(created, actor_system) is created
    wrapped = as_event_bus(actor_system.spawn(EventBusActor, name="other-bus"), actor_system)
    assert isinstance(wrapped, EventBus)
    assert wrapped.ref.path == "/other-bus"
    adapted = as_event_bus(SyncBus(), actor_system)
    assert isinstance(adapted, EventBusAdapter)
    assert as_event_bus(adapted, actor_system) is adapted
    with pytest.raises(TypeError, match="subscribe"):
        as_event_bus(object(), actor_system)


def test_as_broker_creates_ours_keeps_ours_and_adapts_the_rest(actor_system: ActorSystem) -> None:
    created = as_broker(None, actor_system, name="mb")
    assert isinstance(created, MessageBroker)
    assert created.ref.path == "/mb"
    assert as_broker(created, actor_system) is created
    wrapped = as_broker(actor_system.spawn(MessageBrokerActor), actor_system)
    assert isinstance(wrapped, MessageBroker)
    assert isinstance(as_broker(SyncBroker(), actor_system), BrokerAdapter)
    with pytest.raises(TypeError, match="subscribe"):
        as_broker(42, actor_system)


# Event buses -----------------------------------------------------------------------------------


def test_a_sync_bus_delivers_bus_events_to_callables_and_actors() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_bus = SyncBus()
        bus: EventBusLike = as_event_bus(user_bus, system)
        probe = TestProbe(system)
        got: asyncio.Queue[BusEvent] = asyncio.Queue()

        async def handler(event: BusEvent) -> None:
            await got.put(event)

        subscription_id = await bus.subscribe("task.done", handler)
        await bus.subscribe("task.done", probe.ref)
        assert isinstance(subscription_id, str)
        assert len(user_bus.handlers["task.done"]) == 2
        assert await bus.emit("task.done", {"id": 7}, source="ignored") == 0
        event = await asyncio.wait_for(got.get(), WAIT)
        assert (event.event_type, event.data, event.event_id) == ("task.done", {"id": 7}, "evt-1")
        told = await asyncio.to_thread(probe.expect_message_type, BusEvent)
        assert told.data == {"id": 7}

    run(scenario)


def test_an_async_bus_awaits_the_handlers_and_gets_the_source() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_bus = AsyncBus()
        bus = as_event_bus(user_bus, system)
        seen: list[BusEvent] = []

        async def handler(event: BusEvent) -> None:
            await asyncio.sleep(0)
            seen.append(event)

        await bus.subscribe("build", handler)
        assert await bus.emit("build", "v1", source="ci") == 1
        assert [(e.data, e.source) for e in seen] == [("v1", "ci")]

    run(scenario)


def test_a_raising_handler_is_counted_and_never_reaches_the_users_bus() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_bus = AsyncBus()
        bus = as_event_bus(user_bus, system)
        assert isinstance(bus, EventBusAdapter)
        seen: list[Any] = []

        async def bad(_: BusEvent) -> None:
            raise RuntimeError("handler bug")

        await bus.subscribe("x", bad)
        await bus.subscribe("x", seen.append)
        assert await bus.emit("x", 1) == 2
        assert bus.failed == 1
        assert user_bus.errors == []
        assert [e.data for e in seen] == [1]

    run(scenario)


def test_unsubscribe_reaches_the_users_bus_in_every_form() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_bus = SyncBus()
        bus = as_event_bus(user_bus, system)
        probe = TestProbe(system)
        first = await bus.subscribe("a", probe.ref)
        await bus.subscribe("b", probe.ref)
        await bus.subscribe("c", probe.ref)
        assert await bus.unsubscribe(first)
        assert not await bus.unsubscribe(first)
        assert await bus.unsubscribe("b", probe.ref)
        assert await bus.unsubscribe(probe.ref)
        assert not await bus.unsubscribe(probe.ref)
        assert user_bus.handlers == {"a": [], "b": [], "c": []}

    run(scenario)


def test_unsubscribing_silences_a_bus_that_cannot_unsubscribe() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_bus = ListenOnlyBus()
        bus = as_event_bus(user_bus, system)
        silenced: list[BusEvent] = []
        marker: asyncio.Future[BusEvent] = asyncio.get_running_loop().create_future()
        subscription_id = await bus.subscribe("ping", silenced.append)
        await bus.subscribe("ping", marker.set_result)
        assert await bus.unsubscribe(subscription_id)
        assert await bus.emit("ping", "bare data") == 2
        event = await asyncio.wait_for(marker, WAIT)
        assert (event.event_type, event.data) == ("ping", "bare data")
        assert silenced == []

    run(scenario)


def test_emit_nowait_and_close_on_an_adapted_bus() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_bus = SyncBus()
        bus = as_event_bus(user_bus, system)
        got: asyncio.Queue[BusEvent] = asyncio.Queue()
        await bus.subscribe("later", got.put_nowait)
        bus.emit_nowait("later", 5)
        assert (await asyncio.wait_for(got.get(), WAIT)).data == 5
        await bus.close()
        assert user_bus.handlers == {"later": []}

    run(scenario)


# Brokers ---------------------------------------------------------------------------------------


def test_a_sync_broker_delivers_broker_messages_and_unsubscribes_by_its_id() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_broker = SyncBroker()
        broker: BrokerLike = as_broker(user_broker, system)
        probe = TestProbe(system)
        subscription_id = await broker.subscribe("reports", probe.ref)
        assert list(user_broker.subs) == ["sub-1"]
        assert await broker.publish("reports", {"rows": 2}, sender="etl") == 1
        message = await asyncio.to_thread(probe.expect_message_type, BrokerMessage)
        assert (message.topic, message.content, message.message_id) == (
            "reports", {"rows": 2}, "msg-1"
        )
        assert message.sender is None  # this broker's publish takes no sender
        assert await broker.unsubscribe(subscription_id)
        assert user_broker.subs == {}

    run(scenario)


def test_an_async_broker_gets_the_sender_and_awaits_handlers() -> None:
    async def scenario(system: ActorSystem) -> None:
        broker = as_broker(AsyncBroker(), system)
        seen: list[BrokerMessage] = []

        async def handler(message: BrokerMessage) -> None:
            await asyncio.sleep(0)
            seen.append(message)

        await broker.subscribe("chat", handler)
        assert await broker.publish("chat", "hi", sender="alice") == 1
        assert [(m.content, m.sender) for m in seen] == [("hi", "alice")]

    run(scenario)


def test_queue_groups_are_emulated_on_a_users_broker() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_broker = AsyncBroker()
        broker = as_broker(user_broker, system)
        got: list[tuple[str, Any]] = []

        def member(name: str) -> Callable[[BrokerMessage], None]:
            return lambda message: got.append((name, message.content))

        ids = [
            await broker.subscribe("jobs", member(name), queue_group="workers")
            for name in ("a", "b", "c")
        ]
        await broker.subscribe("jobs", member("audit"))
        assert len(user_broker.subs) == 2  # one relay for the group, one for audit
        for n in range(3):
            assert await broker.publish("jobs", n) == 2
        assert sorted(got) == [("a", 0), ("audit", 0), ("audit", 1), ("audit", 2),
                               ("b", 1), ("c", 2)]
        for subscription_id in ids:
            assert await broker.unsubscribe(subscription_id)
        assert len(user_broker.subs) == 1

    run(scenario)


def test_a_subscribe_only_broker_works_for_subscribers_and_refuses_publish() -> None:
    async def scenario(system: ActorSystem) -> None:
        user_broker = SubscribeOnlyBroker()
        broker = as_broker(user_broker, system)
        got: asyncio.Queue[BrokerMessage] = asyncio.Queue()
        subscription_id = await broker.subscribe("in", got.put_nowait)
        user_broker.handlers[0]("raw payload")
        message = await asyncio.wait_for(got.get(), WAIT)
        assert (message.topic, message.content) == ("in", "raw payload")
        with pytest.raises(NotImplementedError, match="publish"):
            await broker.publish("in", "x")
        assert await broker.unsubscribe(subscription_id)
        user_broker.handlers[0]("after unsubscribe")
        assert got.empty()

    run(scenario)


def test_bad_arguments_are_rejected_before_reaching_the_users_object(
    actor_system: ActorSystem,
) -> None:
    user_broker = SyncBroker()
    broker = as_broker(user_broker, actor_system)

    async def scenario() -> None:
        with pytest.raises(TypeError, match="handler"):
            await broker.subscribe("t", 3)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="topic_pattern"):
            await broker.subscribe("", print)
        with pytest.raises(ValueError, match="topic"):
            broker.publish_nowait("", "x")

    asyncio.run(scenario())
    assert user_broker.subs == {}
