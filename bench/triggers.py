"""Trigger benchmark: greenroom's webhook and file-watch triggers waking a no-op agent, one table.

Run from the repository root: `python -m bench.triggers [--quick] [--repeats N] [--debounce S]`.
It prints figures only; nothing is asserted (the exit status is 1 only if a scenario raised). All
times come from `time.perf_counter_ns`; greenroom's loggers are set to WARNING, watchdog's inotify
logger to CRITICAL (watchdog 7.1 logs an error when an observer is stopped while its thread has
an event in hand, which the floor's bare observer hits now and then; it is harmless here).

Every scenario runs inside `asyncio.run`, so the runtime is created with a running loop and its
io loop is that loop (as in an application): the webhook's aiohttp server, the agent and the
benchmark's own HTTP client all run on that one loop and thread; the process actor runs on
greenroom's worker pool. Each scenario uses a fresh `AgentRuntime` with one process (concurrency
1, a queue that holds the whole batch, no journal) whose agent is
`async def agent(invocation)`: its first line stamps the time ("agent entered"), then it wakes
the coroutine waiting for that sample (found by the event's payload) and returns "ok". Every
warm-up has at least 50 runs, so it also fills the 100-message conversation buffer and every
measured run copies a full one (as in `bench.runtime`).

What each row measures:

- webhook POST -> agent entered: a `WebhookTrigger("/hook", webhook_port=0)` (loopback, no
  signature) and one `aiohttp.ClientSession` with a keep-alive connector; after a warm-up, S
  sequential POSTs of a small JSON body (`{"seq": i}`, built beforehand), each awaited to its
  202 and to its agent entry before the next. Each sample runs from just before the POST is sent
  to the agent's first line. The median and the p99 of the S.
- webhook POST -> 202 received: the same samples, from just before the POST is sent to the
  response (status and body) read by the client. greenroom answers 202 once the process has
  queued the event, so the agent can be entered before or after the client sees the 202.
- webhook accepted requests/s: one process, after a warm-up burst, N POSTs with at most 32 in
  flight (32 client tasks sharing one connector of 32 keep-alive connections);
  accepted/s = the number of 202 answers / (first POST sent -> last answer read). Every agent
  entry is then awaited (untimed) so the process is idle before it closes. The client shares
  the loop (and the GIL) with the server, so its cost is in the figure, as it is in the floor's.
- webhook answers other than 202: their count over every requests/s run (all repeats), for
  greenroom and for the floor; a queue full or a process not accepting shows here as 503s.
- file write -> agent entered: a `FileWatchTrigger(<tmp dir>, watch_debounce_seconds=D)` with
  D = 0.01 s unless `--debounce` says otherwise (the default of the trigger is 0.5 s, which
  would dominate the figure). After a warm-up, S sequential writes: `Path.write_bytes(b"x")` of
  a new file (inotify reports created and modified, merged by the debounce into one event), each
  awaited to its agent entry. Each sample runs from just before the write to the agent's first
  line, so it includes the D of the debounce window and the timer that ends it. The median and
  the p99 of the S.

Each scenario is repeated R times (floor first, then greenroom, within each repeat) and the
median over the repeats is reported (for latency: the median of the per-repeat medians and of
the per-repeat p99s).

The "floor" column is a same-run baseline that greenroom cannot beat, timed the same way with
the same client: for the webhook rows, a bare aiohttp low-level server (`web.Server`, as
greenroom's) on loopback whose handler answers 202 at once without reading the body, its first
line being "entered" (it stamps the time and wakes the waiter); for the file rows, a bare
watchdog `Observer` on its own tmp dir, "entered" being its handler's first raw callback for the
new file (no debounce). The "cost vs floor" column is greenroom / floor for times and
floor / greenroom for the requests/s row, so 2.0x always means twice the floor's cost. The peer
(promptise 1.10.1) cannot run here: its column is its published figures
(shared/reference/promptise-runtime.md, section 13, measured on this machine with a stub agent:
500 sequential POSTs on loopback, "entered" being the first line of the stub's `ainvoke`). The
reference gives one webhook p99 (0.87 ms) without saying whether it is of "entered" or of the
202; it is shown on both p99 rows, marked "?". It published no requests/s or file-watch figure.
The machine-floor line shows a bare two-thread `SimpleQueue` ping-pong, since a POST crosses
threads twice (loop -> process actor -> loop) and drifts with the machine's wake-up cost.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from yarl import URL

from bench.kernel import Runs, p99, pingpong_floor
from bench.runtime import machine_line, ms
from bench.table import layout
from greenroom.runtime.config import ProcessConfig
from greenroom.runtime.runtime import AgentRuntime
from greenroom.triggers import FileWatchTrigger, WebhookTrigger

clock = time.perf_counter_ns

HOOK_PATH = "/hook"
JSON_HEADERS = {"Content-Type": "application/json"}
ACCEPTED = b'{"status": "accepted"}'
WAIT = 10.0
"""Seconds a sample may wait for its answer or its agent entry before the scenario fails."""
DEFAULT_DEBOUNCE = 0.01
"""`watch_debounce_seconds` of the file-watch trigger (the trigger's own default is 0.5 s)."""


# Sizes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each scenario does."""

    repeats: int
    latency: int
    latency_warmup: int
    requests: int
    requests_warmup: int
    in_flight: int
    files: int
    files_warmup: int
    debounce: float = DEFAULT_DEBOUNCE


FULL = Sizes(repeats=5, latency=1_000, latency_warmup=100, requests=5_000, requests_warmup=300,
             in_flight=32, files=200, files_warmup=50)
QUICK = Sizes(repeats=2, latency=200, latency_warmup=50, requests=1_000, requests_warmup=100,
              in_flight=32, files=30, files_warmup=50)


# Seeing the agent entered -----------------------------------------------------------------------


def _resolve(waiter: asyncio.Future[int], stamp: int) -> None:
    if not waiter.done():
        waiter.set_result(stamp)


class Waiters(Protocol):
    """What a sequential scenario waits on: one future per sample, resolved with a stamp."""

    def expect(self, key: Hashable) -> asyncio.Future[int]:
        """A future resolved with the `clock()` stamp at which sample `key` was entered."""
        ...


class Entries:
    """The agent side: stamps each entry and wakes the waiter of its sample (found by `key`).

    `hit` runs on the loop (the agent, when the runtime's io loop is the benchmark's loop) or on
    another thread (a watchdog callback); the waiter is then woken with `call_soon_threadsafe`.
    The count is only read for entries made on the loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, key: Callable[[Any], Hashable]) -> None:
        self.loop = loop
        self.key = key
        self.count = 0
        self._thread = threading.get_ident()
        self._waiters: dict[Hashable, asyncio.Future[int]] = {}
        self._target = 0
        self._all: asyncio.Future[int] | None = None

    async def agent(self, invocation: Any) -> str:
        """The no-op agent: its first line is "agent entered"."""
        entered = clock()
        self.hit(self.key(invocation.event.payload), entered)
        return "ok"

    def hit(self, key: Hashable, stamp: int) -> None:
        """Record an entry for `key` at `stamp`."""
        self.count += 1
        waiter = self._waiters.pop(key, None)
        if waiter is not None:
            self._wake(waiter, stamp)
        everything = self._all
        if everything is not None and self.count >= self._target:
            self._all = None
            self._wake(everything, stamp)

    def _wake(self, waiter: asyncio.Future[int], stamp: int) -> None:
        if threading.get_ident() == self._thread:
            _resolve(waiter, stamp)
        else:
            self.loop.call_soon_threadsafe(_resolve, waiter, stamp)

    def expect(self, key: Hashable) -> asyncio.Future[int]:
        """A future resolved with the stamp of `key`'s entry."""
        waiter = self.loop.create_future()
        self._waiters[key] = waiter
        return waiter

    async def reach(self, total: int, timeout: float) -> None:
        """Wait until `total` entries have been made (on the loop) in all."""
        if self.count >= total:
            return
        waiter = self.loop.create_future()
        self._target, self._all = total, waiter
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            msg = f"only {self.count} of {total} agent entries within {timeout:g} s"
            raise RuntimeError(msg) from None


def _seq(payload: Any) -> Hashable:
    key: Hashable = payload["seq"]
    return key


def _path(payload: Any) -> Hashable:
    key: Hashable = payload["path"]
    return key


# Webhook: greenroom and the bare aiohttp floor --------------------------------------------------


@asynccontextmanager
async def webhook_process(entries: Entries, queue: int) -> AsyncIterator[URL]:
    """A running runtime with one webhook-triggered process; yields the hook's URL."""
    async with AgentRuntime() as runtime:
        config = ProcessConfig(model=entries.agent, max_queue_size=queue,
                               triggers=[WebhookTrigger(HOOK_PATH, webhook_port=0)])
        process = await runtime.add_process("bench", config)
        await process.start()
        yield URL(process.status()["triggers"][0]["url"])


class FloorServer:
    """A bare aiohttp low-level server on loopback: its handler stamps, wakes, answers 202."""

    def __init__(self) -> None:
        self.count = 0
        self._waiter: asyncio.Future[int] | None = None
        self._web = web.Server(self._handle)
        self._listener: asyncio.Server | None = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        entered = clock()
        del request
        self.count += 1
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            _resolve(waiter, entered)
        return web.Response(status=202, body=ACCEPTED, content_type="application/json")

    def expect(self, key: Hashable) -> asyncio.Future[int]:
        """A future resolved with the stamp of the next request's handler entry."""
        del key
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        return waiter

    async def start(self) -> URL:
        """Listen on a free loopback port; the URL to POST to."""
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self._web, "127.0.0.1", 0)
        port = self._listener.sockets[0].getsockname()[1]
        return URL(f"http://127.0.0.1:{port}{HOOK_PATH}")

    async def close(self) -> None:
        """Stop listening and drop the connections."""
        if self._listener is not None:
            self._listener.close()
            await self._web.shutdown(1.0)
            await self._listener.wait_closed()


