"""Crash recovery: a journaled process is killed with SIGKILL; the next start finishes its work.

Run: python examples/crash_recovery.py

The program runs itself twice. The child (`--child DIR`) starts an "orders" process with a file
journal, has three orders acknowledged (`inject` returns once the event is on disk), finishes the
first and gets stuck on the second. The parent kills it with SIGKILL, reads the journal with
`ReplayEngine`, then starts the process again: the two unfinished orders run, with their ids.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any

from greenroom.agents import Invocation
from greenroom.journal import FileJournal, ReplayEngine
from greenroom.runtime import AgentProcess, JournalConfig, ProcessConfig
from greenroom.triggers import TriggerEvent

ORDERS = ["order-1", "order-2", "order-3"]


def config(agent: Any, directory: str) -> ProcessConfig:
    return ProcessConfig(model=agent, journal=JournalConfig(level="checkpoint", path=directory))


def order(order_id: str) -> TriggerEvent:
    return TriggerEvent("shop", "webhook", order_id, payload={"order": order_id})


async def child(directory: str) -> None:
    """Acknowledge three orders, finish the first, hang on the second (until killed)."""
    first_done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def slow_after_first(invocation: Invocation) -> str:
        if invocation.event.event_id != ORDERS[0]:
            await asyncio.Event().wait()  # stuck: the crash comes first
        return f"shipped {invocation.event.event_id}"

    def on_event(kind: str, _data: dict[str, Any]) -> None:
        if kind == "invocation.completed":
            loop.call_soon_threadsafe(first_done.set)

    process = AgentProcess("orders", config(slow_after_first, directory))
    process.add_listener(on_event)
    await process.start()
    await process.inject(order(ORDERS[0]))
    await first_done.wait()
    for order_id in ORDERS[1:]:
        await process.inject(order(order_id))  # returns once the event is durable
    print("acknowledged: " + ", ".join(ORDERS), flush=True)
    await asyncio.Event().wait()


async def restart(directory: str) -> None:
    """Read the journal, then start the process again and let it finish the work."""
    journal = FileJournal(directory)
    recovered = ReplayEngine(journal).recover("orders")
    journal.close()
    pending = ", ".join(event.event_id for event in recovered.pending_events)
    print(f"journal: {recovered.invocation_count} run finished, pending: {pending}")

    ran: list[str] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def ship(invocation: Invocation) -> str:
        ran.append(invocation.event.event_id)
        return f"shipped {invocation.event.event_id}"

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "invocation.completed" and data["event_id"] == ORDERS[-1]:
            loop.call_soon_threadsafe(done.set)

    process = AgentProcess("orders", config(ship, directory))
    process.add_listener(on_event)
    async with process:
        await asyncio.wait_for(done.wait(), 10)
        status = process.status()
    print(f"after restart: ran {', '.join(ran)}")
    print(f"runs={status['invocation_count']} requeued={len(status['recovery']['requeued'])}")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        proc = subprocess.Popen([sys.executable, __file__, "--child", directory],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            print(proc.stdout.readline().strip())
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        print("killed with SIGKILL")
        asyncio.run(restart(directory))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2]))
    else:
        main()
