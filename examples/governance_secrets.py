"""Scoped secrets (the tutorial's step 8): a payment agent's own credentials, audited by name.

`payments_key` is `${PAYMENTS_API_KEY}`, read from the environment (this program sets it) when
the process starts, and lives 30 minutes (`ttls`); `webhook_token` is a literal with the default
TTL. The agent reads a secret through `invocation.get_secret(name)`, an audited accessor: every
read is journaled as a `secret_access` entry with the secret's name, never its value. A
`ManualClock` stands in for the half hour after which the key expires; the operator then rotates
it. On stop the values are revoked (zero-filled). Finally the program reads the file journal and
checks that no secret value is written anywhere in it, not even where the agent passed the key
to a tool.

Run: python examples/governance_secrets.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from greenroom.actors.clock import ManualClock
from greenroom.agents import Invocation, ToolCallError
from greenroom.journal import FileJournal
from greenroom.runtime import AgentProcess, JournalConfig, ProcessConfig, SecretScopeConfig
from greenroom.triggers import TriggerEvent

FIRST_KEY = "sk-test-51Hx9-first-key-value"
ROTATED_KEY = "sk-test-51Hx9-rotated-key-value"
WEBHOOK_TOKEN = "whk-7Qx2-literal-token"
ACCEPTED = {FIRST_KEY, ROTATED_KEY}


def charge(order_id: str, api_key: str) -> str:
    """Charge an order through the payments API (a fake that knows the valid keys).

    Args:
        order_id: the order to charge.
        api_key: the payments API key.
    """
    if api_key not in ACCEPTED:
        msg = "payments API: invalid key"
        raise PermissionError(msg)
    return f"{order_id} charged"


async def payment_agent(invocation: Invocation) -> str:
    """A stand-in for an LLM: reads its key when it needs it, then charges the order."""
    order_id = invocation.event.payload
    key = await invocation.get_secret("payments_key")
    if key is None:
        return f"{order_id}: not charged, payments_key is not available"
    try:
        return str(await invocation.call_tool("charge", {"order_id": order_id, "api_key": key}))
    except ToolCallError as exc:
        return f"{order_id}: not charged, {exc}"


class Events:
    """The process's events, handed from its actor thread to the loop; `next` awaits one."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queues: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._queues[kind].put_nowait, data)

    async def next(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next event of `kind` whose data has the `match` items (others are skipped)."""
        while True:
            data = await asyncio.wait_for(self._queues[kind].get(), 10)
            if all(data.get(key) == value for key, value in match.items()):
                return data


async def charge_order(process: AgentProcess, events: Events, order_id: str) -> None:
    await process.inject(TriggerEvent("shop", "manual", payload=order_id))
    await events.next("invocation.completed")
    print(process.record.conversation.get_messages()[-1]["content"])


async def secret_states(process: AgentProcess) -> str:
    listing = await process.list_secrets()
    return ", ".join(f"{s['name']} {s['state']}" for s in listing["secrets"])


async def main(journal_dir: str) -> None:
    os.environ["PAYMENTS_API_KEY"] = FIRST_KEY
    clock = ManualClock()
    config = ProcessConfig(
        model=payment_agent,
        tools=[charge],
        journal=JournalConfig(level="full", backend="file", path=journal_dir),
        secrets=SecretScopeConfig(
            enabled=True,
            secrets={"payments_key": "${PAYMENTS_API_KEY}", "webhook_token": WEBHOOK_TOKEN},
            default_ttl=3600,
            ttls={"payments_key": 1800},
            revoke_on_stop=True,
        ),
    )
    async with AgentProcess("payments", config, clock=clock) as process:
        events = Events()
        process.add_listener(events)
        listing = await process.list_secrets()
        print("resolved at start: " + ", ".join(
            f"{s['name']} ({s['source']}, ttl {s['ttl']:g} s)" for s in listing["secrets"]))
        await charge_order(process, events, "order-1")

        clock.advance(31 * 60)  # half an hour later, the payments key has expired
        await events.next("governance.secret_access", action="expire")  # the scope's timer
        print(f"31 minutes later: {await secret_states(process)}")
        await charge_order(process, events, "order-2")

        await process.rotate_secret("payments_key", ROTATED_KEY)
        print(f"operator rotates payments_key: {await secret_states(process)}")
        await charge_order(process, events, "order-3")

    journal = FileJournal(journal_dir)
    try:
        audit = journal.read("payments", entry_type="secret_access")
        calls = journal.read("payments", entry_type="tool_call")
    finally:
        journal.close()
    print("journal, secret_access by name only:")
    for entry in audit:
        who = f" (asked by {entry.data['accessor']})" if "accessor" in entry.data else ""
        print(f"  {entry.data['secret']}: {entry.data['outcome']}{who}")
    print(f"a tool call as journaled: {calls[0].data['arguments']}")
    files = [path for path in Path(journal_dir).rglob("*") if path.is_file()]
    written = b"".join(path.read_bytes() for path in files)
    leaked = [v for v in (FIRST_KEY, ROTATED_KEY, WEBHOOK_TOKEN) if v.encode() in written]
    print(f"secret values in the journal files: {len(leaked)} ({len(files)} files read)")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(main(directory))
