"""The event bus: NATS-style topic pub/sub inside one node, as an actor behind an async facade.

An event is an ordinary actor message (`BusEvent`), and so are the bus's own requests (`Emit`,
`Subscribe`, `Unsubscribe`): there is no second messaging system (DESIGN principle 4). A handler
is an actor ref, told the event, or a callable, run on the system's io loop so the bus actor
never waits for it. The subscription table and its routing rules live here as a pure class
(`SubscriptionTable`) shared with the message broker, which is the same actor with other
message types (`greenroom.runtime.broker`).

Ordering: an actor subscriber receives events in emit order (its mailbox keeps them). Callable
handlers are started in emit order but run concurrently; subscribe an actor when order matters.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pykka

from greenroom.actors import Actor, ActorRef, ActorSystem, DeadLetter, Terminated
from greenroom.ids import new_id
from greenroom.runtime.interest import Interest
from greenroom.triggers.topics import TopicPattern, validate_topic

__all__ = [
    "BusEvent",
    "Emit",
    "EventBus",
    "EventBusActor",
    "EventHandler",
    "GetStats",
    "GetSubscriptions",
    "Handler",
    "HandlerFailed",
    "PubSubActor",
    "PubSubFacade",
    "PubSubStats",
    "Subscribe",
    "Subscription",
    "SubscriptionTable",
    "Unsubscribe",
    "run_handler",
]

logger = logging.getLogger("greenroom.runtime.bus")

Handler: TypeAlias = pykka.ActorRef[Any] | Callable[[Any], object]
"""A subscriber: an actor ref (told each message) or a callable, sync or async (io loop)."""


def check_source(source: object) -> None:
    """Raise `TypeError` unless an event's `source` is a string."""
    if not isinstance(source, str):
        msg = f"source must be a string, got {type(source).__name__}"
        raise TypeError(msg)


def check_handler(handler: object) -> None:
    """Raise `TypeError` unless `handler` is an actor ref or a callable."""
    if not isinstance(handler, pykka.ActorRef) and not callable(handler):
        msg = f"handler must be an ActorRef or a callable, got {type(handler).__name__}"
        raise TypeError(msg)


# Messages ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusEvent:
    """One event, delivered unchanged to every matching subscriber.

    The bus stamps `timestamp` with its system's clock; the wall-clock default only serves
    events built by hand.
    """

    event_type: str
    data: Any = None
    source: str = ""
    event_id: str = field(default_factory=new_id)
    timestamp: float = field(default_factory=time.time)


EventHandler: TypeAlias = pykka.ActorRef[Any] | Callable[[BusEvent], object]
"""An event-bus subscriber: an actor ref told each `BusEvent`, or a callable given it."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One entry of a subscription table, as listed by `GetSubscriptions`."""

    subscription_id: str
    pattern: str
    handler: Handler
    queue_group: str | None = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Add a subscription (reply: its id); the same id again replaces the earlier one.

    The sender chooses the id (a fresh one by default), so a plain `tell` is enough to
    subscribe. Subscriptions that share a `queue_group` split the matching messages among
    themselves, one member each, round-robin (NATS queue groups). The pattern, handler and
    group are checked here, so a bad request fails in the sender and never reaches the actor.
    """

    pattern: str
    handler: Handler
    subscription_id: str = field(default_factory=new_id)
    queue_group: str | None = None

    def __post_init__(self) -> None:
        TopicPattern(self.pattern)
        check_handler(self.handler)
        if not isinstance(self.subscription_id, str) or not self.subscription_id:
            msg = f"subscription_id must be a non-empty string, got {self.subscription_id!r}"
            raise ValueError(msg)
        group = self.queue_group
        if group is not None and (
            not isinstance(group, str) or not group or any(c.isspace() for c in group)
        ):
            msg = f"queue_group must be a non-empty string without whitespace, got {group!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Remove subscriptions (reply: whether any existed).

    `target` is a subscription id, or a handler whose subscriptions all go (only those on
    `pattern` when it is given).
    """

    target: str | Handler
    pattern: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.target, str):
            if self.pattern is not None:
                msg = "pattern may only be given when unsubscribing a handler, not an id"
                raise ValueError(msg)
        else:
            check_handler(self.target)
            if self.pattern is not None:
                TopicPattern(self.pattern)


