"""A process with a journal: acknowledged only once durable, recovered on the next start, a
redelivered event acknowledged but not run twice, checkpoints, levels and bad journals."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from process_support import EventLog, GatedAgent, echo, eventually

from greenroom.agents.invocation import Invocation
from greenroom.journal import FileJournal, InMemoryJournal, JournalError, JournalProvider
from greenroom.runtime.config import JournalConfig, ProcessConfig
from greenroom.runtime.lifecycle import ProcessState
from greenroom.runtime.process import AgentProcess
from greenroom.runtime.runtime import AgentRuntime
from greenroom.triggers import TriggerEvent, WebhookTrigger


def event(payload: Any = None, event_id: str | None = None, **metadata: Any) -> TriggerEvent:
    if event_id is None:
        return TriggerEvent("manual", "manual", payload=payload, metadata=metadata)
    return TriggerEvent("manual", "manual", event_id, payload=payload, metadata=metadata)


def journaled(model: Any = echo, **journal: Any) -> ProcessConfig:
    return ProcessConfig(model=model, journal=JournalConfig(level="checkpoint", **journal))


def types(journal: JournalProvider, name: str = "p") -> list[str]:
    return [entry.entry_type for entry in journal.read(name)]


async def started(config: ProcessConfig, journal: JournalProvider,
                  name: str = "p") -> tuple[AgentProcess, EventLog]:
    log = EventLog()
    process = AgentProcess(name, config, journal=journal)
    process.add_listener(log)
    await process.start()
    return process, log


class CountingAgent:
    """Counts runs per event id and writes to the context."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}

    async def __call__(self, invocation: Invocation) -> str:
        event_id = invocation.event.event_id
        self.runs[event_id] = self.runs.get(event_id, 0) + 1
        assert invocation.context is not None
        invocation.context.put("last", invocation.event.payload)
        return f"seen {invocation.event.payload}"


def test_inject_returns_once_the_event_is_in_a_file_journal(tmp_path: Path) -> None:
    async def main() -> None:
        config = journaled(path=str(tmp_path))
        process = AgentProcess("p", config)
        await process.start()
        try:
            accepted = event("hello")
            assert await process.inject(accepted) is True
            # A second, independent reader of the directory sees it: it is on disk.
            reader = FileJournal(tmp_path)
            entries = reader.read("p", entry_type="trigger_event")
            events = [e.data["event"]["event_id"] for e in entries]
            reader.close()
            assert accepted.event_id in events
        finally:
            await process.close()

    asyncio.run(main())


def test_a_restarted_process_recovers_its_state_and_does_not_rerun(tmp_path: Path) -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        agent = CountingAgent()
        process, log = await started(journaled(agent), journal)
        for n in range(3):
            await process.inject(event(n))
        await log.wait_for("invocation.completed", 3)
        before = process.status()
        messages = process.record.conversation.get_messages()
        await process.close()

        again, log2 = await started(journaled(agent), journal)
        try:
            status = again.status()
            assert status["invocation_count"] == 3 == before["invocation_count"]
            assert again.record.conversation.get_messages() == messages
            assert again.context.get("last") == 2
            assert sum(agent.runs.values()) == 3
            assert status["recovery"]["requeued"] == []
            assert status["recovery"]["checkpoint_seq"] is not None  # the stop's checkpoint
            assert "process.recovered" in log2.types()
        finally:
            await again.close()

    asyncio.run(main())


def test_events_accepted_but_unfinished_at_a_crash_run_after_recovery_with_their_ids() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        gated = GatedAgent()
        process, _ = await started(journaled(gated), journal)
        first, second = event("a"), event("b")
        await process.inject(first)
        await process.inject(second)
        await asyncio.wait_for(gated.started.wait(), 10)
        # A crash: the actors vanish without a stop, so no checkpoint and no result is written.
        await asyncio.to_thread(process.system.shutdown)

        seen: list[str] = []

        async def agent(invocation: Invocation) -> str:
            seen.append(invocation.event.event_id)
            return "ok"

        again, log = await started(journaled(agent), journal)
        try:
            await log.wait_for("invocation.completed", 2)
            assert seen == [first.event_id, second.event_id]
            recovery = again.status()["recovery"]
            assert recovery["requeued"] == [first.event_id, second.event_id]
        finally:
            await again.close()

    asyncio.run(main())


