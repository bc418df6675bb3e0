"""The trigger benchmark keeps running (figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ROWS = (
    "webhook POST -> agent entered median (ms)",
    "webhook POST -> agent entered p99 (ms)",
    "webhook POST -> 202 received median (ms)",
    "webhook POST -> 202 received p99 (ms)",
    "webhook accepted requests/s, one process (32 in flight, N=1,000)",
    "webhook answers other than 202 in the requests/s runs (count)",
    "file write -> agent entered median (ms, debounce 0.01 s)",
    "file write -> agent entered p99 (ms, debounce 0.01 s)",
)


def test_triggers_benchmark_quick_run_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.triggers", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Machine floor in this run" in result.stdout
    for row in ROWS:
        assert row in result.stdout, row
