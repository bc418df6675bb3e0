"""Journal and context routes over HTTP: reading the journal (limit, type, a process without a
journal), mutating calls journaled as `api_request` without their bodies, the rewind routes
(501), and the context (redacted, writable keys, all-or-nothing writes)."""

from __future__ import annotations

from pathlib import Path

from api_support import P, echo, eventually, run_async, serve

from greenroom.governance.config import SecretScopeConfig
from greenroom.runtime import ContextConfig, JournalConfig, ProcessConfig

CLASSIFIED = "classified-instructions-4711"
SECRET = "context-secret-value-0815"


def journaled(**options: object) -> ProcessConfig:
    return ProcessConfig(model=echo, journal=JournalConfig(level="checkpoint", backend="memory"),
                         **options)  # type: ignore[arg-type]


@run_async
async def test_read_the_journal_and_the_audit_entries(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", journaled())
        assert (await s.call("POST", f"{P}/a/start"))[0] == 200
        status, body = await s.call("POST", f"{P}/a/events", {"payload": {"n": 1}})
        assert status == 202
        await eventually(lambda: process.status()["invocation_count"] == 1)
        assert (await s.call("PATCH", f"{P}/a/instructions", {"instructions": CLASSIFIED}))[0] \
            == 200
        assert (await s.call("POST", f"{P}/a/start"))[0] == 409

        status, journal = await s.call("GET", f"{P}/a/journal?limit=500")
        assert status == 200
        assert journal["name"] == "a"
        assert journal["count"] == len(journal["entries"])
        types = [entry["entry_type"] for entry in journal["entries"]]
        assert {"trigger_event", "invocation_result", "api_request"} <= set(types)
        audits = [e["data"] for e in journal["entries"] if e["entry_type"] == "api_request"]
        assert audits == [
            {"method": "POST", "path": "/api/v1/processes/a/start", "status": 200},
            {"method": "POST", "path": "/api/v1/processes/a/events", "status": 202},
            {"method": "PATCH", "path": "/api/v1/processes/a/instructions", "status": 200},
            {"method": "POST", "path": "/api/v1/processes/a/start", "status": 409},
        ]
        assert CLASSIFIED not in str(journal)

        status, newest = await s.call("GET", f"{P}/a/journal?limit=1&type=api_request")
        assert (status, newest["count"]) == (200, 1)
        assert newest["entries"][0]["data"]["status"] == 409
        status, body = await s.call("GET", f"{P}/a/journal?type=trigger_event")
        assert {e["entry_type"] for e in body["entries"]} == {"trigger_event"}
        for query in ("limit=0", "limit=501", "limit=many"):
            status, body = await s.call("GET", f"{P}/a/journal?{query}")
            assert (status, body["error"]["field"]) == (422, "limit"), query


@run_async
async def test_no_journal_and_no_rewind(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        await s.runtime.add_process("a", ProcessConfig(model=echo))
        status, body = await s.call("GET", f"{P}/a/journal")
        assert (status, body["error"]["code"]) == (409, "JOURNAL_DISABLED")
        for method, path, body in (("GET", "rewind/plan?target_entry_id=x", None),
                                   ("POST", "rewind", {"target_entry_id": "x"})):
            status, answer = await s.call(method, f"{P}/a/{path}", body)
            assert (status, answer["error"]["code"]) == (501, "NOT_IMPLEMENTED")
            assert "no rewind" in answer["error"]["message"]
            status, answer = await s.call(method, f"{P}/b/{path}", body)
            assert status == 404


@run_async
async def test_context_read_and_all_or_nothing_writes(tmp_path: Path) -> None:
    config = ProcessConfig(
        model=echo,
        context=ContextConfig(writable_keys=["mood", "note"],
                              initial_state={"mood": "calm", "owner": "ops", "token": SECRET}),
        secrets=SecretScopeConfig(enabled=True, secrets={"ctx": SECRET}),
    )
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", config)
        await process.start()
        status, body = await s.call("GET", f"{P}/a/context")
        assert status == 200
        assert (body["writable_keys"], body["all_keys_writable"]) == (["mood", "note"], False)
        assert body["state"]["mood"] == "calm"
        assert SECRET not in str(body)

        assert await s.call("PATCH", f"{P}/a/context", {"state": {"mood": "busy", "note": [1]}}) \
            == (200, {"name": "a", "updated_keys": ["mood", "note"]})
        status, body = await s.call("PATCH", f"{P}/a/context",
                                    {"state": {"mood": "angry", "owner": "me"}})
        assert (status, body["error"]["code"]) == (403, "WRITE_DENIED")
        assert "owner" in body["error"]["message"]
        for bad in ({"state": "mood"}, {"state": {"": 1}}, {"mood": "x"}, {}):
            assert (await s.call("PATCH", f"{P}/a/context", bad))[0] == 422, bad
        _, body = await s.call("GET", f"{P}/a/context")
        assert (body["state"]["mood"], body["state"]["note"], body["state"]["owner"]) == (
            "busy", [1], "ops")
