"""Kernel benchmark: raw pykka vs greenroom's dispatchers ("thread", "pooled", "loop"), one table.

Run from the repository root: `python -m bench.kernel [--quick] [--repeats N] [--cpus 0]`. It
prints figures only; nothing is asserted (the exit status is 1 only if a scenario raised or a
memory subprocess failed). All times come from `time.perf_counter_ns`.

What each row measures:

- tell throughput: the main thread tells N messages to one actor, which counts them and sets a
  `threading.Event` at the N-th; msgs/s = N / (first tell -> Event set).
- ask round trip: after a warm-up, M sequential blocking asks from the main thread to one echo
  actor, each timed alone; the median and the p99 of the M.
- ask awaited from a coroutine: the same M asks, each `await ref.ask(i, block=False)` from a
  coroutine in `asyncio.run`, with the system created inside that loop (so its io loop is the
  caller's, where "loop" actors run). Raw pykka's await blocks the loop until the answer.
- tell throughput from a coroutine: in the same setting, a coroutine tells N messages to one
  counting actor without yielding, then awaits an ask queued behind them; msgs/s = N / (first
  tell -> that answer). A "loop" actor can only start on them once the coroutine yields.
- spawn / stop: K actors spawned one after another (a spawn returns once the actor runs), then
  stopped one after another (each stop waits until the actor is dead); total / K, separately.
- RSS per idle actor: in a fresh subprocess per design and count, psutil RSS (after
  `gc.collect()`) before and after spawning C idle actors, divided by C. The system and one
  warm-up actor exist before the first reading, so the pool and class set-up are not counted.
- failure -> restarted -> answering: a `Supervisor` (restart limit out of reach) with one child;
  tell the child, through its stable handle, a message that makes it raise, then ask through
  the handle until an answer comes, which must come from a new incarnation; tell -> answer.
  greenroom's loggers are set to CRITICAL so no traceback is formatted per repetition.

Time scenarios share this process; each is repeated R times with the designs interleaved within
a repeat, and the median over the repeats is reported (for ask and restart: the median of the
per-repeat medians and of the per-repeat p99s). In every row but the coroutine ones the system
is created outside any loop, so its "loop" actors run on the system's own loop thread and each
message crosses threads as on the pool. Every scenario stops its actors and shuts its system
down before the next one starts. `sys.setswitchinterval` is left at its default.

Each repeat also times a bare two-thread `SimpleQueue` ping-pong, printed above the table: on a
shared VM the cross-CPU wake-up cost drifts between runs (this 2-vCPU machine showed 7 to 180 us),
and every latency row drifts with it, so compare designs within a run. `--cpus 0` pins the run
(and its subprocesses) to one CPU, which steadies wake-ups but is not the default setting.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import psutil
import pykka

from bench.table import layout
from greenroom.actors import Actor, ActorSystem
from greenroom.supervision import ChildSpec, Supervisor

DESIGNS = ("pykka", "thread", "pooled", "loop")
GREENROOM = ("thread", "pooled", "loop")
CRASH = "crash"
PING = "ping"
ROOT = Path(__file__).resolve().parent.parent
clock = time.perf_counter_ns


# Sizes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each scenario does."""

    repeats: int
    tell: int
    asks: int
    ask_warmup: int
    spawn: int
    restarts: int
    restart_warmup: int
    memory: int
    memory_big: int


FULL = Sizes(repeats=5, tell=200_000, asks=10_000, ask_warmup=1_000, spawn=1_000,
             restarts=300, restart_warmup=20, memory=10_000, memory_big=100_000)
QUICK = Sizes(repeats=2, tell=20_000, asks=2_000, ask_warmup=200, spawn=200,
              restarts=50, restart_warmup=5, memory=2_000, memory_big=10_000)


# Actors: one behaviour, written once, mixed into a pykka and a greenroom base -------------------


class _Counting:
    """Counts the messages it receives and sets `done` at the `target`-th."""

    def __init__(self, target: int, done: threading.Event) -> None:
        super().__init__()
        self.target = target
        self.done = done
        self.seen = 0

    def on_receive(self, _message: Any) -> None:
        self.seen += 1
        if self.seen == self.target:
            self.done.set()


class _Echo:
    """Answers every message with the message itself."""

    def on_receive(self, message: Any) -> Any:
        return message


class PykkaCounter(_Counting, pykka.ThreadingActor):
    """Counting actor on pykka."""

    use_daemon_thread = True