@dataclass(frozen=True, slots=True)
class Emit:
    """Deliver `event` to its subscribers (reply: how many); its type must be a concrete topic."""

    event: BusEvent

    def __post_init__(self) -> None:
        validate_topic(self.event.event_type)
        check_source(self.event.source)


@dataclass(frozen=True, slots=True)
class HandlerFailed:
    """A callable handler raised; sent back to the bus from the io loop so it can count it."""

    subscription_id: str
    message_id: str
    error: BaseException


@dataclass(frozen=True, slots=True)
class GetSubscriptions:
    """Ask for the current subscriptions (reply: a tuple of `Subscription`, oldest first)."""


@dataclass(frozen=True, slots=True)
class GetStats:
    """Ask for the delivery counters (reply: `PubSubStats`)."""


@dataclass(frozen=True, slots=True)
class PubSubStats:
    """Counters of a bus or broker since it started.

    `received`: events or messages accepted; `delivered`: handed to a subscriber (a tell, or a
    callable started); `failed`: a handler raised or a tell was refused.
    """

    subscriptions: int
    received: int
    delivered: int
    failed: int


# The functional core ---------------------------------------------------------------------------


class _Entry:
    """A subscription with its compiled pattern and its age (for a stable delivery order)."""

    __slots__ = ("compiled", "seq", "sub")

    def __init__(self, seq: int, sub: Subscription) -> None:
        self.seq = seq
        self.sub = sub
        self.compiled = TopicPattern(sub.pattern)


def _seq(entry: _Entry) -> int:
    return entry.seq


