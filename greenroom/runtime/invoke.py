"""Turning a trigger event into one agent run: resolve the agent, build the invocation, run it.

The process actor calls `prepare_run` in its own turn (it reads the record) and hands
`run_agent(...)` to the io loop. Each run gets its own copy of the conversation, so concurrent
runs never share a buffer; the actor appends the prompt and reply when the run is done.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from greenroom.agents.framing import context_blocks, trigger_message
from greenroom.agents.invocation import DirectToolGate, Invocation, ToolGate, ToolTable
from greenroom.agents.openai import resolve_model
from greenroom.journal.entry import EntryType
from greenroom.runtime.governed_gate import GovernedToolGate
from greenroom.runtime.governing import Governance, RunOutcome, governed_run, read_secret
from greenroom.runtime.inbox_delivery import Delivery, deliver
from greenroom.runtime.tool_journal import JournaledToolGate

if TYPE_CHECKING:
    from greenroom.governance.redaction import Redactor
    from greenroom.runtime.journaling import ProcessJournal
    from greenroom.runtime.record import ProcessRecord
    from greenroom.triggers.event import TriggerEvent

__all__ = ["AgentCallable", "PreparedRun", "prepare_run", "resolve_agent", "run_agent"]

AgentCallable: TypeAlias = Callable[[Invocation], Awaitable[Any]]


def resolve_agent(model: str | Callable[..., Any] | None) -> AgentCallable:
    """The agent for `ProcessConfig.model`: a callable, or a provider string's client.

    Raises `ValueError` naming the field when no agent is configured, `ModelConfigError` when a
    provider string cannot be served (unknown provider, missing key).
    """
    if model is None:
        msg = "ProcessConfig.model: no agent configured (give an async callable or " \
              "'openai:<model>')"
        raise ValueError(msg)
    return resolve_model(model)


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A run ready to go: the coroutine to hand to the io loop, the trigger message to keep in
    the conversation, what of the inbox the run is shown, and where the run leaves what its
    journal entry needs."""

    coroutine: Coroutine[Any, Any, str]
    prompt: dict[str, Any]
    delivery: Delivery
    outcome: RunOutcome


def prepare_run(
    record: ProcessRecord, event: TriggerEvent, agent: AgentCallable,
    journal: ProcessJournal | None = None, governance: Governance | None = None,
    redactor: Redactor | None = None, tools: ToolTable | None = None,
) -> PreparedRun:
    """Build the invocation for `event` and the coroutine that runs `agent` on it. With a
    `full` journal, tool calls are journaled (masked by `redactor`); with governance, they go
    through the `GovernedToolGate` and the run through `governed_run`. `tools` is the process's
    table of `config.tools` (built here when not given).
    """
    state = record.context.state_snapshot()
    delivery = deliver(record.inbox.get_pending()) if record.inbox is not None else Delivery()
    messages = context_blocks(
        instructions=record.config.instructions, state=state or None, inbox=delivery.lines or None
    )
    blocks_at = len(messages)  # where governed_run puts the budget and mission blocks
    messages += record.conversation.snapshot()  # read-only messages, shared, not copied
    messages.append(trigger_message(event))
    direct = DirectToolGate(ToolTable(record.config.tools) if tools is None else tools)
    gate: ToolGate = direct
    if journal is not None and journal.records(EntryType.TOOL_CALL):
        gate = JournaledToolGate(direct, journal, event.event_id, redactor)
    if governance is not None and (governance.budget is not None
                                   or governance.health is not None):
        budget = record.config.budget
        gate = GovernedToolGate(
            gate, event.event_id, budget=governance.budget, health=governance.health,
            specs_known=direct.specs,
            max_llm_turns_per_run=budget.max_llm_turns_per_run if budget.enabled else None,
        )
    scope = governance.secrets if governance is not None else None
    invocation = Invocation(
        messages=messages, gate=gate, event=event, context=record.context, tools=direct.specs,
        secrets=None if scope is None else functools.partial(read_secret, scope),
    )
    outcome = RunOutcome()
    if governance is not None and governance.enabled:
        coroutine = governed_run(agent, invocation, governance, event.event_id, blocks_at,
                                 outcome)
    else:
        coroutine = run_agent(agent, invocation)
    return PreparedRun(coroutine, messages[-1], delivery, outcome)


async def run_agent(agent: AgentCallable, invocation: Invocation) -> str:
    """Run the agent on the io loop; the final reply as text."""
    reply = await agent(invocation)
    return reply if isinstance(reply, str) else str(reply)
