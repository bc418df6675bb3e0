"""Governance details a running process must get right: budget usage survives a crash between
checkpoints, the agent reads its secrets through an audited accessor, a `success_check` given in
`ProcessConfig` decides the mission, and no secret value reaches greenroom's log records, the
journal files or the status of a process that used it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from process_support import EventLog, eventually, run_async

from greenroom.agents.invocation import Invocation
from greenroom.governance.config import BudgetConfig, MissionConfig, SecretScopeConfig
from greenroom.governance.mission import MissionEvidence
from greenroom.journal import InMemoryJournal
from greenroom.runtime.config import ContextConfig, JournalConfig, ProcessConfig
from greenroom.runtime.process import AgentProcess
from greenroom.triggers import TriggerEvent

SECRET = "sk-live-9f8e7d6c5b4a-never-logged"


def lookup(city: str) -> str:
    """Look up a city."""
    return f"sunny in {city}"


def event(payload: Any = "go") -> TriggerEvent:
    return TriggerEvent("manual", "manual", payload=payload)


async def two_lookups(invocation: Invocation) -> str:
    for _ in range(2):
        await invocation.call_tool("lookup", {"city": "Oslo"})
    return "looked twice"


def budgeted(checkpoint_every: int) -> ProcessConfig:
    return ProcessConfig(
        model=two_lookups, tools=[lookup],
        journal=JournalConfig(level="checkpoint", backend="memory",
                              checkpoint_every=checkpoint_every),
        budget=BudgetConfig(enabled=True, max_tool_calls_per_day=100),
    )


async def run_then_crash(config: ProcessConfig, journal: InMemoryJournal, runs: int,
                         durable: Callable[[], bool]) -> None:
    """Run `runs` events, wait until `durable()` holds, then crash: no stop, no checkpoint."""
    first = AgentProcess("p", config, journal=journal)
    log = EventLog()
    first.add_listener(log)
    await first.start()
    for n in range(runs):
        await first.inject(event(n))
    await log.wait_for("invocation.completed", runs)
    await eventually(durable)
    await asyncio.to_thread(first.system.shutdown)


async def tool_calls_left_after_recovery(config: ProcessConfig, journal: InMemoryJournal,
                                         expected: int) -> None:
    second = AgentProcess("p", config, journal=journal)
    await second.start()
    try:
        await eventually(lambda: (second.status()["budget"] or {}).get("tool_calls_per_day")
                         == expected)
    finally:
        await second.close()


@run_async
async def test_budget_usage_after_the_last_checkpoint_survives_a_crash() -> None:
    journal = InMemoryJournal()
    config = budgeted(checkpoint_every=100)
    await run_then_crash(
        config, journal, 3,
        lambda: len(journal.read("p", entry_type="invocation_result")) == 3)
    results = journal.read("p", entry_type="invocation_result")
    assert [r.data["budget_usage"]["tool_calls"] for r in results] == [2, 2, 2]
    await tool_calls_left_after_recovery(config, journal, 94)


@run_async
async def test_runs_settled_before_a_checkpoint_are_counted_once() -> None:
    journal = InMemoryJournal()
    config = budgeted(checkpoint_every=1)
    await run_then_crash(
        config, journal, 2,
        lambda: (journal.last_checkpoint("p") or {}).get("invocation_count") == 2)
    await tool_calls_left_after_recovery(config, journal, 96)


@run_async
async def test_the_agent_reads_a_secret_through_an_audited_accessor() -> None:
    journal = InMemoryJournal()
    seen: list[str | None] = []

    async def agent(invocation: Invocation) -> str:
        seen.append(await invocation.get_secret("api_key"))
        return "used the key"

    config = ProcessConfig(
        model=agent, journal=JournalConfig(level="full", backend="memory"),
        secrets=SecretScopeConfig(enabled=True, secrets={"api_key": SECRET}))
    process = AgentProcess("p", config, journal=journal)
    log = EventLog()
    process.add_listener(log)
    await process.start()
    try:
        await process.inject(event())
        await log.wait_for("invocation.completed")
        assert seen == [SECRET]

        def agent_reads() -> list[dict[str, Any]]:
            return [e.data for e in journal.read("p", entry_type="secret_access")
                    if e.data.get("accessor") == "agent"]

        await eventually(lambda: bool(agent_reads()))
        assert agent_reads()[0]["secret"] == "api_key"
        assert SECRET not in json.dumps([e.data for e in journal.read("p")], default=str)
    finally:
        await process.close()


@run_async
async def test_an_agent_without_a_scope_is_told_it_has_none() -> None:
    errors: list[str] = []

    async def agent(invocation: Invocation) -> str:
        try:
            await invocation.get_secret("api_key")
        except LookupError as exc:
            errors.append(str(exc))
        return "ok"

    process = AgentProcess("p", ProcessConfig(model=agent))
    log = EventLog()
    process.add_listener(log)
    await process.start()
    try:
        await process.inject(event())
        await log.wait_for("invocation.completed")
        assert "no secret scope" in errors[0]
    finally:
        await process.close()


@run_async
async def test_a_success_check_in_the_config_completes_the_mission() -> None:
    checked: list[int] = []

    def done_after_two(evidence: MissionEvidence) -> bool:
        checked.append(evidence.invocation_count)
        return evidence.invocation_count >= 2

    async def agent(invocation: Invocation) -> str:
        return "step done"

    config = ProcessConfig(model=agent, mission=MissionConfig(
        enabled=True, objective="two steps", success_criteria="two steps are done",
        eval_every=1, on_complete="stop", success_check=done_after_two))
    assert json.loads(config.model_dump_json())["mission"]["success_check"] is None
    process = AgentProcess("p", config)
    log = EventLog()
    process.add_listener(log)
    await process.start()
    try:
        await process.inject(event(1))
        await log.wait_for("invocation.completed")
        await process.inject(event(2))
        await eventually(lambda: process.status()["state"] == "stopped")
        await eventually(lambda: process.status()["mission_state"] == "completed")
        assert checked == [1, 2]
    finally:
        await process.close()


@run_async
async def test_no_secret_reaches_logs_journal_files_or_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def leaky(invocation: Invocation) -> str:
        key = await invocation.get_secret("api_key")
        await invocation.call_tool("lookup", {"city": f"Oslo {key}"})
        if invocation.event.payload == "fail":
            msg = f"upstream refused key {key}"
            raise RuntimeError(msg)
        logging.getLogger("greenroom.runtime").warning("the agent used %s", key)
        return f"done with {key}"

    config = ProcessConfig(
        model=leaky, tools=[lookup],
        journal=JournalConfig(level="full", backend="file", path=str(tmp_path)),
        secrets=SecretScopeConfig(enabled=True, secrets={"api_key": SECRET}))
    process = AgentProcess("p", config)
    log = EventLog()
    process.add_listener(log)
    caplog.set_level(logging.DEBUG)
    await process.start()
    try:
        await process.inject(event("ok"))
        await process.inject(event("fail"))
        await log.wait_for("invocation.completed")
        await log.wait_for("invocation.failed")
        status = process.status()
        await process.stop()
    finally:
        await process.close()
    messages = [record.getMessage() for record in caplog.records]
    assert any("the agent used [REDACTED:api_key]" in m for m in messages)
    assert not [m for m in messages if SECRET in m]
    assert SECRET not in json.dumps(status, default=str)
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path


@run_async
async def test_a_new_journal_keeps_the_initial_state_and_journals_it(tmp_path: Path) -> None:
    config = ProcessConfig(
        model=two_lookups, tools=[lookup],
        context=ContextConfig(initial_state={"threshold": 5}),
        journal=JournalConfig(level="checkpoint", backend="file", path=str(tmp_path),
                              checkpoint_every=100))
    first = AgentProcess("p", config)
    log = EventLog()
    first.add_listener(log)
    await first.start()
    assert first.context.state_snapshot() == {"threshold": 5}
    await first.inject(event())
    await log.wait_for("invocation.completed")
    await asyncio.to_thread(first.system.shutdown)  # a crash before any checkpoint

    second = AgentProcess("p", config)
    await second.start()
    try:
        assert second.context.state_snapshot() == {"threshold": 5}
    finally:
        await second.close()