class PykkaEcho(_Echo, pykka.ThreadingActor):
    """Echo actor on pykka."""

    use_daemon_thread = True


class GrCounter(_Counting, Actor):
    """Counting actor on greenroom."""


class GrEcho(_Echo, Actor):
    """Echo actor on greenroom."""


class Crasher(Actor):
    """Raises on CRASH; answers anything else with its own URN (new one per incarnation)."""

    def on_receive(self, message: Any) -> Any:
        if message == CRASH:
            msg = "crash requested by the benchmark"
            raise RuntimeError(msg)
        return self.actor_urn


@dataclass(frozen=True)
class Kind:
    """The same behaviour on each framework."""

    pykka: type[pykka.ThreadingActor]
    greenroom: type[Actor]


COUNTER = Kind(PykkaCounter, GrCounter)
ECHO = Kind(PykkaEcho, GrEcho)


# Harnesses: spawn and stop the same way on every design ----------------------------------------


class Harness(Protocol):
    """Spawns and stops actors of one design."""

    def spawn(self, kind: Kind, *args: Any) -> pykka.ActorRef[Any]:
        """Start an actor and return its ref once it runs."""
        ...

    def stop(self, ref: pykka.ActorRef[Any]) -> None:
        """Stop an actor and wait until it is dead."""
        ...

    def close(self) -> None:
        """Stop whatever is left and release the threads."""
        ...


class PykkaHarness:
    """Raw `pykka.ThreadingActor`: one thread per actor, no system."""

    def spawn(self, kind: Kind, *args: Any) -> pykka.ActorRef[Any]:
        """`cls.start(...)`."""
        return kind.pykka.start(*args)

    def stop(self, ref: pykka.ActorRef[Any]) -> None:
        """Blocking `ref.stop()`."""
        ref.stop()

    def close(self) -> None:
        """Stop every pykka actor."""
        pykka.ActorRegistry.stop_all()


class SystemHarness:
    """A fresh greenroom `ActorSystem`, spawning on one dispatcher."""

    def __init__(self, dispatcher: str) -> None:
        self.system = ActorSystem("bench")
        self.dispatcher = dispatcher

    def spawn(self, kind: Kind, *args: Any) -> pykka.ActorRef[Any]:
        """`system.spawn(cls, ..., dispatcher=...)`."""
        return self.system.spawn(kind.greenroom, *args, dispatcher=self.dispatcher)

    def stop(self, ref: pykka.ActorRef[Any]) -> None:
        """`system.stop(ref)`, which waits until the actor is dead."""
        self.system.stop(ref)

    def close(self) -> None:
        """Shut the system down (generous timeout: 100k actors take a while)."""
        self.system.shutdown(timeout=300.0)


@contextmanager
def open_harness(design: str) -> Iterator[Harness]:
    """A harness for `design`, closed (all actors stopped) on exit."""
    harness: Harness = PykkaHarness() if design == "pykka" else SystemHarness(design)
    try:
        yield harness
    finally:
        harness.close()


@contextmanager
def open_system(design: str) -> Iterator[ActorSystem]:
    """A greenroom system, shut down on exit."""
    harness = SystemHarness(design)
    try:
        yield harness.system
    finally:
        harness.close()


# Time scenarios ----------------------------------------------------------------------------------


def tell_rate(design: str, n: int) -> float:
    """Msgs/s: N tells from this thread until the counting actor has handled all N."""
    done = threading.Event()
    with open_harness(design) as harness:
        ref = harness.spawn(COUNTER, n, done)
        tell = ref.tell
        gc.collect()
        start = clock()
        for i in range(n):
            tell(i)
        finished = done.wait(timeout=300.0)
        elapsed = clock() - start
        if not finished:
            msg = f"{design}: the actor handled fewer than {n} messages in 300 s"
            raise RuntimeError(msg)
        harness.stop(ref)
    return n * 1e9 / elapsed


def ask_latencies(design: str, n: int, warmup: int) -> list[int]:
    """Nanoseconds of each of `n` sequential blocking asks to one echo actor."""
    samples = [0] * n
    with open_harness(design) as harness:
        ref = harness.spawn(ECHO)
        ask = ref.ask
        for i in range(warmup):
            ask(i)
        gc.collect()
        for i in range(n):
            start = clock()
            ask(i)
            samples[i] = clock() - start
        harness.stop(ref)
    return samples


