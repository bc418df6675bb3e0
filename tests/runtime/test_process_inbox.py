"""The inbox on a running process: messages reach the next run; ask() gets an answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from process_support import EventLog, echo

from greenroom.agents.invocation import Invocation
from greenroom.runtime.config import InboxConfig, ProcessConfig
from greenroom.runtime.errors import InboxError
from greenroom.runtime.inbox import InboxResponse, MessageInbox
from greenroom.runtime.inbox_delivery import Delivery, deliver, read_answers
from greenroom.runtime.process import AgentProcess
from greenroom.runtime.runtime import AgentRuntime
from greenroom.triggers import TriggerEvent

INBOX = InboxConfig(enabled=True, max_message_length=200)


def operator_block(invocation: Invocation) -> str:
    return "\n".join(m["content"] for m in invocation.messages if m["role"] == "system")


def test_a_message_reaches_the_next_run_once() -> None:
    async def main() -> None:
        seen: list[str] = []

        async def agent(invocation: Invocation) -> str:
            seen.append(operator_block(invocation))
            return "ok"

        log = EventLog()
        process = AgentProcess("p", ProcessConfig(model=agent, inbox=INBOX))
        process.add_listener(log)
        await process.start()
        try:
            message_id = await process.send_message("prefer short answers", sender_id="ops")
            assert isinstance(message_id, str)
            await process.inject(TriggerEvent("t", "manual", payload=1))
            await process.inject(TriggerEvent("t", "manual", payload=2))
            await log.wait_for("invocation.completed", 2)
            assert "prefer short answers" in seen[0]
            assert "from ops" in seen[0]
            assert "prefer short answers" not in seen[1]
        finally:
            await process.close()

    asyncio.run(main())


def test_ask_schedules_a_run_and_returns_the_answer() -> None:
    async def main() -> None:
        async def agent(invocation: Invocation) -> str:
            block = operator_block(invocation)
            assert "what is 2+2?" in block
            return "ANSWER Q1: four"

        process = AgentProcess("p", ProcessConfig(model=agent, inbox=INBOX))
        await process.start()
        try:
            response = await process.ask("what is 2+2?", sender_id="me", timeout=10)
            assert isinstance(response, InboxResponse)
            assert response.content == "four"
            assert process.status()["invocation_count"] == 1
        finally:
            await process.close()

    asyncio.run(main())


def test_an_unanswered_question_times_out_and_is_withdrawn() -> None:
    async def main() -> None:
        process = AgentProcess("p", ProcessConfig(model=echo, inbox=INBOX))
        await process.start()
        try:
            await process.suspend()  # nothing runs, so nothing answers
            with pytest.raises(TimeoutError):
                await process.ask("anyone?", timeout=0.05)
            inbox = process.record.inbox
            assert inbox is not None
            await asyncio.to_thread(process.status)  # the withdrawal has been handled
            assert inbox.get_questions() == []
        finally:
            await process.close()

    asyncio.run(main())


def test_inbox_errors_are_clear() -> None:
    async def main() -> None:
        closed = AgentProcess("p", ProcessConfig(model=echo))
        await closed.start()
        try:
            with pytest.raises(RuntimeError, match="inbox is not enabled"):
                await closed.send_message("hello")
            with pytest.raises(RuntimeError, match="inbox is not enabled"):
                await closed.ask("hello")
        finally:
            await closed.close()
        process = AgentProcess("q", ProcessConfig(model=echo, inbox=INBOX))
        await process.start()
        try:
            with pytest.raises(InboxError, match=r"max_message_length|too long|exceeds"):
                await process.send_message("x" * 500)
            with pytest.raises(InboxError, match="message_type"):
                await process.send_message("hi", message_type="shout")
            assert len(process.record.inbox or []) == 0
        finally:
            await process.close()

    asyncio.run(main())


def test_runtime_forwards_send_message_and_ask() -> None:
    async def main() -> None:
        async def agent(invocation: Invocation) -> str:
            return "sure"

        async with AgentRuntime() as runtime:
            await runtime.add_process("a", ProcessConfig(model=agent, inbox=INBOX))
            await runtime.start_process("a")
            assert isinstance(await runtime.send_message("a", "fyi"), str)
            response = await runtime.ask("a", "ready?", timeout=10)
            assert response.content == "sure"

    asyncio.run(main())


def _messages(*specs: tuple[str, str]) -> list[Any]:
    inbox = MessageInbox()
    for content, kind in specs:
        inbox.send(content, message_type=kind)
    return inbox.get_pending()


def test_delivery_labels_questions_and_reads_answers() -> None:
    pending = _messages(("first?", "question"), ("note", "context"), ("second?", "question"))
    delivery = deliver(pending)
    assert list(delivery.questions) == ["Q1", "Q2"]
    assert len(delivery.delivered) == 1
    assert any("ANSWER Q2" in line for line in delivery.lines)
    answers = read_answers("ANSWER Q2: beta\nANSWER Q1: alpha", delivery)
    assert answers == {delivery.questions["Q1"]: "alpha", delivery.questions["Q2"]: "beta"}
    assert read_answers("no format at all", delivery) == {}


def test_a_lone_question_is_answered_by_the_whole_reply() -> None:
    delivery = deliver(_messages(("only one?", "question")))
    assert read_answers("yes, just one", delivery) == {delivery.questions["Q1"]: "yes, just one"}
    assert read_answers("anything", Delivery()) == {}
