"""The kernel benchmark keeps running (figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kernel_benchmark_quick_run_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.kernel", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for row in ("tell throughput", "ask round trip median", "spawn", "RSS per idle actor",
                "failure -> restarted -> answer"):
        assert row in result.stdout