def awaited_ask_latencies(design: str, n: int, warmup: int) -> list[int]:
    """Nanoseconds of each of `n` sequential asks awaited from a coroutine to one echo actor.

    The system is created inside the running loop, so "loop" actors share its thread.
    """

    async def scenario() -> list[int]:
        samples = [0] * n
        with open_harness(design) as harness:
            ref = harness.spawn(ECHO)
            ask = ref.ask
            for i in range(warmup):
                await ask(i, block=False)
            gc.collect()
            for i in range(n):
                start = clock()
                await ask(i, block=False)
                samples[i] = clock() - start
            harness.stop(ref)
        return samples

    return asyncio.run(scenario())


def awaited_tell_rate(design: str, n: int) -> float:
    """Msgs/s: N tells from a coroutine, then an awaited ask queued behind them is answered."""

    async def scenario() -> float:
        done = threading.Event()
        with open_harness(design) as harness:
            ref = harness.spawn(COUNTER, n, done)
            tell = ref.tell
            gc.collect()
            start = clock()
            for i in range(n):
                tell(i)
            await ref.ask(n, block=False)
            elapsed = clock() - start
            if not done.is_set():
                msg = f"{design}: the actor answered before handling the {n} messages told"
                raise RuntimeError(msg)
            harness.stop(ref)
        return n * 1e9 / elapsed

    return asyncio.run(scenario())


def pingpong_floor(n: int) -> list[int]:
    """Nanoseconds of `n` round trips through two `SimpleQueue`s between two bare threads.

    The machine's floor for a cross-thread ask: on a busy VM it moves between runs, and every
    latency in the table moves with it.
    """
    there: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    back: queue.SimpleQueue[int] = queue.SimpleQueue()

    def echo() -> None:
        while (item := there.get()) is not None:
            back.put(item)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    samples = [0] * n
    for i in range(n):
        start = clock()
        there.put(i)
        back.get()
        samples[i] = clock() - start
    there.put(None)
    thread.join()
    return samples


def spawn_stop(design: str, k: int) -> tuple[float, float]:
    """Microseconds per actor to spawn K actors, then to stop them one by one."""
    with open_harness(design) as harness:
        harness.stop(harness.spawn(ECHO))  # warm-up: starts the pool, fills caches
        refs: list[pykka.ActorRef[Any]] = []
        gc.collect()
        start = clock()
        for _ in range(k):
            refs.append(harness.spawn(ECHO))
        spawned = clock()
        for ref in refs:
            harness.stop(ref)
        stopped = clock()
    return (spawned - start) / k / 1e3, (stopped - spawned) / k / 1e3


def _ask_until_answered(ref: pykka.ActorRef[Any]) -> Any:
    """Ask PING until the (restarted) child answers; a refused ask is retried."""
    while True:
        try:
            return ref.ask(PING, timeout=10.0)
        except pykka.ActorDeadError:
            continue


def restart_latencies(design: str, n: int, warmup: int) -> list[int]:
    """Nanoseconds from telling the child to crash until a new incarnation answers an ask."""
    samples: list[int] = []
    spec = ChildSpec("worker", Crasher, dispatcher=design)
    with open_system(design) as system:
        sup = system.spawn(Supervisor, children=[spec], max_restarts=1_000_000, within=1.0,
                           dispatcher=design)
        handle = sup.proxy().child_ref("worker").get()
        previous = handle.ask(PING)
        gc.collect()
        for i in range(warmup + n):
            start = clock()
            handle.tell(CRASH)
            answer = _ask_until_answered(handle)
            elapsed = clock() - start
            if answer == previous:
                msg = f"{design}: the child answered without having been restarted"
                raise RuntimeError(msg)
            previous = answer
            if i >= warmup:
                samples.append(elapsed)
        system.stop(sup)
    return samples


# Memory scenario (run in a fresh subprocess) ----------------------------------------------------


def rss_per_actor(design: str, count: int) -> dict[str, float]:
    """KiB of RSS per idle echo actor with `count` of them alive, and spawn µs per actor."""
    process = psutil.Process()
    with open_harness(design) as harness:
        harness.stop(harness.spawn(ECHO))
        refs: list[pykka.ActorRef[Any] | None] = [None] * count
        gc.collect()
        before = process.memory_info().rss
        start = clock()
        for i in range(count):
            refs[i] = harness.spawn(ECHO)
        elapsed = clock() - start
        gc.collect()
        after = process.memory_info().rss
        alive = sum(1 for ref in refs if ref is not None and ref.is_alive())
    return {"kib": (after - before) / count / 1024, "spawn_us": elapsed / count / 1e3,
            "alive": alive, "rss_mib": after / 2**20}


