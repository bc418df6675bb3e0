"""Operator methods on a running process: new instructions and limits, the inbox, triggers,
secrets, the journal, the mission, health anomalies, the context, dead letters, and the
runtime's supervision tree. Each bad request raises and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from process_support import EventLog, eventually, run_async
from pydantic import ValidationError

from greenroom.agents.invocation import Invocation
from greenroom.governance.config import (
    BudgetConfig,
    HealthConfig,
    MissionConfig,
    SecretScopeConfig,
)
from greenroom.governance.mission import MissionStateError
from greenroom.governance.secrets import UnknownSecretError
from greenroom.journal import InMemoryJournal
from greenroom.runtime import (
    AgentRuntime,
    ContextConfig,
    ContextWriteDenied,
    FeatureDisabledError,
    InboxConfig,
    InboxError,
    ProcessStateError,
)
from greenroom.runtime.config import JournalConfig, ProcessConfig
from greenroom.runtime.process import AgentProcess
from greenroom.triggers import TriggerConfig, TriggerEvent

SECRET = "an-operator-secret-value"


def event(payload: Any = "go") -> TriggerEvent:
    return TriggerEvent("manual", "manual", payload=payload)


class PromptAgent:
    """Records every run's system prompt and payload; answers with the payload."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.payloads: list[Any] = []

    async def __call__(self, invocation: Invocation) -> str:
        self.prompts.append(invocation.messages[0]["content"])
        self.payloads.append(invocation.event.payload)
        return f"seen {invocation.event.payload}"


async def running(config: ProcessConfig, journal: InMemoryJournal | None = None
                  ) -> tuple[AgentProcess, EventLog]:
    log = EventLog()
    process = AgentProcess("p", config, journal=journal)
    process.add_listener(log)
    await process.start()
    return process, log


@run_async
async def test_new_instructions_reach_the_next_run() -> None:
    agent = PromptAgent()
    process, log = await running(ProcessConfig(model=agent, instructions="Be brief."))
    try:
        await process.inject(event(1))
        await log.wait_for("invocation.completed")
        await process.update_instructions("Be thorough.")
        await process.inject(event(2))
        await log.wait_for("invocation.completed", 2)
        assert "Be brief." in agent.prompts[0]
        assert "Be thorough." in agent.prompts[1]
        with pytest.raises(ValueError, match="instructions"):
            await process.update_instructions("  ")
        assert process.config.instructions == "Be thorough."
    finally:
        await process.close()


@run_async
async def test_budget_limits_change_live_and_bad_fields_change_nothing() -> None:
    config = ProcessConfig(model=PromptAgent(), budget=BudgetConfig(enabled=True,
                                                                    max_runs_per_day=10))
    process, _ = await running(config)
    try:
        updated = await process.update_budget({"max_runs_per_day": 3})
        assert updated["max_runs_per_day"] == 3
        assert process.config.budget.max_runs_per_day == 3
        await eventually(lambda: process.status()["budget"]["runs_per_day"] == 3)
        with pytest.raises(ValidationError, match="max_runs_per_dya"):
            await process.update_budget({"max_runs_per_dya": 5})
        with pytest.raises(ValidationError, match="max_runs_per_day"):
            await process.update_budget({"max_runs_per_day": -1})
        assert process.config.budget.max_runs_per_day == 3
        with pytest.raises(FeatureDisabledError, match="health"):
            await process.update_health({"enabled": True})
        assert process.config.health.enabled is False
        assert (await process.update_health({"stuck_threshold": 5}))["stuck_threshold"] == 5
        aliased = await process.update_budget({"max_daily_cost": 2.0})
        assert aliased["max_cost_per_day"] == 2.0
    finally:
        await process.close()


@run_async
async def test_inbox_status_and_clear_fail_a_waiting_asker() -> None:
    gate = asyncio.Event()

    async def slow(invocation: Invocation) -> str:
        await gate.wait()
        return "answer"

    config = ProcessConfig(model=slow, inbox=InboxConfig(enabled=True))
    process, _ = await running(config)
    try:
        await process.send_message("context one")
        await process.send_message("context two", priority="high")
        status = await process.inbox_status()
        assert status["enabled"] is True
        assert status["pending_messages"] == 2
        assert [m["priority"] for m in status["messages"]] == ["high", "normal"]
        asking = asyncio.ensure_future(process.ask("still there?", timeout=30))
        await eventually(lambda: process.record.inbox is not None
                         and len(process.record.inbox.get_questions()) == 1)
        assert await process.clear_inbox() == 3
        with pytest.raises(InboxError, match="cleared"):
            await asking
        assert (await process.inbox_status())["pending_messages"] == 0
        gate.set()
    finally:
        await process.close()


