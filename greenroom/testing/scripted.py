"""`ScriptedAgent`: an agent that follows a script instead of a model, for tests.

Each step stands for one model turn. A tool step calls tools through `invocation.call_tool`, so the
gate (budget, health, journal) sees them exactly as it would see a real model's calls; a reply step
ends the invocation.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from greenroom.agents.invocation import Invocation, ToolCallError

__all__ = ["ScriptExhausted", "ScriptStep", "ScriptedAgent", "ToolOutcome", "ToolStep"]


class ScriptExhausted(RuntimeError):
    """The agent was asked for a step after its script ran out."""


@dataclass(frozen=True)
class ToolStep:
    """One scripted tool call."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolOutcome:
    """What one scripted tool call gave: its result, or the `ToolCallError` it raised."""

    name: str
    arguments: Mapping[str, Any]
    result: Any = None
    error: ToolCallError | None = None


ScriptStep: TypeAlias = (
    str | ToolStep | Sequence[ToolStep] | Callable[[Invocation], str | Awaitable[str]]
)
"""A reply, one or several tool calls, or a callable that computes the reply."""


_Reply: TypeAlias = Callable[[Invocation], str | Awaitable[str]]
_Step: TypeAlias = str | tuple[ToolStep, ...] | _Reply


def _normalise(step: object, index: int) -> _Step:
    """A step in internal form (tool steps become a tuple), or `TypeError` naming its index."""
    if isinstance(step, str):
        return step
    if isinstance(step, ToolStep):
        return (step,)
    if isinstance(step, Sequence) and step and all(isinstance(s, ToolStep) for s in step):
        return tuple(step)
    if callable(step):
        reply: _Reply = step
        return reply
    msg = (
        f"script[{index}]: expected a reply string, a ToolStep, a non-empty list of ToolSteps "
        f"or a callable, got {type(step).__name__}"
    )
    raise TypeError(msg)


class ScriptedAgent:
    """An agent that plays `script` step by step across invocations.

    An invocation takes steps until a reply: tool steps run their calls (a `ToolCallError` is
    recorded and the script goes on, as a model would see the error), then a string or a callable
    `(invocation) -> str | Awaitable[str]` gives the reply. Every step counts as one LLM turn.
    Past the end it raises `ScriptExhausted`, or starts again when `repeat` is set.
    """

    def __init__(self, script: Iterable[ScriptStep], *, repeat: bool = False) -> None:
        self._steps = [_normalise(step, index) for index, step in enumerate(script)]
        if repeat and all(isinstance(step, tuple) for step in self._steps):
            msg = "script: a repeating script needs at least one reply step"
            raise ValueError(msg)
        self._repeat = repeat
        self._position = 0
        self.invocations: list[Invocation] = []
        self.tool_outcomes: list[ToolOutcome] = []
        self.replies: list[str] = []

    @property
    def steps_taken(self) -> int:
        """How many steps have been played so far (repeats included)."""
        return self._position

    async def __call__(self, invocation: Invocation) -> str:
        """Play steps until one gives the reply for this invocation."""
        self.invocations.append(invocation)
        while True:
            step = self._next_step()
            invocation.record_llm_turn()
            if isinstance(step, tuple):
                for tool_step in step:
                    await self._call(invocation, tool_step)
                continue
            reply = step if isinstance(step, str) else await self._reply_from(step, invocation)
            self.replies.append(reply)
            return reply

    def _next_step(self) -> _Step:
        index = self._position
        if self._repeat and self._steps:
            index %= len(self._steps)
        if index >= len(self._steps):
            msg = f"script exhausted after {len(self._steps)} steps"
            raise ScriptExhausted(msg)
        self._position += 1
        return self._steps[index]

    async def _call(self, invocation: Invocation, step: ToolStep) -> None:
        arguments = dict(step.arguments)
        try:
            result = await invocation.call_tool(step.name, arguments)
        except ToolCallError as exc:
            self.tool_outcomes.append(ToolOutcome(step.name, arguments, error=exc))
        else:
            self.tool_outcomes.append(ToolOutcome(step.name, arguments, result=result))

    async def _reply_from(self, step: _Reply, invocation: Invocation) -> str:
        reply = step(invocation)
        if inspect.isawaitable(reply):
            reply = await reply
        if not isinstance(reply, str):
            msg = f"script step {self._position - 1} returned {type(reply).__name__}, not str"
            raise TypeError(msg)
        return reply
