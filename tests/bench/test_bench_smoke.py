"""Every benchmark keeps running: `python -m bench.<name> --quick` exits 0 and prints each row
(figures are printed, never asserted). The runtime and journal benches run with `--peer auto`,
so the peer's scenarios (`bench/promptise_side.py`) run too, against a real promptise 1.10.1
installed from the package index into `.peer/` (once)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

KERNEL_ROWS = (
    "tell throughput",
    "ask round trip median",
    "ask awaited from a coroutine median",
    "tell throughput from a coroutine",
    "spawn",
    "RSS per idle actor",
    "failure -> restarted -> answer",
)

RUNTIME_ROWS = (
    "inject -> invocation finished median (ms)",
    "inject -> invocation finished p99 (ms)",
    "no-op runs/s per process, concurrency 1",
    "no-op runs/s per process, concurrency 4",
    "add + start 1 process, no trigger (ms, total)",
    "add + start 1 process, one cron trigger each (ms, total)",
    "add + start 10 processes, no trigger (ms, total)",
    "add + start 100 processes, one cron trigger each (ms, total)",
    "add + start 100 processes, no trigger, one by one (ms, total)",
    "RSS per idle process @100 (KiB)",
)

TRIGGERS_ROWS = (
    "webhook POST -> agent entered median (ms)",
    "webhook POST -> agent entered p99 (ms)",
    "webhook POST -> 202 received median (ms)",
    "webhook POST -> 202 received p99 (ms)",
    "webhook accepted requests/s, one process (32 in flight, N=1,000)",
    "webhook answers other than 202 in the requests/s runs (count)",
    "file write -> agent entered median (ms, debounce 0.01 s)",
    "file write -> agent entered p99 (ms, debounce 0.01 s)",
)

JOURNAL_ROWS = (
    "durable appends/s, 1 writer",
    "durable appends/s, 50 writers, 50 process ids",
    "durable appends/s, 50 writers, 1 process id",
    "entries per group commit, 50 writers, 50 process ids",
    "fsyncs per group commit, 50 writers, 50 process ids",
    "entries per group commit, 50 writers, 1 process id",
    "durable journaled runs/s, 50 processes",
    "fsyncs per run, 50 processes",
    "time spent in fsync, % of the timed window, 50 processes",
    "inject -> run done median (ms), journal checkpoint level",
    "inject -> run done p99 (ms), journal checkpoint level",
    "inject -> return (durable ack) median (ms), journal checkpoint level",
    "inject -> run done median (ms), journal full level",
    "inject -> run done p99 (ms), journal full level",
    "inject -> return (durable ack) median (ms), journal full level",
    "recover 10,000 entries, no checkpoint (ms)",
    "replay only, 10,000 entries (ms)",
    "recover 100,000 entries, no checkpoint (ms)",
    "replay only, 100,000 entries (ms)",
    "recover after 10,000 runs, checkpoint every 100",
    "replay only, after 10,000 runs, checkpoint every 100",
    "bytes written per run, checkpoint level, fresh process",
    "checkpoint-file bytes per run, fresh process",
    "on-disk journal size after the runs (KiB), fresh process",
    "bytes written per run, checkpoint level, 10,000 keys remembered",
    "checkpoint-file bytes per run, 10,000 keys remembered",
    "on-disk journal size after the runs (KiB), 10,000 keys remembered",
)


PEER_ROWS = {
    "bench.runtime": (
        "inject -> invocation finished median (ms)",
        "no-op runs/s per process, concurrency 4",
        "add + start 100 processes, one cron trigger each (ms, total)",
        "add + start 100 processes, no trigger, one by one (ms, total)",
    ),
    "bench.journal": (
        "durable journaled runs/s, 50 processes",
        "inject -> return (durable ack) median (ms), journal full level",
        "recover 100,000 entries, no checkpoint (ms)",
        "bytes written per run, checkpoint level, fresh process",
    ),
}
"""Rows that must show a figure in the peer's column and a ratio beside it."""


@pytest.mark.timeout(1_200)  # the first run installs the peer (about a minute with a warm cache)
@pytest.mark.parametrize(
    ("module", "rows", "floor_line"),
    [
        ("bench.kernel", KERNEL_ROWS, False),
        ("bench.runtime", RUNTIME_ROWS, True),
        ("bench.triggers", TRIGGERS_ROWS, True),
        ("bench.journal", JOURNAL_ROWS, True),
    ],
)
def test_benchmark_quick_run_prints_its_table(
    module: str, rows: tuple[str, ...], floor_line: bool
) -> None:
    peer = ["--peer", "auto"] if module in PEER_ROWS else []
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick", *peer],
        cwd=ROOT, capture_output=True, text=True, timeout=1_100, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    if floor_line:
        assert "Machine floor in this run" in result.stdout
    for row in rows:
        assert row in result.stdout, row
    if peer:
        lines = result.stdout.splitlines()
        header = next(line for line in lines if "promptise 1.10.1 (this run)" in line)
        column = [cell.strip() for cell in header.split(" | ")].index(
            "promptise 1.10.1 (this run)")
        for row in PEER_ROWS[module]:
            cells = next(line for line in lines if line.startswith(row)).split(" | ")
            peer_figure, ratio = cells[column].strip(), cells[column + 1].strip()
            assert peer_figure not in ("-", "failed"), (row, cells)
            assert ratio.endswith("x"), (row, cells)
