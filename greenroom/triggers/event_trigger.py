"""`EventTriggerActor`: wakes its process on matching events of the runtime's event bus.

Payload: `event_type`, `source`, `data`, `event_id`. Events the process emitted itself (`source`
equal to its name, or `process:<name>` for the runtime's events about it) are skipped unless
`include_own_events`, so a process cannot wake itself in a loop by accident.
"""

from __future__ import annotations

from typing import Any

from greenroom.triggers.subscription import SubscriptionTriggerActor

__all__ = ["EventTriggerActor"]


class EventTriggerActor(SubscriptionTriggerActor):
    """Subscribes to `config.event_type` (NATS wildcards), optionally from one `event_source`."""

    def source(self) -> Any:
        """The runtime's event bus."""
        return self.host.event_bus

    def pattern(self) -> str:
        """`config.event_type`."""
        return str(self.config.event_type)

    def seen(self, item: Any) -> None:
        """Fire for a matching bus event."""
        source = getattr(item, "source", "")
        wanted = self.config.event_source
        if wanted is not None and source != wanted:
            return
        name = self.host.process_name
        if source in (name, f"process:{name}") and not self.config.include_own_events:
            return
        event_id = getattr(item, "event_id", None)
        payload = {
            "event_type": getattr(item, "event_type", None),
            "source": source,
            "data": getattr(item, "data", None),
            "event_id": event_id,
        }
        self.fire(payload, idempotency_key=f"{self.trigger_id}@{event_id}" if event_id else None)
