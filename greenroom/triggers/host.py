"""What a trigger needs from the process it wakes: the `TriggerHost` protocol and its replies.

Triggers never import the runtime. The runtime hands each trigger actor a host that delivers
events to the process (`TriggerFired`, answered with a `Delivery`), says whether the process can
accept events right now (so a webhook can answer 503 without a hop), remembers each trigger's
last handled checkpoint (a cron's last slot) and resolves secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from greenroom.actors.clock import Clock
    from greenroom.actors.future import Future
    from greenroom.triggers.event import TriggerEvent

__all__ = ["Delivery", "TriggerFired", "TriggerHost", "TriggerStats"]


@dataclass(frozen=True)
class TriggerFired:
    """Told (or asked) to a process: one event from one of its triggers. Reply: `Delivery`."""

    event: TriggerEvent


@dataclass(frozen=True)
class Delivery:
    """The process's answer to `TriggerFired`: queued (`accepted`) or refused, and why."""

    accepted: bool
    event_id: str
    reason: str | None = None


@dataclass
class TriggerStats:
    """Counters of one trigger, written by its actor and read by `status()`.

    `info` holds facts a user needs, such as a webhook's bound URL.
    """

    trigger_id: str
    trigger_type: str
    source: str = "config"
    fired: int = 0
    filtered: int = 0
    refused: int = 0
    errors: int = 0
    last_fired: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy for status dicts."""
        return {
            "id": self.trigger_id,
            "type": self.trigger_type,
            "source": self.source,
            "fire_count": self.fired,
            "filtered_count": self.filtered,
            "refused_count": self.refused,
            "error_count": self.errors,
            "last_fired": self.last_fired,
            **self.info,
        }


class TriggerHost(Protocol):
    """The process side of a trigger (implemented by the runtime)."""

    @property
    def process_name(self) -> str:
        """The name of the process the trigger wakes."""
        ...

    @property
    def clock(self) -> Clock:
        """The system clock (timers, timestamps)."""
        ...

    @property
    def event_bus(self) -> Any:
        """The runtime's event bus (an object with `subscribe`/`emit`), or None."""
        ...

    @property
    def broker(self) -> Any:
        """The runtime's message broker (an object with `subscribe`/`publish`), or None."""
        ...

    def deliver(self, event: TriggerEvent) -> Future[Delivery]:
        """Hand `event` to the process; the future resolves once it is queued or refused."""
        ...

    def accepting(self) -> str | None:
        """None if the process can take events now, else the reason it cannot."""
        ...

    def checkpoint(self, trigger_id: str) -> Any:
        """The `checkpoint` metadata of the trigger's last accepted event, or None."""
        ...

    def secret(self, name: str) -> str | None:
        """A secret from the process's scope, else the environment variable `name`."""
        ...
