"""Three agents talking: a collector publishes on the broker, an analyst answers on the event bus,
a reporter writes the result. Each agent is a process; messages between them are actor messages.

Run: python examples/three_agents.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from greenroom.agents import Invocation
from greenroom.runtime import AgentRuntime, ProcessConfig
from greenroom.runtime.broker import BrokerMessage
from greenroom.runtime.bus import BusEvent
from greenroom.triggers import TriggerEvent


async def main() -> None:
    report: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async with AgentRuntime() as runtime:

        async def collector(invocation: Invocation) -> str:
            readings = invocation.event.payload
            await runtime.broker.publish("analysis.request", readings, sender="collector")
            return f"sent {len(readings)} readings"

        async def analyst(invocation: Invocation) -> str:
            readings: list[float] = invocation.event.payload
            mean = sum(readings) / len(readings)
            await runtime.event_bus.emit("analysis.complete", {"mean": mean}, source="analyst")
            return f"mean {mean:.2f}"

        async def reporter(invocation: Invocation) -> str:
            text = f"report: average reading {invocation.event.payload['mean']:.2f}"
            if not report.done():
                report.set_result(text)
            return text

        for name, agent in (("collector", collector), ("analyst", analyst),
                            ("reporter", reporter)):
            await runtime.add_process(name, ProcessConfig(model=agent))
        await runtime.start_all()

        async def wake(name: str, kind: str, payload: Any) -> None:
            await runtime.get_process(name).inject(TriggerEvent(kind, kind, payload=payload))

        async def on_request(message: BrokerMessage) -> None:
            await wake("analyst", "message", message.content)

        async def on_complete(event: BusEvent) -> None:
            await wake("reporter", "event", event.data)

        await runtime.broker.subscribe("analysis.*", on_request)
        await runtime.event_bus.subscribe("analysis.complete", on_complete)

        await wake("collector", "manual", [3.0, 4.5, 6.0])
        print(await asyncio.wait_for(report, 10))
        for summary in runtime.list_processes():
            print(f"{summary['name']}: {summary['state']}")


if __name__ == "__main__":
    asyncio.run(main())
