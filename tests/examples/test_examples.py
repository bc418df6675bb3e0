"""Every program in examples/ runs to completion (and its printed story holds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, str(EXAMPLES / name)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_every_example_is_covered_here() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == [
        "crash_recovery.py", "five_triggers.py", "governance_budget.py",
        "governance_health.py", "governance_mission.py", "governance_secrets.py",
        "governed_fleet.py", "probe_test.py", "single_agent.py", "supervision_tree.py",
        "three_agents.py",
    ]


def test_supervision_tree_example() -> None:
    result = _run("supervision_tree.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("summary #1")
    assert lines[1].startswith("restarted summarizer (attempt 1")
    assert lines[2].startswith("summary #1")  # a fresh incarnation counts from one again


def test_single_agent_example() -> None:
    result = _run("single_agent.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "reply: billing: page someone", "state=running runs=1", "after close: stopped",
    ]


def test_three_agents_example() -> None:
    result = _run("three_agents.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "report: average reading 4.50"
    assert sorted(lines[1:]) == ["analyst: running", "collector: running", "reporter: running"]


def test_five_triggers_example() -> None:
    result = _run("five_triggers.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "cron: scheduled check",
        "event: alert from monitor: disk full",
        "file_watch: config pipeline.yaml created",
        "message: message on pipeline.alerts.db: replica lag 40 s",
        "webhook: pipeline nightly-etl failed",
        "every trigger fired: True",
    ]


def test_crash_recovery_example() -> None:
    result = _run("crash_recovery.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "acknowledged: order-1, order-2, order-3",
        "killed with SIGKILL",
        "journal: 1 run finished, pending: order-2, order-3",
        "after restart: ran order-2, order-3",
        "runs=3 requeued=2",
    ]


@pytest.mark.parametrize("how", [(), ("-m", "pytest", "-q", "-p", "no:cacheprovider")])
def test_probe_example(how: tuple[str, ...]) -> None:
    result = _run("probe_test.py", *how)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_example_runs() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in readme.split("```python\n")[1:]]
    expected = [["hello, Ada", "hello, Grace"], ["page the on-call engineer", "running"]]
    assert len(blocks) == len(expected)
    for code, lines in zip(blocks, expected, strict=True):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == lines


def test_governance_budget_example() -> None:
    result = _run("governance_budget.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "T-1: the agent saw",
        "  [Budget Remaining]",
        "  tool calls this run: 10 of 10 left",
        "  irreversible actions this run: 1 of 1 left",
        "  cost units today: 20 of 20 left",
        "  cost per call: lookup_order 0.5; refund 5, irreversible; any other tool 1",
    ]
    assert lines[6].startswith("  daily limits reset at ")
    assert lines[7:] == [
        "T-1: refunded A-1; A-2 refused (budget exceeded: calling tool 'refund' would bring "
        "irreversible actions this run to 2, over the limit max_irreversible_per_run=1)",
        "process suspended (governance: budget budget_violation)",
        "T-2 waits: queue_size=1",
        "operator: max_irreversible_per_run=2, resume",
        "T-2: refunded B-1, B-2",
        "T-3: 3 cost units left today, a refund costs 5: left for a human",
        "refunds made: A-1, B-1, B-2; state=running",
    ]


def test_governance_health_example() -> None:
    result = _run("governance_health.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "run 1: get_status(p3), get_status(p3), get_status(p3) -> 'p3 is still pending'",
        "webhook got: anomaly from health of pipelines: stuck (get_status x3)",
        "process suspended (governance: health anomaly)",
        "operator sees: ['stuck']",
        "operator clears 1 anomaly and resumes",
        "run 2: restart_pipeline(p3), get_status(p3) -> 'p3 restarted and running'",
        "healthy: True, anomalies: 0, state=running",
    ]


def test_governance_mission_example() -> None:
    result = _run("governance_mission.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "objective: Migrate every table to the v2 schema",
        "run 1: migrated users (1 of 4 tables on v2)",
        "run 2: migrated orders (2 of 4 tables on v2)",
        "  judge: achieved=False confidence=0.9: still on v1: events, invoices",
        "run 3: migrated invoices (3 of 4 tables on v2)",
        "run 4: migrated events (4 of 4 tables on v2)",
        "  judge: achieved=True confidence=0.95: every table is on v2",
        "run 4 saw: status=active, last verdict at run 2: 2 of 4 tables on v2",
        "mission completed -> process stopped",
    ]


def test_governance_secrets_example() -> None:
    result = _run("governance_secrets.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    audit_at = lines.index("journal, secret_access by name only:")
    assert lines[:audit_at] == [
        "resolved at start: payments_key (env:PAYMENTS_API_KEY, ttl 1800 s), "
        "webhook_token (literal, ttl 3600 s)",
        "order-1 charged",
        "31 minutes later: payments_key expired, webhook_token active",
        "order-2: not charged, payments_key is not available",
        "operator rotates payments_key: payments_key active, webhook_token active",
        "order-3 charged",
    ]
    assert lines[audit_at + 1:audit_at + 8] == [
        "  payments_key: resolved",
        "  webhook_token: resolved",
        "  payments_key: granted (asked by agent)",
        "  payments_key: expired",
        "  payments_key: expired (asked by agent)",
        "  payments_key: rotated",
        "  payments_key: granted (asked by agent)",
    ]
    tool_call = ("a tool call as journaled: {'order_id': 'order-1', "
                 "'api_key': '[REDACTED:payments_key]'}")
    assert lines[-2] == tool_call  # after the accesses (and the revocation at stop, if any)
    assert lines[-1].startswith("secret values in the journal files: 0 (")
    assert "sk-test" not in result.stdout


def test_governed_fleet_example() -> None:
    result = _run("governed_fleet.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "monitor: checked 2 pipelines: etl-nightly (load) unhealthy -> alert.critical",
        "analyst: etl-nightly: the load stage is down, restart it -> analysis.complete",
        "responder: etl-nightly/load restarted",
        "responder's mission: completed -> responder suspended "
        "(governance: mission mission_state)",
        "monitor: checked 2 pipelines: all healthy",
        "governance status:",
        "  monitor: running; budget left today: 496 tool calls, 48 cost units; "
        "healthy=True, anomalies=0",
        "  analyst: running; governance: none",
        "  responder: suspended; mission completed after 1 run(s); "
        "secrets: pipeline_admin_key active",
    ]
