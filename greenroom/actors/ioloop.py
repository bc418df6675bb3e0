"""The system's asyncio loop for I/O: the caller's running loop, or a loop thread of our own.

Actors never await; they hand coroutines to this loop (`Actor.pipe_to`) and get the outcome back
as a message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

__all__ = ["IoLoop", "Outcome", "TaskHandle"]

_running_loop = asyncio._get_running_loop
"""The loop running in this thread, or None (the C accessor: no exception when there is none)."""


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class Outcome(Protocol):
    """How a finished coroutine ended (an `asyncio.Task` or a `concurrent.futures.Future`)."""

    def cancelled(self) -> bool: ...
    def exception(self) -> BaseException | None: ...
    def result(self) -> Any: ...


class TaskHandle(Protocol):
    """A coroutine started by `IoLoop.start`: cancel it from any thread, hear when it is done."""

    def cancel(self) -> bool: ...
    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...


class _LoopTask:
    """`TaskHandle` of a task created on the loop thread: the task itself, no thread-safe
    future beside it; a cancel from another thread is handed to the loop."""

    __slots__ = ("_loop", "_task")

    def __init__(self, task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._task = task
        self._loop = loop

    def cancel(self) -> bool:
        if self._task.done():
            return False
        if _running_loop() is self._loop:
            return self._task.cancel()
        try:
            self._loop.call_soon_threadsafe(self._task.cancel)
        except RuntimeError:  # the loop is closed: the task went with it
            return False
        return True

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        self._task.add_done_callback(fn)


def _bridge(task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop
            ) -> concurrent.futures.Future[Any]:
    """A thread-safe future that follows `task` (created on this thread, so no wake-up of the
    loop is needed, unlike `run_coroutine_threadsafe`); cancelling it cancels the task."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def copy(done: asyncio.Task[Any]) -> None:
        if future.cancelled():
            return
        if done.cancelled():
            future.cancel()
            future.set_running_or_notify_cancel()
            return
        error = done.exception()
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result())

    def cancel(done: concurrent.futures.Future[Any]) -> None:
        if done.cancelled() and not task.done():
            if _running_loop() is loop:
                task.cancel()
            else:
                loop.call_soon_threadsafe(task.cancel)

    task.add_done_callback(copy)
    future.add_done_callback(cancel)
    return future


class IoLoop:
    """Runs coroutines for actors; owns a daemon loop thread only if no loop was running."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            self.owned = False
        except RuntimeError:
            self._loop = None
            self.owned = True

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (started on first use when the system owns it)."""
        known = self._loop  # set once and never reset: read without the lock on the hot path
        if known is not None:
            return known
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name=f"{self._name}-io", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def submit(self, awaitable: Awaitable[Any]) -> concurrent.futures.Future[Any]:
        """Schedule `awaitable` on the loop; the returned future can be cancelled."""
        coro: Coroutine[Any, Any, Any] = (
            awaitable if asyncio.iscoroutine(awaitable) else _await(awaitable)
        )
        loop = self.loop
        if _running_loop() is loop:  # on the loop's own thread (a loop-dispatched actor)
            return _bridge(loop.create_task(coro), loop)
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def start(self, coro: Coroutine[Any, Any, Any]) -> TaskHandle:
        """Schedule `coro` on the loop, for a caller that only cancels it and wants its `Outcome`
        in a done callback (run on the loop thread). From the loop thread this is the bare task,
        which saves `submit`'s thread-safe future on a hot path."""
        loop = self.loop
        if _running_loop() is loop:
            return _LoopTask(loop.create_task(coro), loop)
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def close(self) -> None:
        """Cancel what runs on an owned loop and stop its thread; a borrowed loop is left alone."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if not self.owned or loop is None or thread is None:
                return
            self._thread = None

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout=5.0)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5.0)
        loop.close()
