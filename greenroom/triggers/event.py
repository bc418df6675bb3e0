"""`TriggerEvent`: what a trigger (or `inject`) hands to a process, and how it is deduplicated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from greenroom.ids import new_id
from greenroom.timestamps import parse_timestamp

__all__ = ["TriggerEvent"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TriggerEvent:
    """One wake-up of a process: which trigger, when, and the payload it brought.

    `idempotency_key` identifies the occurrence across redeliveries: `metadata["idempotency_key"]`
    when the trigger set one (a cron slot, a webhook delivery id), else the `event_id`.
    """

    trigger_id: str
    trigger_type: str
    event_id: str = field(default_factory=new_id)
    timestamp: datetime = field(default_factory=_now)
    payload: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("trigger_id", "trigger_type", "event_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                msg = f"TriggerEvent.{name}: expected a non-empty string, got {value!r}"
                raise ValueError(msg)
        if not isinstance(self.timestamp, datetime) or self.timestamp.tzinfo is None:
            msg = f"TriggerEvent.timestamp: expected a timezone-aware datetime, got " \
                  f"{self.timestamp!r}"
            raise ValueError(msg)
        if not isinstance(self.metadata, dict):
            msg = f"TriggerEvent.metadata: expected a dict, got {type(self.metadata).__name__}"
            raise ValueError(msg)

    @property
    def idempotency_key(self) -> str:
        """The key that makes a redelivered occurrence recognisable."""
        key = self.metadata.get("idempotency_key")
        return key if isinstance(key, str) and key else self.event_id

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamp as ISO 8601)."""
        return {
            "trigger_id": self.trigger_id,
            "trigger_type": self.trigger_type,
            "event_id": self.event_id,
            "timestamp": self.timestamp.isoformat(),
            "payload": self.payload,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TriggerEvent:
        """Rebuild from `to_dict()` output; a missing or bad field raises `ValueError`."""
        if not isinstance(data, Mapping):
            msg = f"TriggerEvent: expected a mapping, got {type(data).__name__}"
            raise ValueError(msg)
        missing = [k for k in ("trigger_id", "trigger_type", "event_id") if k not in data]
        if missing:
            msg = f"TriggerEvent: missing field(s) {missing}"
            raise ValueError(msg)
        timestamp = parse_timestamp(data.get("timestamp"), "TriggerEvent.timestamp")
        return cls(
            trigger_id=data["trigger_id"],
            trigger_type=data["trigger_type"],
            event_id=data["event_id"],
            timestamp=timestamp,
            payload=data.get("payload"),
            metadata=dict(data.get("metadata") or {}),
        )
