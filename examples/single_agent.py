"""One agent process, woken by hand with `inject`: the runtime in its smallest form.

Run: python examples/single_agent.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from greenroom.agents import Invocation
from greenroom.runtime import AgentProcess, ProcessConfig
from greenroom.triggers import TriggerEvent


async def triage(invocation: Invocation) -> str:
    """A stand-in for an LLM: classifies an alert by its severity field."""
    alert = invocation.event.payload
    level = "page someone" if alert["severity"] >= 3 else "log it"
    return f"{alert['service']}: {level}"


async def main() -> None:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_event(kind: str, _data: dict[str, Any]) -> None:  # runs on an actor thread
        if kind == "invocation.completed":
            loop.call_soon_threadsafe(done.set)

    async with AgentProcess("triage", ProcessConfig(model=triage)) as process:
        process.add_listener(on_event)
        await process.inject(TriggerEvent("manual", "manual",
                                          payload={"service": "billing", "severity": 4}))
        await asyncio.wait_for(done.wait(), 10)
        reply = process.record.conversation.get_messages()[-1]["content"]
        status = process.status()
        print(f"reply: {reply}")
        print(f"state={status['state']} runs={status['invocation_count']}")
    print(f"after close: {process.state.value}")


if __name__ == "__main__":
    asyncio.run(main())
