"""Event streams: publish an object to every subscribed actor whose filters match.

The system has two: `dead_letters` (every `DeadLetter`) and `event_stream` (supervision and
failure events). Subscribers are actor refs (a `TestProbe`'s ref works); a subscriber that has
stopped is dropped. Besides a class filter, a subscriber may give a `where` predicate, checked
on the publisher's thread, so an event it would discard is never sent to it (a process start
publishes several supervision events, which most runtimes have no listener for).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pykka

__all__ = ["EventStream"]

logger = logging.getLogger("greenroom.events")

_Subscriber = tuple[pykka.ActorRef[Any], type | tuple[type, ...], Callable[[Any], bool] | None]


class EventStream:
    """Fan-out of events to actor refs, optionally filtered by event class."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._subscribers: list[_Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(
        self,
        ref: pykka.ActorRef[Any],
        classes: type | tuple[type, ...] = object,
        *,
        where: Callable[[Any], bool] | None = None,
    ) -> None:
        """Deliver every event that is an instance of `classes` (and, with `where`, for which
        `where(event)` is true) to `ref`. `where` runs on the publisher's thread: keep it cheap;
        if it raises, the event is delivered."""
        with self._lock:
            self._subscribers.append((ref, classes, where))

    def unsubscribe(self, ref: pykka.ActorRef[Any]) -> None:
        """Stop delivering to `ref`."""
        with self._lock:
            self._subscribers = [sub for sub in self._subscribers if sub[0] is not ref]

    def publish(self, event: Any) -> None:
        """Tell `event` to each matching subscriber; never raises."""
        with self._lock:
            subscribers = list(self._subscribers)
        logger.debug("%s: %r", self.name, event)
        for ref, classes, where in subscribers:
            if not isinstance(event, classes) or not _wanted(where, event, self.name):
                continue
            if not ref.is_alive():
                self.unsubscribe(ref)
                continue
            try:
                ref.tell(event)
            except Exception:
                logger.exception("%s: delivering %r to %s failed", self.name, event, ref)


def _wanted(where: Callable[[Any], bool] | None, event: Any, stream: str) -> bool:
    """`where(event)`; True without a predicate, and (logged) when the predicate raises."""
    if where is None:
        return True
    try:
        return where(event)
    except Exception:
        logger.exception("%s: the where filter raised on %r; delivered", stream, event)
        return True
