"""Process and runtime routes over HTTP: deploy (validation, the deploy policy, a refused start
leaves nothing), status, lifecycle, instructions, remove; stop over HTTP drains exactly as
`AgentProcess.stop()` from Python does; the runtime's status, start-all and stop-all."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import Api, Gate, P, echo, eventually, run_async, serve

from greenroom.agents.registry import register_agent, unregister_agent
from greenroom.runtime import ProcessConfig
from greenroom.triggers import TriggerEvent

AGENT = "api-test-echo"


@pytest.fixture(autouse=True)
def registered_echo() -> Iterator[None]:
    register_agent(AGENT, echo, overwrite=True)
    yield
    unregister_agent(AGENT)


def deploy_body(name: str, config: dict[str, Any] | None = None, *, start: bool = False
                ) -> dict[str, Any]:
    return {"name": name, "config": {"model": f"python:{AGENT}", **(config or {})},
            "start": start}


@run_async
async def test_deploy_status_list_and_remove(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        status, body = await s.call("POST", P, deploy_body("d1", {"concurrency": 2}, start=True))
        assert status == 201
        assert body["name"] == "d1"
        assert body["state"] == "running"
        process = s.runtime.get_process("d1")
        assert body["process_id"] == process.process_id
        assert process.config.concurrency == 2
        assert "T" in body["created_at"]

        assert await s.call("GET", P) == (200, {"processes": [
            {"name": "d1", "state": "running", "process_id": process.process_id}], "total": 1})
        status, detail = await s.call("GET", f"{P}/d1")
        assert status == 200
        assert detail["name"] == "d1"
        assert detail["concurrency"] == 2
        status, metrics = await s.call("GET", f"{P}/d1/metrics")
        assert status == 200
        assert set(metrics) == set(detail)

        status, body = await s.call("POST", P, deploy_body("d1"))
        assert (status, body["error"]["code"]) == (409, "PROCESS_EXISTS")

        assert await s.call("DELETE", f"{P}/d1") == (204, None)
        assert "d1" not in s.runtime.processes
        status, body = await s.call("GET", f"{P}/d1")
        assert status == 404
        assert body == {"error": {"code": "PROCESS_NOT_FOUND",
                                  "message": "no process named 'd1'"}}
        assert (await s.call("DELETE", f"{P}/d1"))[0] == 404


@run_async
async def test_an_invalid_deploy_names_the_field_and_registers_nothing(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        cases = [
            (deploy_body("ok", {"concurrency": "2"}), "INVALID_CONFIG", "config.concurrency"),
            (deploy_body("ok", {"concurrency": 0}), "INVALID_CONFIG", "config.concurrency"),
            (deploy_body("ok", {"bogus": 1}), "UNKNOWN_FIELD", "config.bogus"),
            (deploy_body("ok", {"journal": {"level": "everything"}}), "INVALID_CONFIG",
             "config.journal.level"),
            (deploy_body("9starts-with-a-digit"), "INVALID_CONFIG", "name"),
            ({"config": {}}, "INVALID_CONFIG", "name"),
            ({**deploy_body("ok"), "start": "yes"}, "INVALID_CONFIG", "start"),
            ({**deploy_body("ok"), "extra": True}, "UNKNOWN_FIELD", "extra"),
        ]
        for body, code, field in cases:
            status, answer = await s.call("POST", P, body)
            assert status == 422, body
            assert answer["error"]["code"] == code, body
            assert answer["error"]["field"] == field, body
            assert field in answer["error"]["message"]
        status, answer = await s.call(
            "POST", P, {"name": "nope", "config": {"model": "python:unregistered"},
                        "start": True})
        assert (status, answer["error"]["code"]) == (422, "START_FAILED")
        assert "unregistered" in answer["error"]["message"]
        mission = {"enabled": True, "objective": "x", "success_criteria": "y"}
        status, answer = await s.call(  # no model: the mission's actor has no judge
            "POST", P, {"name": "nope", "config": {"mission": mission}, "start": True})
        assert (status, answer["error"]["code"]) == (422, "START_FAILED")
        assert "judge" in answer["error"]["message"]
        assert dict(s.runtime.processes) == {}


@run_async
async def test_the_deploy_policy_refuses_commands_environment_and_outside_paths(
        tmp_path: Path) -> None:
    inside = str(tmp_path / "journal")
    refused: list[tuple[dict[str, Any], str, str]] = [
        ({"journal": {"backend": "file", "path": "/tmp/elsewhere"}}, "PATH_NOT_ALLOWED",
         "config.journal.path"),
        ({"context": {"file_mounts": {"etc": "/etc"}}}, "PATH_NOT_ALLOWED",
         "config.context.file_mounts.etc"),
        ({"triggers": [{"type": "file_watch", "watch_path": str(tmp_path / ".." / "x")}]},
         "PATH_NOT_ALLOWED", "config.triggers.0.watch_path"),
        ({"servers": {"local": {"command": "rm", "args": ["-rf", "/"]}}},
         "COMMANDS_NOT_ALLOWED", "config.servers.local"),
        ({"execution_mode": "open"}, "COMMANDS_NOT_ALLOWED",
         "config.open_mode.allow_tool_creation"),
        ({"secrets": {"enabled": True, "secrets": {"key": "${HOME}"}}},
         "ENV_REFERENCES_NOT_ALLOWED", "config.secrets.secrets.key"),
    ]
    async with serve(tmp_path) as s:
        for config, code, field in refused:
            status, answer = await s.call("POST", P, deploy_body("p", config))
            assert (status, answer["error"]["code"], answer["error"]["field"]) == (
                403, code, field), config
        assert dict(s.runtime.processes) == {}
        inside_config = {"journal": {"backend": "file", "path": inside}}
        assert (await s.call("POST", P, deploy_body("p", inside_config)))[0] == 201
    async with serve(tmp_path, allow_command_deploys=True, allow_env_references=True) as s:
        for config, _, _ in refused[3:]:
            status, _ = await s.call("POST", P, deploy_body("p", config))
            assert status == 201, config
            await s.runtime.remove_process("p")


@run_async
async def test_lifecycle_routes_and_state_conflicts(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        await s.runtime.add_process("a", ProcessConfig(model=echo))
        assert await s.call("POST", f"{P}/a/start") == (200, {"name": "a", "state": "running"})
        status, body = await s.call("POST", f"{P}/a/start")
        assert (status, body["error"]["code"]) == (409, "INVALID_STATE")
        assert await s.call("POST", f"{P}/a/suspend") == (
            200, {"name": "a", "suspended": True, "state": "suspended"})
        assert await s.call("POST", f"{P}/a/resume") == (
            200, {"name": "a", "resumed": True, "state": "running"})
        assert (await s.call("POST", f"{P}/a/resume"))[0] == 409
        assert await s.call("POST", f"{P}/a/restart") == (200, {"name": "a", "state": "running"})
        status, body = await s.call("POST", f"{P}/a/stop", {"drain_timeout": 1})
        assert status == 200
        assert body == {"name": "a", "state": "stopped", "drain_timeout": 1.0,
                        "interrupted_runs": 0, "cancelled": [], "dead_lettered": [],
                        "kept": None}
        assert (await s.call("POST", f"{P}/a/suspend"))[0] == 409
        for bad in ({"drain_timeout": -1}, {"drain_timeout": 3601}, {"drain_timeout": "5"}):
            status, body = await s.call("POST", f"{P}/a/stop", bad)
            assert (status, body["error"]["field"]) == (422, "drain_timeout")


@run_async
async def test_instructions_apply_from_the_next_run(tmp_path: Path) -> None:
    seen: list[str] = []

    async def agent(invocation: Any) -> str:
        seen.append(invocation.messages[0]["content"])
        return "ok"

    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", ProcessConfig(model=agent, instructions="v1"))
        await process.start()
        assert await s.call("PATCH", f"{P}/a/instructions", {"instructions": "v2 rules"}) == (
            200, {"name": "a", "instructions_updated": True, "effective_from": "next_invocation"})
        await process.inject(TriggerEvent("t", "manual", payload="go"))
        await eventually(lambda: bool(seen))
        assert "v2 rules" in seen[0]
        for bad in ({"instructions": ""}, {"instructions": 5}, {}):
            assert (await s.call("PATCH", f"{P}/a/instructions", bad))[0] == 422
        assert process.config.instructions == "v2 rules"


async def _stop_while_running(s: Api, name: str, gate: Gate, stop: Any) -> dict[str, Any]:
    """Start a run, stop the process with `stop()` while the run waits, then let the run go
    (or not) and return what the stop returned."""
    process = s.runtime.get_process(name)
    await process.start()
    await process.inject(TriggerEvent("t", "manual", payload="long"))
    await asyncio.wait_for(gate.started.wait(), 10)
    stopping = asyncio.ensure_future(stop())
    await eventually(lambda: process.state.value in ("stopping", "stopped"))
    gate.open.set()
    result: dict[str, Any] = await asyncio.wait_for(stopping, 30)
    gate.open.clear()
    gate.started.clear()
    return result


@run_async
async def test_stop_over_http_drains_like_stop_from_python(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        gate = Gate()
        await s.runtime.add_process("a", ProcessConfig(model=gate, drain_timeout=30))

        async def over_http(body: Any = None) -> dict[str, Any]:
            status, answer = await s.call("POST", f"{P}/a/stop", body)
            assert status == 200
            result: dict[str, Any] = answer
            return result

        process = s.runtime.get_process("a")
        by_http = await _stop_while_running(s, "a", gate, over_http)
        by_python = await _stop_while_running(s, "a", gate, process.stop)
        assert gate.finished == 2  # both drained: the run in flight finished
        assert by_http["drain_timeout"] == 30
        assert by_http["interrupted_runs"] == 0
        assert by_http["cancelled"] == by_python["cancelled"] == []

        by_http = await _stop_while_running(s, "a", gate, lambda: over_http({"drain_timeout": 0}))
        by_python = await _stop_while_running(s, "a", gate, lambda: process.stop(0))
        assert by_http["interrupted_runs"] == len(by_http["cancelled"]) == 1
        assert len(by_python["cancelled"]) == 1
        assert gate.finished == 2  # neither drained


@run_async
async def test_runtime_status_start_all_and_stop_all(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        gate = Gate()
        await s.runtime.add_process("a", ProcessConfig(model=echo))
        await s.runtime.add_process("b", ProcessConfig(model=gate))
        assert await s.call("POST", "/api/v1/runtime/start-all") == (200, {"status": "started"})
        status, body = await s.call("GET", "/api/v1/runtime/status")
        assert status == 200
        assert (body["process_count"], body["running"]) == (2, 2)
        assert set(body["processes"]) == {"a", "b"}
        assert body["processes"]["b"]["state"] == "running"
        await s.runtime.get_process("b").inject(TriggerEvent("t", "manual"))
        await asyncio.wait_for(gate.started.wait(), 10)
        assert await s.call("POST", "/api/v1/runtime/stop-all", {"drain_timeout": 0}) == (
            200, {"status": "stopped", "interrupted_runs": 1})
        assert {p.state.value for p in s.runtime.processes.values()} == {"stopped"}
        status, body = await s.call("GET", "/api/v1/health")
        assert body == {"status": "healthy", "process_count": 2}
