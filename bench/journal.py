"""Journal benchmark: durable appends, journaled runs, recovery and bytes per run, in one table.

Run from the repository root: `python -m bench.journal [--quick] [--repeats N] [--dir DIR]`.
It prints figures only; nothing is asserted (the exit status is 1 only if a scenario raised).
All times come from `time.perf_counter_ns`; greenroom's loggers are set to WARNING. Every
journal lives in a fresh temporary directory (under `--dir` if given, else the system's temp
directory), on whatever disk that is; every durable journal uses `fsync="always"`, so an
acknowledged append has been fsync'd. The machine-floor line gives this disk's cost of one
`write` + `os.fsync` of a 400-byte line, which bounds most rows.

A "typical event" is `TriggerEvent("orders", "webhook", payload={order_id, status, amount,
currency, customer})`; its `trigger_event` entry is about 400 bytes on disk. A run's
`invocation_result` entry holds what the runtime journals: the event id and key, the duration,
and the two messages the run added to the conversation (the framed trigger message, as
`greenroom.agents.framing.trigger_message` builds it, stored as its payload tag's token the way
`greenroom.journal.messages` describes, and the reply "ok"); a checkpoint's conversation holds
those messages as the runtime checkpoints them (the trigger message as the event's fields and
token). The agent of every runtime scenario is the no-op `async def agent(inv): return "ok"`
(from `bench.runtime`).

What each row measures:

- durable appends/s, 1 writer: a `JournalActor` (spawned as the runtime spawns it: on the pooled
  dispatcher) over `FileJournal(dir, fsync="always")`, and one thread that, N times, appends one
  `trigger_event` entry through `JournalClient.append` and blocks on its future (`get`) before
  the next, as a producer that waits for its durable ack. appends/s = N / elapsed.
- durable appends/s, 50 writers: the same with 50 threads, each appending and waiting in a loop,
  released together by a barrier; appends/s = all appends / (release -> last thread done).
  With 50 process ids each thread writes as its own process (what 50 journaled processes do:
  one segment file per process, a group commit writing each file it touched and the journal's
  shared write-ahead log, and fsyncing only that log); with 1 process id all threads write the
  same process's file.
- entries and fsyncs per group commit: over the timed part of the 50-writer runs, the entries
  written / the batches written (`GetJournalStats`), and the `os.fsync` calls (counted by
  wrapping `os.fsync` while the scenario runs) / the batches.
- durable journaled runs/s, 50 processes: an `AgentRuntime` with 50 processes sharing one file
  journal directory (level `checkpoint`, `fsync="always"`, `checkpoint_every=100`); after a
  warm-up, one producer task per process injects its share of N typical events one after
  another, each `await process.inject(...)` (the durable ack) before the next, all 50 at once;
  runs/s = N / (first inject -> the N-th `invocation.completed`, seen by a runtime listener).
  The checkpoints taken every 100 runs per process fall inside the timed part.
- CPU per run, 50 processes: the process's CPU time (`time.process_time_ns`, every thread,
  user and system) during that timed part / N; its baseline is the same without a journal. At
  10,000 runs/s, with the GIL letting one thread run Python at a time, a run could cost at most
  about 100 us.
- fsyncs per run, 50 processes: `os.fsync` calls during that timed part / N.
- time spent in fsync: the time inside those `os.fsync` calls (measured by the same wrapper) as
  a percentage of the timed part. Only the journal actor fsyncs, one call after another, so
  near 100 % means that actor did little but wait for the disk.
- inject -> run done: one journaled process (fresh runtime, file journal at level `checkpoint`
  or `full`, `fsync="always"`); after a warm-up, S sequential samples, each from just before
  `await process.inject(event)` to the process's `invocation.completed` (stamped in the
  listener, on the actor's thread). The event queues and runs while the ack waits for the
  fsync, so a run may finish before `inject` returns. The median and the p99 of the S.
- inject -> return (durable ack): the same samples, from just before `inject` to its return.
- recover N entries, no checkpoint: a file journal holding one process's N entries (N/2 runs of
  `trigger_event` + `invocation_result`, written with `append_many(sync=False)`, then
  `sync()`); then `ReplayEngine(FileJournal(dir)).recover(name)` with a fresh `FileJournal`
  each time, so opening the directory, reading and CRC-checking the files and decoding the
  entries are timed along with the replay (the files are in the page cache: a restarted
  process, not a rebooted machine), and so is rebuilding the last 100 conversation messages
  (`conversation_tail`, what a restarted process keeps). The result is checked (its run
  count).
- replay only: the same `recover` call less the time spent inside the journal's
  `last_checkpoint` and `read` (opening the directory, reading, CRC-checking and decoding the
  files, measured by a provider wrapping the `FileJournal`): what rebuilding the state costs.
- recover after 10,000 runs, checkpoint every 100: the history a real process leaves: 10,000
  runs with a checkpoint after every 100th (its state as the runtime writes it: the last 100
  conversation messages, up to 10,000 processed keys, counters; the journal stores the keys in
  keys files), compaction as the journal does it, then 50 more runs after the last checkpoint
  (a crash half-way to the next one). Timed as above; recovery reads the newest checkpoint and
  its keys files, and replays the tail.
- bytes written per run: one journaled process (level `checkpoint`, `fsync="always"`,
  `checkpoint_every=100`) runs R typical events, one after another. Every byte the journal
  writes is counted, including files that compaction deletes later: the runtime is given a
  provider that wraps the `FileJournal` and, around each `checkpoint` call (the only moment
  files are closed or deleted), records the size of every file of the process's directory;
  segments only grow and checkpoint and keys files are written once, so the bytes written are
  the sum over files of their largest size seen, less their size when counting began (after
  start).
  The count is taken once the R-th result and the last periodic checkpoint are written, before
  the checkpoint the stop writes. "fresh process" starts from an empty journal, so its
  checkpoints hold few processed keys; "10,000 keys remembered" starts from a copy of the
  checkpointed history above (10,050 runs), recovered at start: the steady state of any process
  that has run 10,000 events, whose every checkpoint holds 10,000 keys.
- checkpoint-file bytes per run: the part of the above written to checkpoint and keys files.
- on-disk journal size after the runs: the process directory's files at that moment (compaction
  keeps the two newest checkpoints and the segments from the older one's marker on).

Time scenarios are repeated R times and the median over the repeats is reported (for latency:
the median of the per-repeat medians and of the per-repeat p99s); the histories are written once
and recovered once per repeat. The byte counts are measured once, after the repeats (they
vary only with the lengths of timestamps and durations).

The "baseline" column is measured in the same run:
- appends: a bare loop over 400-byte lines (about a `trigger_event` record), no greenroom: 1 writer,
  `os.write` + `os.fsync` of one line per append (the floor of an fsync per append); 50
  writers and 50 process ids, one line written to each of 50 files then each file fsync'd (the
  floor of one group commit of 50 processes); 50 writers and 1 process id, 50 lines in one
  `os.write` + one `os.fsync` (the floor of a group commit of 50 into one file).
- runs/s and latencies: the same scenario without a journal (`ProcessConfig` default).
- recovery: reading the same files (the newest checkpoint file, if any, every keys file and
  every segment) and `json.loads` of each record's JSON, without CRC check, entry objects or
  replay.
The "cost vs baseline" column is greenroom / baseline for times and baseline / greenroom for
rates, so 2.0x always means twice the baseline's cost.

With `--peer auto` (or `--peer PYTHON`, see `bench.peer`), the peer (promptise 1.10.1) runs the
journaled runs/s, latency, recovery and bytes-per-run scenarios between greenroom's repeats, with
the same events and sizes, and two more columns show its figures and greenroom's cost relative
to them (the same ratio as above). The peer's recovery histories hold the same runs in its own
format (a `trigger_event` and an `invocation_result` entry each, plain JSONL). Its `inject`
returns before anything is journaled, and it never fsyncs an append, so its acks and runs are
not durable where greenroom's are; `bench/promptise_side.py` says what else differs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from bench import peer
from bench.kernel import Runs, p99
from bench.runtime import Completions, agent, machine_line, ms
from bench.table import layout
from greenroom.actors import ActorRef, ActorSystem
from greenroom.agents.framing import trigger_message
from greenroom.journal import (
    EntryType,
    FileJournal,
    GetJournalStats,
    JournalActor,
    JournalClient,
    JournalEntry,
    JournalIntake,
    JournalStats,
    ReplayEngine,
)
from greenroom.journal.messages import EVENT, TOKEN, event_fields, trigger_token
from greenroom.runtime import AgentProcess, AgentRuntime, JournalConfig, ProcessConfig
from greenroom.runtime.journaling import ProcessJournal
from greenroom.triggers import TriggerEvent

clock = time.perf_counter_ns

Level = Literal["checkpoint", "full"]

COMPLETED = "invocation.completed"
PROCESS = "bench"
"""The process name of the single-process scenarios and of the written histories."""
WAIT = 60.0
"""Seconds any one wait (an ack, a batch of runs, a journal write) may take before failing."""
CHECKPOINT_EVERY = 100
"""`JournalConfig.checkpoint_every`'s default, used by every scenario and history."""
CONVERSATION = 100
"""`ContextConfig.conversation_max_messages`'s default: what a checkpoint's conversation holds."""
REMEMBERED_KEYS = 10_000
"""`JournalConfig.max_processed_keys`'s default: what a checkpoint's processed keys hold."""
HISTORY_TAIL = 50
"""Runs after the last checkpoint of the recovered history (half a checkpoint interval)."""
FLOOR_LINE = 400
"""Bytes of one baseline line (about a `trigger_event` record)."""
CHUNK = 1_000
"""Entries per `append_many` call when writing a history."""


