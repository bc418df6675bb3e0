"""`remove_listener` on a process and on a runtime: no more events reach the listener."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from greenroom.agents.invocation import Invocation
from greenroom.runtime import AgentProcess, AgentRuntime, ProcessConfig
from greenroom.triggers import TriggerEvent


async def agent(invocation: Invocation) -> str:
    del invocation
    return "ok"


class Seen:
    """A listener recording the completed runs it saw, waking a waiter on each."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.events: list[str] = []
        self.completed: asyncio.Queue[str] = asyncio.Queue()

    def __call__(self, event_type: str, data: dict[str, Any]) -> None:
        # Listeners are called one after another for each event, so once `completed` of a
        # listener added earlier has woken the test, a later one's delivery has run too.
        if event_type == "invocation.completed":
            self.loop.call_soon_threadsafe(self._seen, data["event_id"])

    def _seen(self, event_id: str) -> None:
        self.events.append(event_id)
        self.completed.put_nowait(event_id)


async def run_once(process: AgentProcess, *waiting: Seen) -> str:
    """Inject an event and wait until each of `waiting` has seen its run complete."""
    event = TriggerEvent("t", "manual", payload="x")
    await process.inject(event)
    async with asyncio.timeout(30):
        for seen in waiting:
            assert await seen.completed.get() == event.event_id
    return event.event_id


def test_a_removed_process_listener_hears_nothing_more() -> None:
    async def main() -> None:
        async with AgentProcess("p", ProcessConfig(model=agent)) as process:
            kept, removed = Seen(), Seen()
            process.add_listener(kept)
            process.add_listener(removed)
            first = await run_once(process, kept, removed)
            process.remove_listener(removed)
            await run_once(process, kept)
            assert removed.events == [first]
            with pytest.raises(ValueError, match="was not added"):
                process.remove_listener(removed)

    asyncio.run(main())


def test_a_removed_runtime_listener_hears_nothing_more() -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            process = await runtime.add_process("p", ProcessConfig(model=agent))
            await process.start()
            kept, removed = Seen(), Seen()
            runtime.add_listener(kept)
            runtime.add_listener(removed)
            runtime.remove_listener(removed)
            await run_once(process, kept)
            assert removed.events == []
            with pytest.raises(ValueError, match="was not added"):
                runtime.remove_listener(removed)

    asyncio.run(main())
