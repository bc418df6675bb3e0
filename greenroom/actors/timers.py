"""Keyed timers that deliver messages to their actor, on the system clock.

Starting a timer under a key replaces the previous one; cancelling is final even if the tick is
already queued (each tick carries a generation, and stale generations are dropped on receipt).
Periodic timers are fixed-rate and rescheduled by the clock itself, so `ManualClock.advance()`
fires one tick per period crossed.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

from greenroom.actors.signals import TimerFired

if TYPE_CHECKING:
    import pykka

    from greenroom.actors.clock import Clock, TimerHandle

__all__ = ["STALE", "TimerScheduler"]

STALE = object()
"""What `TimerScheduler.accept` returns for a tick of a cancelled or replaced timer."""


class _Timer:
    __slots__ = ("due", "generation", "handle", "interval", "message")

    def __init__(self, message: Any, interval: float | None, generation: int, due: float) -> None:
        self.message = message
        self.interval = interval
        self.generation = generation
        self.due = due
        self.handle: TimerHandle | None = None


class TimerScheduler:
    """An actor's timers: `start_single_timer`, `start_periodic_timer`, `cancel`, `cancel_all`."""

    def __init__(self, owner: pykka.ActorRef[Any], clock: Clock) -> None:
        self._owner = owner
        self._clock = clock
        self._timers: dict[Any, _Timer] = {}
        self._lock = threading.Lock()
        self._generations = itertools.count(1)

    def start_single_timer(self, key: Any, message: Any, delay: float) -> None:
        """Deliver `message` once after `delay` seconds (replacing any timer under `key`)."""
        self._start(key, message, delay, None)

    def start_periodic_timer(self, key: Any, message: Any, interval: float) -> None:
        """Deliver `message` every `interval` seconds until cancelled."""
        if interval <= 0:
            msg = f"periodic timer {key!r}: interval must be > 0, got {interval}"
            raise ValueError(msg)
        self._start(key, message, interval, interval)

    def is_timer_active(self, key: Any) -> bool:
        """Whether a timer runs under `key`."""
        with self._lock:
            return key in self._timers

    def cancel(self, key: Any) -> None:
        """Cancel the timer under `key`, if any; a tick already queued is dropped too."""
        with self._lock:
            timer = self._timers.pop(key, None)
        if timer is not None and timer.handle is not None:
            timer.handle.cancel()

    def cancel_all(self) -> None:
        """Cancel every timer."""
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            if timer.handle is not None:
                timer.handle.cancel()

    def accept(self, tick: TimerFired) -> Any:
        """In the actor: the tick's message if the tick is current, else `STALE`.

        A single timer is forgotten once its tick is accepted.
        """
        with self._lock:
            timer = self._timers.get(tick.key)
            if timer is None or timer.generation != tick.generation:
                return STALE
            if timer.interval is None:
                del self._timers[tick.key]
            return timer.message

    def _start(self, key: Any, message: Any, delay: float, interval: float | None) -> None:
        self.cancel(key)
        timer = _Timer(message, interval, next(self._generations), self._clock.monotonic() + delay)
        with self._lock:
            self._timers[key] = timer
            self._arm(key, timer, delay)

    def _arm(self, key: Any, timer: _Timer, delay: float) -> None:
        timer.handle = self._clock.call_later(delay, lambda: self._fire(key, timer))

    def _fire(self, key: Any, timer: _Timer) -> None:
        with self._lock:
            if self._timers.get(key) is not timer:
                return
            if timer.interval is not None:
                timer.due += timer.interval
                self._arm(key, timer, timer.due - self._clock.monotonic())
        self._owner.tell(TimerFired(key, timer.generation))