# Sizes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each scenario does."""

    repeats: int
    appends_one: int
    appends_each: int
    append_warmup: int
    writers: int
    processes: int
    runs_each: int
    runs_warmup: int
    latency: int
    latency_warmup: int
    recovery_entries: tuple[int, ...]
    history_runs: int
    bytes_runs: int


FULL = Sizes(repeats=5, appends_one=2_000, appends_each=100, append_warmup=5, writers=50,
             processes=50, runs_each=200, runs_warmup=2, latency=1_000, latency_warmup=100,
             recovery_entries=(10_000, 100_000), history_runs=10_000, bytes_runs=1_000)
QUICK = Sizes(repeats=1, appends_one=300, appends_each=20, append_warmup=2, writers=50,
              processes=50, runs_each=30, runs_warmup=2, latency=200, latency_warmup=50,
              recovery_entries=(10_000, 100_000), history_runs=10_000, bytes_runs=300)


# Entries and histories --------------------------------------------------------------------------


def typical_event(seq: int) -> TriggerEvent:
    """A small webhook-like event with a JSON payload."""
    payload = {"order_id": seq, "status": "paid", "amount": 42.5, "currency": "EUR",
               "customer": "c-1042"}
    return TriggerEvent("orders", "webhook", payload=payload)


def trigger_entry(process_id: str, event: TriggerEvent) -> JournalEntry:
    """The `trigger_event` entry the runtime writes for an accepted event."""
    return ProcessJournal(process_id, "checkpoint", None).event_entry(event)


def run_messages(event: TriggerEvent) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The two messages a run of `event` adds (reply "ok"), as its `invocation_result` entry
    and as a checkpoint's conversation store them (the trigger message by its token)."""
    raw = event.to_dict()
    token = trigger_token(trigger_message(event), raw)
    if token is None:
        msg = "the trigger message of the typical event cannot be stored as its token"
        raise RuntimeError(msg)
    reply = {"role": "assistant", "content": "ok"}
    return ([{"role": "user", TOKEN: token}, reply],
            [{"role": "user", EVENT: event_fields(raw), TOKEN: token}, reply])


