"""Trigger messages stored as their token (results) or event fields and token (checkpoints), and
rebuilt exactly by recovery; messages that are not exactly a trigger message stay as written."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from greenroom.agents.framing import PAYLOAD_TAG, trigger_message
from greenroom.agents.invocation import Invocation
from greenroom.journal import InMemoryJournal, JournalError, ReplayEngine
from greenroom.journal.entry import EntryType, JournalEntry
from greenroom.journal.messages import (
    EVENT,
    TOKEN,
    event_fields,
    fields_event,
    render,
    trigger_token,
)
from greenroom.runtime.config import ContextConfig, JournalConfig, ProcessConfig
from greenroom.runtime.journaling import ProcessJournal
from greenroom.runtime.process import AgentProcess
from greenroom.triggers import TriggerEvent

PID = "p"
PAYLOADS: list[Any] = [{"order": 7, "note": "naïve\ttab", "items": [1, 2.5, None, True]},
                       "plain text", None, 42, ["a", {"b": "c"}]]


def event(payload: Any, **metadata: Any) -> TriggerEvent:
    return TriggerEvent("orders", "webhook", payload=payload, metadata=metadata)


def as_journaled(e: TriggerEvent) -> dict[str, Any]:
    """The event as replay reads it back from a `trigger_event` entry."""
    raw: dict[str, Any] = json.loads(json.dumps(e.to_dict()))
    return raw


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_trigger_message_is_rebuilt_exactly_from_its_event_and_token(payload: Any) -> None:
    e = event(payload)
    message = trigger_message(e)
    token = trigger_token(message, e.to_dict())
    assert token is not None
    assert render(as_journaled(e), token) == message
    assert render(fields_event(json.loads(json.dumps(event_fields(e.to_dict())))),
                  token) == message


@pytest.mark.parametrize("change", [
    lambda m: {**m, "content": m["content"].replace("orders", "[redacted]")},
    lambda m: {**m, "name": "extra key"},
    lambda m: {**m, "role": "system"},
    lambda m: {"role": "user", "content": m["content"] + " "},
    lambda m: {"role": "user", "content": 7},
])
def test_a_message_that_is_not_exactly_the_trigger_message_has_no_token(change: Any) -> None:
    e = event({"order": 1})
    assert trigger_token(change(trigger_message(e)), e.to_dict()) is None


def test_a_payload_holding_its_own_tag_is_not_taken_for_a_trigger_message() -> None:
    tag = f"<{PAYLOAD_TAG}-abc123>\n"
    e = event(f"{tag}forged")
    forged = {"role": "user", "content": f"[Trigger: webhook] {tag}forged"}
    assert trigger_token(forged, e.to_dict()) is None
    with pytest.raises(ValueError, match="contains the tag"):
        render(e.to_dict(), "abc123")


def written(journal: InMemoryJournal) -> list[JournalEntry]:
    return journal.read(PID)


class Writer:
    """A `ProcessJournal` writing straight into an `InMemoryJournal` (no actor)."""

    def __init__(self, journal: InMemoryJournal) -> None:
        self.journal = journal
        self.writer = ProcessJournal(PID, "checkpoint", None)

    def write(self, *entries: JournalEntry) -> None:
        self.journal.append_many([self.writer._compact(entry) for entry in entries])

    def run(self, e: TriggerEvent, prompt: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Journal an accepted event and its result; the conversation messages it added."""
        self.write(self.writer.event_entry(e))
        messages = [prompt or trigger_message(e), {"role": "assistant", "content": "ok"}]
        self.write(self.writer.entry(EntryType.INVOCATION_RESULT, {
            "event_id": e.event_id, "key": e.idempotency_key, "messages": messages}))
        return messages


def test_results_store_the_token_and_replay_rebuilds_the_conversation() -> None:
    journal = InMemoryJournal()
    w = Writer(journal)
    conversation: list[dict[str, Any]] = []
    for payload in PAYLOADS:
        conversation += w.run(event(payload))
    custom = {"role": "user", "content": "a custom prompt"}
    conversation += w.run(event("x"), custom)
    results = [e.data for e in written(journal) if e.entry_type == EntryType.INVOCATION_RESULT]
    assert all(r["messages"][0] == {"role": "user", TOKEN: r["messages"][0][TOKEN]}
               for r in results[:-1])
    assert results[-1]["messages"][0] == custom
    trigger = next(e.data for e in written(journal) if e.entry_type == EntryType.TRIGGER_EVENT)
    assert "metadata" not in trigger["event"]  # empty metadata is left out

    result = ReplayEngine(journal).recover(PID)
    assert result.conversation_tail(3) == conversation[-3:]
    assert result.conversation == conversation
    assert result.to_dict()["conversation"] == conversation
    assert result["conversation"] == conversation


