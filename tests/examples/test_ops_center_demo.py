"""The ops-center demo (`greenroom demo`): a few simulated minutes of the fleet, its webhook and
API, a second run that resumes from the journal, the model-backed agents against a fake
OpenAI-compatible server, and the command itself in a subprocess (with SIGTERM)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from greenroom.actors.clock import ManualClock
from greenroom.agents.registry import lookup_agent
from greenroom.demo import DemoOptions, OpsCenterDemo, parse_options
from greenroom.demo.agents import (
    AGENT_NAMES,
    find_breaches,
    judge_state,
    parse_readings,
    probe_reading,
)
from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.signatures import sign

ROOT = Path(__file__).resolve().parents[2]
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the probe's spike is at minute 4 (4 % 6)
WAIT = 30.0


async def eventually(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll `predicate` until it holds (failing after `timeout` real seconds)."""
    async def holds() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(holds(), timeout)


async def run_clock_until(clock: ManualClock, predicate: Callable[[], bool]) -> None:
    """Move the simulated clock in step with real time (never faster) until `predicate` holds:
    the file watch's debounce timer runs on it, and the cron's first slot (a minute away)
    stays out of reach within the timeout."""
    async def holds() -> None:
        while not predicate():
            await asyncio.to_thread(clock.advance, 0.02)
            await asyncio.sleep(0.02)

    await asyncio.wait_for(holds(), WAIT)


def state(demo: OpsCenterDemo, name: str) -> dict[str, Any]:
    assert demo.runtime is not None
    snapshot: dict[str, Any] = demo.runtime.get_process(name).context.state_snapshot()
    return snapshot


def has_state(demo: OpsCenterDemo, name: str, key: str, value: Any) -> Callable[[], bool]:
    """A predicate: process `name`'s context holds `value` under `key`."""
    return lambda: state(demo, name).get(key) == value


def runs(demo: OpsCenterDemo, name: str) -> int:
    assert demo.runtime is not None
    count: int = demo.runtime.process_status(name)["invocation_count"]
    return count


def lines(demo: OpsCenterDemo, who: str, text: str) -> list[str]:
    """Narrated lines of `who` that contain `text`."""
    assert demo.narrator is not None
    return [line for line in demo.narrator.lines if line[10:].startswith(who) and text in line]


async def narrated(demo: OpsCenterDemo, who: str, text: str, count: int = 1) -> None:
    """Wait until `count` narrated lines of `who` contain `text` (a run is narrated when its
    `invocation.completed` reaches the listener, just after the state it changed)."""
    await eventually(lambda: len(lines(demo, who, text)) >= count)


def options(directory: Path) -> DemoOptions:
    return DemoOptions(directory=directory, port=0, webhook_port=0)


async def first_run(directory: Path) -> None:
    clock = ManualClock(start=START)
    demo = OpsCenterDemo(options(directory), clock=clock, out=io.StringIO(), environ={})
    await demo.start()
    try:
        # The sample CSV: three readings over their thresholds, one critical.
        await run_clock_until(clock, lambda: state(demo, "responder").get("incident_count") == 3)
        await narrated(demo, "monitor", "file_watch metrics-20260101T000000-1.csv")
        await narrated(demo, "analyst", "published ops.incident.", 3)
        assert len(lines(demo, "analyst", "published ops.incident.")) == 3
        await narrated(demo, "analyst", "checkout latency_ms=950 vs 500 -> critical")
        await narrated(demo, "responder", "INC-0001 checkout latency_ms (critical)")
        responder = state(demo, "responder")
        assert {i["severity"] for i in responder["recent_incidents"]} == {"critical", "warning"}
        assert responder["by_severity"] == {"critical": 1, "warning": 2}
        await eventually(lambda: demo.runtime is not None and
                         demo.runtime.process_status("responder").get("mission_state")
                         == "completed")
        await narrated(demo, "responder", "mission evaluated by the judge: achieved")

        # The signed webhook: 202 and an incident; unsigned or badly signed: 401 and nothing.
        secret = (directory / "webhook-secret").read_text().strip()
        body = json.dumps({"service": "billing", "severity": "critical",
                           "summary": "card payments failing"}).encode()
        async with aiohttp.ClientSession() as http:
            url = demo.webhook_url()
            async with http.post(url, data=body, headers=sign("generic", secret, body)) as reply:
                assert reply.status == 202
                assert (await reply.json())["status"] == "accepted"
            async with http.post(url, data=body) as reply:
                assert reply.status == 401
            forged = sign("generic", "not-the-secret", body)
            async with http.post(url, data=body, headers=forged) as reply:
                assert reply.status == 401
            await eventually(lambda: state(demo, "responder")["incident_count"] == 4)
            await narrated(demo, "responder", 'webhook /alerts: INC-0004 billing alert '
                                              '(critical) "card payments failing"')

            # The API: on loopback, behind the printed token.
            assert demo.api is not None
            api = f"{demo.api.url}/api/v1"
            async with http.get(f"{api}/processes") as reply:
                assert reply.status == 401
            token = {"Authorization": f"Bearer {demo.token}"}
            async with http.get(f"{api}/processes", headers=token) as reply:
                assert reply.status == 200
                listed = {p["name"] for p in (await reply.json())["processes"]}
                assert listed == {"monitor", "analyst", "responder"}

        # Five simulated minutes of cron probes; the one at 00:04 breaches (820 ms, critical).
        for minute in range(1, 6):
            await asyncio.to_thread(clock.advance, 60)
            await eventually(has_state(demo, "monitor", "checks", 1 + minute))
        await eventually(lambda: state(demo, "responder")["incident_count"] == 5)
        await narrated(demo, "monitor", "all within thresholds", 4)
        assert len(lines(demo, "monitor", "all within thresholds")) == 4
        await narrated(demo, "monitor", "cron 00:04: 1 reading(s); 1 over threshold "
                                        "(checkout latency_ms=820)")
        await narrated(demo, "responder", "INC-0005 checkout latency_ms (critical)")
        await eventually(lambda: (runs(demo, "monitor"), runs(demo, "analyst"),
                                  runs(demo, "responder")) == (6, 4, 5))
    finally:
        await demo.stop()
    assert lookup_agent("ops.monitor") is None  # the run unregistered its agents


async def second_run(directory: Path) -> None:
    clock = ManualClock(start=START + 3600)  # an hour later: the cron catches up one slot
    out = io.StringIO()
    demo = OpsCenterDemo(options(directory), clock=clock, out=out, environ={})
    await demo.start()
    try:
        assert "(resuming from its journal)" in out.getvalue().splitlines()[0]
        assert demo.runtime is not None
        for name in ("monitor", "analyst", "responder"):
            recovery = demo.runtime.process_status(name)["recovery"]
            assert recovery["checkpoint_seq"] is not None
            assert recovery["requeued"] == []  # everything of the first run had finished
        await narrated(demo, "responder", "resumed from its journal")
        [resumed] = lines(demo, "responder", "resumed from its journal")
        assert "5 runs so far; 5 incidents handled, mission completed" in resumed
        assert state(demo, "responder")["incident_count"] == 5
        # The missed hour: one catch-up probe (the latest slot), not a replay of old ones.
        await eventually(lambda: lines(demo, "monitor", "cron 01:00 (catch-up)") != [])

        # The new sample CSV adds three incidents, numbered on from the journal's.
        await run_clock_until(clock, lambda: state(demo, "responder")["incident_count"] == 8)
        responder = state(demo, "responder")
        assert [i["id"] for i in responder["recent_incidents"]][-3:] == [
            "INC-0006", "INC-0007", "INC-0008"]
        assert len(set(responder["handled"])) == len(responder["handled"]) == 8
        monitor = state(demo, "monitor")
        assert len(monitor["files_read"]) == len(set(monitor["files_read"])) == 2
        # Nothing of the first run ran again: every count is the first run's plus the new work.
        await eventually(lambda: (runs(demo, "monitor"), runs(demo, "analyst"),
                                  runs(demo, "responder")) == (6 + 2, 4 + 3, 5 + 3))

        # A breach delivered twice (say, re-emitted after a crash) opens no second incident.
        again = {"service": "checkout", "severity": "critical",
                 "breach_id": responder["handled"][0]}
        await demo.runtime.get_process("responder").inject(
            TriggerEvent("manual", "manual", payload=again))
        await eventually(lambda: runs(demo, "responder") == 9)
        await narrated(demo, "responder", f"breach {again['breach_id']} already handled")
        assert state(demo, "responder")["incident_count"] == 8
        assert demo.runtime.process_status("responder")["mission_state"] == "completed"
    finally:
        await demo.stop()


def test_a_few_simulated_minutes_then_a_second_run_resumes_from_the_journal(
        tmp_path: Path) -> None:
    directory = tmp_path / "ops"
    asyncio.run(first_run(directory))
    asyncio.run(second_run(directory))


# The model-backed agents ----------------------------------------------------------------------