def result_entry(process_id: str, event: TriggerEvent,
                 messages: list[dict[str, Any]] | None = None) -> JournalEntry:
    """The `invocation_result` entry of a finished run of `event` (reply "ok")."""
    data = {"event_id": event.event_id, "key": event.idempotency_key,
            "messages": messages if messages is not None else run_messages(event)[0],
            "duration_ms": 0.412}
    return JournalEntry(process_id, EntryType.INVOCATION_RESULT, data)


def process_state(runs: int, conversation: Sequence[dict[str, Any]],
                  keys: Sequence[str]) -> dict[str, Any]:
    """A checkpoint state with the keys `greenroom.runtime.recovery.checkpoint_state` writes."""
    return {
        "context_state": {}, "lifecycle_state": "running", "invocation_count": runs,
        "failed_invocations": 0, "conversation": list(conversation), "pending_events": [],
        "processed_keys": list(keys), "trigger_checkpoints": {}, "restart_count": 0,
        "dead_letter_count": 0,
    }


def write_history(directory: Path, runs: int, *, checkpointed: bool, tail: int = 0) -> None:
    """Write `runs + tail` runs of `PROCESS` into a file journal at `directory`.

    With `checkpointed`, a checkpoint follows every `CHECKPOINT_EVERY`-th of the first `runs`
    runs (the journal compacts as it goes). Entries go in chunks with `sync=False`, then one
    `sync()`.
    """
    journal = FileJournal(directory, fsync="always")
    conversation: deque[dict[str, Any]] = deque(maxlen=CONVERSATION)
    keys: deque[str] = deque(maxlen=REMEMBERED_KEYS)
    batch: list[JournalEntry] = []
    try:
        for run in range(1, runs + tail + 1):
            event = typical_event(run)
            in_result, in_checkpoint = run_messages(event)
            batch += [trigger_entry(PROCESS, event), result_entry(PROCESS, event, in_result)]
            conversation.extend(in_checkpoint)
            keys.append(event.idempotency_key)
            due = checkpointed and run <= runs and run % CHECKPOINT_EVERY == 0
            if due or len(batch) >= CHUNK:
                journal.append_many(batch, sync=False)
                batch = []
            if due:
                journal.checkpoint(PROCESS, process_state(run, conversation, keys))
        journal.append_many(batch, sync=False)
        journal.sync()
    finally:
        journal.close()


class Wrapped:
    """A `JournalProvider` that forwards every call to a `FileJournal`; subclasses observe some.
    """

    def __init__(self, inner: FileJournal) -> None:
        self.inner = inner

    def append(self, entry: JournalEntry) -> None:
        """`append_many([entry])`, so subclasses see every write in one place."""
        self.append_many([entry])

    def append_many(self, entries: Sequence[JournalEntry], *, sync: bool = True) -> None:
        """`FileJournal.append_many`."""
        self.inner.append_many(entries, sync=sync)

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> None:
        """`FileJournal.checkpoint`."""
        self.inner.checkpoint(process_id, state)

    def sync(self) -> None:
        """`FileJournal.sync`."""
        self.inner.sync()

    def read(self, process_id: str, *, since: datetime | None = None,
             entry_type: str | None = None, limit: int | None = None) -> list[JournalEntry]:
        """`FileJournal.read`."""
        return self.inner.read(process_id, since=since, entry_type=entry_type, limit=limit)

    def last_checkpoint(self, process_id: str) -> dict[str, Any] | None:
        """`FileJournal.last_checkpoint`."""
        return self.inner.last_checkpoint(process_id)

    def close(self) -> None:
        """`FileJournal.close`."""
        self.inner.close()


class Stopwatch(Wrapped):
    """Times the reading calls, so a recovery's time splits into files (open, read, CRC check,
    decode: all inside `last_checkpoint` and `read`) and replay (the rest)."""

    def __init__(self, inner: FileJournal) -> None:
        super().__init__(inner)
        self.reading = 0

    def read(self, process_id: str, *, since: datetime | None = None,
             entry_type: str | None = None, limit: int | None = None) -> list[JournalEntry]:
        """`FileJournal.read`, timed."""
        start = clock()
        try:
            return super().read(process_id, since=since, entry_type=entry_type, limit=limit)
        finally:
            self.reading += clock() - start

    def last_checkpoint(self, process_id: str) -> dict[str, Any] | None:
        """`FileJournal.last_checkpoint`, timed."""
        start = clock()
        try:
            return super().last_checkpoint(process_id)
        finally:
            self.reading += clock() - start


