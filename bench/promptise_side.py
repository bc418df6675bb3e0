"""The peer runtime, promptise 1.10.1, on the scenarios of `bench.runtime` and `bench.journal`.

Run by `bench.peer` under an interpreter that has promptise installed (it never imports
greenroom or the rest of `bench`): `PYTHON bench/promptise_side.py SCENARIO SIZES_JSON DIR`,
SCENARIO being `runtime` or `journal`, SIZES_JSON the calling bench's sizes, DIR where its
journals go. It prints one JSON object of raw figures, keyed like the calling bench's rows.

The agent is the reference's "stub" (`shared/reference/promptise-runtime.md` section 13): an
object with `ainvoke`/`shutdown` put in place of `promptise.agent.build_agent`, replying "ok", so
only the runtime's own work is measured. A run is finished when the process's `_run_invocation`
returns (the reference's timing point, the end of the run's bookkeeping); a wrapper on the
instance stamps the time there. Each scenario is the greenroom scenario of the same row, with
the same events and sizes, except where the peer cannot do the same:

- its trigger queue holds 1000 events, hard-coded; the runs/s scenarios queue more, so each
  process gets a bigger `asyncio.Queue` before it starts;
- its `inject` only queues the event (nothing is journaled before it returns), and its file
  journal never fsyncs an append (only checkpoints), so its "durable ack" is no ack at all.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import promptise.agent
from promptise.runtime import AgentProcess, AgentRuntime, ProcessConfig
from promptise.runtime.config import JournalConfig, TriggerConfig
from promptise.runtime.journal.base import JournalEntry
from promptise.runtime.journal.file import FileJournal
from promptise.runtime.journal.replay import ReplayEngine
from promptise.runtime.triggers.base import TriggerEvent

clock = time.perf_counter_ns
WAIT = 120.0


class StubAgent:
    """The reference's stub: replies "ok" at once."""

    async def ainvoke(self, inputs: Any, config: Any = None) -> dict[str, Any]:
        del inputs, config
        return {"messages": [{"role": "assistant", "content": "ok"}]}

    async def shutdown(self) -> None:
        return None


async def build_stub(**kwargs: Any) -> StubAgent:
    del kwargs
    return StubAgent()


promptise.agent.build_agent = build_stub


def manual_events(n: int) -> list[TriggerEvent]:
    """The events of `bench.runtime`."""
    return [TriggerEvent("bench", "manual", payload=i) for i in range(n)]  # type: ignore[arg-type]


def typical_event(seq: int) -> TriggerEvent:
    """The event of `bench.journal`: a small webhook-like event with a JSON payload."""
    payload = {"order_id": seq, "status": "paid", "amount": 42.5, "currency": "EUR",
               "customer": "c-1042"}
    return TriggerEvent("orders", "webhook", payload=payload)


class Finished:
    """Counts the finished runs of the processes it wraps; `expect(n)` waits for n more."""

    def __init__(self) -> None:
        self.count = 0
        self.stamp = 0
        self._target = 0
        self._waiter: asyncio.Future[None] | None = None

    def wrap(self, process: AgentProcess, queue_size: int = 0) -> None:
        inner = process._run_invocation

        async def run(event: TriggerEvent) -> Any:
            result = await inner(event)
            self.count += 1
            waiter = self._waiter
            if waiter is not None and self.count >= self._target and not waiter.done():
                self.stamp = clock()
                waiter.set_result(None)
            return result

        process._run_invocation = run  # type: ignore[method-assign]
        if queue_size:
            process._trigger_queue = asyncio.Queue(maxsize=queue_size)

    def expect(self, more: int) -> asyncio.Future[None]:
        self._target = self.count + more
        self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter


async def sequential(process: AgentProcess, finished: Finished,
                     events: list[TriggerEvent]) -> tuple[list[int], list[int]]:
    """Inject each event and wait for its run: nanoseconds to done and to inject's return."""
    done, returned = [], []
    for event in events:
        waiter = finished.expect(1)
        start = clock()
        await process.inject(event)
        back = clock()
        await asyncio.wait_for(waiter, WAIT)
        done.append(finished.stamp - start)
        returned.append(back - start)
    return done, returned


