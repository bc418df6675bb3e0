"""Inbox routes over HTTP: messages (and every refusal), the inbox view, asking (answered,
timed out, removed by a clear: 410), and a process without an inbox (409)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from api_support import P, echo, run_async, serve

from greenroom.runtime import InboxConfig, ProcessConfig


def with_inbox(**limits: Any) -> ProcessConfig:
    return ProcessConfig(model=echo, inbox=InboxConfig(enabled=True, **limits))


@run_async
async def test_messages_and_the_inbox_view(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", with_inbox(max_message_length=50))
        await process.start()
        status, body = await s.call("POST", f"{P}/a/messages", {
            "content": "prefer short answers", "message_type": "directive", "priority": "high",
            "sender_id": "ops", "ttl": 60, "metadata": {"ticket": 7}})
        assert status == 201
        assert body["status"] == "queued"
        assert body["expires_at"] is not None
        first = body["message_id"]
        status, body = await s.call("POST", f"{P}/a/messages", {"content": "fyi", "ttl": 0})
        assert (status, body["expires_at"]) == (201, None)

        status, view = await s.call("GET", f"{P}/a/inbox")
        assert status == 200
        assert view["enabled"] is True
        assert view["pending_messages"] == 2
        assert view["pending_questions"] == 0
        assert view["messages"][0] == {**view["messages"][0], "message_id": first,
                                       "type": "directive", "priority": "high",
                                       "sender_id": "ops"}
        assert "content" not in view["messages"][0]

        assert await s.call("DELETE", f"{P}/a/inbox") == (204, None)
        assert (await s.call("GET", f"{P}/a/inbox"))[1]["pending_messages"] == 0


@run_async
async def test_refused_messages(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process(
            "a", with_inbox(max_message_length=10, max_ttl=100, default_ttl=50,
                            rate_limit_per_sender=1, max_messages=1))
        await process.start()
        cases = [
            ({"content": "x" * 11}, 422, "INVALID_MESSAGE"),
            ({"content": "x", "ttl": 101}, 422, "INVALID_MESSAGE"),
            ({"content": "x", "priority": "urgent"}, 422, "INVALID_REQUEST"),
            ({"content": ""}, 422, "INVALID_REQUEST"),
            ({"content": "x", "colour": "red"}, 422, "UNKNOWN_FIELD"),
            ({"content": 5}, 422, "INVALID_REQUEST"),
        ]
        for body, status, code in cases:
            answer = await s.call("POST", f"{P}/a/messages", body)
            assert (answer[0], answer[1]["error"]["code"]) == (status, code), body
        sent = {"content": "x", "priority": "critical", "sender_id": "ops"}
        assert (await s.call("POST", f"{P}/a/messages", sent))[0] == 201
        status, body = await s.call("POST", f"{P}/a/messages", sent)
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
        status, body = await s.call("POST", f"{P}/a/messages", {**sent, "sender_id": "dev"})
        assert (status, body["error"]["code"]) == (429, "INBOX_FULL")


@run_async
async def test_ask_answered_timed_out_and_removed(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", with_inbox())
        await process.start()
        status, body = await s.call("POST", f"{P}/a/ask", {"content": "status?", "timeout": 30})
        assert status == 200
        assert body["status"] == "answered"
        assert "status?" in body["response"]
        assert body["question_id"]
        assert body["answered_at"]

        await process.suspend()  # no run: the question waits
        status, body = await s.call("POST", f"{P}/a/ask", {"content": "still?", "timeout": 0.2})
        assert (status, body) == (200, {"question_id": None, "status": "timeout",
                                        "response": None, "answered_at": None,
                                        "invocation_id": None})

        asking = asyncio.ensure_future(
            s.call("POST", f"{P}/a/ask", {"content": "anyone?", "timeout": 60}))

        async def pending() -> int:
            count: int = (await process.inbox_status())["pending_questions"]
            return count

        deadline = asyncio.get_running_loop().time() + 10
        while await pending() == 0:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert await s.call("DELETE", f"{P}/a/inbox") == (204, None)
        status, body = await asyncio.wait_for(asking, 10)
        assert (status, body["error"]["code"]) == (410, "QUESTION_REMOVED")
        for bad in ({"content": "q", "timeout": 0}, {"content": "q", "timeout": 3601},
                    {"content": "q", "priority": "high"}):
            assert (await s.call("POST", f"{P}/a/ask", bad))[0] == 422, bad


@run_async
async def test_a_process_without_an_inbox(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", ProcessConfig(model=echo))
        await process.start()
        for method, path, body in (("POST", "messages", {"content": "x"}),
                                   ("POST", "ask", {"content": "x"}), ("DELETE", "inbox", None)):
            status, answer = await s.call(method, f"{P}/a/{path}", body)
            assert (status, answer["error"]["code"]) == (409, "INBOX_DISABLED"), path
        status, view = await s.call("GET", f"{P}/a/inbox")
        assert (status, view["enabled"], view["messages"]) == (200, False, [])
