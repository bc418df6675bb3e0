"""Event routes over HTTP: inject (and a redelivered idempotency key), dead letters (list,
redeliver, clear), the supervision tree, and the server-sent-event stream (filters, a closing
server ends it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from api_support import AUTH, Gate, P, echo, eventually, run_async, serve

from greenroom.agents.invocation import Invocation
from greenroom.api.stream import StreamClient
from greenroom.runtime import JournalConfig, ProcessConfig
from greenroom.triggers.topics import TopicPattern


@run_async
async def test_inject_runs_once_per_idempotency_key(tmp_path: Path) -> None:
    seen: list[tuple[str, Any, str]] = []

    async def agent(invocation: Invocation) -> str:
        event = invocation.event
        seen.append((event.trigger_type, event.payload, event.event_id))
        return "ok"

    config = ProcessConfig(model=agent, journal=JournalConfig(level="checkpoint",
                                                              backend="memory"))
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", config)
        status, body = await s.call("POST", f"{P}/a/events", {})
        assert (status, body["error"]["code"]) == (409, "INVALID_STATE")
        await process.start()

        event = {"trigger_type": "deploy", "payload": {"n": 1}, "metadata": {"by": "ci"},
                 "idempotency_key": "release-42"}
        status, body = await s.call("POST", f"{P}/a/events", event)
        assert (status, body["status"]) == (202, "injected")
        first = body["event_id"]
        await eventually(lambda: len(seen) == 1)
        assert seen[0] == ("deploy", {"n": 1}, first)
        status, body = await s.call("POST", f"{P}/a/events", event)
        assert (status, body["status"]) == (202, "duplicate")
        status, body = await s.call("POST", f"{P}/a/events", {"payload": {"n": 2}})
        assert (status, body["status"]) == (202, "injected")
        await eventually(lambda: len(seen) == 2)
        assert seen[1][:2] == ("api", {"n": 2})
        assert process.status()["duplicate_count"] == 1

        for bad, field in (({"payload": [1]}, "payload"), ({"trigger_type": "1x"}, "trigger_type"),
                           ({"idempotency_key": ""}, "idempotency_key"),
                           ({"payload": {}, "when": "now"}, "when")):
            status, answer = await s.call("POST", f"{P}/a/events", bad)
            assert (status, answer["error"]["field"]) == (422, field), bad


@run_async
async def test_dead_letters_listed_redelivered_and_cleared(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        gate = Gate()
        process = await s.runtime.add_process("a", ProcessConfig(model=gate, max_queue_size=1))
        await process.start()
        ids = []
        for n in (1, 2):
            status, body = await s.call("POST", f"{P}/a/events", {"payload": {"n": n}})
            assert status == 202
            ids.append(body["event_id"])
            await asyncio.wait_for(gate.started.wait(), 10)
        status, body = await s.call("POST", f"{P}/a/events", {"payload": {"n": 3}})
        assert (status, body["error"]["code"]) == (503, "EVENT_REFUSED")
        status, body = await s.call("POST", f"{P}/a/stop", {"drain_timeout": 0})
        assert (status, body["cancelled"], body["dead_lettered"]) == (200, ids[:1], ids[1:])

        status, body = await s.call("GET", f"{P}/a/dead-letters")
        assert status == 200
        letters = body["dead_letters"]
        assert body["count"] == len(letters) == 3
        assert {letter["payload"]["n"] for letter in letters} == {1, 2, 3}
        assert all(letter["trigger_type"] == "api" and letter["reason"] for letter in letters)
        status, body = await s.call("POST", f"{P}/a/dead-letters", {})
        assert (status, body["error"]["code"]) == (409, "INVALID_STATE")

        await process.start()
        gate.open.set()
        status, body = await s.call("POST", f"{P}/a/dead-letters", {"event_ids": ["nope"]})
        assert (status, body["error"]["code"]) == (404, "EVENT_NOT_FOUND")
        status, body = await s.call("POST", f"{P}/a/dead-letters", {"event_ids": [ids[1]]})
        assert (status, body["redelivered"], len(body["event_ids"])) == (200, 1, 1)
        assert body["event_ids"][0] != ids[1]
        await eventually(lambda: gate.finished == 1)
        _, body = await s.call("GET", f"{P}/a/dead-letters")
        assert body["count"] == 2
        assert await s.call("DELETE", f"{P}/a/dead-letters") == (200, {"name": "a", "cleared": 2})
        _, body = await s.call("GET", f"{P}/a/dead-letters")
        assert body == {"name": "a", "dead_letters": [], "count": 0}
        bad: dict[str, Any]
        for bad in ({"event_ids": []}, {"event_ids": "all"}):
            assert (await s.call("POST", f"{P}/a/dead-letters", bad))[0] == 422


@run_async
async def test_supervision_tree(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        await s.runtime.add_process("a", ProcessConfig(model=echo))
        await s.runtime.start_process("a")
        status, tree = await s.call("GET", "/api/v1/supervision")
        assert status == 200
        assert (tree["id"], tree["status"]) == ("runtime", "running")
        children = {child["id"]: child for child in tree["children"]}
        process = children["process-a"]
        assert process["restarts"] == 0
        assert {"process"} <= {child["id"] for child in process["children"]}


async def _next_event(stream: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    """The next `event:` of a stream and its decoded `data:` (comments skipped)."""
    event_type, data = "", ""
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            event_type = line[len("event: "):]
        elif line.startswith("data: "):
            data = line[len("data: "):]
        elif not line and event_type:
            decoded: dict[str, Any] = json.loads(data)
            return event_type, decoded


async def _connected(stream: aiohttp.ClientResponse) -> None:
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert await asyncio.wait_for(stream.content.readline(), 10) == b": connected\n"


@run_async
async def test_the_event_stream_and_its_filter(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", ProcessConfig(model=echo))
        await process.start()
        async with s.http.get("/api/v1/events") as every, \
                s.http.get("/api/v1/events?types=invocation.*") as runs:
            await _connected(every)
            await _connected(runs)
            await s.call("POST", f"{P}/a/suspend")
            await s.call("POST", f"{P}/a/resume")
            await s.call("POST", f"{P}/a/events", {"payload": {"n": 1}})
            event_type, message = await _next_event(every)
            assert event_type == message["type"] == "process.suspended"
            assert message["data"]["process"] == "a"
            assert (await _next_event(every))[0] == "process.resumed"
            event_type, message = await _next_event(runs)
            assert event_type == "invocation.completed"
            assert message["data"]["process"] == "a"
        status, body = await s.call("GET", "/api/v1/events?types=a..b")
        assert (status, body["error"]["field"]) == (422, "types")


@run_async
async def test_stopping_the_server_ends_the_streams(tmp_path: Path) -> None:
    async with serve(tmp_path) as s, aiohttp.ClientSession(s.api.url, headers=AUTH) as http:
        stream = await http.get("/api/v1/events")
        await _connected(stream)
        await s.api.stop()
        rest = await asyncio.wait_for(stream.content.read(), 10)
        assert rest.strip() == b""  # the stream ended (read() returned at its end)
        stream.release()
        await s.runtime.add_process("late", ProcessConfig(model=echo))
        await s.runtime.start_process("late")  # the listener left behind is quiet


@run_async
async def test_a_slow_client_loses_events_and_is_told_how_many() -> None:
    client = StreamClient((TopicPattern("process.*"),), asyncio.Queue(2))
    assert client.wants("process.started")
    assert not client.wants("invocation.completed")
    for n in range(5):
        client.offer(f"event {n}")
    assert client.dropped == 3
    assert [client.queue.get_nowait() for _ in range(2)] == ["event 0", "event 1"]
    client.offer("event 5")
    client.close()
    assert client.queue.get_nowait() is None  # the end marker, what was left dropped
