"""Event streams: publish an object to every subscribed actor whose class filter matches.

The system has two: `dead_letters` (every `DeadLetter`) and `event_stream` (supervision and
failure events). Subscribers are actor refs (a `TestProbe`'s ref works); a subscriber that has
stopped is dropped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka

__all__ = ["EventStream"]

logger = logging.getLogger("greenroom.events")


class EventStream:
    """Fan-out of events to actor refs, optionally filtered by event class."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._subscribers: list[tuple[pykka.ActorRef[Any], type | tuple[type, ...]]] = []
        self._lock = threading.Lock()

    def subscribe(
        self, ref: pykka.ActorRef[Any], classes: type | tuple[type, ...] = object
    ) -> None:
        """Deliver every event that is an instance of `classes` to `ref`."""
        with self._lock:
            self._subscribers.append((ref, classes))

    def unsubscribe(self, ref: pykka.ActorRef[Any]) -> None:
        """Stop delivering to `ref`."""
        with self._lock:
            self._subscribers = [(r, c) for r, c in self._subscribers if r is not ref]

    def publish(self, event: Any) -> None:
        """Tell `event` to each matching subscriber; never raises."""
        with self._lock:
            subscribers = list(self._subscribers)
        logger.debug("%s: %r", self.name, event)
        for ref, classes in subscribers:
            if not isinstance(event, classes):
                continue
            if not ref.is_alive():
                self.unsubscribe(ref)
                continue
            try:
                ref.tell(event)
            except Exception:
                logger.exception("%s: delivering %r to %s failed", self.name, event, ref)
