"""User-supplied event buses and brokers behind the same async interface as greenroom's own.

`AgentRuntime(event_bus=..., broker=...)` accepts objects shaped like the seed's: a bus with
`subscribe(event_type, handler)` and `emit(event_type, data, source="")`, a broker with
`subscribe(topic, handler) -> id` and `publish(topic, content)`; their methods may be sync or
async. `as_event_bus` / `as_broker` turn whatever was given (or None) into an `EventBusLike` /
`BrokerLike`, so the runtime talks to one interface.

What an adapter guarantees, whatever the wrapped object does:
- handlers get greenroom's `BusEvent` / `BrokerMessage` (built from the object's own events),
  and may be actor refs or callables, exactly as with `EventBus` and `MessageBroker`;
- the object is handed a relay per subscription; calling it starts the delivery at once (a tell,
  or the handler on the system's io loop) and returns an awaitable that finishes with it, so a
  bus that awaits its handlers and one that just calls them both work;
- a failing handler is logged and counted (`failed`), never raised into the object;
- unsubscribing silences the relay even if the object has no `unsubscribe`;
- queue groups are emulated (one relay per pattern and group, members served round-robin).

Pattern and topic syntax, and the delivered counts, are the object's: `emit`/`publish` return
its count when it reports an int, else 0.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import inspect
import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

import pykka

from greenroom.actors import ActorRef, ActorSystem
from greenroom.ids import new_id
from greenroom.runtime.broker import BrokerMessage, MessageBroker, MessageBrokerActor
from greenroom.runtime.bus import (
    BusEvent,
    EventBus,
    EventBusActor,
    Handler,
    check_handler,
    run_handler,
)
from greenroom.runtime.interest import Interest

__all__ = [
    "BrokerAdapter",
    "BrokerLike",
    "EventBusAdapter",
    "EventBusLike",
    "as_broker",
    "as_event_bus",
]

logger = logging.getLogger("greenroom.runtime.adapters")


class EventBusLike(Protocol):
    """What the runtime needs from an event bus; `EventBus` and `EventBusAdapter` provide it."""

    async def emit(self, event_type: str, data: Any = None, source: str = "") -> int:
        """Emit an event; returns how many subscribers it reached."""
        ...

    def emit_nowait(self, event_type: str, data: Any = None, source: str = "") -> None:
        """Emit without waiting (usable inside an actor)."""
        ...

    async def subscribe(self, pattern: str, handler: Handler) -> str:
        """Deliver matching events to `handler`; returns a subscription id."""
        ...

    async def unsubscribe(
        self, subscription: str | Handler, handler: Handler | None = None
    ) -> bool:
        """Remove by id, a handler's subscriptions, or (pattern, handler); True if any existed."""
        ...

    async def close(self) -> None:
        """Release what this object set up; a user's own bus keeps running."""
        ...


class BrokerLike(Protocol):
    """What the runtime needs from a broker; `MessageBroker` and `BrokerAdapter` provide it."""

    async def publish(self, topic: str, content: Any, sender: Any = None) -> int:
        """Publish on `topic`; returns how many subscribers it reached."""
        ...

    def publish_nowait(self, topic: str, content: Any, sender: Any = None) -> None:
        """Publish without waiting (usable inside an actor)."""
        ...

    async def subscribe(
        self, topic_pattern: str, handler: Handler, *, queue_group: str | None = None
    ) -> str:
        """Deliver matching messages to `handler` (one group member each); returns an id."""
        ...

    async def unsubscribe(self, subscription_id: str | Handler) -> bool:
        """Remove a subscription by id, or all of a handler's; True if any existed."""
        ...

    async def close(self) -> None:
        """Release what this object set up; a user's own broker keeps running."""
        ...


# Calling duck-typed methods --------------------------------------------------------------------


async def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a sync or async method and return its (awaited) result."""
    result = method(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _accepts_keyword(method: Callable[..., Any], name: str) -> bool:
    """Whether `method` takes a keyword argument `name` (explicitly or through **kwargs)."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        for p in parameters
    )


def _as_count(result: object) -> int:
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        msg = f"{what} must be a non-empty string, got {value!r}"
        raise ValueError(msg)
    return value