@asynccontextmanager
async def floor_server() -> AsyncIterator[tuple[FloorServer, URL]]:
    """A started `FloorServer` and its URL; closed on exit."""
    server = FloorServer()
    try:
        yield server, await server.start()
    finally:
        await server.close()


def _session(limit: int) -> aiohttp.ClientSession:
    """A client session with a keep-alive connector of `limit` connections."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit))


def _bodies(first: int, n: int) -> list[bytes]:
    return [json.dumps({"seq": first + i}).encode() for i in range(n)]


async def post_sequence(
    session: aiohttp.ClientSession, url: URL, target: Waiters, first: int, n: int
) -> tuple[list[int], list[int]]:
    """`n` sequential POSTs; nanoseconds to the agent entered and to the 202 read, per POST."""
    entered, answered = [0] * n, [0] * n
    for i, body in enumerate(_bodies(first, n)):
        waiter = target.expect(first + i)
        start = clock()
        async with session.post(url, data=body, headers=JSON_HEADERS) as response:
            await response.read()
            done = clock()
            status = response.status
        if status != 202:
            msg = f"POST {i} answered {status}, expected 202"
            raise RuntimeError(msg)
        try:
            async with asyncio.timeout(WAIT):
                stamp = await waiter
        except TimeoutError:
            msg = f"POST {i}: the agent was not entered within {WAIT:g} s"
            raise RuntimeError(msg) from None
        entered[i], answered[i] = stamp - start, done - start
    return entered, answered


async def post_burst(
    session: aiohttp.ClientSession, url: URL, first: int, n: int, in_flight: int
) -> tuple[int, Counter[int]]:
    """`n` POSTs, at most `in_flight` at once; nanoseconds for all of them and the statuses."""
    statuses: Counter[int] = Counter()
    pending = iter(_bodies(first, n))

    async def client() -> None:
        for body in pending:
            async with session.post(url, data=body, headers=JSON_HEADERS) as response:
                await response.read()
                statuses[response.status] += 1

    gc.collect()
    start = clock()
    await asyncio.gather(*(client() for _ in range(in_flight)))
    return clock() - start, statuses


async def webhook_latencies(sizes: Sizes) -> tuple[list[int], list[int]]:
    """greenroom: POST -> agent entered and POST -> 202, `sizes.latency` sequential POSTs."""
    entries = Entries(asyncio.get_running_loop(), _seq)
    queue = sizes.latency + sizes.latency_warmup
    async with webhook_process(entries, queue) as url, _session(1) as session:
        await post_sequence(session, url, entries, 0, sizes.latency_warmup)
        gc.collect()
        return await post_sequence(session, url, entries, sizes.latency_warmup, sizes.latency)


async def floor_webhook_latencies(sizes: Sizes) -> tuple[list[int], list[int]]:
    """The bare aiohttp server, timed as `webhook_latencies`."""
    async with floor_server() as (server, url), _session(1) as session:
        await post_sequence(session, url, server, 0, sizes.latency_warmup)
        gc.collect()
        return await post_sequence(session, url, server, sizes.latency_warmup, sizes.latency)


async def webhook_rate(sizes: Sizes) -> tuple[float, int]:
    """greenroom: accepted requests/s into one process, and the answers other than 202."""
    entries = Entries(asyncio.get_running_loop(), _seq)
    warmup, n = sizes.requests_warmup, sizes.requests
    async with webhook_process(entries, warmup + n) as url, _session(sizes.in_flight) as session:
        _, statuses = await post_burst(session, url, 0, warmup, sizes.in_flight)
        before = statuses[202]
        await entries.reach(before, WAIT)
        elapsed, statuses = await post_burst(session, url, warmup, n, sizes.in_flight)
        accepted = statuses[202]
        await entries.reach(before + accepted, WAIT)
    return accepted * 1e9 / elapsed, n - accepted


async def floor_webhook_rate(sizes: Sizes) -> tuple[float, int]:
    """The bare aiohttp server, timed as `webhook_rate`."""
    async with floor_server() as (_, url), _session(sizes.in_flight) as session:
        await post_burst(session, url, 0, sizes.requests_warmup, sizes.in_flight)
        elapsed, statuses = await post_burst(session, url, sizes.requests_warmup,
                                             sizes.requests, sizes.in_flight)
    accepted = statuses[202]
    return accepted * 1e9 / elapsed, sizes.requests - accepted


# File watch: greenroom and the bare watchdog floor ----------------------------------------------


class _RawEvents(FileSystemEventHandler):
    """The floor's watchdog handler: its first line stamps; runs on the observer's thread."""

    def __init__(self, entries: Entries) -> None:
        self._entries = entries

    def dispatch(self, event: FileSystemEvent) -> None:
        """Stamp, then wake the waiter of the file (the first event of a new file wins)."""
        seen = clock()
        if not event.is_directory:
            self._entries.hit(os.fsdecode(event.src_path), seen)


async def write_sequence(root: Path, target: Waiters, prefix: str, n: int) -> list[int]:
    """`n` sequential writes of new files; nanoseconds from each write to its entry."""
    samples = [0] * n
    for i in range(n):
        path = root / f"{prefix}{i}.txt"
        waiter = target.expect(str(path))
        start = clock()
        path.write_bytes(b"x")
        try:
            async with asyncio.timeout(WAIT):
                stamp = await waiter
        except TimeoutError:
            msg = f"write {i}: no entry within {WAIT:g} s"
            raise RuntimeError(msg) from None
        samples[i] = stamp - start
    return samples


async def file_latencies(sizes: Sizes) -> list[int]:
    """greenroom: file write -> agent entered, `sizes.files` sequential writes."""
    entries = Entries(asyncio.get_running_loop(), _path)
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-") as tmp:
        root = Path(os.path.realpath(tmp))
        trigger = FileWatchTrigger(str(root), watch_debounce_seconds=sizes.debounce)
        async with AgentRuntime() as runtime:
            process = await runtime.add_process(
                "bench", ProcessConfig(model=entries.agent, triggers=[trigger]))
            await process.start()
            await write_sequence(root, entries, "warmup", sizes.files_warmup)
            gc.collect()
            return await write_sequence(root, entries, "sample", sizes.files)


async def floor_file_latencies(sizes: Sizes) -> list[int]:
    """A bare watchdog observer: file write -> its first raw callback for the file."""
    entries = Entries(asyncio.get_running_loop(), str)
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-") as tmp:
        root = Path(os.path.realpath(tmp))
        observer = Observer()
        observer.schedule(_RawEvents(entries), str(root), recursive=True)
        observer.start()
        try:
            await write_sequence(root, entries, "warmup", sizes.files_warmup)
            gc.collect()
            return await write_sequence(root, entries, "sample", sizes.files)
        finally:
            observer.stop()
            await asyncio.to_thread(observer.join, WAIT)


# Running and collecting -------------------------------------------------------------------------


GR, FLOOR = "greenroom", "floor"

Results = dict[str, dict[str, float | None]]
"""row key -> column -> reported figure (None: failed or not applicable)."""

PEER_FIGURES: dict[str, str] = {
    "post_entered_med": "0.560", "post_entered_p99": "0.87 ?",
    "post_202_med": "0.640", "post_202_p99": "0.87 ?",
}
"""promptise 1.10.1, stub agent, as published in the reference's section 13 (see the doc)."""


