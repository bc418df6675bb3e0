"""The message broker: topic and point-to-point delivery between processes of one node.

It is the event bus's actor with another publish message (`Publish(BrokerMessage)`), so the
subscription rules are the same: NATS-style patterns, actor refs told each `BrokerMessage`,
callables run on the io loop, dead actor subscribers dropped, failing handlers counted.

Point-to-point uses NATS queue groups. Subscriptions made with the same `queue_group` share the
messages that match them: each message goes to ONE member of the group, the members taking turns
(round-robin, oldest subscription first), while subscriptions outside any group each get every
message. A member whose actor has stopped is skipped and dropped, so the message goes to the next
member instead of being lost. A group may span several patterns; a member takes its turn only for
the messages its own pattern matches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pykka

from greenroom.actors import ActorRef, ActorSystem
from greenroom.ids import new_id
from greenroom.runtime.bus import (
    PubSubActor,
    PubSubFacade,
    Subscribe,
    Unsubscribe,
)
from greenroom.triggers.topics import validate_topic

__all__ = [
    "BrokerMessage",
    "MessageBroker",
    "MessageBrokerActor",
    "MessageHandler",
    "Publish",
]


@dataclass(frozen=True, slots=True)
class BrokerMessage:
    """One message on a topic; `sender` is whoever sent it (a process name, a ref, or None).

    The broker stamps `timestamp` with its system's clock; the wall-clock default only serves
    messages built by hand.
    """

    topic: str
    content: Any = None
    sender: Any = None
    message_id: str = field(default_factory=new_id)
    timestamp: float = field(default_factory=time.time)


MessageHandler: TypeAlias = pykka.ActorRef[Any] | Callable[[BrokerMessage], object]
"""A broker subscriber: an actor ref told each `BrokerMessage`, or a callable given it."""


@dataclass(frozen=True, slots=True)
class Publish:
    """Deliver `message` to its topic's subscribers (reply: how many); the topic is concrete."""

    message: BrokerMessage

    def __post_init__(self) -> None:
        validate_topic(self.message.topic)


class MessageBrokerActor(PubSubActor):
    """The node's broker: `Publish(message)` reaches matching subscriptions and queue groups."""

    def unpack(self, message: Any) -> tuple[str, Any, str] | None:
        """`Publish(message)` publishes on the message's topic; the reply is the number reached."""
        if not isinstance(message, Publish):
            return None
        return message.message.topic, message.message, message.message.message_id


class MessageBroker(PubSubFacade):
    """The broker as async methods: spawns a `MessageBrokerActor` (or wraps `ref`).

    A publish topic must be concrete (no `*` or `>`) and a subscription pattern valid, else
    `ValueError` naming it, before anything is sent.
    """

    def __init__(
        self, system: ActorSystem, name: str = "message-broker", *, ref: ActorRef[Any] | None = None
    ) -> None:
        super().__init__(system, MessageBrokerActor, name, ref)

    def _publish_request(self, topic: str, content: Any, sender: Any) -> Publish:
        return Publish(BrokerMessage(topic, content, sender, timestamp=self.system.clock.time()))

    async def publish(self, topic: str, content: Any, sender: Any = None) -> int:
        """Publish `content` on `topic`; returns how many subscribers it was delivered to."""
        count: int = await self.ask(self._publish_request(topic, content, sender))
        return count

    def publish_nowait(self, topic: str, content: Any, sender: Any = None) -> None:
        """Publish without waiting (safe inside an actor); bad input still raises here."""
        self.ref.tell(self._publish_request(topic, content, sender))

    async def subscribe(
        self, topic_pattern: str, handler: MessageHandler, *, queue_group: str | None = None
    ) -> str:
        """Deliver messages matching `topic_pattern` to `handler`; returns the subscription id.

        With `queue_group`, the handler shares the matching messages with the group's other
        members, one member per message (see the module docstring).
        """
        subscription_id: str = await self.ask(
            Subscribe(topic_pattern, handler, queue_group=queue_group)
        )
        return subscription_id

    def subscribe_nowait(
        self, topic_pattern: str, handler: MessageHandler, *, queue_group: str | None = None
    ) -> str:
        """Subscribe without waiting (safe inside an actor); returns the subscription id."""
        request = Subscribe(topic_pattern, handler, queue_group=queue_group)
        self.ref.tell(request)
        return request.subscription_id

    async def unsubscribe(self, subscription_id: str | MessageHandler) -> bool:
        """Remove a subscription by id (or every subscription of a handler); True if any existed."""
        removed: bool = await self.ask(Unsubscribe(subscription_id))
        return removed

    def unsubscribe_nowait(self, subscription_id: str | MessageHandler) -> None:
        """`unsubscribe` without waiting (safe inside an actor)."""
        self.ref.tell(Unsubscribe(subscription_id))