def test_a_redelivered_event_is_acknowledged_but_not_run_twice() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        agent = CountingAgent()
        process, log = await started(journaled(agent), journal)
        original = event("x", idempotency_key="delivery-1")
        await process.inject(original)
        await log.wait_for("invocation.completed")
        retry = event("x", idempotency_key="delivery-1")  # a new id, the same delivery
        assert await process.inject(retry) is True
        assert await process.inject(original) is True
        assert process.status()["duplicate_count"] == 2
        await process.close()

        again, _ = await started(journaled(agent), journal)
        try:
            assert await again.inject(retry) is True  # still known after a restart
            assert again.status()["duplicate_count"] == 1
            assert agent.runs == {original.event_id: 1}
        finally:
            await again.close()

    asyncio.run(main())


def test_a_duplicate_of_a_queued_event_is_not_queued_twice() -> None:
    async def main() -> None:
        gated = GatedAgent()
        process, log = await started(journaled(gated), InMemoryJournal())
        try:
            await process.inject(event("first"))
            await asyncio.wait_for(gated.started.wait(), 10)
            waiting = event("waiting")
            await process.inject(waiting)
            await process.inject(waiting)
            assert process.status()["queue_size"] == 2  # one running, one queued
            gated.gate.set()
            await log.wait_for("invocation.completed", 2)
            assert gated.payloads == ["first", "waiting"]
        finally:
            await process.close()

    asyncio.run(main())


def test_checkpoints_every_n_runs_bound_the_journal_and_recovery_replays_the_rest() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        process, log = await started(journaled(checkpoint_every=2), journal)
        for n in range(5):
            await process.inject(event(n))
        await log.wait_for("invocation.completed", 5)
        await eventually(lambda: (journal.last_checkpoint("p") or {}).get("invocation_count") == 4)
        # Compaction: the journal keeps the entries since the previous checkpoint (a fallback if
        # the last one were unreadable), so runs 3, 4 and 5 but not 1 and 2.
        await eventually(lambda: types(journal).count("invocation_result") == 3)
        await asyncio.to_thread(process.system.shutdown)  # crash: no final checkpoint

        again, _ = await started(journaled(checkpoint_every=2), journal)
        try:
            assert again.status()["invocation_count"] == 5
            assert len(again.record.conversation) == 10
        finally:
            await again.close()

    asyncio.run(main())


def test_a_graceful_stop_keeps_the_queue_for_the_next_start() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        process, _ = await started(journaled(), journal)
        await process.suspend()
        queued = [event(n) for n in range(3)]
        for item in queued:
            await process.inject(item)
        report = await process.stop()
        assert report["kept"] == [item.event_id for item in queued]
        assert report["dead_lettered"] == []
        assert journal.last_checkpoint("p") is not None
        await process.close()

        again, log = await started(journaled(), journal)
        try:
            await log.wait_for("invocation.completed", 3)
            assert again.status()["invocation_count"] == 3
        finally:
            await again.close()

    asyncio.run(main())


def test_a_stop_keeps_the_runs_it_cancels() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        gated = GatedAgent()
        process, _ = await started(journaled(gated), journal)
        running = event("slow")
        await process.inject(running)
        await asyncio.wait_for(gated.started.wait(), 10)
        report = await process.stop(drain_timeout=0)
        assert report["cancelled"] == [running.event_id]
        assert report["kept"] == [running.event_id]
        await process.start()  # the same process object keeps its queue
        try:
            gated.gate.set()
            await eventually(lambda: process.status()["invocation_count"] == 1)
            assert gated.payloads == ["slow", "slow"]
        finally:
            await process.close()

    asyncio.run(main())


