"""Helpers for process tests: an asyncio-friendly log of runtime events, and gated agents."""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from greenroom.agents.invocation import Invocation


class EventLog:
    """Collects `(event_type, data)` from actor threads; coroutines wait on it without blocking."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()

    def __call__(self, event_type: str, data: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self._add, event_type, data)

    def _add(self, event_type: str, data: dict[str, Any]) -> None:
        self.events.append((event_type, data))

        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        self.loop.create_task(notify())

    def count(self, event_type: str) -> int:
        return Counter(t for t, _ in self.events)[event_type]

    def types(self) -> list[str]:
        return [t for t, _ in self.events]

    async def wait_for(self, event_type: str, count: int = 1, timeout: float = 10.0) -> None:
        async def reached() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: self.count(event_type) >= count)

        try:
            await asyncio.wait_for(reached(), timeout)
        except TimeoutError:
            msg = f"waited for {count} x {event_type!r}; got {self.types()}"
            raise AssertionError(msg) from None


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Yield to the loop until `predicate()` holds (an await-assert), failing after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            msg = f"condition not met within {timeout} s"
            raise AssertionError(msg)
        await asyncio.sleep(0.001)


class GatedAgent:
    """An agent whose runs wait until the test opens their gate; records payloads and overlap."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.payloads: list[Any] = []
        self.running = 0
        self.max_running = 0
        self.started = asyncio.Event()

    async def __call__(self, invocation: Invocation) -> str:
        self.payloads.append(invocation.event.payload)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.started.set()
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
        return f"done {invocation.event.payload}"


async def echo(invocation: Invocation) -> str:
    """An agent that answers with its trigger payload."""
    return f"echo {invocation.event.payload}"


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body in a fresh loop (fixtures pass through)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper
