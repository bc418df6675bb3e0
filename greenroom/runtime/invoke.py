"""Turning a trigger event into one agent run: resolve the agent, build the invocation, run it.

The process actor calls `prepare_run` in its own turn (it reads the record) and hands
`run_agent(...)` to the io loop. Each run gets its own copy of the conversation, so concurrent
runs never share a buffer; the actor appends the prompt and reply when the run is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from greenroom.agents.framing import context_blocks, trigger_message
from greenroom.agents.invocation import DirectToolGate, Invocation, ToolGate
from greenroom.agents.openai import resolve_model
from greenroom.journal.entry import EntryType
from greenroom.runtime.inbox_delivery import Delivery, deliver
from greenroom.runtime.tool_journal import JournaledToolGate

if TYPE_CHECKING:
    from greenroom.runtime.journaling import ProcessJournal
    from greenroom.runtime.record import ProcessRecord
    from greenroom.triggers.event import TriggerEvent

__all__ = ["AgentCallable", "prepare_run", "resolve_agent", "run_agent"]

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


def prepare_run(
    record: ProcessRecord, event: TriggerEvent, journal: ProcessJournal | None = None
) -> tuple[Invocation, dict[str, Any], Delivery]:
    """The invocation for `event`, the trigger message to keep in the conversation, and what
    of the inbox the run is shown. With a `full` journal, tool calls are journaled.
    """
    state = record.context.state_snapshot()
    delivery = deliver(record.inbox.get_pending()) if record.inbox is not None else Delivery()
    messages = context_blocks(
        instructions=record.config.instructions, state=state or None, inbox=delivery.lines or None
    )
    messages += record.conversation.get_messages()  # already copies: not copied twice
    messages.append(trigger_message(event))
    direct = DirectToolGate(record.config.tools)
    gate: ToolGate = direct
    if journal is not None and journal.records(EntryType.TOOL_CALL):
        gate = JournaledToolGate(direct, journal, event.event_id)
    invocation = Invocation(
        messages=messages, gate=gate, event=event, context=record.context, tools=direct.specs,
    )
    return invocation, messages[-1], delivery


async def run_agent(agent: AgentCallable, invocation: Invocation) -> str:
    """Run the agent on the io loop; the final reply as text."""
    reply = await agent(invocation)
    return reply if isinstance(reply, str) else str(reply)
