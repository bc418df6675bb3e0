"""`TriggerOutlet`: turns what a trigger saw into a `TriggerEvent`, filters it and delivers it.

Shared by every trigger actor, and by the webhook's request handler, which runs on the io loop so
that a POST costs no extra hop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.filters import compile_filter

if TYPE_CHECKING:
    from greenroom.actors.future import Future
    from greenroom.triggers.config import TriggerConfig
    from greenroom.triggers.host import Delivery, TriggerHost, TriggerStats

__all__ = ["TriggerOutlet"]


class TriggerOutlet:
    """One trigger's way out: `event()` builds, `offer()` filters, counts and delivers."""

    def __init__(
        self, config: TriggerConfig, trigger_id: str, host: TriggerHost, stats: TriggerStats
    ) -> None:
        self.config = config
        self.trigger_id = trigger_id
        self.host = host
        self.stats = stats
        expression = config.filter_expression
        self._filter = compile_filter(expression) if expression is not None else None

    def event(
        self,
        payload: Any,
        metadata: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        checkpoint: Any = None,
    ) -> TriggerEvent:
        """A new event of this trigger; the key and checkpoint go into its metadata."""
        meta = dict(metadata or {})
        if idempotency_key is not None:
            meta["idempotency_key"] = idempotency_key
        if checkpoint is not None:
            meta["checkpoint"] = checkpoint
        return TriggerEvent(self.trigger_id, self.config.type, payload=payload, metadata=meta)

    def matches(self, event: TriggerEvent) -> bool:
        """Apply the filter; a dropped event is counted."""
        if self._filter is None or self._filter(event):
            return True
        self.stats.filtered += 1
        return False

    def deliver(self, event: TriggerEvent) -> Future[Delivery]:
        """Count the fire and hand the (already filtered) event to the process."""
        self.stats.fired += 1
        self.stats.last_fired = datetime.fromtimestamp(self.host.clock.time(), UTC).isoformat()
        return self.host.deliver(event)

    def offer(
        self,
        payload: Any,
        metadata: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        checkpoint: Any = None,
    ) -> Future[Delivery] | None:
        """Build, filter and deliver an event; None when the filter dropped it."""
        event = self.event(payload, metadata, idempotency_key=idempotency_key,
                           checkpoint=checkpoint)
        if not self.matches(event):
            return None
        return self.deliver(event)
