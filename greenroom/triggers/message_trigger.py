"""`MessageTriggerActor`: wakes its process on broker messages whose topic matches.

Payload: `topic`, `sender`, `content`, `message_id`. With `from_agent`, only messages whose
sender is that process name count.
"""

from __future__ import annotations

from typing import Any

from greenroom.triggers.subscription import SubscriptionTriggerActor

__all__ = ["MessageTriggerActor"]


class MessageTriggerActor(SubscriptionTriggerActor):
    """Subscribes to `config.topic` (NATS wildcards), optionally from one sender."""

    def source(self) -> Any:
        """The runtime's message broker."""
        return self.host.broker

    def pattern(self) -> str:
        """`config.topic`."""
        return str(self.config.topic)

    def seen(self, item: Any) -> None:
        """Fire for a matching broker message."""
        sender = getattr(item, "sender", None)
        wanted = self.config.from_agent
        if wanted is not None and sender != wanted:
            return
        message_id = getattr(item, "message_id", None)
        payload = {
            "topic": getattr(item, "topic", None),
            "sender": sender if sender is None or isinstance(sender, str) else str(sender),
            "content": getattr(item, "content", item),
            "message_id": message_id,
        }
        key = f"{self.trigger_id}@{message_id}" if message_id else None
        self.fire(payload, idempotency_key=key)
