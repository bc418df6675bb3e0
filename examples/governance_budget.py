"""An autonomy budget (the tutorial's step 5): a refund agent within per-run and daily limits.

Refunds are weighted 5 cost units and flagged irreversible; looking an order up costs 0.5. Each
ticket may make one refund (`max_irreversible_per_run`) and the whole day may spend 20 units
(`max_cost_per_day`). With `inject_remaining` the agent sees what is left before it acts.
Ticket T-1 asks for two refunds: the second is vetoed before it runs, the agent answers without
it, and `on_exceeded="pause"` suspends the process. T-2 waits in the queue meanwhile; the operator
raises the per-run limit on the live process (`update_budget`) and resumes it. T-3 comes when
too little of the day's budget is left for a refund, and the agent, reading its remaining budget,
does not try.

Run: python examples/governance_budget.py
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from typing import Any

from greenroom.agents import Invocation, ToolDenied
from greenroom.runtime import AgentProcess, BudgetConfig, ProcessConfig, ToolCostAnnotation
from greenroom.triggers import TriggerEvent

REFUND_COST = 5.0

refunded: list[str] = []


def lookup_order(order_id: str) -> str:
    """Look an order up in the shop.

    Args:
        order_id: the order to look up.
    """
    return f"{order_id}: paid, not shipped"


def refund(order_id: str) -> str:
    """Give the customer their money back (irreversible).

    Args:
        order_id: the order to refund.
    """
    refunded.append(order_id)
    return f"refunded {order_id}"


class RefundAgent:
    """A stand-in for an LLM: refunds each order of a ticket, within the budget it is shown."""

    def __init__(self) -> None:
        self.budget_blocks: dict[str, str] = {}

    async def __call__(self, invocation: Invocation) -> str:
        ticket = invocation.event.payload
        block = next(m["content"] for m in invocation.messages
                     if m["content"].startswith("[Budget Remaining]"))
        self.budget_blocks[ticket["id"]] = block
        found = re.search(r"cost units today: ([\d.]+)", block)
        left_today = float(found[1]) if found else 0.0
        if left_today < REFUND_COST:
            return (f"{ticket['id']}: {left_today:g} cost units left today, a refund costs "
                    f"{REFUND_COST:g}: left for a human")
        done, refused = [], []
        for order_id in ticket["orders"]:
            await invocation.call_tool("lookup_order", {"order_id": order_id})
            try:
                await invocation.call_tool("refund", {"order_id": order_id})
            except ToolDenied as denied:
                refused.append(f"{order_id} refused ({denied})")
            else:
                done.append(order_id)
        return f"{ticket['id']}: refunded {', '.join(done)}" + "".join(f"; {r}" for r in refused)


class Events:
    """The process's events, handed from its actor thread to the loop; `next` awaits one."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queues: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._queues[kind].put_nowait, data)

    async def next(self, kind: str) -> dict[str, Any]:
        return await asyncio.wait_for(self._queues[kind].get(), 10)


def ticket(ticket_id: str, *orders: str) -> TriggerEvent:
    return TriggerEvent("helpdesk", "manual", payload={"id": ticket_id, "orders": list(orders)})


def reply(process: AgentProcess) -> str:
    return str(process.record.conversation.get_messages()[-1]["content"])


async def main() -> None:
    agent = RefundAgent()
    config = ProcessConfig(
        model=agent,
        tools=[lookup_order, refund],
        budget=BudgetConfig(
            enabled=True,
            max_tool_calls_per_run=10,
            max_irreversible_per_run=1,
            max_cost_per_day=20.0,
            tool_costs={
                "refund": ToolCostAnnotation(cost_weight=REFUND_COST, irreversible=True),
                "lookup_order": ToolCostAnnotation(cost_weight=0.5),
            },
            on_exceeded="pause",
            inject_remaining=True,
        ),
    )
    async with AgentProcess("refunds", config) as process:
        events = Events()
        process.add_listener(events)

        await process.inject(ticket("T-1", "A-1", "A-2"))
        await events.next("invocation.completed")
        print("T-1: the agent saw")
        for line in agent.budget_blocks["T-1"].splitlines():
            print(f"  {line}")
        print(reply(process))
        suspended = await events.next("process.suspended")
        print(f"process suspended ({suspended['reason']})")

        await process.inject(ticket("T-2", "B-1", "B-2"))
        print(f"T-2 waits: queue_size={process.status()['queue_size']}")
        changed = await process.update_budget({"max_irreversible_per_run": 2})
        print(f"operator: max_irreversible_per_run={changed['max_irreversible_per_run']}, resume")
        await process.resume()
        await events.next("invocation.completed")
        print(reply(process))

        await process.inject(ticket("T-3", "C-1"))
        await events.next("invocation.completed")
        print(reply(process))
        print(f"refunds made: {', '.join(refunded)}; state={process.state.value}")


if __name__ == "__main__":
    asyncio.run(main())