async def one_process(config: ProcessConfig, queue_size: int = 0,
                      ) -> tuple[AgentRuntime, AgentProcess, Finished]:
    runtime = AgentRuntime()
    process = await runtime.add_process("bench", config)
    finished = Finished()
    finished.wrap(process, queue_size)
    await process.start()
    return runtime, process, finished


# Runtime ----------------------------------------------------------------------------------------


async def latency(samples: int, warmup: int) -> list[int]:
    runtime, process, finished = await one_process(ProcessConfig(model="stub"))
    try:
        await sequential(process, finished, manual_events(warmup))
        gc.collect()
        return (await sequential(process, finished, manual_events(samples)))[0]
    finally:
        await runtime.stop_all()


async def run_rate(concurrency: int, n: int, warmup: int) -> float:
    config = ProcessConfig(model="stub", concurrency=concurrency)
    runtime, process, finished = await one_process(config, queue_size=n + 100)
    try:
        await sequential(process, finished, manual_events(warmup))
        await process.suspend()
        for event in manual_events(n):
            await process.inject(event)
        waiter = finished.expect(n)
        gc.collect()
        start = clock()
        await process.resume()
        await asyncio.wait_for(waiter, WAIT)
        return n * 1e9 / (finished.stamp - start)
    finally:
        await runtime.stop_all()


CRON = TriggerConfig(type="cron", cron_expression="0 0 1 1 *")


async def add_start_ms(count: int, *, one_by_one: bool = False, cron: bool = False) -> float:
    runtime = AgentRuntime()
    try:
        names = [f"p{i}" for i in range(count)]
        config = ProcessConfig(model="stub", triggers=[CRON] if cron else [])
        gc.collect()
        start = clock()
        for name in names:
            await runtime.add_process(name, config)
        if one_by_one:
            for name in names:
                await runtime.start_process(name)
        else:
            await runtime.start_all()
        return (clock() - start) / 1e6
    finally:
        await runtime.stop_all()


async def runtime_scenarios(sizes: dict[str, Any], directory: Path) -> dict[str, Any]:
    del directory
    samples = await latency(sizes["latency"], sizes["latency_warmup"])
    figures: dict[str, Any] = {
        "lat_med": statistics.median(samples) / 1e6,
        "lat_p99": p99(samples) / 1e6,
        "rate_c1": await run_rate(1, sizes["runs"], sizes["runs_warmup"]),
        "rate_c4": await run_rate(4, sizes["runs"], sizes["runs_warmup"]),
    }
    for count in sizes["batches"]:
        figures[f"start_{count}"] = await add_start_ms(count)
        figures[f"start_{count}_cron"] = await add_start_ms(count, cron=True)
    largest = max(sizes["batches"])
    figures[f"start_{largest}_seq"] = await add_start_ms(largest, one_by_one=True)
    return figures


# Journal ----------------------------------------------------------------------------------------


def journaled(directory: Path, level: str | None) -> ProcessConfig:
    if level is None:
        return ProcessConfig(model="stub")
    journal = JournalConfig(level=level, backend="file", path=str(directory))  # type: ignore[arg-type]
    return ProcessConfig(model="stub", journal=journal)


async def journal_latencies(sizes: dict[str, Any], directory: Path,
                            level: str) -> dict[str, float]:
    runtime, process, finished = await one_process(journaled(directory, level))
    try:
        warmup = [typical_event(i) for i in range(sizes["latency_warmup"])]
        await sequential(process, finished, warmup)
        gc.collect()
        done, returned = await sequential(
            process, finished, [typical_event(i) for i in range(sizes["latency"])])
    finally:
        await runtime.stop_all()
    return {f"{level}_done_med": statistics.median(done) / 1e6,
            f"{level}_done_p99": p99(done) / 1e6,
            f"{level}_ack_med": statistics.median(returned) / 1e6}