def measure_memory(design: str, count: int) -> dict[str, float] | None:
    """Run `rss_per_actor` in a fresh interpreter; None if it failed."""
    command = [sys.executable, "-m", "bench.kernel", "--scenario", "memory",
               "--design", design, "--count", str(count)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                              check=False)
    except subprocess.TimeoutExpired:
        print(f"memory {design} @{count}: timed out", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"memory {design} @{count} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# Running and collecting -------------------------------------------------------------------------


def p99(samples: list[int]) -> int:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, (len(ordered) * 99) // 100)]


Results = dict[str, dict[str, float | None]]
"""row key -> design -> reported figure (None: failed or not applicable)."""
Check = Callable[[Results], str]
"""Whether a row's target is met, in words."""


class Runs:
    """Every repeat's figure per (row, design); reports the median over repeats."""

    def __init__(self, results: Results) -> None:
        self.results = results
        self._values: dict[tuple[str, str], list[float]] = {}

    def add(self, row: str, design: str, value: float) -> None:
        """Record one repeat's figure and update the reported median."""
        values = self._values.setdefault((row, design), [])
        values.append(value)
        self.results.setdefault(row, {})[design] = statistics.median(values)


def run_time_scenarios(sizes: Sizes, results: Results, failures: list[str]) -> None:
    """Every time scenario, `sizes.repeats` times, designs interleaved within a repeat."""
    runs = Runs(results)
    for repeat in range(sizes.repeats):
        started = time.monotonic()
        runs.add("floor", "all", statistics.median(pingpong_floor(sizes.asks)) / 1e3)
        for design in DESIGNS:
            for name, scenario in SCENARIOS:
                if name == "restart" and design not in GREENROOM:
                    continue
                try:
                    scenario(runs, design, sizes)
                except Exception:  # report the others; the cell shows "failed"
                    failures.append(f"{name} on {design} (repeat {repeat + 1})")
                    traceback.print_exc()
        print(f"  time repeat {repeat + 1}/{sizes.repeats}: {time.monotonic() - started:.1f} s",
              file=sys.stderr)


def _tell(runs: Runs, design: str, sizes: Sizes) -> None:
    runs.add("tell", design, tell_rate(design, sizes.tell))


def _ask(runs: Runs, design: str, sizes: Sizes) -> None:
    asks = ask_latencies(design, sizes.asks, sizes.ask_warmup)
    runs.add("ask_med", design, statistics.median(asks) / 1e3)
    runs.add("ask_p99", design, p99(asks) / 1e3)


def _awaited_ask(runs: Runs, design: str, sizes: Sizes) -> None:
    asks = awaited_ask_latencies(design, sizes.asks, sizes.ask_warmup)
    runs.add("await_med", design, statistics.median(asks) / 1e3)
    runs.add("await_p99", design, p99(asks) / 1e3)


def _awaited_tell(runs: Runs, design: str, sizes: Sizes) -> None:
    runs.add("await_tell", design, awaited_tell_rate(design, sizes.tell))


def _spawn_stop(runs: Runs, design: str, sizes: Sizes) -> None:
    spawn_us, stop_us = spawn_stop(design, sizes.spawn)
    runs.add("spawn", design, spawn_us)
    runs.add("stop", design, stop_us)


def _restart(runs: Runs, design: str, sizes: Sizes) -> None:
    lat = restart_latencies(design, sizes.restarts, sizes.restart_warmup)
    runs.add("restart_med", design, statistics.median(lat) / 1e3)
    runs.add("restart_p99", design, p99(lat) / 1e3)


SCENARIOS: tuple[tuple[str, Callable[[Runs, str, Sizes], None]], ...] = (
    ("tell", _tell), ("ask", _ask), ("coroutine ask", _awaited_ask),
    ("coroutine tell", _awaited_tell), ("spawn/stop", _spawn_stop), ("restart", _restart),
)


def run_memory_scenarios(
    sizes: Sizes, results: Results, failures: list[str]
) -> dict[str, float]:
    """One subprocess per design (and one more for the pooled dispatcher at the big count)."""
    spawn_at_scale: dict[str, float] = {}
    plan = [(design, sizes.memory, "rss") for design in DESIGNS]
    plan.append(("pooled", sizes.memory_big, "rss_big"))
    for design, count, row in plan:
        started = time.monotonic()
        outcome = measure_memory(design, count)
        if outcome is not None and outcome["alive"] != count:
            print(f"  memory {design}: only {outcome['alive']} of {count} alive", file=sys.stderr)
            outcome = None
        if outcome is None:
            failures.append(f"memory on {design} @{count:,}")
        results.setdefault(row, {})[design] = None if outcome is None else outcome["kib"]
        if outcome is not None:
            spawn_at_scale[f"{design}@{count:,}"] = outcome["spawn_us"]
        print(f"  memory {design} @{count}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    return spawn_at_scale


# Reporting --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: which results, how to print them, and the target."""

    key: str
    label: str
    fmt: Callable[[float], str]
    target: str = ""
    check: Check | None = None
    higher_is_better: bool = False


def rate(value: float) -> str:
    """Msgs/s, compact."""
    return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.0f} k"


def micros(value: float) -> str:
    """Microseconds, with a decimal below 100."""
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def kib(value: float) -> str:
    """KiB with two decimals."""
    return f"{value:.2f}"


def _get(results: Results, key: str, design: str) -> float | None:
    return results.get(key, {}).get(design)


def _word(ok: bool | None) -> str:
    return "?" if ok is None else ("met" if ok else "MISSED")


def _at_most(key: str, design: str, limit: float) -> Check:
    def check(results: Results) -> str:
        value = _get(results, key, design)
        return _word(None if value is None else value <= limit)
    return check


def _at_least(key: str, design: str, limit: float) -> Check:
    def check(results: Results) -> str:
        value = _get(results, key, design)
        return _word(None if value is None else value >= limit)
    return check


def _ask_targets(results: Results) -> str:
    pooled, thread, raw = (_get(results, "ask_med", d) for d in ("pooled", "thread", "pykka"))
    pooled_ok = None if pooled is None else pooled <= 15
    thread_ok = None if thread is None or raw is None else thread <= 1.2 * raw
    return f"pooled {_word(pooled_ok)}, thread {_word(thread_ok)}"


def _restart_target(key: str) -> Check:
    def check(results: Results) -> str:
        words = []
        for design in ("thread", "pooled"):
            value = _get(results, key, design)
            words.append(f"{design} {_word(None if value is None else value <= 1000)}")
        return ", ".join(words)
    return check


def rows(sizes: Sizes) -> list[Row]:
    """The table's rows, in order, with the issue's targets."""
    big = f"{sizes.memory_big:,}"
    return [
        Row("tell", f"tell throughput (msgs/s, N={sizes.tell:,})", rate, "pooled >= 1.5 M",
            _at_least("tell", "pooled", 1.5e6), higher_is_better=True),
        Row("ask_med", "ask round trip median (us)", micros,
            "pooled <= 15; thread <= 1.2x pykka", _ask_targets),
        Row("ask_p99", "ask round trip p99 (us)", micros),
        Row("await_med", "ask awaited from a coroutine median (us)", micros),
        Row("await_p99", "ask awaited from a coroutine p99 (us)", micros),
        Row("await_tell", f"tell throughput from a coroutine (msgs/s, N={sizes.tell:,})", rate,
            higher_is_better=True),
        Row("spawn", f"spawn (us/actor, K={sizes.spawn:,})", micros, "pooled <= 5",
            _at_most("spawn", "pooled", 5.0)),
        Row("stop", f"stop (us/actor, K={sizes.spawn:,}, blocking)", micros),
        Row("rss", f"RSS per idle actor @{sizes.memory:,} (KiB)", kib, "pooled <= 1.5",
            _at_most("rss", "pooled", 1.5)),
        Row("rss_big", f"RSS per idle actor @{big} (KiB)", kib,
            f"pooled <= 1.5, {big} in 1 process", _at_most("rss_big", "pooled", 1.5)),
        Row("restart_med", "failure -> restarted -> answer median (us)", micros,
            "<= 1,000 (thread, pooled)", _restart_target("restart_med")),
        Row("restart_p99", "failure -> restarted -> answer p99 (us)", micros,
            "(<= 1,000)", _restart_target("restart_p99")),
    ]


def _cell(results: Results, row: Row, design: str) -> str:
    value = _get(results, row.key, design)
    if value is not None:
        return row.fmt(value)
    if row.key == "rss_big" and design != "pooled":
        return "not run"
    if row.key.startswith("restart") and design == "pykka":
        return "n/a"
    return "failed"


def _verdict(results: Results, row: Row) -> str:
    if row.check is None:
        return ""
    return row.check(results)


def format_table(results: Results, sizes: Sizes) -> list[str]:
    """The one table: a column per design, the target and whether it is met."""
    header = ["", "pykka", "gr thread", "gr pooled", "gr loop", "target", "status"]
    body = [[row.label, *(_cell(results, row, d) for d in DESIGNS), row.target,
             _verdict(results, row)] for row in rows(sizes)]
    return layout(header, body, trailing=2)


def format_ratios(results: Results, sizes: Sizes) -> list[str]:
    """Each greenroom figure as a multiple of raw pykka's, from the same run."""
    lines = []
    for row in rows(sizes):
        raw = _get(results, row.key, "pykka")
        if raw is None or raw == 0:
            continue
        parts = []
        for design in GREENROOM:
            value = _get(results, row.key, design)
            if value is not None:
                parts.append(f"{design} {value / raw:.2f}x pykka")
        better = "higher is better" if row.higher_is_better else "lower is better"
        lines.append(f"  {row.label.split(' (')[0]}: {', '.join(parts)}  ({better})")
    return lines


def machine_line() -> str:
    """Interpreter, pykka version, CPUs and how busy the machine was before the run."""
    busy = psutil.cpu_percent(interval=0.5)
    pinned = sorted(os.sched_getaffinity(0))
    cpus = f"{os.cpu_count()} CPUs" if len(pinned) == os.cpu_count() else f"pinned to CPUs {pinned}"
    return (f"Python {platform.python_version()}, pykka {version('pykka')}, "
            f"{cpus}, machine busy before run {busy:.0f} %")


def report(results: Results, sizes: Sizes, spawn_at_scale: dict[str, float],
           machine: str, seconds: float) -> None:
    """Print the table, the ratios and the method summary."""
    print(f"greenroom kernel benchmark ({machine}); medians of {sizes.repeats} repeats, "
          f"{seconds:.0f} s")
    floor = _get(results, "floor", "all")
    if floor is not None:
        print(f"Machine floor in this run: bare-thread SimpleQueue ping-pong median {floor:.1f} us "
              "(the reference measured 11 us on a quiet machine)")
    print()
    for text in format_table(results, sizes):
        print(text)
    print()
    print("Ratios vs raw pykka (same run):")
    for text in format_ratios(results, sizes):
        print(text)
    scale = ", ".join(f"{k} {v:.1f}" for k, v in spawn_at_scale.items())
    print(f"Spawn us/actor while filling the memory scenarios: {scale}")


# Entry point ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line: --quick, --repeats; --scenario/--design/--count for the subprocesses."""
    parser = argparse.ArgumentParser(prog="python -m bench.kernel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (< 30 s)")
    parser.add_argument("--repeats", type=int, default=None, help="override the repeat count")
    parser.add_argument("--cpus", type=str, default=None,
                        help="pin this run and its subprocesses to these CPUs, e.g. 0 or 0,1")
    parser.add_argument("--scenario", choices=["memory"], help=argparse.SUPPRESS)
    parser.add_argument("--design", choices=DESIGNS, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def quiet_logs() -> None:
    """Failures are the point of the restart scenario: keep their tracebacks off stderr."""
    for name in ("greenroom", "pykka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one memory scenario, when called as a subprocess)."""
    args = parse_args(argv)
    quiet_logs()
    if args.cpus is not None:
        os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
    if args.scenario == "memory":
        print(json.dumps(rss_per_actor(args.design, args.count)))
        return 0
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = Sizes(**{**sizes.__dict__, "repeats": max(1, args.repeats)})
    machine = machine_line()
    started = time.monotonic()
    results: Results = {}
    failures: list[str] = []
    spawn_at_scale = run_memory_scenarios(sizes, results, failures)
    run_time_scenarios(sizes, results, failures)
    report(results, sizes, spawn_at_scale, machine, time.monotonic() - started)
    if failures:
        print(f"Failed scenarios (tracebacks on stderr): {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