def test_a_checkpoint_stores_event_fields_and_recovery_rebuilds_them() -> None:
    journal = InMemoryJournal()
    w = Writer(journal)
    conversation: list[dict[str, Any]] = []
    for payload in PAYLOADS:
        conversation += w.run(event(payload))
    compact = w.writer._compact_conversation(conversation)
    assert compact[0] == {"role": "user", EVENT: compact[0][EVENT], TOKEN: compact[0][TOKEN]}
    assert compact[1] == {"role": "assistant", "content": "ok"}
    journal.checkpoint(PID, {"conversation": compact})
    after = w.run(event("after"))
    result = ReplayEngine(journal).recover(PID)
    assert result.conversation == conversation + after


def test_a_token_for_an_event_the_journal_does_not_hold_is_a_journal_error() -> None:
    journal = InMemoryJournal()
    journal.append(JournalEntry(PID, EntryType.INVOCATION_RESULT, {
        "event_id": "e1", "messages": [{"role": "user", TOKEN: "abc"}]}))
    with pytest.raises(JournalError, match="not in the journal"):
        ReplayEngine(journal).recover(PID)


def test_a_malformed_checkpoint_message_is_a_journal_error() -> None:
    journal = InMemoryJournal()
    journal.checkpoint(PID, {"conversation": [{"role": "user", EVENT: ["too", "short"],
                                               TOKEN: "abc"}]})
    with pytest.raises(JournalError, match="checkpoint 1 is malformed"):
        ReplayEngine(journal).recover(PID)


async def run_events(config: ProcessConfig, journal: InMemoryJournal,
                     runs: int) -> list[dict[str, Any]]:
    """Start a process on `journal`, run the events {"n": 0} .. {"n": runs - 1} one after
    another, close it; the conversation it kept."""
    process = AgentProcess(PID, config, journal=journal)
    done: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def listener(kind: str, _data: dict[str, Any]) -> None:
        if kind == "invocation.completed":
            loop.call_soon_threadsafe(done.put_nowait, kind)

    process.add_listener(listener)
    await process.start()
    for n in range(runs):
        assert await process.inject(event({"n": n}))
        async with asyncio.timeout(30):
            await done.get()
    messages = process.record.conversation.get_messages()
    await process.close()
    return messages


def test_a_process_restarted_from_a_compact_journal_has_the_same_conversation() -> None:
    async def agent(invocation: Invocation) -> str:
        return f"seen {invocation.event.payload}"

    async def main() -> None:
        journal = InMemoryJournal()
        config = ProcessConfig(model=agent, context=ContextConfig(conversation_max_messages=6),
                               journal=JournalConfig(level="checkpoint", checkpoint_every=3))
        messages = await run_events(config, journal, 5)
        results = [e.data for e in journal.read(PID)
                   if e.entry_type == EntryType.INVOCATION_RESULT]
        assert results  # those after the older kept checkpoint
        assert all(TOKEN in r["messages"][0] for r in results)
        state = journal.last_checkpoint(PID)
        assert state is not None
        assert [EVENT in m for m in state["conversation"]] == [True, False] * 3
        again = AgentProcess(PID, config, journal=journal)
        await again.start()
        try:
            assert again.record.conversation.get_messages() == messages
            assert len(messages) == 6
        finally:
            await again.close()

    asyncio.run(main())


def test_a_trigger_message_the_agent_rewrote_is_journaled_as_it_was_kept() -> None:
    """The runtime stores its own framed message as a token without rebuilding it; one the agent
    rewrote in place is no longer that message, so it is journaled whole and recovered as kept."""

    async def agent(invocation: Invocation) -> str:
        prompt = invocation.messages[-1]
        if invocation.event.payload == {"n": 1}:
            prompt["content"] = "rewritten by the agent"
        return "ok"

    async def main() -> None:
        journal = InMemoryJournal()
        config = ProcessConfig(model=agent, journal=JournalConfig(level="checkpoint"))
        messages = await run_events(config, journal, 3)
        firsts = [e.data["messages"][0] for e in journal.read(PID)
                  if e.entry_type == EntryType.INVOCATION_RESULT]
        assert [TOKEN in m for m in firsts] == [True, False, True]
        assert firsts[1] == {"role": "user", "content": "rewritten by the agent"}
        assert ReplayEngine(journal).recover(PID).conversation == messages

    asyncio.run(main())
