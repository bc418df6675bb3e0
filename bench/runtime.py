"""Runtime benchmark: greenroom's `AgentRuntime` with a no-op agent, in one table.

Run from the repository root: `python -m bench.runtime [--quick] [--repeats N]`. It prints
figures only; nothing is asserted (the exit status is 1 only if a scenario raised or a memory
subprocess failed). All times come from `time.perf_counter_ns`; greenroom's loggers are set to
WARNING.

Every scenario runs inside `asyncio.run`, so the runtime is created with a running loop and its
io loop is that loop (as in an application): the agent and the process actors (on the "loop"
dispatcher) run on the caller's loop. The agent is `async def agent(inv): return "ok"`.
Completion is seen through `runtime.add_listener`: the listener is called on the actor's thread
when the process emits `invocation.completed` (the end of the run's bookkeeping, which is where
the peer's figures stop too); it stamps the time there and wakes the awaiting coroutine
(`call_soon` on the loop thread, `call_soon_threadsafe` from any other). Nobody subscribes to
the event bus, so the runtime's events are not built (see docs/runtime.md, "Bus and broker");
the `--bus-subscriber` flag adds a no-op subscriber on `>` to measure with them.

What each row measures:

- inject -> invocation finished: one running process (concurrency 1); after a warm-up (which also
  fills the 100-message conversation buffer, so every run copies a full one), S sequential runs:
  `await process.inject(event)`, wait for its `invocation.completed`, repeat. Each sample runs
  from just before `inject` (the event is built beforehand) to the listener's stamp. The median
  and the p99 of the S.
- no-op runs/s per process: one process with `concurrency` 1 or 4 and a queue big enough for
  the batch; after a warm-up, suspend it, inject N events, then `resume`; runs/s = N / (resume
  called -> the N-th `invocation.completed`).
- add + start N processes: a fresh runtime (not timed) per batch; `add_process` N times, then
  `start_all()` (which starts them all at once), as the reference figure was measured; the total
  for the batch. "no trigger": processes without triggers; "one cron trigger each": each with a
  cron trigger on a yearly schedule (it never fires during the run), which is how the reference
  measured the peer's published figures, so the target applies to that row. "one by one": the
  same with `await start_process(name)` for each name in turn, each start waiting for the
  previous one. A throw-away batch runs once first so imports and class set-up are not counted.
- RSS per idle process @100: in a fresh subprocess, a runtime with one process started, then
  `gc.collect()` and psutil RSS; add and start 100 more, `gc.collect()`, RSS again; the delta
  divided by 100. The median over a few subprocesses (at this size RSS moves in whole pages and
  allocator arenas, so a single run is noisy).

Time scenarios share this process; each is repeated R times and the median over the repeats is
reported (for latency: the median of the per-repeat medians and of the per-repeat p99s).

The "asyncio floor" column is a same-run baseline that greenroom cannot beat: the no-op agent as
a bare task, `await loop.create_task(agent(None))`, timed the same way (sequential for latency
and c=1; N tasks created at once and gathered for c=4). The "promptise 1.10.1 (published)"
column holds the peer's figures from shared/reference/promptise-runtime.md, section 13 (stub
agent, no journal), measured on this machine type at another time. With `--peer auto` (or
`--peer PYTHON`, see `bench.peer`) the peer also runs the same scenarios, sizes and events
between greenroom's repeats, in a subprocess of its own interpreter, and two more columns show
its figures in this run and greenroom's cost relative to them: a shared VM drifts by up to 2x
between runs, so only those compare. The machine-floor line also shows a bare two-thread
`SimpleQueue` ping-pong, the cost of one cross-thread round trip in this run (an inject into a
process on the loop dispatcher crosses none: every row here is CPU on the loop thread).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import peer
from bench.kernel import Runs, p99, pingpong_floor
from bench.table import layout
from greenroom.runtime import AgentProcess, AgentRuntime, ProcessConfig
from greenroom.triggers import TriggerConfig, TriggerEvent

ROOT = Path(__file__).resolve().parent.parent
COMPLETED = "invocation.completed"
clock = time.perf_counter_ns


async def agent(inv: Any) -> str:
    """The no-op agent."""
    del inv
    return "ok"


# Sizes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each scenario does."""

    repeats: int
    latency: int
    latency_warmup: int
    runs: int
    runs_warmup: int
    batches: tuple[int, ...]
    memory: int
    memory_repeats: int


