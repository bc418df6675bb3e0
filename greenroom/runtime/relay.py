"""`SupervisionRelay`: re-emits the kernel's supervision events on the runtime's event bus.

Each `SupervisionEvent` becomes `supervision.child_started`, `supervision.child_failed`,
`supervision.child_restarted`, `supervision.child_stopped` or `supervision.intensity_exceeded`,
and an `ActorFailed` becomes `supervision.actor_failed`, with JSON-friendly data. Given the
runtime bus's `Interest`, the relay subscribes only to the events some bus subscriber may want:
every process start publishes a few `ChildStarted`s, and carrying each one to the relay and on
to a bus that drops it was about a seventh of the CPU of starting a process.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import TYPE_CHECKING, Any

from greenroom.actors.actor import Actor
from greenroom.actors.messages import ActorFailed
from greenroom.supervision.events import SupervisionEvent

if TYPE_CHECKING:
    from greenroom.runtime.adapters import EventBusLike
    from greenroom.runtime.interest import Interest

__all__ = ["SupervisionRelay", "event_data_of", "event_type_of"]


def event_type_of(event: SupervisionEvent | ActorFailed) -> str:
    """`ChildRestarted` -> `supervision.child_restarted`."""
    return _type_name(type(event).__name__)


@functools.cache
def _type_name(class_name: str) -> str:
    """The bus event type of an event class's name (a handful: each computed once)."""
    return "supervision." + re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def event_data_of(event: SupervisionEvent | ActorFailed) -> dict[str, Any]:
    """The event's fields, with refs as paths and exceptions as their repr."""
    data: dict[str, Any] = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, BaseException):
            value = repr(value)
        elif hasattr(value, "path") and not isinstance(value, str | int | float):
            value = value.path
        data[field.name] = value
    return data


class SupervisionRelay(Actor):
    """Subscribes to `system.event_stream` and emits what it hears on the bus."""

    def __init__(self, bus: EventBusLike, interest: Interest | None = None) -> None:
        """`interest`: what `bus`'s subscribers want (None: relay every event)."""
        super().__init__()
        self.bus = bus
        self.interest = interest

    def on_start(self) -> None:
        """Subscribe to supervision events and actor failures (those the bus may want)."""
        interest = self.interest
        where = None if interest is None else (lambda event: interest.wants(event_type_of(event)))
        self.system.event_stream.subscribe(
            self.actor_ref, (SupervisionEvent, ActorFailed), where=where
        )

    def on_stop(self) -> None:
        """Unsubscribe."""
        self.system.event_stream.unsubscribe(self.actor_ref)

    def on_receive(self, message: Any) -> Any:
        """Forward one event."""
        if isinstance(message, SupervisionEvent | ActorFailed):
            self.bus.emit_nowait(event_type_of(message), event_data_of(message),
                                 source="supervision")
            return None
        return super().on_receive(message)