async def one_repeat(runs: Runs, sizes: Sizes, failures: list[str], repeat: int,
                     refused: Counter[str]) -> None:
    """Every scenario once, its floor first."""
    runs.add("pingpong", FLOOR, statistics.median(pingpong_floor(2_000)) / 1e3)
    scenarios: list[tuple[str, Callable[[], Any]]] = [
        ("webhook latency", lambda: _webhook_latency(runs, sizes)),
        ("webhook requests/s", lambda: _webhook_rate(runs, sizes, refused)),
        ("file write latency", lambda: _file_latency(runs, sizes)),
    ]
    for name, scenario in scenarios:
        try:
            await scenario()
        except Exception:  # report the others; the cell shows "failed"
            failures.append(f"{name} (repeat {repeat + 1})")
            traceback.print_exc()


def _add_latencies(runs: Runs, key: str, column: str, samples: list[int]) -> None:
    runs.add(f"{key}_med", column, statistics.median(samples) / 1e6)
    runs.add(f"{key}_p99", column, p99(samples) / 1e6)


async def _webhook_latency(runs: Runs, sizes: Sizes) -> None:
    entered, answered = await floor_webhook_latencies(sizes)
    _add_latencies(runs, "post_entered", FLOOR, entered)
    _add_latencies(runs, "post_202", FLOOR, answered)
    entered, answered = await webhook_latencies(sizes)
    _add_latencies(runs, "post_entered", GR, entered)
    _add_latencies(runs, "post_202", GR, answered)