def _log_failure(future: concurrent.futures.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("background emit/publish failed", exc_info=future.exception())


# Converting the object's events into greenroom messages --------------------------------------

_MISSING = object()


def _timestamp(value: object, default: float) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default


def _text(value: object, default: str) -> str:
    return default if value is _MISSING or value is None else str(value)


def _to_event(raw: object, pattern: str, now: float) -> BusEvent:
    """A `BusEvent` from what the user's bus passed; anything without event fields is the data."""
    if isinstance(raw, BusEvent):
        return raw
    if not hasattr(raw, "data") and not hasattr(raw, "event_type"):
        return BusEvent(pattern, raw, timestamp=now)
    return BusEvent(
        event_type=_text(getattr(raw, "event_type", _MISSING), pattern),
        data=getattr(raw, "data", None),
        source=_text(getattr(raw, "source", _MISSING), ""),
        event_id=_text(getattr(raw, "event_id", _MISSING), new_id()),
        timestamp=_timestamp(getattr(raw, "timestamp", None), now),
    )


def _to_message(raw: object, pattern: str, now: float) -> BrokerMessage:
    """A `BrokerMessage` from what the user's broker passed; a bare value is the content."""
    if isinstance(raw, BrokerMessage):
        return raw
    if not hasattr(raw, "content") and not hasattr(raw, "topic"):
        return BrokerMessage(pattern, raw, timestamp=now)
    return BrokerMessage(
        topic=_text(getattr(raw, "topic", _MISSING), pattern),
        content=getattr(raw, "content", None),
        sender=getattr(raw, "sender", None),
        message_id=_text(getattr(raw, "message_id", _MISSING), new_id()),
        timestamp=_timestamp(getattr(raw, "timestamp", None), now),
    )


# Relays: the handlers the user's object is given ----------------------------------------------


class _Completion:
    """A relay's return value: awaiting it waits for the handler; ignoring it costs nothing."""

    __slots__ = ("_future",)

    def __init__(self, future: concurrent.futures.Future[Any] | None = None) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, None]:
        if self._future is not None and not self._future.done():
            yield from asyncio.wrap_future(self._future).__await__()


class _Relay:
    """Given to the user's object as a handler; forwards each call while active."""

    __slots__ = ("_deliver", "active")

    def __init__(self, deliver: Callable[[object], concurrent.futures.Future[Any] | None]) -> None:
        self._deliver = deliver
        self.active = True

    def __call__(self, raw: object) -> _Completion:
        if not self.active:
            return _Completion()
        try:
            return _Completion(self._deliver(raw))
        except Exception:  # never raise into the user's object
            logger.exception("relaying %r failed", raw)
            return _Completion()


class _Group:
    """An emulated queue group on one pattern: members take turns; stopped actors are skipped."""

    def __init__(self) -> None:
        self.members: list[tuple[str, Handler]] = []
        self.relay: _Relay | None = None
        self.token: Any = None
        self._turn = 0
        self._lock = threading.Lock()

    def next_handler(self) -> Handler | None:
        """The member whose turn it is, or None when no member can take the message."""
        with self._lock:
            for _ in range(len(self.members)):
                handler = self.members[self._turn % len(self.members)][1]
                self._turn += 1
                if not isinstance(handler, pykka.ActorRef) or handler.is_alive():
                    return handler
            return None

    def leave(self, subscription_id: str) -> bool:
        """Remove a member; returns whether any remain."""
        with self._lock:
            self.members = [m for m in self.members if m[0] != subscription_id]
            return bool(self.members)


@dataclass
class _Adapted:
    """One subscription made through an adapter."""

    pattern: str
    handler: Handler
    relay: _Relay
    token: Any = None
    group: tuple[str, str] | None = None


