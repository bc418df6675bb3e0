"""Governance wired into a process: the budget vetoes and pauses, the daily run limit holds
events until the reset, health anomalies pause, the mission completes and stops the process,
secrets resolve at start, notices are journaled, and budget counters survive a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from process_support import EventLog, eventually, run_async

from greenroom.actors.clock import ManualClock
from greenroom.agents.invocation import Invocation, LLMTurnDenied, ToolDenied
from greenroom.governance.config import (
    BudgetConfig,
    HealthConfig,
    MissionConfig,
    SecretScopeConfig,
)
from greenroom.journal import InMemoryJournal
from greenroom.runtime.config import JournalConfig, ProcessConfig
from greenroom.runtime.process import AgentProcess
from greenroom.triggers import TriggerEvent

SECRET = "s3cr3t-value-never-written"


def lookup(city: str) -> str:
    """Look up a city."""
    return f"sunny in {city}"


def event(payload: Any = "go") -> TriggerEvent:
    return TriggerEvent("manual", "manual", payload=payload)


class ToolAgent:
    """Calls `lookup` `calls` times per run (same arguments), recording what the gate said."""

    def __init__(self, calls: int, *, turns: int = 0) -> None:
        self.calls = calls
        self.turns = turns
        self.outcomes: list[str] = []

    async def __call__(self, invocation: Invocation) -> str:
        for _ in range(self.turns):
            invocation.record_llm_turn()
        for _ in range(self.calls):
            try:
                self.outcomes.append(await invocation.call_tool("lookup", {"city": "Oslo"}))
            except ToolDenied as exc:
                self.outcomes.append(f"denied: {exc}")
        return "done"


def governed(model: Any, **sections: Any) -> ProcessConfig:
    return ProcessConfig(model=model, tools=[lookup],
                         journal=JournalConfig(level="full", backend="memory"), **sections)


async def started(config: ProcessConfig, journal: InMemoryJournal,
                  clock: ManualClock | None = None) -> tuple[AgentProcess, EventLog]:
    log = EventLog()
    process = AgentProcess("p", config, journal=journal, clock=clock)
    process.add_listener(log)
    await process.start()
    return process, log


def entries(journal: InMemoryJournal, entry_type: str) -> list[dict[str, Any]]:
    return [e.data for e in journal.read("p") if e.entry_type == entry_type]


@run_async
async def test_a_vetoed_tool_does_not_run_is_journaled_and_pauses_the_process() -> None:
    journal = InMemoryJournal()
    agent = ToolAgent(calls=3)
    config = governed(agent, budget=BudgetConfig(enabled=True, max_tool_calls_per_run=2))
    process, log = await started(config, journal)
    try:
        await process.inject(event())
        await log.wait_for("invocation.completed")
        await eventually(lambda: process.status()["state"] == "suspended")
        assert agent.outcomes[:2] == ["sunny in Oslo"] * 2
        assert agent.outcomes[2].startswith("denied: ")
        assert "max_tool_calls_per_run" in agent.outcomes[2]
        await eventually(lambda: bool(entries(journal, "budget_violation")))
        assert len(entries(journal, "tool_call")) == 2  # the vetoed call never reached the tool
        denied = entries(journal, "tool_denied")
        assert len(denied) == 1
        assert denied[0]["source"] == "budget"
        assert entries(journal, "budget_violation")[0]["action"] == "pause"
        assert process.status()["suspend_reason"].startswith("governance: budget")
        await eventually(lambda: process.status()["budget"] is not None)
    finally:
        await process.close()


@run_async
async def test_llm_turns_past_the_per_run_limit_are_refused() -> None:
    journal = InMemoryJournal()
    agent = ToolAgent(calls=0, turns=3)
    config = governed(agent, budget=BudgetConfig(enabled=True, max_llm_turns_per_run=2,
                                                 on_exceeded="stop"))
    process, log = await started(config, journal)
    try:
        await process.inject(event())
        await log.wait_for("invocation.failed")
        await eventually(lambda: bool(entries(journal, "error")))
        error = entries(journal, "error")[0]["error"]
        assert LLMTurnDenied.__name__ in error
        assert "max_llm_turns_per_run=2" in error
        await eventually(lambda: process.status()["state"] == "stopped")
    finally:
        await process.close()


@run_async
async def test_the_daily_run_limit_keeps_the_event_until_the_reset() -> None:
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
    clock = ManualClock(start=start)
    journal = InMemoryJournal()
    agent = ToolAgent(calls=0)
    config = governed(agent, budget=BudgetConfig(enabled=True, max_runs_per_day=1))
    process, log = await started(config, journal, clock)
    try:
        first, second = event("one"), event("two")
        await process.inject(first)
        await log.wait_for("invocation.completed")
        await process.inject(second)
        await log.wait_for("invocation.refused")
        await eventually(lambda: process.status()["state"] == "suspended")
        status = process.status()
        assert status["queue_size"] == 1  # kept, not dead-lettered
        assert status["dead_letter_count"] == 0
        assert status["invocation_count"] == 1
        clock.advance(24 * 3600)  # past the daily reset (midnight UTC)
        await log.wait_for("invocation.completed", 2)
        assert process.status()["state"] == "running"
        await eventually(lambda: len(entries(journal, "invocation_result")) == 2)
        results = entries(journal, "invocation_result")
        assert [r["event_id"] for r in results] == [first.event_id, second.event_id]
    finally:
        await process.close()


@run_async
async def test_a_stuck_agent_is_an_anomaly_that_pauses_the_process() -> None:
    journal = InMemoryJournal()
    agent = ToolAgent(calls=3)
    config = governed(agent, health=HealthConfig(enabled=True, stuck_threshold=3,
                                                 on_anomaly="pause"))
    process, log = await started(config, journal)
    try:
        await process.inject(event())
        await log.wait_for("governance.anomaly")
        await eventually(lambda: process.status()["state"] == "suspended")
        anomaly = next(data for kind, data in log.events if kind == "governance.anomaly")
        assert anomaly["source"] == "health"
        await eventually(lambda: process.status()["health_anomalies"] == 1)
        assert SECRET not in json.dumps(process.status(), default=str)
    finally:
        await process.close()


@run_async
async def test_an_achieved_mission_is_journaled_and_stops_the_process() -> None:
    journal = InMemoryJournal()

    async def agent(invocation: Invocation) -> str:
        return json.dumps({"achieved": True, "confidence": 0.95, "reasoning": "report sent",
                           "progress_summary": "all done"})

    config = governed(agent, mission=MissionConfig(
        enabled=True, objective="send the report", success_criteria="the report is sent",
        eval_every=1, on_complete="stop"))
    process, log = await started(config, journal)
    try:
        await process.inject(event())
        await log.wait_for("governance.mission_state")
        await eventually(lambda: process.status()["state"] == "stopped")
        await eventually(lambda: bool(entries(journal, "mission_evaluation")))
        evaluation = entries(journal, "mission_evaluation")
        assert evaluation[0]["source"] == "judge"  # the verdict's own source, not the notice's
    finally:
        await process.close()


@run_async
async def test_the_mission_block_reaches_the_agent_prompt() -> None:
    journal = InMemoryJournal()
    prompts: list[list[dict[str, Any]]] = []

    async def agent(invocation: Invocation) -> str:
        prompts.append(invocation.messages)
        return "working on it"

    config = governed(agent, budget=BudgetConfig(enabled=True, max_tool_calls_per_run=5),
                      mission=MissionConfig(enabled=True, objective="tidy the inbox",
                                            success_criteria="inbox zero",
                                            eval_every=100))
    process, log = await started(config, journal)
    try:
        await process.inject(event())
        await log.wait_for("invocation.completed")
        system = [m["content"] for m in prompts[0] if m["role"] == "system"]
        assert any(text.startswith("[Budget Remaining]") for text in system)
        assert any(text.startswith("[Mission]") and "tidy the inbox" in text for text in system)
        assert prompts[0][-1]["content"].startswith("[Trigger: manual]")
    finally:
        await process.close()


@run_async
async def test_secrets_resolve_at_start_and_are_never_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journal = InMemoryJournal()
    config = governed(ToolAgent(calls=1), secrets=SecretScopeConfig(
        enabled=True, secrets={"api_key": "${GR_GOVERNANCE_TEST_KEY}"}))
    monkeypatch.delenv("GR_GOVERNANCE_TEST_KEY", raising=False)
    refused = AgentProcess("p", config, journal=journal)
    with pytest.raises(Exception, match="GR_GOVERNANCE_TEST_KEY"):
        await refused.start()
    await refused.close()

    monkeypatch.setenv("GR_GOVERNANCE_TEST_KEY", SECRET)
    written = InMemoryJournal()
    process, log = await started(config, written)
    try:
        await process.inject(event())
        await log.wait_for("invocation.completed")
        await eventually(lambda: process.status()["active_secrets"] == ["api_key"])
        await process.stop()
        everything = [e.data for e in written.read("p")]
        assert everything
        assert SECRET not in json.dumps(everything, default=str)
        assert SECRET not in json.dumps(process.status(), default=str)
    finally:
        await process.close()


@run_async
async def test_budget_counters_survive_a_restart(tmp_path: Path) -> None:
    config = ProcessConfig(
        model=ToolAgent(calls=2), tools=[lookup],
        journal=JournalConfig(level="checkpoint", backend="file", path=str(tmp_path)),
        budget=BudgetConfig(enabled=True, max_tool_calls_per_day=100),
    )
    first = AgentProcess("p", config)
    log = EventLog()
    first.add_listener(log)
    await first.start()
    await first.inject(event())
    await log.wait_for("invocation.completed")
    await eventually(lambda: (first.status()["budget"] or {}).get("tool_calls_per_day") == 98)
    await first.close()

    second = AgentProcess("p", config)
    await second.start()
    try:
        await eventually(lambda: (second.status()["budget"] or {}).get("tool_calls_per_day")
                         == 98)
    finally:
        await second.close()


@run_async
async def test_a_secret_in_a_reply_or_an_error_is_masked_before_it_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GR_GOVERNANCE_TEST_KEY", SECRET)

    async def leaky(invocation: Invocation) -> str:
        if invocation.event.payload == "fail":
            raise RuntimeError(f"token {SECRET} rejected")
        return f"my key is {SECRET}"

    journal = InMemoryJournal()
    config = governed(leaky, max_consecutive_failures=5, secrets=SecretScopeConfig(
        enabled=True, secrets={"api_key": "${GR_GOVERNANCE_TEST_KEY}"}))
    process, log = await started(config, journal)
    try:
        await process.inject(event("ok"))  # at once: no run starts before the redactor is in
        await log.wait_for("invocation.completed")
        await process.inject(event("fail"))
        await log.wait_for("invocation.failed")
        await process.stop()
        written = json.dumps([e.data for e in journal.read("p")], default=str)
        assert "my key is" in written
        assert "rejected" in written
        assert SECRET not in written
        assert SECRET not in json.dumps(process.status(), default=str)
        assert SECRET not in json.dumps(log.events, default=str)
    finally:
        await process.close()