async def _webhook_rate(runs: Runs, sizes: Sizes, refused: Counter[str]) -> None:
    for column, scenario in ((FLOOR, floor_webhook_rate), (GR, webhook_rate)):
        per_second, others = await scenario(sizes)
        runs.add("rate", column, per_second)
        refused[column] += others
        runs.results.setdefault("non202", {})[column] = refused[column]


async def _file_latency(runs: Runs, sizes: Sizes) -> None:
    _add_latencies(runs, "file", FLOOR, await floor_file_latencies(sizes))
    _add_latencies(runs, "file", GR, await file_latencies(sizes))


async def run_scenarios(sizes: Sizes, results: Results, failures: list[str]) -> None:
    """Every scenario, `sizes.repeats` times."""
    runs = Runs(results)
    refused: Counter[str] = Counter()
    for repeat in range(sizes.repeats):
        started = time.monotonic()
        await one_repeat(runs, sizes, failures, repeat, refused)
        print(f"  repeat {repeat + 1}/{sizes.repeats}: {time.monotonic() - started:.1f} s",
              file=sys.stderr)


# Reporting --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: which results and how to print them."""

    key: str
    label: str
    fmt: Callable[[float], str]
    higher_is_better: bool = False
    ratio: bool = True


def rate(value: float) -> str:
    """Requests/s, compact."""
    return f"{value / 1e3:.2f} k"


