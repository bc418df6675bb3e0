"""ScriptedAgent: replies and tool calls from a script, seen by the gate like a real model's."""

from __future__ import annotations

import asyncio

import pytest

from greenroom.agents import DirectToolGate, Invocation
from greenroom.testing.scripted import ScriptedAgent, ScriptExhausted, ToolStep


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def broken() -> None:
    """Always fails."""
    raise OSError("no network")


def invocation(text: str = "hi") -> Invocation:
    return Invocation.direct([{"role": "user", "content": text}], [add, broken])


def gate_of(inv: Invocation) -> DirectToolGate:
    assert isinstance(inv.gate, DirectToolGate)
    return inv.gate


def test_replies_are_played_in_order_and_invocations_recorded() -> None:
    agent = ScriptedAgent(["one", "two"])
    first, second = invocation("a"), invocation("b")

    async def main() -> list[str]:
        return [await agent(first), await agent(second)]

    assert asyncio.run(main()) == ["one", "two"]
    assert agent.invocations == [first, second]
    assert agent.replies == ["one", "two"]
    assert gate_of(first).llm_turns == 1


def test_tool_steps_go_through_the_gate_before_the_reply() -> None:
    agent = ScriptedAgent(
        [
            ToolStep("add", {"a": 1, "b": 2}),
            [ToolStep("add", {"a": 3, "b": 4}), ToolStep("broken")],
            "done",
        ]
    )
    inv = invocation()
    assert asyncio.run(agent(inv)) == "done"
    results = [(o.name, o.result, o.error is not None) for o in agent.tool_outcomes]
    assert results == [("add", 3, False), ("add", 7, False), ("broken", None, True)]
    assert "OSError: no network" in str(agent.tool_outcomes[2].error)
    gate = gate_of(inv)
    assert (gate.tool_calls, gate.tool_errors, gate.llm_turns) == (3, 1, 3)


def test_callable_steps_compute_the_reply() -> None:
    async def later(inv: Invocation) -> str:
        return f"async saw {len(inv.messages)}"

    agent = ScriptedAgent([lambda inv: inv.messages[-1]["content"].upper(), later])

    async def main() -> list[str]:
        return [await agent(invocation("shout")), await agent(invocation())]

    assert asyncio.run(main()) == ["SHOUT", "async saw 1"]


def test_running_out_raises_and_repeat_starts_again() -> None:
    once = ScriptedAgent(["only"])
    asyncio.run(once(invocation()))
    with pytest.raises(ScriptExhausted, match="after 1 steps"):
        asyncio.run(once(invocation()))
    looping = ScriptedAgent([ToolStep("add", {"a": 1, "b": 1}), "x"], repeat=True)

    async def main() -> list[str]:
        return [await looping(invocation()) for _ in range(3)]

    assert asyncio.run(main()) == ["x", "x", "x"]
    assert looping.steps_taken == 6
    assert len(looping.tool_outcomes) == 3


def test_bad_scripts_are_refused() -> None:
    with pytest.raises(TypeError, match=r"script\[1\]"):
        ScriptedAgent(["ok", 42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"script\[0\]"):
        ScriptedAgent([[]])
    with pytest.raises(ValueError, match="at least one reply"):
        ScriptedAgent([ToolStep("add", {"a": 1, "b": 1})], repeat=True)
    with pytest.raises(ValueError, match="at least one reply"):
        ScriptedAgent([], repeat=True)


def test_a_callable_must_return_text() -> None:
    def number(inv: Invocation) -> object:
        return 3

    agent = ScriptedAgent([number])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="returned int, not str"):
        asyncio.run(agent(invocation()))
