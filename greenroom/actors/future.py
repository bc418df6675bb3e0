"""A pykka `Future` that threads can `get()` and coroutines can `await` without blocking the loop.

The result slot is guarded by a lock used as a one-shot event (the cheapest cross-thread wake-up
CPython has). Awaiting registers a done-callback that wakes the awaiting loop through
`call_soon_threadsafe` (or directly, when the future is set on the loop's own thread), so no
thread is parked per awaiting coroutine. A blocking `get()` first offers the wait to the
thread's wait helper (the loop dispatcher's "caller runs"), then to its blocking hook.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

import pykka

if TYPE_CHECKING:
    from pykka._types import OptExcInfo

__all__ = ["Future"]

T = TypeVar("T")

_callbacks_lock = threading.Lock()

WaitHelper = Callable[["Future[Any]", float | None], bool | None]
"""Waits for a future itself, doing the work the answer may depend on meanwhile: returns True
once the future is done, False if `timeout` seconds passed first, None to decline the wait."""


class _BlockingHook(threading.local):
    hook: Callable[[], Callable[[], None]] | None = None
    helper: WaitHelper | None = None


_blocking_hook = _BlockingHook()


def set_blocking_hook(hook: Callable[[], Callable[[], None]] | None) -> None:
    """Install, for the calling thread, a hook run before a `get()` that will block.

    The hook returns a function run once the wait ends. The pooled dispatcher uses this to lend
    a spare worker while one of its workers is blocked, so a blocking ask cannot starve the pool.
    """
    _blocking_hook.hook = hook


def set_wait_helper(helper: WaitHelper | None) -> None:
    """Install, for the calling thread, a `WaitHelper` offered every `get()` that would block.

    The loop dispatcher installs one on its loop's thread: a `get()` there runs the pending
    loop-actor turns itself until the answer comes, instead of blocking the thread that would
    have to produce it. When the helper declines (None), the plain wait (and hook) runs.
    """
    _blocking_hook.helper = helper


class Future(pykka.Future[T]):
    """Result of `ask(..., block=False)`: `.get(timeout)` from threads, `await` from coroutines."""

    def __init__(self) -> None:
        super().__init__()
        self._done = threading.Lock()
        self._done.acquire()
        self._value: Any = None
        self._exc_info: OptExcInfo | None = None
        self._is_set = False
        self._callbacks: list[Callable[[Future[T]], None]] | None = None

    def __repr__(self) -> str:
        state = "done" if self._is_set else "pending"
        return f"<greenroom.Future {state}>"

    def done(self) -> bool:
        """Whether a value or an exception has been set."""
        return self._is_set

    def get(self, *, timeout: float | None = None) -> T:
        """Wait for the value (or raise its exception); `pykka.Timeout` after `timeout` seconds."""
        if self._get_hook is not None:
            return super().get(timeout=timeout)
        if not self._is_set:
            self._wait(timeout)
        exc_info = self._exc_info
        if exc_info is not None:
            _, exc_value, exc_tb = exc_info
            assert exc_value is not None
            raise exc_value.with_traceback(exc_tb)
        value: T = self._value
        return value

    def _wait(self, timeout: float | None) -> None:
        helper = _blocking_hook.helper
        done = helper(self, timeout) if helper is not None else None
        if done is None:
            done = self._block(timeout)
        if not done:
            msg = f"{timeout} seconds"
            raise pykka.Timeout(msg)

    def _block(self, timeout: float | None) -> bool:
        hook = _blocking_hook.hook
        release = hook() if hook is not None else None
        try:
            acquired = self._done.acquire(timeout=-1 if timeout is None else max(0.0, timeout))
        finally:
            if release is not None:
                release()
        if acquired:
            self._done.release()
        return acquired

    def set(self, value: Any | None = None) -> None:
        """Set the value; a second set raises `queue.Full`, as in pykka."""
        self._complete(value, None)

    def set_exception(self, exc_info: OptExcInfo | None = None) -> None:
        """Set an exception from `exc_info` (default: the one being handled)."""
        if exc_info is None:
            exc_info = sys.exc_info()
        if exc_info[1] is None and exc_info[0] is not None:
            exc_info = (exc_info[0], exc_info[0](), exc_info[2])
        self._complete(None, exc_info)

    def set_get_hook(self, func: Any) -> None:
        """Compute the value lazily in `get()` (pykka's combinators use this)."""
        if self._is_set:
            raise queue.Full
        super().set_get_hook(func)

    def _complete(self, value: Any, exc_info: OptExcInfo | None) -> None:
        with _callbacks_lock:
            if self._is_set or self._get_hook is not None:
                raise queue.Full
            self._value = value
            self._exc_info = exc_info
            self._is_set = True
            callbacks, self._callbacks = self._callbacks, None
        self._done.release()
        if callbacks:
            for callback in callbacks:
                callback(self)

    def add_done_callback(self, callback: Callable[[Future[T]], None]) -> None:
        """Call `callback(self)` once the future is set (at once if it already is).

        The callback runs in the thread that sets the future; it must be quick and not block.
        """
        with _callbacks_lock:
            if not self._is_set:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return
        callback(self)

    def __await__(self) -> Generator[Any, None, T]:
        if self._get_hook is not None:
            loop = asyncio.get_running_loop()
            result: T = yield from loop.run_in_executor(None, self.get).__await__()
            return result
        if not self._is_set:
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()

            def wake(_: Future[T]) -> None:
                if asyncio._get_running_loop() is loop:  # set on the loop's own thread
                    _resolve(waiter)
                    return
                try:
                    loop.call_soon_threadsafe(_resolve, waiter)
                except RuntimeError:  # the awaiting loop is closed: nobody is left to wake
                    return

            self.add_done_callback(wake)
            yield from waiter.__await__()
        return self.get()

    __iter__ = __await__


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
