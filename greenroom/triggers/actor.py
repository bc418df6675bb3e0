"""`TriggerActor`: the base of every trigger actor, holding its config, id, host and outlet.

A subclass watches for its condition and calls `self.outlet.offer(...)`. Refusals by the process
are counted (`Delivery` replies come back as messages, so the actor never blocks on them).
A crash of a trigger actor is handled by its `TriggerSupervisor`; the process keeps running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenroom.actors.actor import Actor
from greenroom.triggers.host import Delivery
from greenroom.triggers.outlet import TriggerOutlet

if TYPE_CHECKING:
    from greenroom.actors.future import Future
    from greenroom.triggers.config import TriggerConfig
    from greenroom.triggers.host import TriggerHost, TriggerStats

__all__ = ["TriggerActor"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _DeliveryFailed:
    exception: BaseException


class TriggerActor(Actor):
    """Base class: `self.config`, `self.trigger_id`, `self.host`, `self.stats`, `self.outlet`."""

    def __init__(
        self, config: TriggerConfig, trigger_id: str, host: TriggerHost, stats: TriggerStats
    ) -> None:
        super().__init__()
        self.config = config
        self.trigger_id = trigger_id
        self.host = host
        self.stats = stats
        self.outlet = TriggerOutlet(config, trigger_id, host, stats)

    def fire(
        self,
        payload: Any,
        metadata: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        checkpoint: Any = None,
    ) -> None:
        """Offer an event; the process's `Delivery` comes back to `on_delivery` as a message."""
        future = self.outlet.offer(payload, metadata, idempotency_key=idempotency_key,
                                   checkpoint=checkpoint)
        if future is not None:
            self.reply_to_self(future)

    def reply_to_self(self, future: Future[Delivery]) -> None:
        """Route a delivery future's outcome back into this actor's mailbox."""
        ref = self.actor_ref

        def done(result: Future[Delivery]) -> None:
            try:
                ref.tell(result.get(timeout=0))
            except Exception as exc:  # the process is gone: count it as refused
                ref.tell(_DeliveryFailed(exc))

        future.add_done_callback(done)

    def on_delivery(self, delivery: Delivery) -> None:
        """Hook: the process accepted or refused an event (default: count refusals)."""
        if not delivery.accepted:
            self.stats.refused += 1
            logger.info("trigger %s: event %s refused: %s", self.trigger_id,
                        delivery.event_id, delivery.reason)

    def on_receive(self, message: Any) -> Any:
        """Deliveries and delivery failures; subclasses handle their own messages first."""
        if isinstance(message, Delivery):
            self.on_delivery(message)
            return None
        if isinstance(message, _DeliveryFailed):
            self.stats.refused += 1
            logger.warning("trigger %s: delivery failed: %r", self.trigger_id, message.exception)
            return None
        return super().on_receive(message)
