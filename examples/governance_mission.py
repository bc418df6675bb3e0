"""A mission (the tutorial's step 7): an agent works until a judge says the goal is reached.

The objective is to move four tables to the v2 schema; the agent moves one per run and keeps the
list in its context state. Every second run (`eval_every=2`) the mission is evaluated by a judge:
here a plain Python agent standing in for the LLM judge, registered as `"python:schema-judge"`
and named by `eval_model`. It reads the evidence it is given (the agent's state, the recent
conversation) and answers with the strict JSON verdict the judge prompt asks for. The agent sees
the objective and the last verdict in its `[Mission]` block. When the judge finds the goal
achieved, `auto_complete` with `on_complete="stop"` stops the process.

(A `MissionConfig(success_check=fn)` can decide instead of, or before, the judge: see
examples/governed_fleet.py.)

Run: python examples/governance_mission.py
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from greenroom.agents import Invocation
from greenroom.agents.registry import register_agent
from greenroom.runtime import AgentProcess, ContextConfig, MissionConfig, ProcessConfig
from greenroom.triggers import TriggerEvent

TABLES: dict[str, Any] = {"users": "v1", "orders": "v1", "invoices": "v1", "events": "v1"}

mission_blocks: list[dict[str, Any]] = []
"""The `[Mission]` block the agent was shown, per run."""


async def migrator(invocation: Invocation) -> str:
    """A stand-in for an LLM: moves the first table still on v1 to v2."""
    block = next(m["content"] for m in invocation.messages
                 if m["content"].startswith("[Mission]"))
    mission_blocks.append(json.loads(block.removeprefix("[Mission]\n")))
    assert invocation.context is not None
    tables = dict(invocation.context.get("tables"))
    table = next(name for name, version in tables.items() if version == "v1")
    tables[table] = "v2"
    invocation.context.put("tables", tables)
    done = sum(version == "v2" for version in tables.values())
    return f"migrated {table} ({done} of {len(tables)} tables on v2)"


async def schema_judge(invocation: Invocation) -> str:
    """The mission judge: finds the agent's state in the evidence and gives a JSON verdict."""
    evidence = invocation.messages[-1]["content"]
    state = next(json.loads(line.removeprefix("state: "))
                 for line in evidence.splitlines() if line.startswith("state: "))
    left = [name for name, version in state["tables"].items() if version != "v2"]
    done = len(state["tables"]) - len(left)
    return json.dumps({
        "achieved": not left,
        "confidence": 0.95 if not left else 0.9,
        "reasoning": "every table is on v2" if not left else f"still on v1: {', '.join(left)}",
        "progress_summary": f"{done} of {len(state['tables'])} tables on v2",
    })


class Events:
    """The process's events, handed from its actor thread to the loop; `next` awaits one."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queues: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._queues[kind].put_nowait, data)

    async def next(self, kind: str) -> dict[str, Any]:
        return await asyncio.wait_for(self._queues[kind].get(), 10)


async def main() -> None:
    register_agent("schema-judge", schema_judge)
    config = ProcessConfig(
        model=migrator,
        context=ContextConfig(initial_state={"tables": TABLES}),
        mission=MissionConfig(
            enabled=True,
            objective="Migrate every table to the v2 schema",
            success_criteria="All four tables are on v2",
            eval_every=2,
            confidence_threshold=0.7,
            max_invocations=10,
            auto_complete=True,
            on_complete="stop",
            eval_model="python:schema-judge",
        ),
    )
    async with AgentProcess("migration", config) as process:
        events = Events()
        process.add_listener(events)
        print(f"objective: {config.mission.objective}")
        for run in range(1, 5):
            await process.inject(TriggerEvent("cron", "cron", payload="next table"))
            await events.next("invocation.completed")
            reply = process.record.conversation.get_messages()[-1]["content"]
            print(f"run {run}: {reply}")
            if run % 2 == 0:
                verdict = await events.next("governance.mission_evaluation")
                print(f"  judge: achieved={verdict['achieved']} "
                      f"confidence={verdict['confidence']}: {verdict['reasoning']}")
        last = mission_blocks[-1]["last_evaluation"]
        print(f"run 4 saw: status={mission_blocks[-1]['status']}, last verdict at run "
              f"{last['invocation']}: {last['progress']}")
        state = await events.next("governance.mission_state")
        stopped = await events.next("process.stopped")
        print(f"mission {state['state']} -> process {stopped['state']}")


if __name__ == "__main__":
    asyncio.run(main())