FULL = Sizes(repeats=5, latency=2_000, latency_warmup=200, runs=5_000, runs_warmup=100,
             batches=(1, 10, 100), memory=100, memory_repeats=3)
QUICK = Sizes(repeats=2, latency=300, latency_warmup=60, runs=1_000, runs_warmup=60,
              batches=(1, 10, 100), memory=100, memory_repeats=1)


# Seeing completions -----------------------------------------------------------------------------


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Completions:
    """A runtime listener: counts `invocation.completed` and wakes a waiter at a target count.

    Called on actor threads. One process's events come from one actor, one turn at a time, so the
    count needs no lock; the waiter and target are set on the loop before the inject that can
    reach them.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.count = 0
        self.stamp = 0
        self._target = 0
        self._waiter: asyncio.Future[None] | None = None

    def __call__(self, event_type: str, data: dict[str, Any]) -> None:
        del data
        if event_type != COMPLETED:
            return
        self.count += 1
        waiter = self._waiter
        if waiter is not None and self.count >= self._target:
            self.stamp = clock()
            self._waiter = None
            if asyncio._get_running_loop() is self.loop:  # a loop actor: no self-pipe wake-up
                self.loop.call_soon(_resolve, waiter)
            else:
                self.loop.call_soon_threadsafe(_resolve, waiter)

    def expect(self, more: int) -> asyncio.Future[None]:
        """A future done when `more` further completions have been seen."""
        waiter = self.loop.create_future()
        self._target = self.count + more
        self._waiter = waiter
        return waiter


BUS_SUBSCRIBER = {"on": False}
"""Set by `--bus-subscriber`: each runtime gets a no-op async subscriber on `>`."""


async def _ignore(event: Any) -> None:
    del event


async def _running(config: ProcessConfig) -> tuple[AgentRuntime, AgentProcess, Completions]:
    runtime = AgentRuntime()
    completions = Completions(asyncio.get_running_loop())
    runtime.add_listener(completions)
    if BUS_SUBSCRIBER["on"]:
        await runtime.event_bus.subscribe(">", _ignore)
    process = await runtime.add_process("bench", config)
    await runtime.start_process("bench")
    return runtime, process, completions


def _events(n: int) -> list[TriggerEvent]:
    return [TriggerEvent("bench", "manual", payload=i) for i in range(n)]


async def _inject(process: AgentProcess, event: TriggerEvent) -> None:
    if not await process.inject(event):
        msg = "inject refused: the process queue is full"
        raise RuntimeError(msg)


async def _sequential(process: AgentProcess, completions: Completions, n: int) -> list[int]:
    samples = [0] * n
    for i, event in enumerate(_events(n)):
        waiter = completions.expect(1)
        start = clock()
        await _inject(process, event)
        await waiter
        samples[i] = completions.stamp - start
    return samples


# Time scenarios ---------------------------------------------------------------------------------


async def inject_latencies(n: int, warmup: int) -> list[int]:
    """Nanoseconds from `inject` to the run's `invocation.completed`, `n` sequential runs."""
    runtime, process, completions = await _running(ProcessConfig(model=agent))
    try:
        await _sequential(process, completions, warmup)
        gc.collect()
        return await _sequential(process, completions, n)
    finally:
        await runtime.close()


async def run_rate(concurrency: int, n: int, warmup: int) -> float:
    """Runs/s: N events queued while suspended, from `resume` to the N-th completion."""
    config = ProcessConfig(model=agent, concurrency=concurrency, max_queue_size=n)
    runtime, process, completions = await _running(config)
    try:
        await _sequential(process, completions, warmup)
        await process.suspend()
        for event in _events(n):
            await _inject(process, event)
        waiter = completions.expect(n)
        gc.collect()
        start = clock()
        await process.resume()
        await waiter
        return n * 1e9 / (completions.stamp - start)
    finally:
        await runtime.close()


CRON = TriggerConfig(type="cron", cron_expression="0 0 1 1 *")
"""The trigger of the "one cron trigger each" rows: a yearly schedule, so it never fires here."""