class _Adapter:
    """What both adapters share: forwarding to handlers, failure counting, bookkeeping."""

    def __init__(self, wrapped: object, system: ActorSystem) -> None:
        if not callable(getattr(wrapped, "subscribe", None)):
            msg = f"{type(wrapped).__name__} has no subscribe() method"
            raise TypeError(msg)
        self.wrapped: Any = wrapped
        self.system = system
        self.failed = 0
        self._subs: dict[str, _Adapted] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {type(self.wrapped).__name__}>"

    def _forward(self, handler: Handler, message: object) -> concurrent.futures.Future[Any] | None:
        if isinstance(handler, pykka.ActorRef):
            handler.tell(message)
            return None
        return self.system.io.submit(self._run(handler, message))

    async def _run(self, handler: Callable[[Any], object], message: object) -> None:
        if await run_handler(handler, message) is not None:
            self.failed += 1

    def _method(self, name: str) -> Callable[..., Any]:
        method: Callable[..., Any] | None = getattr(self.wrapped, name, None)
        if not callable(method):
            msg = f"{type(self.wrapped).__name__} has no {name}() method"
            raise NotImplementedError(msg)
        return method

    def _in_background(self, coro: Any) -> None:
        self.system.io.submit(coro).add_done_callback(_log_failure)

    async def _detach(self, subscription_id: str, sub: _Adapted) -> None:
        """Silence a removed subscription's relay and tell the user's object to forget it."""
        raise NotImplementedError

    async def _remove(self, ids: list[str]) -> bool:
        for subscription_id in ids:
            sub = self._subs.pop(subscription_id)
            try:
                await self._detach(subscription_id, sub)
            except Exception:
                logger.warning("%r: unsubscribing %s failed", self, sub.pattern, exc_info=True)
        return bool(ids)

    def _ids_of(self, target: str | Handler, pattern: str | None = None) -> list[str]:
        if isinstance(target, str):
            return [target] if target in self._subs else []
        return [
            sid
            for sid, sub in self._subs.items()
            if sub.handler == target and (pattern is None or sub.pattern == pattern)
        ]

    async def close(self) -> None:
        """Unsubscribe everything this adapter subscribed; the wrapped object keeps running."""
        await self._remove(list(self._subs))


class EventBusAdapter(_Adapter):
    """A user's event bus (seed shape: subscribe/emit/unsubscribe, sync or async) as `EventBusLike`.

    `source` is passed to the object's `emit` only if it accepts that keyword.
    """

    async def emit(self, event_type: str, data: Any = None, source: str = "") -> int:
        """Emit through the wrapped bus; its count when it reports one, else 0."""
        emit = self._method("emit")
        kwargs = {"source": source} if _accepts_keyword(emit, "source") else {}
        return _as_count(await _call(emit, _check_name(event_type, "event_type"), data, **kwargs))

    def emit_nowait(self, event_type: str, data: Any = None, source: str = "") -> None:
        """Emit on the io loop without waiting; a failure there is logged."""
        _check_name(event_type, "event_type")
        self._in_background(self.emit(event_type, data, source))

    async def subscribe(self, pattern: str, handler: Handler) -> str:
        """Subscribe a relay for `handler` on the wrapped bus; returns our subscription id."""
        _check_name(pattern, "pattern")
        check_handler(handler)
        clock = self.system.clock
        relay = _Relay(lambda raw: self._forward(handler, _to_event(raw, pattern, clock.time())))
        token = await _call(self.wrapped.subscribe, pattern, relay)
        subscription_id = new_id()
        self._subs[subscription_id] = _Adapted(pattern, handler, relay, token)
        return subscription_id

    async def unsubscribe(
        self, subscription: str | Handler, handler: Handler | None = None
    ) -> bool:
        """Remove by id, all of a handler's, or `(pattern, handler)`; True if any existed."""
        if handler is None:
            return await self._remove(self._ids_of(subscription))
        return await self._remove(self._ids_of(handler, _check_name(subscription, "pattern")))

    async def _detach(self, subscription_id: str, sub: _Adapted) -> None:
        del subscription_id
        sub.relay.active = False
        unsubscribe = getattr(self.wrapped, "unsubscribe", None)
        if callable(unsubscribe):
            await _call(unsubscribe, sub.pattern, sub.relay)


