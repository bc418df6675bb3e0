"""One process woken by all five trigger types (the tutorial's step 2, runnable offline).

A cron schedule (every second, the 6-field form), a webhook on a free loopback port, a watched
directory, an event-bus pattern and a broker topic all wake the same agent, a plain Python
function standing in for an LLM. The program fires each one once and prints what woke the agent.

Run: python examples/five_triggers.py
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from greenroom.agents import Invocation
from greenroom.runtime import AgentRuntime, ProcessConfig
from greenroom.triggers import (
    CronTrigger,
    EventTrigger,
    FileWatchTrigger,
    MessageTrigger,
    WebhookTrigger,
)

woken: asyncio.Queue[str] = asyncio.Queue()


async def responder(invocation: Invocation) -> str:
    """Says what woke it, in one line per trigger type."""
    event, payload = invocation.event, invocation.event.payload
    summary = {
        "cron": lambda: "scheduled check",
        "webhook": lambda: f"pipeline {payload['pipeline']} {payload['status']}",
        "file_watch": lambda: f"config {payload['filename']} {payload['event_type']}",
        "event": lambda: f"alert from {payload['source']}: {payload['data']['text']}",
        "message": lambda: f"message on {payload['topic']}: {payload['content']}",
    }[event.trigger_type]()
    await woken.put(f"{event.trigger_type}: {summary}")
    return summary


async def main() -> None:
    with tempfile.TemporaryDirectory() as config_dir:
        config = ProcessConfig(
            model=responder,
            triggers=[
                CronTrigger("* * * * * *"),
                WebhookTrigger("/pipeline-events", webhook_port=0),
                FileWatchTrigger(f"{config_dir}/*.yaml", watch_events=["created", "modified"],
                                 watch_debounce_seconds=0.05),
                EventTrigger("alert.critical"),
                MessageTrigger("pipeline.alerts.*"),
            ],
        )
        async with AgentRuntime() as runtime:
            process = await runtime.add_process("responder", config)
            await process.start()
            url = next(t["url"] for t in process.status()["triggers"] if t["type"] == "webhook")
            await _subscriptions(runtime)
            async with aiohttp.ClientSession() as http:
                await http.post(url, json={"pipeline": "nightly-etl", "status": "failed"})
            Path(config_dir, "pipeline.yaml").write_text("retries: 3\n")
            await runtime.event_bus.emit("alert.critical", {"text": "disk full"}, source="monitor")
            await runtime.broker.publish("pipeline.alerts.db", "replica lag 40 s", sender="dba")
            lines = await _one_of_each(5)
            print("\n".join(sorted(lines)))
            fired = {t["type"]: t["fire_count"] > 0 for t in process.status()["triggers"]}
            print(f"every trigger fired: {all(fired.values())}")


async def _subscriptions(runtime: AgentRuntime) -> None:
    """Wait until the event and message triggers have subscribed (they do so asynchronously)."""
    async def ready(source: Any, pattern: str) -> bool:
        return any(s.pattern == pattern for s in await source.subscriptions())

    while not (await ready(runtime.event_bus, "alert.critical")
               and await ready(runtime.broker, "pipeline.alerts.*")):
        await asyncio.sleep(0.01)


async def _one_of_each(kinds: int) -> list[str]:
    """The first line of each trigger type (the cron may fire more than once meanwhile)."""
    first: dict[str, str] = {}
    while len(first) < kinds:
        line = await asyncio.wait_for(woken.get(), 10)
        first.setdefault(line.split(":", 1)[0], line)
    return list(first.values())


if __name__ == "__main__":
    asyncio.run(main())
