"""A journal reads in causal order: an event's `trigger_event` entry comes before its run's
`invocation_start`, even though the run starts in the same turn that accepts the event."""

from __future__ import annotations

import asyncio

from process_support import EventLog, eventually

from greenroom.agents.invocation import Invocation
from greenroom.journal import InMemoryJournal
from greenroom.runtime.config import JournalConfig, ProcessConfig
from greenroom.runtime.process import AgentProcess
from greenroom.triggers import TriggerEvent


async def quick(invocation: Invocation) -> str:
    return "ok"


def test_trigger_event_is_journaled_before_its_run_starts() -> None:
    async def scenario() -> None:
        journal = InMemoryJournal()
        config = ProcessConfig(model=quick, journal=JournalConfig(level="full",
                                                                  backend="memory"))
        process = AgentProcess("p", config, journal=journal)
        log = EventLog()
        process.add_listener(log)
        await process.start()
        try:
            event = TriggerEvent("manual", "manual", payload=1)
            await process.inject(event)
            await log.wait_for("invocation.completed")

            def kinds() -> list[str]:
                return [e.entry_type for e in journal.read("p")
                        if event.event_id in (e.data.get("event_id"),
                                              e.data.get("event", {}).get("event_id"))]

            await eventually(lambda: "invocation_result" in kinds())
            assert kinds() == ["trigger_event", "invocation_start", "invocation_result"]
        finally:
            await process.close()

    asyncio.run(scenario())