class BrokerAdapter(_Adapter):
    """A user's broker (seed shape: subscribe -> id, unsubscribe(id), publish) as `BrokerLike`.

    `sender` is passed to the object's `publish` only if it accepts that keyword.
    """

    def __init__(self, wrapped: object, system: ActorSystem) -> None:
        super().__init__(wrapped, system)
        self._groups: dict[tuple[str, str], _Group] = {}

    async def publish(self, topic: str, content: Any, sender: Any = None) -> int:
        """Publish through the wrapped broker; its count when it reports one, else 0."""
        publish = self._method("publish")
        kwargs = {"sender": sender} if _accepts_keyword(publish, "sender") else {}
        return _as_count(await _call(publish, _check_name(topic, "topic"), content, **kwargs))

    def publish_nowait(self, topic: str, content: Any, sender: Any = None) -> None:
        """Publish on the io loop without waiting; a failure there is logged."""
        _check_name(topic, "topic")
        self._in_background(self.publish(topic, content, sender))

    async def subscribe(
        self, topic_pattern: str, handler: Handler, *, queue_group: str | None = None
    ) -> str:
        """Subscribe a relay for `handler` (or join an emulated queue group); returns our id."""
        _check_name(topic_pattern, "topic_pattern")
        check_handler(handler)
        subscription_id = new_id()
        if queue_group is not None:
            key = (topic_pattern, _check_name(queue_group, "queue_group"))
            group = self._groups.get(key)
            if group is None:
                group = await self._open_group(topic_pattern)
                self._groups[key] = group
            group.members.append((subscription_id, handler))
            assert group.relay is not None
            self._subs[subscription_id] = _Adapted(
                topic_pattern, handler, group.relay, group.token, key
            )
            return subscription_id
        clock = self.system.clock

        def deliver(raw: object) -> concurrent.futures.Future[Any] | None:
            return self._forward(handler, _to_message(raw, topic_pattern, clock.time()))

        relay = _Relay(deliver)
        token = await _call(self.wrapped.subscribe, topic_pattern, relay)
        self._subs[subscription_id] = _Adapted(topic_pattern, handler, relay, token)
        return subscription_id

    async def _open_group(self, topic_pattern: str) -> _Group:
        group = _Group()
        clock = self.system.clock

        def deliver(raw: object) -> concurrent.futures.Future[Any] | None:
            handler = group.next_handler()
            if handler is None:
                return None
            return self._forward(handler, _to_message(raw, topic_pattern, clock.time()))

        group.relay = _Relay(deliver)
        group.token = await _call(self.wrapped.subscribe, topic_pattern, group.relay)
        return group

    async def unsubscribe(self, subscription_id: str | Handler) -> bool:
        """Remove a subscription by id, or all of a handler's; True if any existed."""
        return await self._remove(self._ids_of(subscription_id))

    async def _detach(self, subscription_id: str, sub: _Adapted) -> None:
        if sub.group is not None:
            group = self._groups[sub.group]
            if group.leave(subscription_id):
                return
            del self._groups[sub.group]
        sub.relay.active = False
        unsubscribe = getattr(self.wrapped, "unsubscribe", None)
        if sub.token is not None and callable(unsubscribe):
            await _call(unsubscribe, sub.token)


# Choosing what the runtime uses -----------------------------------------------------------------


def as_event_bus(
    obj: object | None, system: ActorSystem, *, name: str = "event-bus",
    interest: Interest | None = None,
) -> EventBusLike:
    """The runtime's event bus: a new `EventBus` for None, ours as is, anything else adapted.

    An actor ref of an `EventBusActor` is wrapped in an `EventBus` facade without a new actor
    (with the `Interest` that actor publishes to, if any).
    """
    if obj is None:
        return EventBus(system, name)
    if isinstance(obj, EventBus | EventBusAdapter):
        return obj
    if isinstance(obj, ActorRef) and issubclass(obj.actor_class, EventBusActor):
        return EventBus(system, ref=obj, interest=interest)
    return EventBusAdapter(obj, system)


def as_broker(
    obj: object | None, system: ActorSystem, *, name: str = "message-broker"
) -> BrokerLike:
    """The runtime's broker: a new `MessageBroker` for None, ours as is, anything else adapted.

    An actor ref of a `MessageBrokerActor` is wrapped in a `MessageBroker` facade.
    """
    if obj is None:
        return MessageBroker(system, name)
    if isinstance(obj, MessageBroker | BrokerAdapter):
        return obj
    if isinstance(obj, ActorRef) and issubclass(obj.actor_class, MessageBrokerActor):
        return MessageBroker(system, ref=obj)
    return BrokerAdapter(obj, system)