def test_the_journal_records_transitions_results_and_context_changes_at_checkpoint_level() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        process, log = await started(journaled(CountingAgent()), journal)
        await process.inject(event("v"))
        await log.wait_for("invocation.completed")
        process.context.clear_state()
        await process.inject(event("w"))
        await log.wait_for("invocation.completed", 2)
        await process.close()
        entries = journal.read("p")
        kinds = [entry.entry_type for entry in entries]
        assert "invocation_start" not in kinds  # the full level only
        transitions = [(e.data["from_state"], e.data["to_state"]) for e in entries
                       if e.entry_type == "state_transition"]
        assert transitions[:2] == [("created", "starting"), ("starting", "running")]
        assert transitions[-1] == ("stopping", "stopped")
        updates = [e.data for e in entries if e.entry_type == "context_update"]
        assert updates == [{"key": "last", "value": "v"}, {"key": "last", "value": "w"}]
        result = next(e.data for e in entries if e.entry_type == "invocation_result")
        assert set(result) == {"event_id", "key", "messages", "duration_ms"}
        assert result["messages"][1] == {"role": "assistant", "content": "seen v"}

    asyncio.run(main())


def test_the_full_level_also_records_the_start_of_each_run() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        config = ProcessConfig(model=echo, journal=JournalConfig(level="full"))
        process, log = await started(config, journal)
        item = event("x")
        await process.inject(item)
        await log.wait_for("invocation.completed")
        await process.close()
        starts = journal.read("p", entry_type="invocation_start")
        assert [entry.data for entry in starts] == [{"event_id": item.event_id}]

    asyncio.run(main())


def test_the_cron_slot_of_an_accepted_event_survives_a_restart() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        process, log = await started(journaled(), journal)
        slot = "2026-11-21T10:00"
        cron = TriggerEvent("cron-1", "cron", payload={}, metadata={"checkpoint": slot})
        await process.inject(cron)
        await log.wait_for("invocation.completed")
        await asyncio.to_thread(process.system.shutdown)
        again, _ = await started(journaled(), journal)
        try:
            assert again.record.trigger_checkpoints == {"cron-1": slot}
        finally:
            await again.close()

    asyncio.run(main())


def test_a_payload_the_journal_cannot_store_is_refused_and_nothing_is_queued() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        process, _ = await started(journaled(), journal)
        try:
            with pytest.raises(JournalError, match="not JSON-serialisable"):
                await process.inject(event(object()))
            assert process.status()["queue_size"] == 0
            assert "trigger_event" not in types(journal)
        finally:
            await process.close()

    asyncio.run(main())


def test_a_failed_journal_write_refuses_the_event(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)

    async def main() -> None:
        journal = InMemoryJournal()
        process, _ = await started(journaled(), journal)
        await process.suspend()
        journal.close()
        try:
            assert await process.inject(event("lost?")) is False
            status = process.status()
            assert status["queue_size"] == 0
            assert status["dead_letter_count"] == 1
        finally:
            await process.close()

    asyncio.run(main())


def test_an_unreadable_journal_keeps_the_process_from_starting(tmp_path: Path) -> None:
    async def main() -> None:
        config = journaled(path=str(tmp_path))
        process = AgentProcess("p", config)
        await process.start()
        await process.inject(event("a"))
        await process.close()
        segment = sorted((tmp_path).rglob("*.jsonl"))[0]
        lines = segment.read_bytes().splitlines(keepends=True)
        lines[0] = b"garbage that is not a record\n"
        segment.write_bytes(b"".join(lines))

        again = AgentProcess("p", config)
        try:
            with pytest.raises(JournalError):
                await again.start()
            assert again.state is ProcessState.CREATED
            assert again.status()["invocation_count"] == 0
        finally:
            await again.close()

    asyncio.run(main())