@run_async
async def test_triggers_are_listed_with_secrets_masked() -> None:
    config = ProcessConfig(model=PromptAgent(), triggers=[
        TriggerConfig(type="cron", cron_expression="*/5 * * * *"),
    ])
    process = AgentProcess("p", config)
    try:
        await process.add_trigger(TriggerConfig(type="webhook", webhook_path="/hook",
                                                webhook_port=0, hmac_secret="hush-hush-123"))
        listed = process.list_triggers()
        assert [(t["type"], t["source"]) for t in listed] == [("cron", "config"),
                                                               ("webhook", "dynamic")]
        assert listed[1]["config"]["hmac_secret"] == "***"
        assert listed[0]["config"]["cron_expression"] == "*/5 * * * *"
    finally:
        await process.close()


@run_async
async def test_secrets_are_listed_rotated_and_revoked_by_name_only() -> None:
    config = ProcessConfig(model=PromptAgent(), secrets=SecretScopeConfig(
        enabled=True, secrets={"api_key": SECRET}))
    process, _ = await running(config)
    try:
        listing = await process.list_secrets()
        assert listing["enabled"] is True
        assert [(s["name"], s["active"]) for s in listing["secrets"]] == [("api_key", True)]
        assert SECRET not in repr(listing)
        rotated = await process.rotate_secret("api_key", "a-brand-new-secret-value", ttl=60)
        assert rotated["rotated"] is True
        assert rotated["ttl"] == 60
        with pytest.raises(UnknownSecretError):
            await process.rotate_secret("nope", "another-long-secret-value")
        with pytest.raises(ValueError, match="short"):
            await process.rotate_secret("api_key", "ab")
        await process.revoke_secrets()
        after = await process.list_secrets()
        assert after["secrets"][0]["active"] is False
    finally:
        await process.close()


@run_async
async def test_secret_operations_on_a_process_without_secrets_say_so() -> None:
    process, _ = await running(ProcessConfig(model=PromptAgent()))
    try:
        assert await process.list_secrets() == {"enabled": False, "secrets": []}
        with pytest.raises(FeatureDisabledError, match="secrets"):
            await process.revoke_secrets()
        with pytest.raises(FeatureDisabledError, match="mission"):
            await process.pause_mission()
        with pytest.raises(FeatureDisabledError, match="journal"):
            await process.read_journal()
    finally:
        await process.close()


@run_async
async def test_journal_reads_the_newest_entries_of_a_type() -> None:
    journal = InMemoryJournal()
    config = ProcessConfig(model=PromptAgent(),
                           journal=JournalConfig(level="full", backend="memory"))
    process, log = await running(config, journal)
    try:
        for n in range(3):
            await process.inject(event(n))
        await log.wait_for("invocation.completed", 3)
        results = await process.read_journal(entry_type="invocation_result", limit=2)
        assert len(results) == 2
        assert {entry["entry_type"] for entry in results} == {"invocation_result"}
        everything = await process.read_journal(limit=500)
        assert everything[-1]["entry_id"] == results[-1]["entry_id"] or len(everything) > 2
        with pytest.raises(ValueError, match="limit"):
            await process.read_journal(limit=0)
    finally:
        await process.close()


@run_async
async def test_mission_is_paused_resumed_and_failed_by_hand() -> None:
    config = ProcessConfig(model=PromptAgent(), mission=MissionConfig(
        enabled=True, objective="count to three", success_criteria="three was said"))
    process, _ = await running(config)
    try:
        status = await process.mission_status()
        assert status["state"] == "active"
        assert status["objective"] == "count to three"
        assert (await process.update_mission({"max_duration": "2h"}))["timeout_hours"] == 2.0
        assert (await process.update_mission({"check_interval": 4}))["eval_every"] == 4
        assert (await process.pause_mission())["state"] == "paused"
        with pytest.raises(MissionStateError):
            await process.pause_mission()
        assert (await process.resume_mission())["state"] == "active"
        assert (await process.fail_mission("given up"))["state"] == "failed"
        await eventually(lambda: process.status()["mission_state"] == "failed")
        assert (await process.mission_status())["reason"] == "given up"
    finally:
        await process.close()


@run_async
async def test_health_anomalies_are_listed_and_cleared() -> None:
    async def empty(invocation: Invocation) -> str:
        return ""

    config = ProcessConfig(model=empty, health=HealthConfig(enabled=True, empty_threshold=2))
    process, log = await running(config)
    try:
        for n in range(2):
            await process.inject(event(n))
        await log.wait_for("invocation.completed", 2)

        async def reported() -> bool:
            return bool((await process.health_anomalies())["anomalies"])

        deadline = asyncio.get_running_loop().time() + 10
        while not await reported():
            assert asyncio.get_running_loop().time() < deadline, "no anomaly reported"
            await asyncio.sleep(0.005)
        anomalies = (await process.health_anomalies())["anomalies"]
        assert anomalies[0]["type"] == "empty_response"
        assert await process.clear_anomalies() == 1
        assert (await process.health_anomalies())["anomalies"] == []
    finally:
        await process.close()


