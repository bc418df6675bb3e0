"""Trigger routes over HTTP: list (secrets masked), add (validated, policy-checked, started at
once, 409 for a duplicate), remove (by id, by the legacy `static_<n>`, 404)."""

from __future__ import annotations

from pathlib import Path

from api_support import P, echo, eventually, run_async, serve

from greenroom.runtime import AgentProcess, ProcessConfig, TriggerConfig


@run_async
async def test_list_add_and_remove_triggers(tmp_path: Path) -> None:
    config = ProcessConfig(model=echo, triggers=[
        TriggerConfig(type="cron", cron_expression="0 3 * * *"),
    ])
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", config)
        await process.start()
        status, body = await s.call("GET", f"{P}/a/triggers")
        assert status == 200
        assert body["count"] == 1
        cron = body["triggers"][0]
        assert (cron["type"], cron["source"]) == ("cron", "config")
        assert cron["config"]["cron_expression"] == "0 3 * * *"

        added = {"type": "event", "event_type": "ops.alert"}
        status, body = await s.call("POST", f"{P}/a/triggers", added)
        assert status == 201
        assert body == {"name": "a", "trigger_added": True, "trigger_id": body["trigger_id"],
                        "trigger_type": "event", "live": True, "effective_from": "immediate"}
        event_id = body["trigger_id"]
        status, body = await s.call("POST", f"{P}/a/triggers", added)
        assert (status, body["error"]["code"]) == (409, "TRIGGER_EXISTS")
        status, body = await s.call("POST", f"{P}/a/triggers", {
            "type": "event", "event_type": "ops.other", "trigger_id": event_id})
        assert (status, body["error"]["code"]) == (409, "TRIGGER_EXISTS")

        await s.runtime.event_bus.emit("ops.alert", {"disk": "full"}, "test")
        await _wait_for_run(process)

        webhook = {"type": "webhook", "webhook_path": "/hook", "webhook_port": 0,
                   "hmac_secret": "very-secret-key"}
        status, body = await s.call("POST", f"{P}/a/triggers", webhook)
        assert status == 201, body
        status, body = await s.call("GET", f"{P}/a/triggers")
        assert body["count"] == 3
        hook = next(t for t in body["triggers"] if t["type"] == "webhook")
        assert hook["config"]["hmac_secret"] == "***"
        assert hook["source"] == "dynamic"
        assert "very-secret-key" not in str(body)

        assert await s.call("DELETE", f"{P}/a/triggers/{event_id}") == (200, {
            "name": "a", "trigger_removed": event_id, "live": True,
            "effective_from": "immediate"})
        status, body = await s.call("DELETE", f"{P}/a/triggers/{event_id}")
        assert (status, body["error"]["code"]) == (404, "TRIGGER_NOT_FOUND")
        status, body = await s.call("DELETE", f"{P}/a/triggers/static_0")
        assert (status, body["trigger_removed"]) == (200, cron["id"])
        assert [t["type"] for t in process.list_triggers()] == ["webhook"]


async def _wait_for_run(process: AgentProcess) -> None:
    await eventually(lambda: process.status()["invocation_count"] >= 1)


@run_async
async def test_refused_triggers_change_nothing(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", ProcessConfig(model=echo))
        cases = [
            ({"type": "cron"}, 422, "INVALID_CONFIG"),
            ({"type": "cron", "cron_expression": "not cron"}, 422, "INVALID_CONFIG"),
            ({"type": "cron", "cron_expression": "* * * * *", "shape": 1}, 422,
             "UNKNOWN_FIELD"),
            ({"type": "event", "event_type": "a", "include_own_events": "yes"}, 422,
             "INVALID_CONFIG"),
            ({"type": "no-such-type"}, 422, "INVALID_TRIGGER"),
            ({"type": "file_watch", "watch_path": "/etc"}, 403, "PATH_NOT_ALLOWED"),
            ({"type": "webhook", "hmac_secret": "${HOME}"}, 403, "ENV_REFERENCES_NOT_ALLOWED"),
        ]
        for body, status, code in cases:
            answer = await s.call("POST", f"{P}/a/triggers", body)
            assert (answer[0], answer[1]["error"]["code"]) == (status, code), body
        assert process.list_triggers() == []

        status, body = await s.call("POST", f"{P}/a/triggers",
                                    {"type": "event", "event_type": "later.on"})
        assert (status, body["live"], body["effective_from"]) == (201, False, "next_start")
        await process.start()
        await s.runtime.event_bus.emit("later.on", {}, "test")
        await _wait_for_run(process)
        missing = {"type": "file_watch", "watch_path": str(tmp_path / "not-there")}
        status, body = await s.call("POST", f"{P}/a/triggers", missing)
        assert (status, body["error"]["code"]) == (422, "INVALID_TRIGGER")
        assert len(process.list_triggers()) == 1