def count(value: float) -> str:
    """A whole number."""
    return f"{value:,.0f}"


def rows(sizes: Sizes) -> list[Row]:
    """The table's rows, in order."""
    debounce = f"debounce {sizes.debounce:g} s"
    return [
        Row("post_entered_med", "webhook POST -> agent entered median (ms)", ms),
        Row("post_entered_p99", "webhook POST -> agent entered p99 (ms)", ms),
        Row("post_202_med", "webhook POST -> 202 received median (ms)", ms),
        Row("post_202_p99", "webhook POST -> 202 received p99 (ms)", ms),
        Row("rate", f"webhook accepted requests/s, one process ({sizes.in_flight} in flight, "
            f"N={sizes.requests:,})", rate, higher_is_better=True),
        Row("non202", "webhook answers other than 202 in the requests/s runs (count)", count,
            ratio=False),
        Row("file_med", f"file write -> agent entered median (ms, {debounce})", ms),
        Row("file_p99", f"file write -> agent entered p99 (ms, {debounce})", ms),
    ]


def _cell(results: Results, row: Row, column: str) -> str:
    value = results.get(row.key, {}).get(column)
    return "failed" if value is None else row.fmt(value)


def _ratio(results: Results, row: Row) -> str:
    figures = results.get(row.key, {})
    ours, floor = figures.get(GR), figures.get(FLOOR)
    if not row.ratio or ours is None or floor is None or min(ours, floor) <= 0:
        return "-"
    return f"{(floor / ours if row.higher_is_better else ours / floor):.1f}x"


