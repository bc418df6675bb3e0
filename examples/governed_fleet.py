"""A governed fleet (the tutorial's step 11 and its complete example), runnable offline.

Three processes in one `AgentRuntime`, each agent a plain Python function standing in for an LLM:

- **monitor** checks the pipelines when its schedule ticks (the program fires the ticks by hand,
  standing in for a cron trigger), under a budget (daily tool calls and cost units, pipeline
  checks weighted 0.5) and a health monitor; it emits `alert.critical` on the event bus for an
  unhealthy pipeline;
- **analyst** wakes on that event (an event trigger), finds the failing stage and publishes a
  diagnosis on the broker topic `analysis.complete`;
- **responder** wakes on that message (a message trigger) and restarts the stage with its
  admin key, a scoped secret read through `invocation.get_secret`. Its mission, to restore every
  pipeline, is decided by a `success_check` that asks the pipelines themselves, after each run;
  once achieved, the responder is suspended (`on_complete="suspend"`) for an operator to review.

The program prints the chain of events, then each process's governance status.

Run: python examples/governed_fleet.py
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from typing import Any

from greenroom.agents import Invocation
from greenroom.runtime import (
    AgentProcess,
    AgentRuntime,
    BudgetConfig,
    HealthConfig,
    MissionConfig,
    ProcessConfig,
    SecretScopeConfig,
    ToolCostAnnotation,
)
from greenroom.triggers import EventTrigger, MessageTrigger, TriggerEvent

ADMIN_KEY = "pak-4f1c9e-admin-key"
PIPELINES = {
    "etl-nightly": {"extract": "ok", "load": "failing"},
    "etl-hourly": {"extract": "ok", "load": "ok"},
}
DAILY_TOOL_CALLS = 500
checks_made: list[str] = []
"""Every pipeline check the monitor made, counted by the program to compare with the budget."""


def pipeline_status(pipeline: str) -> dict[str, str]:
    """The state of each stage of a pipeline.

    Args:
        pipeline: the pipeline's name.
    """
    checks_made.append(pipeline)
    return dict(PIPELINES[pipeline])


def restart_stage(pipeline: str, stage: str, admin_key: str) -> str:
    """Restart one stage of a pipeline (needs the admin key).

    Args:
        pipeline: the pipeline's name.
        stage: the stage to restart.
        admin_key: the pipeline admin API key.
    """
    if admin_key != ADMIN_KEY:
        msg = "pipeline admin API: invalid key"
        raise PermissionError(msg)
    PIPELINES[pipeline][stage] = "ok"
    return f"{pipeline}/{stage} restarted"


def all_pipelines_healthy(_evidence: Any) -> bool:
    """The responder's mission check: every stage of every pipeline reports ok."""
    return all(state == "ok" for stages in PIPELINES.values() for state in stages.values())


