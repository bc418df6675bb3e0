"""Clocks: the one source of time for timers, TTLs, schedules and backoff.

Every time-dependent part of greenroom reads a `Clock`, so a test can swap the real one for a
`ManualClock` and run a simulated day in milliseconds.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "TimerHandle"]

logger = logging.getLogger("greenroom.clock")


class TimerHandle:
    """A scheduled callback; `cancel()` makes sure it never runs (if it has not run yet)."""

    __slots__ = ("_cancelled", "callback", "due")

    def __init__(self, due: float, callback: Callable[[], object]) -> None:
        self.due = due
        self.callback = callback
        self._cancelled = False

    def cancel(self) -> None:
        """Prevent the callback from running; harmless if it already ran."""
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        """Whether `cancel()` was called."""
        return self._cancelled


@runtime_checkable
class Clock(Protocol):
    """Wall time, monotonic time, and callbacks scheduled on monotonic time."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run `callback` once, `delay` seconds from now; it must not block."""
        ...


class _TimerHeap:
    """Due-time ordered callbacks; ties run in the order they were scheduled."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()

    def push(self, handle: TimerHandle) -> None:
        heapq.heappush(self._heap, (handle.due, next(self._seq), handle))

    def next_due(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> TimerHandle | None:
        due = self.next_due()
        if due is None or due > now:
            return None
        return heapq.heappop(self._heap)[2]

    def clear(self) -> None:
        self._heap.clear()

    def live(self) -> int:
        return sum(1 for _, _, handle in self._heap if not handle.cancelled)


def _run(handle: TimerHandle) -> None:
    if handle.cancelled:
        return
    try:
        handle.callback()
    except Exception:
        logger.exception("timer callback %r failed", handle.callback)


class SystemClock:
    """The real clock; scheduled callbacks run on one daemon thread, started on first use."""

    def __init__(self) -> None:
        self._timers = _TimerHeap()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Schedule `callback` on the clock's thread after `delay` seconds."""
        handle = TimerHandle(time.monotonic() + max(0.0, delay), callback)
        with self._cond:
            if self._closed:
                handle.cancel()
                return handle
            due = self._timers.next_due()
            self._timers.push(handle)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="greenroom-clock", daemon=True
                )
                self._thread.start()
            elif due is None or handle.due < due:  # the thread sleeps until `due`: wake it
                self._cond.notify()
        return handle

    def close(self) -> None:
        """Stop the timer thread; pending callbacks are dropped."""
        with self._cond:
            self._closed = True
            self._timers.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                handle = self._timers.pop_due(time.monotonic())
                if handle is None:
                    due = self._timers.next_due()
                    self._cond.wait(None if due is None else max(0.0, due - time.monotonic()))
                    continue
            _run(handle)


class ManualClock:
    """A clock that moves only when told to; `advance()` fires due callbacks in time order.

    Callbacks run in the thread that calls `advance()`. A callback scheduled while advancing that
    falls due inside the same window fires in the same call, so periodic timers tick once per
    period crossed.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._wall_offset = start
        self._now = 0.0
        self._timers = _TimerHeap()
        self._lock = threading.RLock()

    def time(self) -> float:
        """Simulated seconds since the epoch (default start: 2026-01-01T00:00:00Z)."""
        with self._lock:
            return self._wall_offset + self._now

    def monotonic(self) -> float:
        """Simulated seconds since the clock was made."""
        with self._lock:
            return self._now

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Schedule `callback` for when the clock has been advanced past `delay` seconds."""
        with self._lock:
            handle = TimerHandle(self._now + max(0.0, delay), callback)
            self._timers.push(handle)
        return handle

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every callback that falls due, earliest first."""
        if seconds < 0:
            msg = f"ManualClock.advance: seconds must be >= 0, got {seconds}"
            raise ValueError(msg)
        with self._lock:
            target = self._now + seconds
        while True:
            with self._lock:
                handle = self._timers.pop_due(target)
                if handle is None:
                    self._now = target
                    return
                self._now = max(self._now, handle.due)
            _run(handle)

    def pending(self) -> int:
        """How many callbacks are scheduled and not cancelled."""
        with self._lock:
            return self._timers.live()