def test_processes_of_a_runtime_share_one_journal_actor_and_recover_by_name(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        config = journaled(path=str(tmp_path))
        async with AgentRuntime() as runtime:
            for name in ("a", "b"):
                await runtime.add_process(name, config)
            await runtime.start_all()
            for name in ("a", "b"):
                await runtime.get_process(name).inject(event(name))
            await eventually(lambda: all(
                runtime.process_status(n)["invocation_count"] == 1 for n in ("a", "b")))
            children = runtime._runtime_supervisor().call("which_children").get()
            assert [c for c, _, _ in children if c.startswith("journal")] == ["journal-1"]
        assert sorted(p.name[:2] for p in tmp_path.iterdir()) == ["a-", "b-"]

        async with AgentRuntime() as runtime:
            await runtime.add_process("a", config)
            await runtime.start_all()
            assert runtime.process_status("a")["invocation_count"] == 1

    asyncio.run(main())


def test_two_processes_cannot_share_a_journal_with_different_write_policies(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            await runtime.add_process("a", journaled(path=str(tmp_path)))
            await runtime.add_process("b", journaled(path=str(tmp_path), fsync="batch"))
            await runtime.start_process("a")
            with pytest.raises(ValueError, match=r"journal\.fsync: 'batch' differs"):
                await runtime.start_process("b")
            assert runtime.process_status("b")["state"] == "created"

    asyncio.run(main())


def test_the_checkpoint_holds_no_secret_and_is_json(tmp_path: Path) -> None:
    async def main() -> None:
        config = journaled(path=str(tmp_path))
        process = AgentProcess("p", config)
        await process.start()
        await process.inject(event({"n": 1}))
        await eventually(lambda: process.status()["invocation_count"] == 1)
        await process.close()
        checkpoint = sorted(tmp_path.rglob("checkpoint-*.json"))[-1]
        state = json.loads(checkpoint.read_text())["state"]
        assert state["invocation_count"] == 1
        assert state["pending_events"] == []
        assert state["lifecycle_state"] == "stopped"

    asyncio.run(main())


def test_a_webhook_answers_202_once_the_event_is_durable(tmp_path: Path) -> None:
    async def main() -> None:
        hook = WebhookTrigger("/in", webhook_port=0)
        config = ProcessConfig(model=echo, triggers=[hook],
                               journal=JournalConfig(path=str(tmp_path)))
        process = AgentProcess("hooked", config)
        await process.start()
        try:
            url = process.status()["triggers"][0]["url"]
            async with aiohttp.ClientSession() as http, \
                    http.post(url, json={"n": 1}, headers={"webhook-id": "msg-1"}) as response:
                assert response.status == 202
                event_id = (await response.json())["event_id"]
            reader = FileJournal(tmp_path)
            journaled_ids = [e.data["event"]["event_id"]
                             for e in reader.read("hooked", entry_type="trigger_event")]
            reader.close()
            assert journaled_ids == [event_id]
        finally:
            await process.close()

    asyncio.run(main())


def test_at_the_full_level_a_tool_call_without_a_result_is_reported_in_doubt() -> None:
    async def main() -> None:
        journal = InMemoryJournal()
        entered = asyncio.Event()

        async def charge(amount: int) -> str:
            """Charge a card (never finishes here: the crash comes first)."""
            entered.set()
            await asyncio.Event().wait()
            return "charged"

        def lookup(order: str) -> dict[str, Any]:
            """Find an order."""
            return {"order": order, "amount": 5}

        async def agent(invocation: Invocation) -> str:
            found = await invocation.call_tool("lookup", {"order": "o-1"})
            await invocation.call_tool("charge", {"amount": found["amount"]})
            return "done"

        config = ProcessConfig(model=agent, tools=[lookup, charge],
                               journal=JournalConfig(level="full"))
        process, _ = await started(config, journal)
        item = event("pay")
        await process.inject(item)
        await asyncio.wait_for(entered.wait(), 10)
        calls = [(e.entry_type, e.data["tool"]) for e in journal.read("p")
                 if e.entry_type in ("tool_call", "tool_result")]
        assert calls == [("tool_call", "lookup"), ("tool_result", "lookup"),
                         ("tool_call", "charge")]
        await asyncio.to_thread(process.system.shutdown)  # crash while the charge is in flight

        async def careful(invocation: Invocation) -> str:
            return "checked by hand"

        again, _ = await started(ProcessConfig(model=careful, journal=JournalConfig(level="full")),
                                 journal)
        try:
            recovery = again.status()["recovery"]
            [doubt] = recovery["in_doubt_tool_calls"]
            assert (doubt["tool"], doubt["arguments"], doubt["event_id"]) == \
                ("charge", {"amount": 5}, item.event_id)
            assert recovery["interrupted"] == [item.event_id]
        finally:
            await again.close()

    asyncio.run(main())
