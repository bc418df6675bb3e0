"""DirectToolGate and Invocation: tools run only through the gate, which validates and counts."""

from __future__ import annotations

import asyncio
import threading

import pytest

from greenroom.agents import (
    DirectToolGate,
    Invocation,
    ToolCallError,
    ToolDenied,
    ToolGate,
)
from greenroom.runtime import AgentContext


def add(a: int, b: int = 0) -> int:
    """Add two numbers."""
    return a + b


async def shout(text: str) -> str:
    """Upper-case a text."""
    await asyncio.sleep(0)
    return text.upper()


def explode(reason: str) -> None:
    """Always fails."""
    raise ValueError(reason)


def where() -> int:
    """The id of the thread the tool runs on."""
    return threading.get_ident()


def test_sync_tool_runs_in_a_worker_thread_and_async_tool_is_awaited() -> None:
    gate = DirectToolGate([add, shout, where])

    async def main() -> tuple[object, object, object]:
        return (
            await gate.call("add", {"a": 2, "b": 3}),
            await gate.call("shout", {"text": "hi"}),
            await gate.call("where", {}),
        )

    total, loud, thread_id = asyncio.run(main())
    assert (total, loud) == (5, "HI")
    assert thread_id != threading.get_ident()
    assert gate.tool_calls == 3
    assert gate.tool_errors == 0


def test_unknown_tool_is_named_with_the_known_ones() -> None:
    gate = DirectToolGate([add, shout])
    with pytest.raises(ToolCallError, match=r"unknown tool 'mul'.*known tools: add, shout") as info:
        asyncio.run(gate.call("mul", {}))
    assert info.value.tool == "mul"
    assert gate.tool_calls == 0


def test_argument_names_are_checked_against_the_spec() -> None:
    gate = DirectToolGate([add])
    with pytest.raises(ToolCallError, match=r"unknown arguments \['c'\].*accepted: a, b"):
        asyncio.run(gate.call("add", {"a": 1, "c": 2}))
    with pytest.raises(ToolCallError, match=r"missing required arguments \['a'\]"):
        asyncio.run(gate.call("add", {"b": 2}))
    assert asyncio.run(gate.call("add", {"a": 1})) == 1
    assert gate.tool_calls == 1


def test_tool_failure_becomes_tool_call_error_with_the_cause_chained() -> None:
    gate = DirectToolGate([explode])
    with pytest.raises(ToolCallError, match=r"tool 'explode' failed: ValueError: boom") as info:
        asyncio.run(gate.call("explode", {"reason": "boom"}))
    assert isinstance(info.value.__cause__, ValueError)
    assert (gate.tool_calls, gate.tool_errors) == (1, 1)


def test_duplicate_tool_names_are_refused() -> None:
    with pytest.raises(ValueError, match="two tools are named 'add'"):
        DirectToolGate([add, add])


def test_tool_denied_is_a_tool_call_error() -> None:
    assert issubclass(ToolDenied, ToolCallError)
    assert isinstance(DirectToolGate(), ToolGate)


def test_invocation_delegates_tool_calls_and_llm_turns_to_its_gate() -> None:
    context = AgentContext()
    messages = [{"role": "user", "content": "hi"}]
    invocation = Invocation.direct(
        messages, [add], event={"trigger_type": "manual"}, context=context
    )
    assert [spec.name for spec in invocation.tools] == ["add"]
    assert invocation.context is context

    async def main() -> object:
        invocation.record_llm_turn()
        return await invocation.call_tool("add", {"a": 40, "b": 2})

    assert asyncio.run(main()) == 42
    gate = invocation.gate
    assert isinstance(gate, DirectToolGate)
    assert (gate.tool_calls, gate.llm_turns) == (1, 1)


def test_a_custom_gate_can_veto_a_call() -> None:
    class VetoGate:
        def __init__(self) -> None:
            self.seen: list[str] = []

        async def call(self, name: str, arguments: object) -> object:
            self.seen.append(name)
            raise ToolDenied(f"budget exhausted for {name!r}", tool=name)

        def llm_turn(self) -> None:
            return None

    gate = VetoGate()
    invocation = Invocation(messages=[], gate=gate)
    with pytest.raises(ToolDenied, match="budget exhausted for 'add'"):
        asyncio.run(invocation.call_tool("add", {"a": 1}))
    assert gate.seen == ["add"]
