"""The system's asyncio loop for I/O: the caller's running loop, or a loop thread of our own.

Actors never await; they hand coroutines to this loop (`Actor.pipe_to`) and get the outcome back
as a message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any

__all__ = ["IoLoop"]


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