async def fake_openai(verdicts: list[str]) -> tuple[web.AppRunner, str]:
    """A Chat Completions server that rates every breach critical, answers a fixed remediation
    and gives the judge an achieved verdict; it records which kind of question it got."""
    async def complete(request: web.Request) -> web.Response:
        body = await request.json()
        messages = body["messages"]
        question = messages[-1]["content"]
        if "You judge" in messages[0]["content"]:
            verdicts.append("judge")
            content = json.dumps({"achieved": True, "confidence": 0.9,
                                  "reasoning": "the model is satisfied"})
        elif question.startswith("Classify"):
            verdicts.append("classify")
            content = "Critical."
        else:
            verdicts.append("act")
            content = "restart the pods\nand watch the graphs"
        return web.json_response(
            {"choices": [{"message": {"role": "assistant", "content": content}}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", complete)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1"


def test_with_openai_base_url_the_agents_decide_with_the_model(tmp_path: Path) -> None:
    async def main() -> None:
        asked: list[str] = []
        server, url = await fake_openai(asked)
        clock = ManualClock(start=START)
        out = io.StringIO()
        demo = OpsCenterDemo(DemoOptions(directory=tmp_path / "model", port=0, webhook_port=0,
                                         api=False),
                             clock=clock, out=out, environ={"OPENAI_BASE_URL": url})
        try:
            await demo.start()
            assert demo.api is None
            await run_clock_until(
                clock, lambda: state(demo, "responder").get("incident_count") == 3)
            responder = state(demo, "responder")
            assert responder["by_severity"] == {"critical": 3}  # the model's rating wins
            assert {i["action"] for i in responder["recent_incidents"]} == {
                "restart the pods and watch the graphs"}
            await eventually(lambda: demo.runtime is not None and demo.runtime.process_status(
                "responder").get("mission_state") == "completed")
            assert sorted(set(asked)) == ["act", "classify", "judge"]
            assert f"agents decide with gpt-4o-mini at {url}" in out.getvalue()
        finally:
            await demo.stop()
            await server.cleanup()

    asyncio.run(main())


def test_the_rules_behind_the_deterministic_agents() -> None:
    readings, skipped = parse_readings(
        "service,metric,value\napi,latency_ms,700\napi,latency_ms,fast\n,cpu_pct,3\n"
        "api,queue_depth,9000\n")
    assert readings == [("api", "latency_ms", 700.0), ("api", "queue_depth", 9000.0)]
    assert skipped == 2
    [breach] = find_breaches(readings, {"latency_ms": 500}, "inbox/x.csv", "ev1")
    assert (breach.service, breach.value, breach.breach_id) == ("api", 700.0, "ev1#0")
    assert probe_reading({"service": "s", "metric": "m", "series": [1, 2, 3]},
                         "2026-01-01T00:04:00+00:00") == ("s", "m", 2.0)
    assert judge_state({"incident_count": 2, "incident_target": 3})["achieved"] is False
    done = judge_state({"incident_count": 3, "incident_target": 3,
                        "recent_incidents": [{"action": "restart"}]})
    assert (done["achieved"], done["confidence"]) == (True, 1.0)
    unacted = {"incident_count": 3, "incident_target": 3, "recent_incidents": [{"action": ""}]}
    assert judge_state(unacted)["achieved"] is False


def test_the_options_and_their_limits(capsys: pytest.CaptureFixture[str]) -> None:
    parsed = parse_options(["--dir", "x", "--port", "0", "--duration", "2.5", "--no-api"])
    assert (parsed.directory, parsed.port, parsed.duration, parsed.api) == (
        Path("x"), 0, 2.5, False)
    assert parse_options([]) == DemoOptions()
    with pytest.raises(SystemExit):
        parse_options(["--port", "70000"])
    assert "--port: expected a port from 0 to 65535" in capsys.readouterr().err
    assert set(AGENT_NAMES) == {"ops.monitor", "ops.analyst", "ops.responder", "ops.judge"}


# The command ----------------------------------------------------------------------------------

def demo_command(directory: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "greenroom", "demo", "--port", "0", "--webhook-port", "0",
            "--dir", str(directory), *extra]


def test_greenroom_demo_runs_for_its_duration_and_resumes(tmp_path: Path) -> None:
    directory = tmp_path / "tmp"
    first = subprocess.run(demo_command(directory, "--duration", "3"), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "loaded analyst, monitor, responder" in out
    assert "API: http://127.0.0.1:" in out
    assert "token: " in out
    assert "webhook: POST http://127.0.0.1:" in out
    assert "X-Webhook-Signature: sha256=" in out
    assert "dropped inbox/metrics-" in out
    assert "stopped after" in out
    second = subprocess.run(demo_command(directory, "--duration", "1", "--no-api"),
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert second.returncode == 0, second.stderr
    assert "(resuming from its journal)" in second.stdout
    assert "API:" not in second.stdout


def test_sigterm_stops_the_demo_gracefully(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(demo_command(tmp_path / "sig"), cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        guard = threading.Timer(120, child.kill)  # a demo that never starts fails, not hangs
        guard.start()
        try:
            for line in child.stdout:  # until the demo has started and dropped its CSV
                if "dropped inbox/" in line:
                    break
            child.send_signal(signal.SIGTERM)
            rest, errors = child.communicate(timeout=120)
        finally:
            guard.cancel()
    assert child.returncode == 0, errors
    assert "stopping" in errors
    assert "journal kept in" in rest
