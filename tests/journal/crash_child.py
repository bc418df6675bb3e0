"""The child OS process of the kill -9 crash test (`test_crash_recovery.py`); not a test itself.

Run as `python crash_child.py <workdir> <incarnation>`. It starts an `AgentRuntime` with one
process, `worker`, whose file journal lives in `<workdir>/journal` (fsync always) and whose
webhook trigger (GitHub-style signature, so `X-GitHub-Delivery` becomes the idempotency key)
listens on a free loopback port. Its agent writes one line per run to `attempts.log`
(`<incarnation> <id>`, every time it runs) and one line per application id to `effects.log`
(only the first time: the agent is idempotent on the id its payload carries), so the parent can
compare what ran with what it sent after killing this process with SIGKILL any number of times.

The parent drives it through a line protocol. The first command on stdin must be `start`:
until then the child only imports, and touches nothing in the work directory, so the parent can
spawn the next incarnation while the previous one still runs. Then: `inject <id>`, `status`,
`quit` (end of input also quits). Lines on stdout: `ready <webhook url>` once started,
`acked <id>` once an inject returned (the event is durable), `refused <id> <why>`,
`status <json>`, and `stopped <json stop report>` after a graceful stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from greenroom.agents.invocation import Invocation
from greenroom.runtime import AgentProcess, AgentRuntime, JournalConfig, ProcessConfig
from greenroom.triggers import TriggerEvent, WebhookTrigger

PROCESS = "worker"
"""The name of the one process (and of its journal directory)."""

TRIGGER_ID = "hook"
"""The webhook trigger's id: a delivery `d` has the idempotency key `hook@d`."""

SECRET = "crash-test-secret"
"""The HMAC secret of the webhook (GitHub scheme)."""

JOURNAL = "journal"
ATTEMPTS = "attempts.log"
EFFECTS = "effects.log"

CONCURRENCY = 2
CHECKPOINT_EVERY = 7
"""Small, so that kills also land around checkpoints and compactions."""

WORK_SECONDS = 0.002
"""How long a run works between its attempt and its effect, so kills find runs in flight."""


def read_ids(path: Path) -> list[str]:
    """The ids of a log of `<id>` or `<incarnation> <id>` lines, in order (none if absent)."""
    if not path.exists():
        return []
    return [line.split()[-1] for line in path.read_text().splitlines() if line.strip()]


def emit(line: str) -> None:
    """One line to the parent, flushed at once (the parent reads as we go)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class RecordingAgent:
    """Logs every attempt, and performs its effect once per application id.

    The id is the payload's `id`, which the parent chose: the event id of an inject, the delivery
    id of a webhook. Idempotency rests on `effects.log` (read back at start), as an application's
    would rest on its own store: a run that is repeated after a crash does not act twice.
    """

    def __init__(self, workdir: Path, incarnation: str) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self.incarnation = incarnation
        self.done = set(read_ids(workdir / EFFECTS))
        self.attempts = os.open(workdir / ATTEMPTS, flags, 0o644)
        self.effects = os.open(workdir / EFFECTS, flags, 0o644)

    async def __call__(self, invocation: Invocation) -> str:
        """One run: log the attempt, work a little, act unless the id already acted."""
        app_id = str(invocation.event.payload["id"])
        os.write(self.attempts, f"{self.incarnation} {app_id}\n".encode())
        await asyncio.sleep(WORK_SECONDS)
        if app_id not in self.done:  # no await between the check and the write: one run wins
            self.done.add(app_id)
            os.write(self.effects, f"{app_id}\n".encode())
        return f"done {app_id}"

    def close(self) -> None:
        """Release the log files."""
        os.close(self.attempts)
        os.close(self.effects)


def process_config(workdir: Path, agent: RecordingAgent) -> ProcessConfig:
    """The worker's config: same trigger id and journal in every incarnation."""
    hook = WebhookTrigger("/events", trigger_id=TRIGGER_ID, webhook_port=0, hmac_secret=SECRET,
                          signature_scheme="github")
    journal = JournalConfig(path=str(workdir / JOURNAL), fsync="always",
                            checkpoint_every=CHECKPOINT_EVERY)
    return ProcessConfig(model=agent, triggers=[hook], journal=journal, concurrency=CONCURRENCY)


async def inject(process: AgentProcess, app_id: str) -> None:
    """Inject the event `app_id` and say whether it was acknowledged."""
    event = TriggerEvent("manual", "manual", app_id, payload={"id": app_id})
    try:
        queued = await process.inject(event)
    except Exception as exc:
        emit(f"refused {app_id} {exc!r}")
        return
    emit(f"acked {app_id}" if queued else f"refused {app_id} queue full")


async def stdin_reader() -> asyncio.StreamReader:
    """Stdin as an asyncio stream (the parent's commands)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def serve(process: AgentProcess, reader: asyncio.StreamReader) -> None:
    """Answer the parent's commands until `quit` or the end of stdin."""
    pending: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        command, _, argument = line.decode().strip().partition(" ")
        if command == "inject":
            task = asyncio.create_task(inject(process, argument))
            pending.add(task)
            task.add_done_callback(pending.discard)
        elif command == "status":
            status: dict[str, Any] = await asyncio.to_thread(process.status)
            emit("status " + json.dumps(status, default=str))
        elif command == "quit":
            break
    await asyncio.gather(*pending)


async def main(workdir: Path, incarnation: str) -> None:
    """On `start`: start the worker (recovering its journal), serve the parent, then stop
    gracefully. Anything else first (the parent gave up) ends the child untouched."""
    reader = await stdin_reader()
    if (await reader.readline()).strip() != b"start":
        return
    agent = RecordingAgent(workdir, incarnation)
    runtime = AgentRuntime()
    try:
        process = await runtime.add_process(PROCESS, process_config(workdir, agent))
        await runtime.start_all()
        status = await asyncio.to_thread(process.status)
        emit(f"ready {status['triggers'][0]['url']}")
        await serve(process, reader)
        report = await process.stop()
        emit("stopped " + json.dumps(report, default=str))
    finally:
        await runtime.close()
        agent.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