async def fifty_rate(sizes: dict[str, Any], directory: Path) -> dict[str, float]:
    runtime = AgentRuntime()
    finished = Finished()
    processes = []
    for index in range(sizes["processes"]):
        process = await runtime.add_process(f"p{index}", journaled(directory, "checkpoint"))
        finished.wrap(process)
        processes.append(process)
    for process in processes:
        await process.start()
    try:
        await drive(processes, finished, sizes["runs_warmup"])
        gc.collect()
        cpu = time.process_time_ns()
        start = clock()
        runs = await drive(processes, finished, sizes["runs_each"])
        elapsed = finished.stamp - start
        cpu = time.process_time_ns() - cpu
        return {"runs_50": runs * 1e9 / elapsed, "cpu_50": cpu / runs / 1e3}
    finally:
        await runtime.stop_all()


async def drive(processes: list[AgentProcess], finished: Finished, each: int) -> int:
    """One producer per process injects `each` events in order; then wait for every run."""
    waiter = finished.expect(each * len(processes))

    async def producer(process: AgentProcess) -> None:
        for seq in range(each):
            await process.inject(typical_event(seq))

    await asyncio.gather(*(producer(process) for process in processes))
    await asyncio.wait_for(waiter, WAIT)
    return each * len(processes)


async def write_history(directory: Path, runs: int) -> None:
    """`runs` runs of one process, a `trigger_event` and an `invocation_result` entry each, in
    the peer's format (no checkpoint)."""
    journal = FileJournal(str(directory))
    for seq in range(runs):
        event = typical_event(seq)
        await journal.append(JournalEntry(process_id="bench", entry_type="trigger_event",
                                          data={"event": event.to_dict()}))
        await journal.append(JournalEntry(
            process_id="bench", entry_type="invocation_result",
            data={"event_id": event.event_id, "duration_ms": 0.412,
                  "messages": [{"role": "user", "content": "..."},
                               {"role": "assistant", "content": "ok"}]}))
    await journal.close()


async def recover_ms(directory: Path) -> float:
    gc.collect()
    start = clock()
    journal = FileJournal(str(directory))
    await ReplayEngine(journal).recover("bench")
    elapsed = (clock() - start) / 1e6
    await journal.close()
    return elapsed


def size_of(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


async def bytes_per_run(runs: int, directory: Path) -> float:
    runtime, process, finished = await one_process(journaled(directory, "checkpoint"))
    try:
        await sequential(process, finished, [typical_event(i) for i in range(10)])
        before = size_of(directory)
        await sequential(process, finished, [typical_event(i) for i in range(runs)])
        return (size_of(directory) - before) / runs
    finally:
        await runtime.stop_all()


async def journal_scenarios(sizes: dict[str, Any], directory: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for level in ("checkpoint", "full"):
        figures.update(await journal_latencies(sizes, directory / f"latency-{level}", level))
    figures.update(await fifty_rate(sizes, directory / "fifty"))
    for count in sizes["recovery_entries"]:
        history = directory / f"entries-{count}"
        await write_history(history, count // 2)
        figures[f"rec_{count}"] = await recover_ms(history)
    figures["bytes_fresh_total"] = await bytes_per_run(sizes["bytes_runs"], directory / "bytes")
    return figures


def p99(samples: list[int]) -> int:
    """The 99th percentile (nearest rank), as `bench.kernel.p99`."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, (len(ordered) * 99) // 100)]


def main(argv: list[str]) -> int:
    scenario, sizes, directory = argv[0], json.loads(argv[1]), Path(argv[2])
    run = runtime_scenarios if scenario == "runtime" else journal_scenarios
    figures = asyncio.run(run(sizes, directory))
    json.dump(figures, sys.stdout)
    return 0


if __name__ == "__main__":
    logging.disable(logging.WARNING)
    sys.exit(main(sys.argv[1:]))
