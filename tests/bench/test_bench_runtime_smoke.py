"""The runtime benchmark keeps running (figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ROWS = (
    "inject -> invocation finished median (ms)",
    "inject -> invocation finished p99 (ms)",
    "no-op runs/s per process, concurrency 1",
    "no-op runs/s per process, concurrency 4",
    "add + start 1 process (ms, total)",
    "add + start 10 processes (ms, total)",
    "add + start 100 processes (ms, total)",
    "RSS per idle process @100 (KiB)",
)


def test_runtime_benchmark_quick_run_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.runtime", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Machine floor in this run" in result.stdout
    for row in ROWS:
        assert row in result.stdout, row