class ByteCounter(Wrapped):
    """Counts the bytes a `FileJournal` writes for one process, and the results and checkpoints.

    Segments only grow and checkpoint and keys files are written once; files are closed or
    deleted only inside `checkpoint`. So the size of every file of the process's directory,
    recorded just before and just after each `checkpoint` and once at the end, gives each
    file's final size even for files compaction deletes. The counts of results and checkpoints
    let a scenario wait until the journal has caught up with the runs.
    """

    def __init__(self, inner: FileJournal, process_id: str) -> None:
        super().__init__(inner)
        self.directory = inner.process_dir(process_id)
        self._cond = threading.Condition()
        self._base: dict[str, int] = {}
        self._largest: dict[str, int] = {}
        self._results = 0
        self._checkpoints = 0

    def sizes(self) -> dict[str, int]:
        """File name -> size, for the process's segments and checkpoint files now."""
        if not self.directory.is_dir():
            return {}
        return {entry.name: entry.stat().st_size for entry in os.scandir(self.directory)
                if entry.name.startswith(("segment-", "checkpoint-", "keys-"))
                and not entry.name.endswith(".tmp")}

    def _observe(self) -> None:
        with self._cond:
            for name, size in self.sizes().items():
                self._largest[name] = max(size, self._largest.get(name, 0))

    def begin(self) -> None:
        """Start counting from the directory as it is now."""
        with self._cond:
            self._base = self.sizes()
            self._largest = dict(self._base)
            self._results = self._checkpoints = 0

    def written(self) -> tuple[int, int]:
        """Bytes written since `begin` to segments and to checkpoint (and keys) files."""
        self._observe()
        with self._cond:
            grown = {name: size - self._base.get(name, 0) for name, size in self._largest.items()}
        checkpoints = sum(size for name, size in grown.items()
                          if name.startswith(("checkpoint-", "keys-")))
        return sum(grown.values()) - checkpoints, checkpoints

    def wait_for(self, results: int, checkpoints: int, timeout: float) -> bool:
        """Block until `results` results and `checkpoints` checkpoints were written since begin."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._results >= results and self._checkpoints >= checkpoints, timeout)

    def append_many(self, entries: Sequence[JournalEntry], *, sync: bool = True) -> None:
        """`FileJournal.append_many`, counting the results."""
        super().append_many(entries, sync=sync)
        results = sum(1 for entry in entries if entry.entry_type == EntryType.INVOCATION_RESULT)
        if results:
            with self._cond:
                self._results += results
                self._cond.notify_all()

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> None:
        """`FileJournal.checkpoint`, with the file sizes recorded on either side."""
        self._observe()
        super().checkpoint(process_id, state)
        self._observe()
        with self._cond:
            self._checkpoints += 1
            self._cond.notify_all()


# Helpers ----------------------------------------------------------------------------------------


@contextmanager
def scratch(base: Path | None) -> Iterator[Path]:
    """A fresh temporary directory (under `base` if given), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="greenroom-bench-journal-", dir=base) as tmp:
        yield Path(tmp)


class FsyncCount:
    """Counts and times the `os.fsync` calls of every thread while active (it wraps `os.fsync`).
    """

    def __init__(self) -> None:
        self.count = 0
        self.nanoseconds = 0
        self._lock = threading.Lock()
        self._real = os.fsync

    def __enter__(self) -> FsyncCount:
        os.fsync = self._counted
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        os.fsync = self._real

    def _counted(self, fd: Any) -> None:
        start = clock()
        try:
            self._real(fd)
        finally:
            elapsed = clock() - start
            with self._lock:
                self.count += 1
                self.nanoseconds += elapsed


def journaled(directory: Path, level: Level | None) -> ProcessConfig:
    """The no-op agent's config: a durable file journal at `level`, or none (None)."""
    if level is None:
        return ProcessConfig(model=agent)
    return ProcessConfig(model=agent, journal=JournalConfig(
        level=level, path=str(directory), fsync="always", checkpoint_every=CHECKPOINT_EVERY))


async def _inject(process: AgentProcess, event: TriggerEvent) -> None:
    if not await process.inject(event):
        msg = "inject refused: the process queue is full"
        raise RuntimeError(msg)


async def _within(waiter: asyncio.Future[None], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT):
            await waiter
    except TimeoutError:
        msg = f"{what} not seen within {WAIT:g} s"
        raise RuntimeError(msg) from None


# Durable appends --------------------------------------------------------------------------------


@contextmanager
def journal_actor(directory: Path) -> Iterator[tuple[JournalClient, ActorRef[Any]]]:
    """A `JournalActor` over a durable `FileJournal` in its own actor system."""
    journal = FileJournal(directory, fsync="always")
    system = ActorSystem(name="bench-journal")
    try:
        intake = JournalIntake()
        ref = system.spawn(JournalActor, journal, fsync="always", name="journal", intake=intake)
        yield JournalClient(ref, intake), ref
    finally:
        system.shutdown()
        journal.close()


@dataclass(frozen=True)
class AppendRun:
    """One timed append scenario: the rate, and the group commits it took."""

    rate: float
    batches: int
    entries: int
    fsyncs: int


def append_rate(base: Path | None, writers: int, each: int, warmup: int,
                shared_id: bool) -> AppendRun:
    """`writers` threads append `each` entries one at a time, each waiting for its durable ack."""
    with scratch(base) as tmp, journal_actor(tmp) as (client, ref):
        streams = [[trigger_entry(PROCESS if shared_id else f"p{w}", typical_event(i))
                    for i in range(warmup + each)] for w in range(writers)]
        ready, go = threading.Barrier(writers + 1), threading.Barrier(writers + 1)
        errors: list[BaseException] = []

        def writer(entries: list[JournalEntry]) -> None:
            try:
                for entry in entries[:warmup]:
                    client.append(entry).get(timeout=WAIT)
                ready.wait(WAIT)
                go.wait(WAIT)
                for entry in entries[warmup:]:
                    client.append(entry).get(timeout=WAIT)
            except BaseException as exc:
                errors.append(exc)
                ready.abort()
                go.abort()

        threads = [threading.Thread(target=writer, args=(s,), daemon=True) for s in streams]
        for thread in threads:
            thread.start()
        ready.wait(WAIT)
        before: JournalStats = ref.ask(GetJournalStats(), timeout=WAIT)
        gc.collect()
        with FsyncCount() as fsyncs:
            go.wait(WAIT)
            start = clock()
            for thread in threads:
                thread.join(WAIT)
            elapsed = clock() - start
        if errors:
            raise errors[0]
        after: JournalStats = ref.ask(GetJournalStats(), timeout=WAIT)
    return AppendRun(writers * each * 1e9 / elapsed, after.batches - before.batches,
                     after.entries - before.entries, fsyncs.count)