class SubscriptionTable:
    """Subscriptions by id, matched against concrete topics. No threads, no I/O.

    Literal patterns are found by dictionary lookup, wildcard ones by matching each. Matching
    subscriptions are served oldest first; each queue group gets the message once, at the
    member after the one that got the group's previous message.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._literal: dict[str, dict[str, _Entry]] = {}
        self._wild: dict[str, _Entry] = {}
        self._group_sizes: dict[str, int] = {}
        self._group_last: dict[str, int] = {}
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Subscription]:
        return (entry.sub for entry in self._entries.values())

    def get(self, subscription_id: str) -> Subscription | None:
        """The subscription with this id, or None."""
        entry = self._entries.get(subscription_id)
        return None if entry is None else entry.sub

    def add(self, sub: Subscription) -> Subscription | None:
        """Add `sub`; returns the subscription it replaced (same id), if any."""
        replaced = self.remove(sub.subscription_id)
        entry = _Entry(next(self._counter), sub)
        self._entries[sub.subscription_id] = entry
        if entry.compiled.is_literal:
            self._literal.setdefault(sub.pattern, {})[sub.subscription_id] = entry
        else:
            self._wild[sub.subscription_id] = entry
        if sub.queue_group is not None:
            self._group_sizes[sub.queue_group] = self._group_sizes.get(sub.queue_group, 0) + 1
        return replaced

    def remove(self, subscription_id: str) -> Subscription | None:
        """Remove one subscription; returns it, or None if there was none with this id."""
        entry = self._entries.pop(subscription_id, None)
        if entry is None:
            return None
        sub = entry.sub
        literal = self._literal.get(sub.pattern)
        if literal is not None:
            literal.pop(subscription_id, None)
            if not literal:
                del self._literal[sub.pattern]
        self._wild.pop(subscription_id, None)
        group = sub.queue_group
        if group is not None:
            self._group_sizes[group] -= 1
            if not self._group_sizes[group]:
                del self._group_sizes[group]
                self._group_last.pop(group, None)
        return sub

    def remove_handler(self, handler: Handler, pattern: str | None = None) -> list[Subscription]:
        """Remove every subscription of `handler` (on `pattern` only, when given)."""
        doomed = [
            sub.subscription_id
            for sub in self
            if sub.handler == handler and (pattern is None or sub.pattern == pattern)
        ]
        return [sub for sub in map(self.remove, doomed) if sub is not None]

    def uses(self, handler: Handler) -> bool:
        """Whether any subscription still has this handler."""
        return any(sub.handler == handler for sub in self)

    def route(self, topic: str, deliver: Callable[[Subscription], bool]) -> int:
        """Offer a message on `topic` to its subscribers; returns how many accepted it.

        `deliver(sub)` hands the message over and says whether that worked. A queue group
        offers it to its matching members in round-robin order until one accepts.
        """
        matched = list(self._literal.get(topic, {}).values())
        matched.extend(entry for entry in self._wild.values() if entry.compiled.matches(topic))
        matched.sort(key=_seq)
        delivered = 0
        groups: dict[str, list[_Entry]] = {}
        for entry in matched:
            group = entry.sub.queue_group
            if group is None:
                delivered += deliver(entry.sub)
            else:
                groups.setdefault(group, []).append(entry)
        for group, members in groups.items():
            last = self._group_last.get(group, -1)
            start = next((i for i, m in enumerate(members) if m.seq > last), 0)
            for member in members[start:] + members[:start]:
                if deliver(member.sub):
                    self._group_last[group] = member.seq
                    delivered += 1
                    break
        return delivered


# The actor shell -------------------------------------------------------------------------------


async def run_handler(handler: Callable[[Any], object], message: Any) -> BaseException | None:
    """Call `handler(message)`, awaiting the result if it is awaitable; log and return an error.

    Runs on the io loop. The error is returned, not raised, so a failing handler never reaches
    whoever delivered the message.
    """
    try:
        result = handler(message)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.exception("handler %r failed on %r", handler, message)
        return exc
    return None


async def _call_and_report(
    bus: pykka.ActorRef[Any],
    subscription_id: str,
    message_id: str,
    handler: Callable[[Any], object],
    message: Any,
) -> None:
    error = await run_handler(handler, message)
    if error is not None:
        bus.tell(HandlerFailed(subscription_id, message_id, error))


class PubSubActor(Actor):
    """What the bus and the broker share: the table, death watch, delivery and counters.

    A subclass names its publish request by overriding `unpack`. An actor subscriber is
    watched, so its subscriptions go when it stops.
    """

    def __init__(self) -> None:
        super().__init__()
        self._table = SubscriptionTable()
        self._watched: dict[ActorRef[Any], int] = {}
        self._received = 0
        self._delivered = 0
        self._failed = 0

    def on_receive(self, message: Any) -> Any:
        """Dispatch a request; anything not understood becomes a dead letter."""
        match message:
            case Subscribe():
                return self._subscribe(message)
            case Unsubscribe():
                return self._unsubscribe(message)
            case HandlerFailed():
                self._failed += 1
            case Terminated(ref=ref):
                self._drop_handler(ref)
            case GetSubscriptions():
                return tuple(self._table)
            case GetStats():
                return PubSubStats(len(self._table), self._received, self._delivered, self._failed)
            case _:
                request = self.unpack(message)
                if request is not None:
                    return self.publish(*request)
                logger.warning("%s does not understand %r; dead-lettered", self.path, message)
                self.system.dead_letters.publish(
                    DeadLetter(message, self.actor_ref, f"not understood by {self.path}")
                )
        return None

    def unpack(self, message: Any) -> tuple[str, Any, str] | None:
        """Hook: `(topic, payload, id)` when `message` is this actor's publish request."""
        del message
        return None

    def publish(self, topic: str, message: Any, message_id: str) -> int:
        """Deliver `message` to the subscribers of `topic`; returns how many it reached."""
        self._received += 1
        count = self._table.route(topic, lambda sub: self._deliver(sub, message, message_id))
        self._delivered += count
        return count

    def _deliver(self, sub: Subscription, message: Any, message_id: str) -> bool:
        handler = sub.handler
        if isinstance(handler, pykka.ActorRef):
            if not handler.is_alive():
                self._drop_handler(handler)
                return False
            try:
                handler.tell(message)
            except Exception:  # a full mailbox with overflow="fail", or a dead plain pykka actor
                logger.warning("%s: %s refused %r", self.path, handler, message, exc_info=True)
                self._failed += 1
                return False
            return True
        call = _call_and_report(self.actor_ref, sub.subscription_id, message_id, handler, message)
        try:
            self.system.io.start(call)
        except RuntimeError:  # the io loop is closed: the system is shutting down
            call.close()
            self._failed += 1
            return False
        return True

    def _subscribe(self, request: Subscribe) -> str:
        sub = Subscription(
            request.subscription_id, request.pattern, request.handler, request.queue_group
        )
        replaced = self._table.add(sub)
        self._table_changed(sub.subscription_id)
        if replaced is not None:
            self._release(replaced.handler)
        handler = sub.handler
        if isinstance(handler, ActorRef):
            self._watched[handler] = self._watched.get(handler, 0) + 1
            if self._watched[handler] == 1:
                self.watch(handler)
        return sub.subscription_id

    def _unsubscribe(self, request: Unsubscribe) -> bool:
        if isinstance(request.target, str):
            sub = self._table.remove(request.target)
            removed = [] if sub is None else [sub]
        else:
            removed = self._table.remove_handler(request.target, request.pattern)
        if removed:
            self._table_changed()
        for sub in removed:
            self._release(sub.handler)
        return bool(removed)

    def _drop_handler(self, handler: Handler) -> None:
        removed = self._table.remove_handler(handler)
        if removed:
            self._table_changed()
        for sub in removed:
            self._release(sub.handler)

    def _table_changed(self, applied: str | None = None) -> None:
        """Hook: the table changed (`applied`: the id of the subscription just added)."""

    def _release(self, handler: Handler) -> None:
        if not isinstance(handler, ActorRef) or handler not in self._watched:
            return
        self._watched[handler] -= 1
        if not self._watched[handler]:
            del self._watched[handler]
            self.unwatch(handler)