class Events:
    """The runtime's events per (kind, process), handed from actor threads to the loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queues: defaultdict[tuple[str, str], asyncio.Queue[dict[str, Any]]]
        self._queues = defaultdict(asyncio.Queue)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        key = (kind, data.get("process", ""))
        self._loop.call_soon_threadsafe(self._queues[key].put_nowait, data)

    async def next(self, kind: str, process: str) -> dict[str, Any]:
        return await asyncio.wait_for(self._queues[kind, process].get(), 10)


def last_reply(process: AgentProcess) -> str:
    return str(process.record.conversation.get_messages()[-1]["content"])


async def fleet(runtime: AgentRuntime) -> None:
    """Add the three processes, each agent talking to the others over the runtime's bus and
    broker."""

    async def monitor(invocation: Invocation) -> str:
        unhealthy = []
        for name in PIPELINES:
            stages = await invocation.call_tool("pipeline_status", {"pipeline": name})
            failing = [stage for stage, state in stages.items() if state != "ok"]
            if failing:
                unhealthy.append(f"{name} ({', '.join(failing)})")
                await runtime.event_bus.emit("alert.critical",
                                             {"pipeline": name, "failing": failing},
                                             source="monitor")
        found = (f"{', '.join(unhealthy)} unhealthy -> alert.critical" if unhealthy
                 else "all healthy")
        return f"checked {len(PIPELINES)} pipelines: {found}"

    async def analyst(invocation: Invocation) -> str:
        alert = invocation.event.payload["data"]
        diagnosis = {"pipeline": alert["pipeline"], "stage": alert["failing"][0]}
        await runtime.broker.publish("analysis.complete", diagnosis, sender="analyst")
        return (f"{diagnosis['pipeline']}: the {diagnosis['stage']} stage is down, restart it "
                "-> analysis.complete")

    async def responder(invocation: Invocation) -> str:
        diagnosis = invocation.event.payload["content"]
        key = await invocation.get_secret("pipeline_admin_key")
        if key is None:
            return "cannot act: the admin key has expired"
        return str(await invocation.call_tool("restart_stage", {**diagnosis, "admin_key": key}))

    await runtime.add_process("monitor", ProcessConfig(
        model=monitor,
        tools=[pipeline_status],
        budget=BudgetConfig(
            enabled=True,
            max_tool_calls_per_day=DAILY_TOOL_CALLS,
            max_cost_per_day=50.0,
            tool_costs={"pipeline_status": ToolCostAnnotation(cost_weight=0.5)},
            on_exceeded="pause",
        ),
        health=HealthConfig(enabled=True, stuck_threshold=5, on_anomaly="pause"),
    ))
    await runtime.add_process("analyst", ProcessConfig(
        model=analyst, triggers=[EventTrigger("alert.critical")]))
    await runtime.add_process("responder", ProcessConfig(
        model=responder,
        tools=[restart_stage],
        triggers=[MessageTrigger("analysis.complete")],
        restart_policy="on_failure",
        mission=MissionConfig(
            enabled=True,
            objective="Restore all pipelines to healthy status",
            success_criteria="Every stage of every pipeline reports ok",
            eval_every=1,
            timeout_hours=4,
            on_complete="suspend",
            success_check=all_pipelines_healthy,
        ),
        secrets=SecretScopeConfig(
            enabled=True,
            secrets={"pipeline_admin_key": "${PIPELINE_ADMIN_KEY}"},
            default_ttl=1800,
            revoke_on_stop=True,
        ),
    ))


async def subscribed(runtime: AgentRuntime) -> None:
    """Wait until the event and message triggers have subscribed (they do so asynchronously)."""

    async def ready(source: Any, pattern: str) -> bool:
        return any(s.pattern == pattern for s in await source.subscriptions())

    while not (await ready(runtime.event_bus, "alert.critical")
               and await ready(runtime.broker, "analysis.complete")):
        await asyncio.sleep(0.01)


async def budget_counted(process: AgentProcess) -> dict[str, Any]:
    """The monitor's status once it shows every pipeline check made so far. `status()` holds
    what the governance actors last reported, which they do just after each run."""
    while True:
        status = process.status()
        left = (status["budget"] or {}).get("tool_calls_per_day")
        if left == DAILY_TOOL_CALLS - len(checks_made):
            return status
        await asyncio.sleep(0.01)


async def main() -> None:
    os.environ["PIPELINE_ADMIN_KEY"] = ADMIN_KEY
    async with AgentRuntime() as runtime:
        events = Events()
        runtime.add_listener(events)
        await fleet(runtime)
        await runtime.start_all()
        await asyncio.wait_for(subscribed(runtime), 10)
        monitor = runtime.get_process("monitor")
        responder = runtime.get_process("responder")

        await monitor.inject(TriggerEvent("schedule", "cron", payload="check the pipelines"))
        for name in ("monitor", "analyst", "responder"):
            await events.next("invocation.completed", name)
            print(f"{name}: {last_reply(runtime.get_process(name))}")
        mission = await events.next("governance.mission_state", "responder")
        suspended = await events.next("process.suspended", "responder")
        print(f"responder's mission: {mission['state']} -> responder suspended "
              f"({suspended['reason']})")

        await monitor.inject(TriggerEvent("schedule", "cron", payload="check the pipelines"))
        await events.next("invocation.completed", "monitor")
        print(f"monitor: {last_reply(monitor)}")

        print("governance status:")
        status = await asyncio.wait_for(budget_counted(monitor), 10)
        health = await monitor.health_anomalies()
        print(f"  monitor: {status['state']}; budget left today: "
              f"{status['budget']['tool_calls_per_day']} tool calls, "
              f"{status['budget']['cost_per_day']:g} cost units; "
              f"healthy={health['is_healthy']}, anomalies={len(health['anomalies'])}")
        analyst = runtime.get_process("analyst").status()
        governed = [k for k in ("budget", "health", "mission", "active_secrets") if k in analyst]
        print(f"  analyst: {analyst['state']}; governance: {governed or 'none'}")
        goal = await responder.mission_status()
        secrets = await responder.list_secrets()
        print(f"  responder: {responder.state.value}; mission {goal['state']} after "
              f"{goal['invocation_count']} run(s); secrets: " + ", ".join(
                  f"{s['name']} {s['state']}" for s in secrets["secrets"]))


if __name__ == "__main__":
    asyncio.run(main())
