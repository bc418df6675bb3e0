"""Behavioural health (the tutorial's step 6): a stuck agent is caught, escalated and paused.

The agent, a `ScriptedAgent` standing in for a model, polls the same pipeline with the same
arguments three times in a row: `stuck_threshold=3` makes that an anomaly. With
`on_anomaly="escalate"` the health actor POSTs it to the escalation webhook (a small aiohttp
server this program runs on a free loopback port) and the process is suspended. The operator
reads the anomalies, fixes the cause, clears them and resumes; the next run behaves.

Run: python examples/governance_health.py
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from aiohttp import web

from greenroom.runtime import AgentProcess, EscalationTarget, HealthConfig, ProcessConfig
from greenroom.testing import ScriptedAgent, ToolStep
from greenroom.triggers import TriggerEvent


def get_status(pipeline: str) -> str:
    """The state of a data pipeline.

    Args:
        pipeline: the pipeline's name.
    """
    return f"{pipeline}: pending"


def restart_pipeline(pipeline: str) -> str:
    """Restart a data pipeline.

    Args:
        pipeline: the pipeline's name.
    """
    return f"{pipeline}: restarted"


POLL = ToolStep("get_status", {"pipeline": "p3"})
AGENT = ScriptedAgent([
    POLL, POLL, POLL, "p3 is still pending",  # the first run: polling, going nowhere
    [ToolStep("restart_pipeline", {"pipeline": "p3"}), POLL], "p3 restarted and running",
])


class Events:
    """The process's events, handed from its actor thread to the loop; `next` awaits one."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queues: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._queues[kind].put_nowait, data)

    async def next(self, kind: str) -> dict[str, Any]:
        return await asyncio.wait_for(self._queues[kind].get(), 10)


async def webhook_server(received: asyncio.Queue[dict[str, Any]]) -> web.AppRunner:
    """An escalation receiver (think: the on-call channel) on 127.0.0.1, on a free port."""

    async def escalation(request: web.Request) -> web.Response:
        await received.put(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/escalations", escalation)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def main() -> None:
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    runner = await webhook_server(received)
    host, port = runner.addresses[0][:2]
    config = ProcessConfig(
        model=AGENT,
        tools=[get_status, restart_pipeline],
        health=HealthConfig(
            enabled=True,
            stuck_threshold=3,
            on_anomaly="escalate",
            escalation=EscalationTarget(webhook_url=f"http://{host}:{port}/escalations"),
        ),
    )
    try:
        async with AgentProcess("pipelines", config) as process:
            events = Events()
            process.add_listener(events)
            await process.inject(TriggerEvent("cron", "cron", payload="check the pipelines"))

            await events.next("invocation.completed")
            calls = [f"{o.name}({o.arguments['pipeline']})" for o in AGENT.tool_outcomes]
            print(f"run 1: {', '.join(calls)} -> {AGENT.replies[-1]!r}")
            escalation = await asyncio.wait_for(received.get(), 10)
            print(f"webhook got: {escalation['type']} from {escalation['source']} of "
                  f"{escalation['process_id']}: {escalation['anomaly_type']} "
                  f"({escalation['details']['tool']} x{escalation['details']['count']})")
            suspended = await events.next("process.suspended")
            print(f"process suspended ({suspended['reason']})")

            report = await process.health_anomalies()
            print(f"operator sees: {[a['type'] for a in report['anomalies']]}")
            print(f"operator clears {await process.clear_anomalies()} anomaly and resumes")
            await process.resume()
            await process.inject(TriggerEvent("cron", "cron", payload="check the pipelines"))
            await events.next("invocation.completed")
            calls = [f"{o.name}({o.arguments['pipeline']})" for o in AGENT.tool_outcomes[3:]]
            print(f"run 2: {', '.join(calls)} -> {AGENT.replies[-1]!r}")
            report = await process.health_anomalies()
            print(f"healthy: {report['is_healthy']}, anomalies: {len(report['anomalies'])}, "
                  f"state={process.state.value}")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