def format_table(results: Results, sizes: Sizes) -> list[str]:
    """The one table: greenroom, the same-run floor, the cost ratio, the peer's figure."""
    header = ["", "greenroom", "floor", "cost vs floor", "promptise 1.10.1 (published)"]
    body = [[row.label, _cell(results, row, GR), _cell(results, row, FLOOR),
             _ratio(results, row), PEER_FIGURES.get(row.key, "-")] for row in rows(sizes)]
    return layout(header, body)


def report(results: Results, sizes: Sizes, machine: str, seconds: float) -> None:
    """Print the floor line, the table and its legend."""
    print(f"greenroom trigger benchmark ({machine}); medians of {sizes.repeats} repeats, "
          f"{seconds:.0f} s")
    pingpong = results.get("pingpong", {}).get(FLOOR)
    if pingpong is not None:
        print(f"Machine floor in this run: bare-thread SimpleQueue ping-pong median "
              f"{pingpong:.1f} us")
    print()
    for text in format_table(results, sizes):
        print(text)
    print()
    print("floor: webhook rows, a bare aiohttp server on loopback answering 202 at once (its "
          "handler's first line is 'entered');")
    print("       file rows, a bare watchdog observer (the write -> its first raw callback, "
          "no debounce).")
    print("cost vs floor: greenroom / floor for times, floor / greenroom for requests/s.")
    print(f"file rows: greenroom run with watch_debounce_seconds={sizes.debounce:g} (the "
          "trigger's default is 0.5 s); the window is in its figure, not in the floor's", end="")
    file_median = results.get("file_med", {}).get(GR)
    if file_median is not None:
        print(f" (median less the window: {file_median - sizes.debounce * 1e3:.2f} ms)", end="")
    print(".")
    print("promptise: reference section 13 (500 sequential POSTs, stub agent); '?': its one "
          "published p99, of -> entered or of -> 202 (not said).")


# Entry point ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line: --quick, --repeats, --debounce."""
    parser = argparse.ArgumentParser(prog="python -m bench.triggers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (< 20 s)")
    parser.add_argument("--repeats", type=int, default=None, help="override the repeat count")
    parser.add_argument("--debounce", type=float, default=DEFAULT_DEBOUNCE,
                        help="the file-watch trigger's watch_debounce_seconds (%(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    args = parse_args(argv)
    logging.getLogger("greenroom").setLevel(logging.WARNING)
    logging.getLogger("watchdog.observers.inotify").setLevel(logging.CRITICAL)
    sizes = QUICK if args.quick else FULL
    changes: dict[str, Any] = {"debounce": max(0.0, args.debounce)}
    if args.repeats is not None:
        changes["repeats"] = max(1, args.repeats)
    sizes = Sizes(**{**sizes.__dict__, **changes})
    machine = machine_line()
    started = time.monotonic()
    results: Results = {}
    failures: list[str] = []
    asyncio.run(run_scenarios(sizes, results, failures))
    report(results, sizes, machine, time.monotonic() - started)
    if failures:
        print(f"Failed scenarios (tracebacks on stderr): {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