async def add_start_ms(count: int, *, one_by_one: bool = False, cron: bool = False) -> float:
    """Milliseconds to add and start `count` processes in a fresh runtime: with `start_all`, or
    with `start_process` one name after the other; with `cron`, each with one cron trigger."""
    runtime = AgentRuntime()
    try:
        config = ProcessConfig(model=agent, triggers=[CRON] if cron else [])
        names = [f"p{i}" for i in range(count)]
        gc.collect()
        start = clock()
        for name in names:
            await runtime.add_process(name, config)
        if one_by_one:
            for name in names:
                await runtime.start_process(name)
        else:
            await runtime.start_all()
        elapsed = clock() - start
        running = runtime.status()["running"]
        if running != count:
            msg = f"{running} of {count} processes running after start"
            raise RuntimeError(msg)
        return elapsed / 1e6
    finally:
        await runtime.close()


async def floor_latencies(n: int, warmup: int) -> list[int]:
    """Nanoseconds of `await loop.create_task(agent(None))`, the no-op agent as a bare task."""
    loop = asyncio.get_running_loop()
    for _ in range(warmup):
        await loop.create_task(agent(None))
    gc.collect()
    samples = [0] * n
    for i in range(n):
        start = clock()
        await loop.create_task(agent(None))
        samples[i] = clock() - start
    return samples


async def floor_rate(concurrent: bool, n: int) -> float:
    """Runs/s of the no-op agent as bare tasks: one after another, or all created then gathered."""
    loop = asyncio.get_running_loop()
    gc.collect()
    start = clock()
    if concurrent:
        await asyncio.gather(*[loop.create_task(agent(None)) for _ in range(n)])
    else:
        for _ in range(n):
            await loop.create_task(agent(None))
    return n * 1e9 / (clock() - start)


# Memory scenario (run in a fresh subprocess) ----------------------------------------------------


async def rss_per_process(count: int) -> dict[str, float]:
    """KiB of RSS per idle started process with `count` more of them alive."""
    me = psutil.Process()
    runtime = AgentRuntime()
    try:
        config = ProcessConfig(model=agent)
        await runtime.add_process("warmup", config)
        await runtime.start_process("warmup")
        names = [f"p{i}" for i in range(count)]
        gc.collect()
        before = me.memory_info().rss
        for name in names:
            await runtime.add_process(name, config)
            await runtime.start_process(name)
        gc.collect()
        after = me.memory_info().rss
        running = runtime.status()["running"]
    finally:
        await runtime.close()
    return {"kib": (after - before) / count / 1024, "running": running - 1,
            "rss_mib": after / 2**20}