class EventBusActor(PubSubActor):
    """The node's event bus: `Emit(event)` reaches every subscription whose pattern matches.

    With an `Interest`, it republishes its patterns there at start and after every change, so
    emitters can skip events that no subscriber wants (`greenroom.runtime.interest`).
    """

    def __init__(self, interest: Interest | None = None) -> None:
        super().__init__()
        self._interest = interest

    def on_start(self) -> None:
        """A fresh (or restarted) bus has an empty table: say so."""
        super().on_start()
        self._table_changed()

    def _table_changed(self, applied: str | None = None) -> None:
        if self._interest is not None:
            self._interest.table_changed((sub.pattern for sub in self._table), applied)

    def unpack(self, message: Any) -> tuple[str, Any, str] | None:
        """`Emit(event)` publishes the event on its type; the reply is the number reached."""
        if not isinstance(message, Emit):
            return None
        return message.event.event_type, message.event, message.event.event_id


# The async facade ------------------------------------------------------------------------------


class PubSubFacade:
    """What `EventBus` and `MessageBroker` share: the actor's ref and the table queries.

    Each async method sends one message and awaits the actor's reply without blocking the loop;
    each `*_nowait` method only tells, so actors can use it from a handler.
    """

    def __init__(
        self,
        system: ActorSystem,
        actor_cls: type[PubSubActor],
        name: str,
        ref: ActorRef[Any] | None,
    ) -> None:
        self.system = system
        self._owns_actor = ref is None
        self.ref: ActorRef[Any] = system.spawn(actor_cls, name=name) if ref is None else ref

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ref.path}>"

    async def ask(self, message: Any) -> Any:
        """Send `message` to the actor and await its reply."""
        return await self.ref.ask(message, block=False)

    async def subscriptions(self) -> list[Subscription]:
        """The current subscriptions, oldest first."""
        return list(await self.ask(GetSubscriptions()))

    async def stats(self) -> PubSubStats:
        """Delivery counters since the actor started."""
        stats: PubSubStats = await self.ask(GetStats())
        return stats

    async def close(self) -> None:
        """Stop the actor if this facade spawned it (again: no-op); a given `ref` is left alone."""
        if self._owns_actor:
            await asyncio.to_thread(self.system.stop, self.ref)


