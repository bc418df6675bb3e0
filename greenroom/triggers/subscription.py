"""`SubscriptionTriggerActor`: the shared shell of the event and message triggers.

The subscription is a small callable run on the io loop that tells the actor what it saw, so a
trigger works the same with greenroom's bus and broker and with user-supplied ones (any object
with an async or sync `subscribe(pattern, handler)`). Subscribing is piped to the io loop; the
actor never waits for it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from greenroom.actors.messages import Failure
from greenroom.triggers.actor import TriggerActor
from greenroom.triggers.errors import TriggerError

__all__ = ["SubscriptionTriggerActor"]


@dataclass(frozen=True, slots=True)
class _Seen:
    item: Any


@dataclass(frozen=True, slots=True)
class _Subscribed:
    subscription_id: Any


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class SubscriptionTriggerActor(TriggerActor):
    """Subclasses name their source (`source()`, `pattern()`) and turn an item into `seen()`."""

    _subscription: Any = None

    def source(self) -> Any:
        """The bus or broker to subscribe to (None: not available)."""
        raise NotImplementedError

    def pattern(self) -> str:
        """The pattern to subscribe with."""
        raise NotImplementedError

    def seen(self, item: Any) -> None:
        """Handle one event or message from the source."""
        raise NotImplementedError

    def on_start(self) -> None:
        """Subscribe on the io loop; the subscription id comes back as a message."""
        source = self.source()
        if source is None:
            msg = f"trigger {self.trigger_id}: a {self.config.type!r} trigger needs " \
                  f"{'an event bus' if self.config.type == 'event' else 'a message broker'}"
            raise TriggerError(msg)
        me = self.actor_ref

        def handler(item: Any) -> None:
            me.tell(_Seen(item))

        async def subscribe() -> _Subscribed:
            return _Subscribed(await _maybe_await(source.subscribe(self.pattern(), handler)))

        self.pipe_to(subscribe())

    def on_stop(self) -> None:
        """Unsubscribe, without waiting (a user's source may lack `unsubscribe`)."""
        source = self.source()
        if self._subscription is not None and hasattr(source, "unsubscribe"):
            self.system.io.submit(_maybe_await(source.unsubscribe(self._subscription)))

    def on_receive(self, message: Any) -> Any:
        """Items, the subscription id, and a failed subscription (which crashes the actor)."""
        if isinstance(message, _Seen):
            self.seen(message.item)
            return None
        if isinstance(message, _Subscribed):
            self._subscription = message.subscription_id
            return None
        if isinstance(message, Failure):
            msg = f"trigger {self.trigger_id}: subscribing to {self.pattern()!r} failed"
            raise TriggerError(msg) from message.exception
        return super().on_receive(message)
