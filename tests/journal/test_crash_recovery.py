"""Kill -9 crash test: a journaled process killed at random moments loses no acknowledged event
and, with an agent idempotent on its ids, acts on each event exactly once.

The child (`crash_child.py`) runs a runtime whose process has a file journal and a webhook
trigger. Each cycle the parent starts it on the same work directory (the next incarnation is
spawned early and imports meanwhile, but opens nothing before the previous one is dead), fires
webhook POSTs and stdin injects (new ids, retries of ids never acknowledged, re-sends of
acknowledged deliveries), kills it with SIGKILL once a random number of acknowledgements came
back plus a random delay, and waits for it to die. The parent behaves like an at-least-once
sender: an id is acknowledged by a 202 or an `acked` line, and one that was not is retried in a
later cycle. A last cycle retries everything still unacknowledged, lets the queue drain and
stops gracefully.
Then every id sent has exactly one effect, no id ran twice within one incarnation, re-sent
deliveries were all recognised as duplicates, and the process's counters (status and final
checkpoint) count each id once.

Randomness is seeded; timings are not, so the figures printed vary from run to run, but the
assertions hold whatever the timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from crash_child import ATTEMPTS, CONCURRENCY, EFFECTS, JOURNAL, PROCESS, SECRET, read_ids

from greenroom.journal import FileJournal
from greenroom.triggers.signatures import sign

SEED = 20261121
KILL_CYCLES = 20
MAX_OUTSTANDING = 4
"""Requests and injects a cycle keeps in flight at once."""

STARTUP_TIMEOUT = 60.0
ACK_TIMEOUT = 60.0
DRAIN_TIMEOUT = 60.0
CHILD = Path(__file__).with_name("crash_child.py")


@dataclass
class Ledger:
    """What the parent sent and what came back, across all cycles."""

    channel: dict[str, str] = field(default_factory=dict)
    """Every id sent, and how: "webhook" or "inject"."""
    acked: set[str] = field(default_factory=set)
    resent_acked: int = 0
    duplicates_answered: int = 0
    retries: int = 0
    kills: int = 0
    anomalies: list[str] = field(default_factory=list)
    """Answers that break the contract (checked at the end, with the rest)."""

    def new_id(self, channel: str) -> str:
        """A fresh id (`i<n>` or `w<n>`), registered as sent on `channel`."""
        app_id = f"{channel[0]}{len(self.channel)}"
        self.channel[app_id] = channel
        return app_id

    def unacked(self) -> list[str]:
        """The ids sent but never acknowledged: a reliable sender retries them."""
        return [app_id for app_id in self.channel if app_id not in self.acked]


class Child:
    """One incarnation of the child process and the reader of its stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, ledger: Ledger, stderr: Path) -> None:
        self.proc = proc
        self.ledger = ledger
        self.stderr = stderr
        self.url = ""
        self.acks = 0
        """Acknowledgements (new or not) seen from this incarnation."""
        self.changed = asyncio.Condition()
        self.replies: asyncio.Queue[str] = asyncio.Queue()
        self.injects: dict[str, asyncio.Future[bool]] = {}
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def spawn(cls, workdir: Path, incarnation: int, ledger: Ledger) -> Child:
        """Spawn the child; it imports, then waits for `start` (see `begin`), so its start-up can
        overlap the previous incarnation's cycle."""
        stderr = workdir / f"child-{incarnation}.err"
        with stderr.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(CHILD), str(workdir), str(incarnation),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=sink,
                limit=1 << 20,
            )
        child = cls(proc, ledger, stderr)
        child.reader = asyncio.create_task(child._read())
        return child

    async def begin(self) -> None:
        """Let the child start its runtime on the work directory; wait for its `ready` line."""
        await self.command("start")
        self.url = (await self.reply("ready", STARTUP_TIMEOUT)).removeprefix("ready ")

    async def _read(self) -> None:
        """Route the child's lines until it exits: acks to the ledger, the rest to `replies`."""
        assert self.proc.stdout is not None
        while raw := await self.proc.stdout.readline():
            line = raw.decode().strip()
            kind, _, rest = line.partition(" ")
            if kind in ("acked", "refused"):
                app_id = rest.split(" ", 1)[0]
                if kind == "acked":
                    await self._acked(app_id)
                waiter = self.injects.pop(app_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(kind == "acked")
            else:
                self.replies.put_nowait(line)
        for waiter in self.injects.values():  # the child is gone: no answer will come
            if not waiter.done():
                waiter.set_result(False)
        self.replies.put_nowait("eof")

    async def _acked(self, app_id: str) -> None:
        """Record an acknowledgement and wake whoever waits for a number of them."""
        async with self.changed:
            self.ledger.acked.add(app_id)
            self.acks += 1
            self.changed.notify_all()

    async def reply(self, kind: str, timeout: float) -> str:
        """The next non-ack line, which must start with `kind`."""
        try:
            line = await asyncio.wait_for(self.replies.get(), timeout)
        except TimeoutError:
            line = f"nothing within {timeout} s"
        if not line.startswith(kind):
            msg = (f"expected {kind!r} from the child, got {line[:300]!r}; its stderr ends "
                   f"with:\n{self.stderr.read_text()[-3000:]}")
            raise AssertionError(msg)
        return line

    async def command(self, line: str) -> bool:
        """Send a command; False if the child is gone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    async def inject(self, app_id: str) -> bool:
        """Inject `app_id`; True once the child acknowledged it (False: refused or killed)."""
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.injects[app_id] = waiter
        if not await self.command(f"inject {app_id}"):
            self.injects.pop(app_id, None)
            return False
        return await waiter

    async def post(self, session: aiohttp.ClientSession, app_id: str) -> str | None:
        """POST the delivery `app_id`; the 202's status, or None if it was not acknowledged."""
        body = json.dumps({"id": app_id}).encode()
        headers = {"Content-Type": "application/json",
                   **sign("github", SECRET, body, delivery_id=app_id)}
        try:
            async with session.post(self.url, data=body, headers=headers) as response:
                if response.status != 202:
                    if response.status < 500:
                        self.ledger.anomalies.append(f"{app_id}: HTTP {response.status}")
                    return None
                answer: dict[str, Any] = await response.json()
        except (aiohttp.ClientError, TimeoutError):
            return None
        status = str(answer["status"])
        await self._acked(app_id)
        return status

    async def wait_acks(self, count: int) -> None:
        """Wait until `count` acknowledgements came back from this incarnation."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.acks >= count)

    async def kill(self) -> None:
        """SIGKILL, then wait for the exit and for the last lines it wrote."""
        if self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()
        if self.reader is not None:
            await self.reader

    async def status(self) -> dict[str, Any]:
        """The process's status, asked over stdin."""
        assert await self.command("status"), "the child is gone"
        line = await self.reply("status", ACK_TIMEOUT)
        status: dict[str, Any] = json.loads(line.removeprefix("status "))
        return status


class Sender:
    """Fires a random mix of events at one incarnation, a few at a time."""

    def __init__(self, child: Child, session: aiohttp.ClientSession, rng: random.Random,
                 retry: list[str]) -> None:
        self.child = child
        self.session = session
        self.rng = rng
        self.ledger = child.ledger
        self.retry = retry
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopped = False

    async def run(self, count: int) -> None:
        """Send up to `count` events, at most `MAX_OUTSTANDING` in flight, until stopped; then
        wait for the answers (after a kill, the requests in flight fail quickly)."""
        slots = asyncio.Semaphore(MAX_OUTSTANDING)
        for _ in range(count):
            await slots.acquire()
            if self.stopped:
                break
            task = asyncio.create_task(self._one())
            task.add_done_callback(lambda _t: slots.release())
            self.tasks.add(task)
        await asyncio.gather(*self.tasks)

    async def _one(self) -> None:
        """One random event: a retry, a re-send of an acknowledged delivery, or a new id."""
        ledger, roll = self.ledger, self.rng.random()
        resendable = [i for i in ledger.acked if ledger.channel[i] == "webhook"]
        if roll < 0.15 and self.retry:
            app_id = self.retry.pop(self.rng.randrange(len(self.retry)))
            ledger.retries += 1
            await self.send(app_id)
        elif roll < 0.3 and resendable:
            await self.resend(sorted(resendable)[self.rng.randrange(len(resendable))])
        elif roll < 0.65:
            await self.send(ledger.new_id("inject"))
        else:
            await self.send(ledger.new_id("webhook"))

    async def send(self, app_id: str) -> None:
        """Send `app_id` on its channel."""
        if self.ledger.channel[app_id] == "inject":
            await self.child.inject(app_id)
        else:
            await self.child.post(self.session, app_id)

    async def resend(self, app_id: str) -> None:
        """Re-send an acknowledged delivery: it must be answered as a duplicate."""
        self.ledger.resent_acked += 1
        status = await self.child.post(self.session, app_id)
        if status == "duplicate":
            self.ledger.duplicates_answered += 1
        elif status is not None:
            self.ledger.anomalies.append(f"acknowledged delivery {app_id} re-sent: {status}")


async def crash_cycle(child: Child, rng: random.Random, ledger: Ledger) -> None:
    """Start the child, fire events, SIGKILL it at a random moment while requests are in flight."""
    retry = ledger.unacked()
    try:
        await child.begin()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ACK_TIMEOUT)) as http:
            sender = Sender(child, http, rng, retry)
            budget = rng.randint(12, 40)
            sending = asyncio.create_task(sender.run(budget))
            acks = asyncio.create_task(child.wait_acks(rng.randint(0, budget // 2)))
            try:
                done, _ = await asyncio.wait({acks, sending}, timeout=ACK_TIMEOUT,
                                             return_when=asyncio.FIRST_COMPLETED)
                assert done, f"no progress within {ACK_TIMEOUT} s"
                await asyncio.sleep(rng.uniform(0.0, 0.03))  # the random moment of the kill
                sender.stopped = True
                await child.kill()
                ledger.kills += 1
                await asyncio.wait_for(sending, ACK_TIMEOUT)  # every answer that came is counted
            finally:
                acks.cancel()
                sending.cancel()
    finally:
        await child.kill()


async def final_cycle(child: Child, rng: random.Random, ledger: Ledger) -> dict[str, Any]:
    """Retry everything unacknowledged, wait until all ran, stop gracefully; the last status."""
    try:
        await child.begin()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ACK_TIMEOUT)) as http:
            sender = Sender(child, http, rng, [])
            missing = ledger.unacked()
            ledger.retries += len(missing)
            await asyncio.gather(*(sender.send(app_id) for app_id in missing))
        assert ledger.unacked() == [], f"never acknowledged: {ledger.unacked()}"
        status = await drained(child)
        assert await child.command("quit")
        report = json.loads((await child.reply("stopped", DRAIN_TIMEOUT)).removeprefix("stopped "))
        assert report["kept"] == [], report
        assert report["cancelled"] == [], report
        assert await asyncio.wait_for(child.proc.wait(), DRAIN_TIMEOUT) == 0
        return status
    finally:
        await child.kill()


async def drained(child: Child) -> dict[str, Any]:
    """Poll the status until nothing is queued or running; return it. Called once every id is
    acknowledged, hence queued, running or done: idle then means every id has run."""
    deadline = asyncio.get_running_loop().time() + DRAIN_TIMEOUT
    while True:
        status = await child.status()
        if status["queue_size"] == 0 and status["in_flight"] == 0:
            return status
        if asyncio.get_running_loop().time() > deadline:
            msg = f"not drained within {DRAIN_TIMEOUT} s: {status}"
            raise AssertionError(msg)
        await asyncio.sleep(0.05)


def app_id_of(key: str) -> str:
    """The parent's id in an idempotency key (`hook@<delivery>` or an inject's event id)."""
    return key.rpartition("@")[2]


@pytest.mark.timeout(300)
def test_sigkilled_runtime_loses_no_acknowledged_event_and_acts_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    ledger = Ledger()

    async def main() -> dict[str, Any]:
        # Each incarnation is spawned during the previous one's cycle; it only imports until
        # `begin`, which comes once the previous one is dead (one writer per journal).
        upcoming = await Child.spawn(tmp_path, 0, ledger)
        try:
            for incarnation in range(1, KILL_CYCLES + 1):
                child, upcoming = upcoming, await Child.spawn(tmp_path, incarnation, ledger)
                await crash_cycle(child, rng, ledger)
            acked_before_final = len(ledger.acked)
            status = await final_cycle(upcoming, rng, ledger)
        finally:
            await upcoming.kill()
        print(f"ids acknowledged while cycles were killed: {acked_before_final}")
        return status

    status = asyncio.run(main())
    sent = set(ledger.channel)
    effects = Counter(read_ids(tmp_path / EFFECTS))
    attempts = [tuple(line.split()) for line in
                (tmp_path / ATTEMPTS).read_text().splitlines() if line.strip()]
    per_id = Counter(app_id for _, app_id in attempts)
    reruns = sum(per_id.values()) - len(per_id)
    journal = FileJournal(tmp_path / JOURNAL)
    try:
        checkpoint = journal.last_checkpoint(PROCESS)
    finally:
        journal.close()
    assert checkpoint is not None
    stderr = "".join(p.read_text() for p in sorted(tmp_path.glob("child-*.err")))
    channels = Counter(ledger.channel.values())
    print(f"seed {SEED}: {ledger.kills} kills, {len(sent)} ids sent ({dict(channels)}), "
          f"{ledger.retries} retries of unacknowledged ids, {ledger.resent_acked} re-sends "
          f"of acknowledged deliveries ({ledger.duplicates_answered} answered duplicate)")
    print(f"attempts {len(attempts)} for {len(per_id)} ids: {reruns} reruns "
          f"({reruns / max(ledger.kills, 1):.2f} per kill, concurrency {CONCURRENCY}), "
          f"max {max(per_id.values(), default=0)} attempts of one id; "
          f"{stderr.count('torn tail')} torn tails repaired")

    assert ledger.anomalies == []
    twice = {app_id: n for app_id, n in effects.items() if n > 1}
    assert twice == {}, f"effects performed more than once: {twice}"
    assert set(effects) == sent, (f"acknowledged, no effect: {sorted(sent - set(effects))}; "
                                  f"never sent: {sorted(set(effects) - sent)}")
    same_life = [a for a, n in Counter(attempts).items() if n > 1]
    assert same_life == [], f"ran twice within one incarnation: {same_life}"
    assert set(per_id) == sent

    assert status["invocation_count"] == len(sent) == len(effects)
    assert status["failed_invocations"] == 0
    assert status["dead_letter_count"] == 0
    assert checkpoint["invocation_count"] == len(sent)
    assert checkpoint["pending_events"] == []
    processed = Counter(app_id_of(key) for key in checkpoint["processed_keys"])
    assert processed == Counter(sent)
    assert "Traceback" not in stderr, stderr[-3000:]