def _unsubscribe_request(subscription: str | Handler, handler: Handler | None) -> Unsubscribe:
    if handler is None:
        return Unsubscribe(subscription)
    if not isinstance(subscription, str):
        msg = "with a handler, the first argument must be the pattern it was subscribed on"
        raise TypeError(msg)
    return Unsubscribe(handler, pattern=subscription)


class EventBus(PubSubFacade):
    """The event bus as async methods: spawns an `EventBusActor` (or wraps `ref`) and talks to it.

    Patterns follow NATS rules (`*` one token, `>` the rest); an invalid pattern or event type
    raises `ValueError` naming it before anything is sent.
    """

    def __init__(
        self, system: ActorSystem, name: str = "event-bus", *, ref: ActorRef[Any] | None = None,
        interest: Interest | None = None,
    ) -> None:
        """`interest`: the one the bus actor behind `ref` publishes to (spawning here makes
        one); without it every event is sent to the bus."""
        owned = ref is None
        if ref is None:
            interest = Interest()
            ref = system.spawn(EventBusActor, interest, name=name)
        super().__init__(system, EventBusActor, name, ref)
        self._owns_actor = owned
        self._interest = interest

    def _emit_request(self, event_type: str, data: Any, source: str) -> Emit | None:
        """The `Emit` to send, or None when no subscriber can want it (input checked either
        way)."""
        interest = self._interest
        if interest is not None and not interest.wants(validate_topic(event_type)):
            check_source(source)
            return None
        event = BusEvent(event_type, data, source, timestamp=self.system.clock.time())
        return Emit(event)

    async def emit(self, event_type: str, data: Any = None, source: str = "") -> int:
        """Emit an event; returns how many subscribers it was delivered to."""
        request = self._emit_request(event_type, data, source)
        if request is None:
            return 0
        count: int = await self.ask(request)
        return count

    def emit_nowait(self, event_type: str, data: Any = None, source: str = "") -> None:
        """Emit without waiting (safe inside an actor); bad input still raises here."""
        request = self._emit_request(event_type, data, source)
        if request is not None:
            self.ref.tell(request)

    async def subscribe(self, pattern: str, handler: EventHandler) -> str:
        """Deliver events whose type matches `pattern` to `handler`; returns the subscription id."""
        subscription_id: str = await self.ask(self._subscribe_request(pattern, handler))
        return subscription_id

    def subscribe_nowait(self, pattern: str, handler: EventHandler) -> str:
        """Subscribe without waiting (safe inside an actor); returns the subscription id."""
        request = self._subscribe_request(pattern, handler)
        self.ref.tell(request)
        return request.subscription_id

    def _subscribe_request(self, pattern: str, handler: EventHandler) -> Subscribe:
        request = Subscribe(pattern, handler)
        if self._interest is not None:
            self._interest.requested(request.subscription_id, request.pattern)
        return request

    async def unsubscribe(
        self, subscription: str | EventHandler, handler: EventHandler | None = None
    ) -> bool:
        """Remove a subscription by id, or all of a handler's; True if any existed.

        `unsubscribe(pattern, handler)` (the seed's form) removes that handler from one pattern.
        """
        removed: bool = await self.ask(_unsubscribe_request(subscription, handler))
        return removed

    def unsubscribe_nowait(
        self, subscription: str | EventHandler, handler: EventHandler | None = None
    ) -> None:
        """`unsubscribe` without waiting (safe inside an actor)."""
        self.ref.tell(_unsubscribe_request(subscription, handler))
