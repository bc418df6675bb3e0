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
        "crash_recovery.py", "five_triggers.py", "probe_test.py", "single_agent.py",
        "supervision_tree.py", "three_agents.py",
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
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello, Ada", "hello, Grace"]