def floor_append_rate(base: Path | None, files: int, lines: int, rounds: int) -> float:
    """Appends/s of a bare loop: per round, `lines` lines written to each of `files` files in
    one `os.write` each, then every file `os.fsync`'d."""
    data = b"x" * (FLOOR_LINE - 1) + b"\n"
    with scratch(base) as tmp:
        fds = [os.open(tmp / f"floor-{i}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
               for i in range(files)]
        try:
            chunk = data * lines
            for fd in fds:  # warm-up: create the blocks and the first fsync
                os.write(fd, chunk)
                os.fsync(fd)
            start = clock()
            for _ in range(rounds):
                for fd in fds:
                    os.write(fd, chunk)
                for fd in fds:
                    os.fsync(fd)
            elapsed = clock() - start
        finally:
            for fd in fds:
                os.close(fd)
    return rounds * files * lines * 1e9 / elapsed


def fsync_latencies(base: Path | None, n: int) -> list[int]:
    """Nanoseconds of one `os.write` + `os.fsync` of a `FLOOR_LINE`-byte line, `n` times."""
    data = b"x" * (FLOOR_LINE - 1) + b"\n"
    samples = [0] * n
    with scratch(base) as tmp:
        fd = os.open(tmp / "floor", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for i in range(n):
                start = clock()
                os.write(fd, data)
                os.fsync(fd)
                samples[i] = clock() - start
        finally:
            os.close(fd)
    return samples


# Journaled runs ---------------------------------------------------------------------------------


class Completed:
    """A runtime listener counting `invocation.completed` of any process; wakes a waiter.

    Called on actor threads, several at once (one per process), hence the lock.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.count = 0
        self.stamp = 0
        self._lock = threading.Lock()
        self._target = 0
        self._waiter: asyncio.Future[None] | None = None

    def __call__(self, event_type: str, data: dict[str, Any]) -> None:
        del data
        if event_type != COMPLETED:
            return
        with self._lock:
            self.count += 1
            waiter = self._waiter
            if waiter is None or self.count < self._target:
                return
            self.stamp = clock()
            self._waiter = None
        self.loop.call_soon_threadsafe(_resolve, waiter)

    def expect(self, more: int) -> asyncio.Future[None]:
        """A future done when `more` further completions have been seen."""
        waiter = self.loop.create_future()
        with self._lock:
            self._target = self.count + more
            self._waiter = waiter
        return waiter


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _drive(processes: list[AgentProcess], completed: Completed,
                 events: list[list[TriggerEvent]]) -> None:
    """One producer per process injects its events in order, each ack awaited; then wait for
    every run to complete."""
    waiter = completed.expect(sum(len(stream) for stream in events))

    async def producer(process: AgentProcess, stream: list[TriggerEvent]) -> None:
        for event in stream:
            await _inject(process, event)

    await asyncio.gather(*(producer(p, s) for p, s in zip(processes, events, strict=True)))
    await _within(waiter, "every run's completion")


@dataclass(frozen=True)
class RunRate:
    """One timed many-process scenario: runs/s, fsync calls per run, share of time in fsync,
    and CPU microseconds per run (every thread of this process)."""

    rate: float
    fsyncs_per_run: float
    fsync_share: float
    cpu_per_run: float


async def fifty_process_rate(sizes: Sizes, base: Path | None, journal: bool) -> RunRate:
    """Runs/s of `sizes.processes` processes fed at once, and the fsyncs it took."""
    with scratch(base) as tmp:
        config = journaled(tmp, "checkpoint" if journal else None)
        runtime = AgentRuntime()
        completed = Completed(asyncio.get_running_loop())
        runtime.add_listener(completed)
        try:
            processes = [await runtime.add_process(f"p{i}", config)
                         for i in range(sizes.processes)]
            for process in processes:
                await process.start()
            warmup = [[typical_event(i) for i in range(sizes.runs_warmup)] for _ in processes]
            await _drive(processes, completed, warmup)
            events = [[typical_event(i) for i in range(sizes.runs_each)] for _ in processes]
            runs = sizes.runs_each * len(processes)
            gc.collect()
            with FsyncCount() as fsyncs:
                cpu = time.process_time_ns()
                start = clock()
                await _drive(processes, completed, events)
                elapsed = completed.stamp - start
                cpu = time.process_time_ns() - cpu
            return RunRate(runs * 1e9 / elapsed, fsyncs.count / runs,
                           100 * fsyncs.nanoseconds / elapsed, cpu / runs / 1e3)
        finally:
            await runtime.close()


async def _sequential(process: AgentProcess, completions: Completions,
                      n: int) -> tuple[list[int], list[int]]:
    """`n` runs one after another: nanoseconds from inject to run done and to inject's return."""
    done, acked = [0] * n, [0] * n
    for i in range(n):
        event = typical_event(i)
        waiter = completions.expect(1)
        start = clock()
        await _inject(process, event)
        returned = clock()
        await _within(waiter, "the run's completion")
        done[i], acked[i] = completions.stamp - start, returned - start
    return done, acked


async def inject_latencies(sizes: Sizes, base: Path | None,
                           level: Level | None) -> tuple[list[int], list[int]]:
    """One process journaled at `level` (None: no journal): inject -> done and -> return."""
    with scratch(base) as tmp:
        runtime = AgentRuntime()
        completions = Completions(asyncio.get_running_loop())
        runtime.add_listener(completions)
        try:
            process = await runtime.add_process(PROCESS, journaled(tmp, level))
            await process.start()
            await _sequential(process, completions, sizes.latency_warmup)
            gc.collect()
            return await _sequential(process, completions, sizes.latency)
        finally:
            await runtime.close()


# Recovery ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """A written journal to recover: where, the runs it holds, and its row key."""

    key: str
    directory: Path
    runs: int


def recover_ns(history: History) -> tuple[int, int]:
    """Nanoseconds of `ReplayEngine(FileJournal(dir)).recover(PROCESS)` (the result checked),
    and of its replay alone (the whole less the time inside the journal's reading calls)."""
    gc.collect()
    start = clock()
    journal = Stopwatch(FileJournal(history.directory))
    try:
        result = ReplayEngine(journal).recover(PROCESS)
        result.conversation_tail(CONVERSATION)  # what a restarted process keeps
        elapsed = clock() - start
    finally:
        journal.close()
    if result.invocation_count != history.runs or result.pending_events:
        msg = (f"recovered {result.invocation_count} runs and {len(result.pending_events)} "
               f"pending events, expected {history.runs} and none")
        raise RuntimeError(msg)
    return elapsed, elapsed - journal.reading


def parse_floor_ns(history: History) -> int:
    """Nanoseconds to read the newest checkpoint, every keys file and every segment, and
    `json.loads` each record."""
    journal = FileJournal(history.directory)
    directory = journal.process_dir(PROCESS)
    journal.close()

    def seq(path: Path) -> int:
        return int(path.name.split("-")[1].split(".")[0])

    gc.collect()
    start = clock()
    checkpoints = sorted(directory.glob("checkpoint-*.json"), key=seq)
    if checkpoints:
        json.loads(checkpoints[-1].read_bytes())
    for path in directory.glob("keys-*.json"):
        json.loads(path.read_bytes())
    for path in sorted(directory.glob("segment-*.jsonl"), key=seq):
        for line in path.read_bytes().splitlines():
            json.loads(line[:line.rfind(b"\t")])
    return clock() - start


def write_histories(sizes: Sizes, root: Path) -> list[History]:
    """The histories to recover: N entries without checkpoint, and the checkpointed one."""
    histories = []
    for entries in sizes.recovery_entries:
        directory = root / f"entries-{entries}"
        write_history(directory, entries // 2, checkpointed=False)
        histories.append(History(f"rec_{entries}", directory, entries // 2))
    directory = root / "checkpointed"
    write_history(directory, sizes.history_runs, checkpointed=True, tail=HISTORY_TAIL)
    histories.append(History("rec_ckpt", directory, sizes.history_runs + HISTORY_TAIL))
    return histories


# Bytes per run ----------------------------------------------------------------------------------


async def bytes_per_run(sizes: Sizes, base: Path | None,
                        seed: Path | None) -> dict[str, float]:
    """Bytes written per run (total, checkpoint files) and the directory size afterwards; the
    process starts from a copy of the journal at `seed`, or from an empty one."""
    with scratch(base) as tmp:
        if seed is not None:
            shutil.copytree(seed, tmp, dirs_exist_ok=True)
        counter = ByteCounter(FileJournal(tmp, fsync="always"), PROCESS)
        runtime = AgentRuntime(journal=counter)
        completions = Completions(asyncio.get_running_loop())
        runtime.add_listener(completions)
        runs = sizes.bytes_runs
        try:
            process = await runtime.add_process(PROCESS, journaled(tmp, "checkpoint"))
            await process.start()
            counter.begin()
            await _sequential(process, completions, runs)
            caught_up = await asyncio.to_thread(counter.wait_for, runs,
                                                runs // CHECKPOINT_EVERY, WAIT)
            if not caught_up:
                msg = f"the journal did not write {runs} results within {WAIT:g} s"
                raise RuntimeError(msg)
            segments, checkpoints = counter.written()
            on_disk = sum(counter.sizes().values())
        finally:
            await runtime.close()
            counter.close()
    return {"total": (segments + checkpoints) / runs, "checkpoints": checkpoints / runs,
            "disk": on_disk / 1024}


# Running and collecting -------------------------------------------------------------------------


GR, BASE = peer.OURS, "baseline"

Results = dict[str, dict[str, float | None]]
"""row key -> column -> reported figure (None: failed or not applicable)."""


def _scenario(failures: list[str], name: str, run: Callable[[], None]) -> None:
    try:
        run()
    except Exception:  # report the others; the cell shows "failed"
        failures.append(name)
        traceback.print_exc()


async def _ascenario(failures: list[str], name: str, run: Callable[[], Any]) -> None:
    try:
        await run()
    except Exception:  # report the others; the cell shows "failed"
        failures.append(name)
        traceback.print_exc()


def _appends(runs: Runs, sizes: Sizes, base: Path | None) -> None:
    one = append_rate(base, 1, sizes.appends_one, sizes.append_warmup, shared_id=True)
    runs.add("app_1", GR, one.rate)
    runs.add("app_1", BASE, floor_append_rate(base, 1, 1, sizes.appends_one))
    rounds = sizes.appends_each  # as many appends as greenroom's 50 writers make
    for key, shared in (("app_50", False), ("app_50s", True)):
        run = append_rate(base, sizes.writers, sizes.appends_each, sizes.append_warmup, shared)
        runs.add(key, GR, run.rate)
        runs.add(f"{key}_batch", GR, run.entries / max(1, run.batches))
        runs.add(f"{key}_fsync", GR, run.fsyncs / max(1, run.batches))
    runs.add("app_50", BASE, floor_append_rate(base, sizes.writers, 1, rounds))
    runs.add("app_50s", BASE, floor_append_rate(base, 1, sizes.writers, rounds))


async def _fifty(runs: Runs, sizes: Sizes, base: Path | None) -> None:
    bare_run = await fifty_process_rate(sizes, base, journal=False)
    runs.add("runs_50", BASE, bare_run.rate)
    runs.add("cpu_50", BASE, bare_run.cpu_per_run)
    journaled_run = await fifty_process_rate(sizes, base, journal=True)
    runs.add("runs_50", GR, journaled_run.rate)
    runs.add("cpu_50", GR, journaled_run.cpu_per_run)
    runs.add("fsync_run", GR, journaled_run.fsyncs_per_run)
    runs.add("fsync_share", GR, journaled_run.fsync_share)


async def _latency(runs: Runs, sizes: Sizes, base: Path | None) -> None:
    done, acked = await inject_latencies(sizes, base, None)
    baseline = (statistics.median(done), p99(done), statistics.median(acked))
    levels: tuple[Level, ...] = ("checkpoint", "full")
    for level in levels:
        done, acked = await inject_latencies(sizes, base, level)
        for suffix, ours, theirs in zip(
                ("done_med", "done_p99", "ack_med"),
                (statistics.median(done), p99(done), statistics.median(acked)), baseline,
                strict=True):
            runs.add(f"{level}_{suffix}", GR, ours / 1e6)
            runs.add(f"{level}_{suffix}", BASE, theirs / 1e6)


def _recovery(runs: Runs, histories: list[History]) -> None:
    for history in histories:
        runs.add(history.key, BASE, parse_floor_ns(history) / 1e6)
        whole, replay = recover_ns(history)
        runs.add(history.key, GR, whole / 1e6)
        runs.add(f"{history.key}_replay", GR, replay / 1e6)


async def one_repeat(runs: Runs, sizes: Sizes, base: Path | None, histories: list[History],
                     failures: list[str], repeat: int) -> None:
    """Every time scenario once, each with its baseline."""
    runs.add("fsync_floor", BASE, statistics.median(fsync_latencies(base, 200)) / 1e3)
    tag = f"(repeat {repeat + 1})"
    _scenario(failures, f"durable appends {tag}", lambda: _appends(runs, sizes, base))
    await _ascenario(failures, f"50 processes {tag}", lambda: _fifty(runs, sizes, base))
    await _ascenario(failures, f"latency {tag}", lambda: _latency(runs, sizes, base))
    if histories:
        _scenario(failures, f"recovery {tag}", lambda: _recovery(runs, histories))


async def run_scenarios(sizes: Sizes, base: Path | None, results: Results,
                        failures: list[str], peer_python: str | None = None) -> None:
    """The histories, then every time scenario `sizes.repeats` times (with `peer_python`, the
    peer's scenarios after each), then the byte counts."""
    runs = Runs(results)
    with scratch(base) as root:
        started = time.monotonic()
        histories: list[History] = []
        _scenario(failures, "writing the histories",
                  lambda: histories.extend(write_histories(sizes, root)))
        print(f"  histories written: {time.monotonic() - started:.1f} s", file=sys.stderr)
        for repeat in range(sizes.repeats):
            started = time.monotonic()
            await one_repeat(runs, sizes, base, histories, failures, repeat)
            print(f"  repeat {repeat + 1}/{sizes.repeats}: {time.monotonic() - started:.1f} s",
                  file=sys.stderr)
            if peer_python is not None:
                peer.add_repeat(runs, peer_python, "journal", sizes.__dict__, failures, repeat,
                                base)
        steady = next((h.directory for h in histories if h.key == "rec_ckpt"), None)
        for key, seed in (("fresh", None), ("steady", steady)):
            if key == "steady" and seed is None:
                continue  # the history could not be written: already reported
            started = time.monotonic()
            await _ascenario(failures, f"bytes per run ({key})",
                             partial(_bytes, results, sizes, base, key, seed))
            print(f"  bytes per run ({key}): {time.monotonic() - started:.1f} s",
                  file=sys.stderr)


async def _bytes(results: Results, sizes: Sizes, base: Path | None, key: str,
                 seed: Path | None) -> None:
    figures = await bytes_per_run(sizes, base, seed)
    for name, value in figures.items():
        results.setdefault(f"bytes_{key}_{name}", {})[GR] = value


# Reporting --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: which results, how to print them, and the issue's target."""

    key: str
    label: str
    fmt: Callable[[float], str]
    target: str = ""
    limit: float | None = None
    higher_is_better: bool = False
    ratio: bool = True


def rate(value: float) -> str:
    """Appends or runs per second, compact."""
    return f"{value / 1e3:.2f} k" if value < 100_000 else f"{value / 1e3:,.0f} k"


def number(value: float) -> str:
    """A count or a mean with one decimal."""
    return f"{value:,.1f}"


def whole(value: float) -> str:
    """A size, rounded."""
    return f"{value:,.0f}"


def rows(sizes: Sizes) -> list[Row]:
    """The table's rows, in order, with the issue's targets."""
    writers = f"{sizes.writers} writers"
    fifty = f"{sizes.writers} writers, {sizes.writers} process ids"
    table = [
        Row("app_1", f"durable appends/s, 1 writer (N={sizes.appends_one:,})", rate,
            higher_is_better=True),
        Row("app_50", f"durable appends/s, {fifty} "
            f"(N={sizes.appends_each * sizes.writers:,})", rate, higher_is_better=True),
        Row("app_50s", f"durable appends/s, {writers}, 1 process id "
            f"(N={sizes.appends_each * sizes.writers:,})", rate, higher_is_better=True),
        Row("app_50_batch", f"entries per group commit, {fifty}", number, ratio=False),
        Row("app_50_fsync", f"fsyncs per group commit, {fifty}", number, ratio=False),
        Row("app_50s_batch", f"entries per group commit, {writers}, 1 process id", number,
            ratio=False),
        Row("runs_50", f"durable journaled runs/s, {sizes.processes} processes "
            f"(1 inject in flight each, N={sizes.runs_each * sizes.processes:,})", rate,
            ">= 10 k", 10_000, higher_is_better=True),
        Row("cpu_50", f"CPU per run (us, all threads), {sizes.processes} processes", number),
        Row("fsync_run", f"fsyncs per run, {sizes.processes} processes", number, ratio=False),
        Row("fsync_share", f"time spent in fsync, % of the timed window, {sizes.processes} "
            "processes", number, ratio=False),
    ]
    for level in ("checkpoint", "full"):
        table += [
            Row(f"{level}_done_med", f"inject -> run done median (ms), journal {level} level",
                ms),
            Row(f"{level}_done_p99", f"inject -> run done p99 (ms), journal {level} level", ms),
            Row(f"{level}_ack_med",
                f"inject -> return (durable ack) median (ms), journal {level} level", ms),
        ]
    for entries in sizes.recovery_entries:
        target, limit = ("<= 20", 20.0) if entries == 10_000 else ("", None)
        table += [
            Row(f"rec_{entries}", f"recover {entries:,} entries, no checkpoint (ms)", ms,
                target, limit),
            Row(f"rec_{entries}_replay", f"replay only, {entries:,} entries (ms)", ms,
                ratio=False),
        ]
    runs_label = f"{sizes.history_runs:,} runs, checkpoint every {CHECKPOINT_EVERY}"
    table += [
        Row("rec_ckpt", f"recover after {runs_label} (+{HISTORY_TAIL} runs tail) (ms)", ms),
        Row("rec_ckpt_replay", f"replay only, after {runs_label} (ms)", ms, ratio=False),
    ]
    for key, label in (("fresh", "fresh process"),
                       ("steady", f"{REMEMBERED_KEYS:,} keys remembered")):
        target, limit = ("<= 1,024", 1024.0)
        runs = f"{sizes.bytes_runs:,} runs"
        table += [
            Row(f"bytes_{key}_total",
                f"bytes written per run, checkpoint level, {label} ({runs})", whole, target,
                limit, ratio=False),
            Row(f"bytes_{key}_checkpoints", f"checkpoint-file bytes per run, {label}", whole,
                ratio=False),
            Row(f"bytes_{key}_disk", f"on-disk journal size after the runs (KiB), {label}",
                whole, ratio=False),
        ]
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
    value = results.get(row.key, {}).get(column)
    if value is not None:
        return row.fmt(value)
    return "failed" if column == GR or row.ratio else "-"


def _ratio(results: Results, row: Row) -> str:
    figures = results.get(row.key, {})
    ours, theirs = figures.get(GR), figures.get(BASE)
    if not row.ratio or ours is None or theirs is None or min(ours, theirs) <= 0:
        return "-"
    return f"{(theirs / ours if row.higher_is_better else ours / theirs):.1f}x"


def format_table(results: Results, sizes: Sizes, *, same_run_peer: bool = False) -> list[str]:
    """The one table: greenroom, the same-run baseline, the cost ratio, (with `same_run_peer`)
    the peer's figure in this run and greenroom's cost relative to it, the target."""
    header = ["", "greenroom", "baseline", "cost vs baseline"]
    header += [*(peer.HEADER if same_run_peer else []), "target", "status"]
    body = []
    for row in rows(sizes):
        cells = [row.label, _cell(results, row, GR), _cell(results, row, BASE),
                 _ratio(results, row)]
        if same_run_peer:
            cells += peer.cells(results.get(row.key, {}), row.fmt,
                                higher_is_better=row.higher_is_better)
        body.append([*cells, row.target, _status(results, row)])
    return layout(header, body, trailing=2)


def report(results: Results, sizes: Sizes, machine: str, where: str, seconds: float, *,
           same_run_peer: bool = False) -> None:
    """Print the floor line, the table and its legend."""
    print(f"greenroom journal benchmark ({machine}); medians of {sizes.repeats} repeats, "
          f"{seconds:.0f} s; journals in {where}")
    floor = results.get("fsync_floor", {}).get(BASE)
    if floor is not None:
        print(f"Machine floor in this run: os.write + os.fsync of one {FLOOR_LINE}-byte line "
              f"median {floor:.0f} us (at most {1e6 / floor:,.0f} fsyncs/s one after another)")
    print()
    for text in format_table(results, sizes, same_run_peer=same_run_peer):
        print(text)
    print()
    print("baseline: appends, a bare write+fsync loop (1 writer: one line per fsync; 50 process "
          "ids: one line to each of 50 files, then 50 fsyncs;")
    print("          1 process id: 50 lines per write+fsync); runs/s and latencies, the same "
          "scenario without a journal; recovery, reading")
    print("          the same files and json.loads of each record (no CRC, entries or replay).")
    print("cost vs baseline: greenroom / baseline for times, baseline / greenroom for rates.")
    print("bytes per run: every byte written to segments and checkpoint files, including files "
          "compaction deleted, before the stop's checkpoint.")
    if same_run_peer:
        print("cost vs peer: greenroom / the peer, as above. The peer's inject returns before "
              "anything is journaled and its appends are")
        print("          never fsync'd (its checkpoints are): its runs and acks are not "
              "durable, greenroom's are.")


# Entry point ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line: --quick, --repeats, --dir."""
    parser = argparse.ArgumentParser(prog="python -m bench.journal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (< 60 s)")
    parser.add_argument("--repeats", type=int, default=None, help="override the repeat count")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the temporary journals go (default: the system temp dir)")
    parser.add_argument("--peer", metavar="PYTHON", default=None,
                        help="also run promptise 1.10.1 on the same scenarios: 'auto' (a "
                             "virtualenv in .peer/, made once) or an interpreter that has it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    args = parse_args(argv)
    logging.getLogger("greenroom").setLevel(logging.WARNING)
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = Sizes(**{**sizes.__dict__, "repeats": max(1, args.repeats)})
    base: Path | None = args.dir
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    where = str(base if base is not None else tempfile.gettempdir())
    peer_python = peer.peer_python(args.peer) if args.peer is not None else None
    machine = machine_line()
    started = time.monotonic()
    results: Results = {}
    failures: list[str] = []
    asyncio.run(run_scenarios(sizes, base, results, failures, peer_python))
    report(results, sizes, machine, where, time.monotonic() - started,
           same_run_peer=peer_python is not None)
    if failures:
        print(f"Failed scenarios (tracebacks on stderr): {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