@run_async
async def test_context_updates_are_all_or_nothing_and_journaled() -> None:
    journal = InMemoryJournal()
    config = ProcessConfig(
        model=PromptAgent(), context=ContextConfig(writable_keys=["mood", "level"]),
        journal=JournalConfig(level="full", backend="memory"),
        secrets=SecretScopeConfig(enabled=True, secrets={"api_key": SECRET}))
    process, _ = await running(config, journal)
    try:
        with pytest.raises(ContextWriteDenied, match="owner"):
            await process.update_context({"mood": "calm", "owner": "x"})
        assert "mood" not in (await process.get_context())["state"]
        assert await process.update_context({"level": 2, "mood": SECRET}) == ["level", "mood"]
        view = await process.get_context()
        assert view["state"]["level"] == 2
        assert SECRET not in repr(view)
        assert view["writable_keys"] == ["mood", "level"]
        assert view["all_keys_writable"] is False
        updates = await process.read_journal(entry_type="context_update")
        assert {e["data"]["key"] for e in updates} == {"level", "mood"}
    finally:
        await process.close()


@run_async
async def test_dead_letters_are_listed_redelivered_and_cleared() -> None:
    agent = PromptAgent()
    config = ProcessConfig(model=agent, max_queue_size=1)
    process, log = await running(config)
    try:
        await process.suspend()
        assert await process.inject(event("kept")) is True
        assert await process.inject(event("overflow")) is False
        letters = await process.dead_letters()
        assert [(d["payload"], d["reason"]) for d in letters] == [("overflow",
                                                                   "queue full (1 events)")]
        with pytest.raises(KeyError, match="nope"):
            await process.redeliver_dead_letters(["nope"])
        await process.resume()
        await log.wait_for("invocation.completed")
        new_ids = await process.redeliver_dead_letters([letters[0]["event_id"]])
        assert len(new_ids) == 1
        assert new_ids[0] != letters[0]["event_id"]
        await log.wait_for("invocation.completed", 2)
        assert agent.payloads == ["kept", "overflow"]
        assert await process.dead_letters() == []
        await process.suspend()
        await process.inject(event("a"))
        await process.inject(event("b"))
        assert await process.clear_dead_letters() == 1
        assert await process.dead_letters() == []
    finally:
        await process.close()


@run_async
async def test_operations_that_need_a_running_process_refuse_a_stopped_one() -> None:
    process = AgentProcess("p", ProcessConfig(model=PromptAgent(),
                                              inbox=InboxConfig(enabled=True)))
    try:
        with pytest.raises(ProcessStateError):
            await process.update_context({"k": 1})
        with pytest.raises(ProcessStateError):
            await process.redeliver_dead_letters()
        assert (await process.inbox_status())["pending_messages"] == 0
        assert (await process.get_context())["state"] == {}
        updated = await process.update_budget({"enabled": True, "max_runs_per_day": 2})
        assert updated["enabled"] is True
        await process.start()
        await eventually(lambda: process.status().get("budget") is not None)
    finally:
        await process.close()


@run_async
async def test_the_supervision_tree_shows_each_process_and_its_actors() -> None:
    async with AgentRuntime() as runtime:
        empty = await runtime.supervision_tree()
        assert empty["children"] == [] or empty["status"] in ("stopped", "running")
        await runtime.add_process("alpha", ProcessConfig(
            model=PromptAgent(), budget=BudgetConfig(enabled=True)))
        await runtime.start_all()
        tree = await runtime.supervision_tree()
        processes = [c for c in tree["children"] if c["id"] == "process-alpha"]
        assert len(processes) == 1
        kids = {c["id"]: c for c in processes[0]["children"]}
        assert set(kids) == {"budget", "process"}  # no TriggerSupervisor before a trigger
        assert kids["process"]["actor"] == "ProcessActor"
        assert kids["process"]["restarts"] == 0
        trigger_id = await runtime.get_process("alpha").add_trigger(
            TriggerConfig(type="cron", cron_expression="*/5 * * * *"))
        tree = await runtime.supervision_tree()
        [process] = [c for c in tree["children"] if c["id"] == "process-alpha"]
        kids = {c["id"]: c for c in process["children"]}
        assert kids["triggers"]["actor"] == "TriggerSupervisor"
        assert [c["id"] for c in kids["triggers"]["children"]] == [trigger_id]


@pytest.mark.parametrize("field", ["heartbeat_interval", "drain_timeout", "max_lifetime"])
def test_durations_too_long_to_arm_a_timer_are_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        ProcessConfig(**{field: 1e308})