def measure_memory(count: int) -> dict[str, float] | None:
    """Run `rss_per_process` in a fresh interpreter; None if it failed."""
    command = [sys.executable, "-m", "bench.runtime", "--scenario", "memory",
               "--count", str(count)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                              check=False)
    except subprocess.TimeoutExpired:
        print(f"memory @{count}: timed out", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"memory @{count} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["running"] != count:
        print(f"memory @{count}: only {result['running']} running", file=sys.stderr)
        return None
    return result


# Running and collecting -------------------------------------------------------------------------


GR, FLOOR, PEER = peer.OURS, "floor", "peer"
COLUMNS = (GR, FLOOR, PEER)

Results = dict[str, dict[str, float | None]]
"""row key -> column -> reported figure (None: failed or not applicable)."""

PEER_FIGURES: dict[str, float] = {
    "lat_med": 0.084, "lat_p99": 0.17, "rate_c1": 14_520, "rate_c4": 13_650,
    "start_1_cron": 1.18, "start_10_cron": 5.2, "start_100_cron": 44.0, "rss": 23.8,
}
"""promptise 1.10.1, stub agent, no journal, as published in the reference's section 13 (its
start figures are for processes with one cron trigger each)."""


async def one_repeat(runs: Runs, sizes: Sizes, failures: list[str], repeat: int) -> None:
    """Every time scenario once, greenroom and its asyncio floor."""
    runs.add("pingpong", FLOOR, statistics.median(pingpong_floor(2_000)) / 1e3)
    scenarios: list[tuple[str, Callable[[], Any]]] = [
        ("latency", lambda: _latency(runs, sizes)),
        ("runs/s c=1", lambda: _rate(runs, sizes, 1)),
        ("runs/s c=4", lambda: _rate(runs, sizes, 4)),
        ("add + start", lambda: _add_start(runs, sizes)),
    ]
    for name, scenario in scenarios:
        try:
            await scenario()
        except Exception:  # report the others; the cell shows "failed"
            failures.append(f"{name} (repeat {repeat + 1})")
            traceback.print_exc()


async def _latency(runs: Runs, sizes: Sizes) -> None:
    floor = await floor_latencies(sizes.latency, sizes.latency_warmup)
    runs.add("lat_med", FLOOR, statistics.median(floor) / 1e6)
    runs.add("lat_p99", FLOOR, p99(floor) / 1e6)
    samples = await inject_latencies(sizes.latency, sizes.latency_warmup)
    runs.add("lat_med", GR, statistics.median(samples) / 1e6)
    runs.add("lat_p99", GR, p99(samples) / 1e6)


async def _rate(runs: Runs, sizes: Sizes, concurrency: int) -> None:
    key = f"rate_c{concurrency}"
    runs.add(key, FLOOR, await floor_rate(concurrency > 1, sizes.runs))
    runs.add(key, GR, await run_rate(concurrency, sizes.runs, sizes.runs_warmup))


async def _add_start(runs: Runs, sizes: Sizes) -> None:
    for count in sizes.batches:
        runs.add(f"start_{count}", GR, await add_start_ms(count))
        runs.add(f"start_{count}_cron", GR, await add_start_ms(count, cron=True))
    largest = max(sizes.batches)
    runs.add(f"start_{largest}_seq", GR, await add_start_ms(largest, one_by_one=True))


async def run_time_scenarios(sizes: Sizes, results: Results, failures: list[str],
                             peer_python: str | None = None) -> None:
    """Every time scenario, `sizes.repeats` times, after one unmeasured warm-up batch; with
    `peer_python`, the peer's scenarios after each repeat."""
    await add_start_ms(10)
    runs = Runs(results)
    for repeat in range(sizes.repeats):
        started = time.monotonic()
        await one_repeat(runs, sizes, failures, repeat)
        print(f"  time repeat {repeat + 1}/{sizes.repeats}: {time.monotonic() - started:.1f} s",
              file=sys.stderr)
        if peer_python is not None:
            peer.add_repeat(runs, peer_python, "runtime", sizes.__dict__, failures, repeat)


def run_memory_scenario(sizes: Sizes, results: Results, failures: list[str]) -> None:
    """`sizes.memory_repeats` fresh subprocesses; the median KiB per process."""
    values = []
    for _ in range(sizes.memory_repeats):
        started = time.monotonic()
        outcome = measure_memory(sizes.memory)
        if outcome is None:
            failures.append(f"memory @{sizes.memory}")
        else:
            values.append(outcome["kib"])
        print(f"  memory @{sizes.memory}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    results.setdefault("rss", {})[GR] = statistics.median(values) if values else None


# Reporting --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: which results, how to print them, and the target."""

    key: str
    label: str
    fmt: Callable[[float], str]
    target: str = ""
    limit: float | None = None
    higher_is_better: bool = False


def ms(value: float) -> str:
    """Milliseconds: three decimals below 1, one below 100."""
    if value < 1:
        return f"{value:.3f}"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def rate(value: float) -> str:
    """Runs/s, compact."""
    return f"{value / 1e3:.1f} k"


def kib(value: float) -> str:
    """KiB with one decimal."""
    return f"{value:.1f}"


def rows(sizes: Sizes) -> list[Row]:
    """The table's rows, in order, with the issue's targets."""
    table = [
        Row("lat_med", "inject -> invocation finished median (ms)", ms, "<= 0.07", 0.07),
        Row("lat_p99", "inject -> invocation finished p99 (ms)", ms),
        Row("rate_c1", f"no-op runs/s per process, concurrency 1 (N={sizes.runs:,})", rate,
            ">= 20 k", 20_000, higher_is_better=True),
        Row("rate_c4", f"no-op runs/s per process, concurrency 4 (N={sizes.runs:,})", rate,
            ">= 20 k", 20_000, higher_is_better=True),
    ]
    for count in sizes.batches:
        processes = f"{count} process{'es' * (count > 1)}"
        target, limit = ("<= 30", 30.0) if count == 100 else ("", None)
        table.append(Row(f"start_{count}", f"add + start {processes}, no trigger (ms, total)",
                         ms))
        table.append(Row(f"start_{count}_cron", f"add + start {processes}, one cron trigger "
                         "each (ms, total)", ms, target, limit))
    largest = max(sizes.batches)
    table.append(Row(f"start_{largest}_seq", f"add + start {largest} processes, no trigger, "
                     "one by one (ms, total)", ms))
    table.append(Row("rss", f"RSS per idle process @{sizes.memory} (KiB)", kib, "<= 16", 16.0))
    return table


def _status(results: Results, row: Row) -> str:
    if row.limit is None:
        return ""
    value = results.get(row.key, {}).get(GR)
    if value is None:
        return "?"
    ok = value >= row.limit if row.higher_is_better else value <= row.limit
    return "met" if ok else "MISSED"


def _cell(results: Results, row: Row, column: str) -> str:
    value = PEER_FIGURES.get(row.key) if column == PEER else results.get(row.key, {}).get(column)
    if value is not None:
        return row.fmt(value)
    if column == PEER:  # a figure the reference did not publish
        return "-"
    if column == FLOOR and not row.key.startswith(("lat", "rate")):
        return "-"
    return "failed"


def format_table(results: Results, sizes: Sizes, *, same_run_peer: bool = False) -> list[str]:
    """The one table: greenroom, the asyncio floor, the peer's published figure, (with
    `same_run_peer`) the peer's figure in this run and greenroom's cost relative to it, the
    target."""
    header = ["", "greenroom", "asyncio floor", "promptise 1.10.1 (published)"]
    header += [*(peer.HEADER if same_run_peer else []), "target", "status"]
    body = []
    for row in rows(sizes):
        cells = [row.label, *(_cell(results, row, c) for c in COLUMNS)]
        if same_run_peer:
            cells += peer.cells(results.get(row.key, {}), row.fmt,
                                higher_is_better=row.higher_is_better)
        body.append([*cells, row.target, _status(results, row)])
    return layout(header, body, trailing=2)


def machine_line() -> str:
    """Interpreter, CPUs and how busy the machine was before the run."""
    busy = psutil.cpu_percent(interval=0.5)
    return (f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"machine busy before run {busy:.0f} %")


def report(results: Results, sizes: Sizes, machine: str, seconds: float, *,
           same_run_peer: bool = False) -> None:
    """Print the floor line and the table."""
    print(f"greenroom runtime benchmark ({machine}); medians of {sizes.repeats} repeats "
          f"(RSS: of {sizes.memory_repeats} subprocesses), {seconds:.0f} s")
    pingpong = results.get("pingpong", {}).get(FLOOR)
    floor = results.get("lat_med", {}).get(FLOOR)
    if pingpong is not None and floor is not None:
        print(f"Machine floor in this run: bare-thread SimpleQueue ping-pong median "
              f"{pingpong:.1f} us; bare asyncio create_task + await of the no-op agent "
              f"{floor * 1e3:.1f} us")
    print()
    for text in format_table(results, sizes, same_run_peer=same_run_peer):
        print(text)
    if same_run_peer:
        print()
        print("cost vs peer: greenroom's time / the peer's (rates: the peer's / greenroom's); "
              "below 1x greenroom is faster.")


# Entry point ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line: --quick, --repeats; --scenario/--count for the memory subprocess."""
    parser = argparse.ArgumentParser(prog="python -m bench.runtime", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (< 20 s)")
    parser.add_argument("--repeats", type=int, default=None, help="override the repeat count")
    parser.add_argument("--bus-subscriber", action="store_true",
                        help="time scenarios with a no-op subscriber on every bus event")
    parser.add_argument("--peer", metavar="PYTHON", default=None,
                        help="also run promptise 1.10.1 on the same scenarios: 'auto' (a "
                             "virtualenv in .peer/, made once) or an interpreter that has it")
    parser.add_argument("--scenario", choices=["memory"], help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or the memory scenario, when called as a subprocess)."""
    args = parse_args(argv)
    logging.getLogger("greenroom").setLevel(logging.WARNING)
    if args.scenario == "memory":
        print(json.dumps(asyncio.run(rss_per_process(args.count))))
        return 0
    sizes = QUICK if args.quick else FULL
    BUS_SUBSCRIBER["on"] = args.bus_subscriber
    if args.repeats is not None:
        sizes = Sizes(**{**sizes.__dict__, "repeats": max(1, args.repeats)})
    peer_python = peer.peer_python(args.peer) if args.peer is not None else None
    machine = machine_line()
    started = time.monotonic()
    results: Results = {}
    failures: list[str] = []
    run_memory_scenario(sizes, results, failures)
    asyncio.run(run_time_scenarios(sizes, results, failures, peer_python))
    report(results, sizes, machine, time.monotonic() - started,
           same_run_peer=peer_python is not None)
    if failures:
        print(f"Failed scenarios (tracebacks on stderr): {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
