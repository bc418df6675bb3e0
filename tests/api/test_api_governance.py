"""Governance routes over HTTP: the 422 matrix of PATCH budget/health/mission (unknown field,
wrong type, out of range, across fields; nothing changes), aliases, a part the running process
has off (409); secrets listed, rotated and revoked without a value ever in an answer or the
journal; the mission's status and moves; health anomalies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from api_support import P, echo, run_async, serve

from greenroom.agents.invocation import Invocation
from greenroom.governance.config import (
    BudgetConfig,
    HealthConfig,
    MissionConfig,
    SecretScopeConfig,
)
from greenroom.runtime import JournalConfig, ProcessConfig
from greenroom.triggers import TriggerEvent

SECRET = "first-secret-value-0001"
ROTATED = "rotated-secret-value-0002"

MATRIX: dict[str, list[tuple[dict[str, Any], str, str]]] = {
    "budget": [
        ({"max_runs": 5}, "UNKNOWN_FIELD", "max_runs"),
        ({"max_runs_per_day": "5"}, "INVALID_CONFIG", "max_runs_per_day"),
        ({"max_runs_per_day": 5.5}, "INVALID_CONFIG", "max_runs_per_day"),
        ({"enabled": "true"}, "INVALID_CONFIG", "enabled"),
        ({"max_cost_per_day": True}, "INVALID_CONFIG", "max_cost_per_day"),
        ({"on_exceeded": "explode"}, "INVALID_CONFIG", "on_exceeded"),
        ({"max_runs_per_day": -1}, "INVALID_CONFIG", "max_runs_per_day"),
        ({"warning_threshold": 0}, "INVALID_CONFIG", "warning_threshold"),
        ({"daily_reset_hour_utc": 24}, "INVALID_CONFIG", "daily_reset_hour_utc"),
        ({"tool_costs": {"lookup": -1}}, "INVALID_CONFIG", "tool_costs.lookup.cost_weight"),
    ],
    "health": [
        ({"stuck": 3}, "UNKNOWN_FIELD", "stuck"),
        ({"cooldown": "5m"}, "INVALID_CONFIG", "cooldown"),
        ({"on_anomaly": "panic"}, "INVALID_CONFIG", "on_anomaly"),
        ({"stuck_threshold": 1}, "INVALID_CONFIG", "stuck_threshold"),
        ({"error_rate_threshold": 1.5}, "INVALID_CONFIG", "error_rate_threshold"),
        ({"loop_window": 4}, "INVALID_CONFIG", ""),
    ],
    "mission": [
        ({"goal": "x"}, "UNKNOWN_FIELD", "goal"),
        ({"objective": 5}, "INVALID_CONFIG", "objective"),
        ({"eval_every": 0}, "INVALID_CONFIG", "eval_every"),
        ({"confidence_threshold": 1.5}, "INVALID_CONFIG", "confidence_threshold"),
        ({"objective": " "}, "INVALID_CONFIG", ""),
        ({"max_duration": "soon"}, "INVALID_CONFIG", ""),
    ],
}


def governed() -> ProcessConfig:
    return ProcessConfig(
        model=echo,
        journal=JournalConfig(level="checkpoint", backend="memory"),
        budget=BudgetConfig(enabled=True, max_runs_per_day=10),
        health=HealthConfig(enabled=True),
        mission=MissionConfig(enabled=True, objective="triage alerts",
                              success_criteria="every alert has an owner"),
        secrets=SecretScopeConfig(enabled=True, secrets={"api_key": SECRET}),
    )


@run_async
async def test_patch_sections_422_matrix_changes_nothing(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", governed())
        await process.start()
        before = process.config
        for section, cases in MATRIX.items():
            for body, code, field in cases:
                status, answer = await s.call("PATCH", f"{P}/a/{section}", body)
                assert status == 422, (section, body)
                error = answer["error"]
                assert error["code"] == code, (section, body)
                assert error.get("field") == (field or None), (section, body)
                assert field in error["message"]
            async with s.http.patch(f"{P}/a/{section}", data=b"[1]") as response:
                assert response.status == 400
        assert process.config == before


@run_async
async def test_patch_sections_apply_live_with_aliases(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", governed())
        await process.start()
        status, body = await s.call("PATCH", f"{P}/a/budget",
                                    {"max_daily_cost": 2.5, "max_runs_per_day": 3})
        assert status == 200
        assert (body["budget_updated"], body["live"], body["effective_from"]) == (
            True, True, "next_budget_check")
        assert body["budget"]["max_cost_per_day"] == 2.5
        assert process.config.budget.max_runs_per_day == 3
        assert process.config.budget.max_cost_per_day == 2.5

        status, body = await s.call("PATCH", f"{P}/a/health",
                                    {"loop_min_repeats": 3, "loop_window": 8})
        assert (status, body["health"]["loop_window"], body["effective_from"]) == (
            200, 8, "immediate")
        status, body = await s.call("PATCH", f"{P}/a/health", {"loop_window": 6})
        assert status == 422  # 6 cannot hold 3 repeats: checked against the current section

        status, body = await s.call("PATCH", f"{P}/a/mission",
                                    {"check_interval": 3, "max_duration": "2h"})
        assert status == 200
        assert (body["mission"]["eval_every"], body["mission"]["timeout_hours"]) == (3, 2.0)
        assert process.config.mission.eval_every == 3
        assert process.config.mission.objective == "triage alerts"


@run_async
async def test_turning_on_a_part_a_running_process_lacks_is_a_conflict(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", ProcessConfig(model=echo))
        await process.start()
        status, body = await s.call("PATCH", f"{P}/a/budget", {"enabled": True})
        assert (status, body["error"]["code"]) == (409, "BUDGET_DISABLED")
        assert process.config.budget.enabled is False
        status, body = await s.call("PATCH", f"{P}/a/budget", {"max_runs_per_day": 4})
        assert (status, body["budget"]["max_runs_per_day"]) == (200, 4)
        for method, path in (("GET", "secrets"), ("GET", "mission"),
                             ("GET", "health/anomalies")):
            status, body = await s.call(method, f"{P}/a/{path}")
            assert status == 200
            assert False in body.values()
        for method, path, code in (
                ("DELETE", "secrets", "SECRETS_DISABLED"),
                ("PATCH", "secrets/api_key", "SECRETS_DISABLED"),
                ("POST", "mission/pause", "MISSION_DISABLED"),
                ("DELETE", "health/anomalies", "HEALTH_DISABLED")):
            body = {"value": ROTATED} if method == "PATCH" else None
            status, answer = await s.call(method, f"{P}/a/{path}", body)
            assert (status, answer["error"]["code"]) == (409, code), path


@run_async
async def test_secrets_never_leave_the_process(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", governed())
        await process.start()
        status, body = await s.call("GET", f"{P}/a/secrets")
        assert (status, body["enabled"]) == (200, True)
        assert [(x["name"], x["active"]) for x in body["secrets"]] == [("api_key", True)]

        status, body = await s.call("PATCH", f"{P}/a/secrets/api_key",
                                    {"value": ROTATED, "ttl": 60})
        assert status == 200
        assert (body["secret_rotated"], body["secret"]["name"]) == ("api_key", "api_key")
        status, body = await s.call("PATCH", f"{P}/a/secrets/nope", {"value": ROTATED})
        assert (status, body["error"]["code"]) == (404, "SECRET_NOT_FOUND")
        status, body = await s.call("PATCH", f"{P}/a/secrets/api_key", {"value": "ab"})
        assert (status, body["error"]["code"]) == (422, "INVALID_REQUEST")
        assert "ab" not in body["error"]["message"].split()
        status, body = await s.call("PATCH", f"{P}/a/secrets/api_key", {"value": 12345678})
        assert (status, body["error"]["field"]) == (422, "value")

        assert await s.call("DELETE", f"{P}/a/secrets") == (
            200, {"name": "a", "secrets_revoked": True})
        _, body = await s.call("GET", f"{P}/a/secrets")
        assert body["secrets"][0]["active"] is False

        _, journal = await s.call("GET", f"{P}/a/journal?limit=500")
        text = str(journal)
        assert SECRET not in text
        assert ROTATED not in text
        audits = [e["data"] for e in journal["entries"] if e["entry_type"] == "api_request"]
        assert {"method": "PATCH", "path": "/api/v1/processes/a/secrets/api_key",
                "status": 200} in audits


@run_async
async def test_mission_status_and_moves(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", governed())
        await process.start()
        status, body = await s.call("GET", f"{P}/a/mission")
        assert (status, body["mission_enabled"]) == (200, True)
        assert body["mission"]["objective"] == "triage alerts"
        assert body["mission"]["evaluations"] == []
        assert await s.call("POST", f"{P}/a/mission/pause") == (
            200, {"name": "a", "mission_paused": True, "state": "paused"})
        status, body = await s.call("POST", f"{P}/a/mission/pause")
        assert (status, body["error"]["code"]) == (409, "MISSION_STATE")
        assert await s.call("POST", f"{P}/a/mission/resume", {"reason": "fixed"}) == (
            200, {"name": "a", "mission_resumed": True, "state": "active"})
        assert await s.call("POST", f"{P}/a/mission/fail", {"reason": "wrong goal"}) == (
            200, {"name": "a", "mission_failed": True, "reason": "wrong goal",
                  "state": "failed"})
        status, body = await s.call("POST", f"{P}/a/mission/resume")
        assert (status, body["error"]["code"]) == (409, "MISSION_STATE")
        status, body = await s.call("POST", f"{P}/a/mission/fail", {"reason": ""})
        assert (status, body["error"]["field"]) == (422, "reason")


async def _silent(invocation: Invocation) -> str:
    return ""


@run_async
async def test_health_anomalies(tmp_path: Path) -> None:
    config = ProcessConfig(model=_silent, health=HealthConfig(enabled=True, empty_threshold=1))
    async with serve(tmp_path) as s:
        process = await s.runtime.add_process("a", config)
        await process.start()
        assert await s.call("GET", f"{P}/a/health/anomalies") == (200, {
            "name": "a", "health_enabled": True, "is_healthy": True, "anomalies": [],
            "count": 0})
        await process.inject(TriggerEvent("t", "manual"))  # an empty reply: an anomaly
        deadline = asyncio.get_running_loop().time() + 10
        while (body := (await s.call("GET", f"{P}/a/health/anomalies"))[1])["count"] == 0:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert body["is_healthy"] is False
        anomaly = body["anomalies"][0]
        assert anomaly["type"] == "empty_response"
        assert anomaly["description"]
        assert await s.call("DELETE", f"{P}/a/health/anomalies") == (
            200, {"name": "a", "anomalies_cleared": 1})
        assert (await s.call("GET", f"{P}/a/health/anomalies"))[1]["count"] == 0
