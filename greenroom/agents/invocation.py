"""What an agent receives when it runs, and the gate every tool call goes through.

An agent is any async callable `agent(invocation) -> str`. It never calls a tool directly: it asks
`invocation.call_tool`, which hands the call to a `ToolGate`. The process actor's gate lets the
budget veto, the health monitor observe and the journal record every call, whatever framework
produced it; `DirectToolGate` is the plain version for tests and standalone use.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from greenroom.agents.tools import ToolSpec, tool_spec

if TYPE_CHECKING:
    from greenroom.runtime.context import AgentContext  # agents never import the runtime

__all__ = [
    "Agent",
    "DirectToolGate",
    "Invocation",
    "LLMTurnDenied",
    "ToolCallError",
    "ToolDenied",
    "ToolGate",
    "ToolTable",
    "validate_tool_call",
]


class ToolCallError(RuntimeError):
    """A tool call that did not produce a result: unknown tool, bad arguments, or the tool raised.

    Agents usually show the message to the model as the tool's result and carry on.
    """

    def __init__(self, message: str, *, tool: str | None = None) -> None:
        super().__init__(message)
        self.tool = tool


class ToolDenied(ToolCallError):
    """A tool call vetoed by governance (for example the budget) before the tool ran."""


class LLMTurnDenied(ToolDenied):
    """A model request refused by governance (`max_llm_turns_per_run`) before it was made.

    Raised by `ToolGate.llm_turn()`, so by `Invocation.record_llm_turn()`: the agent's loop
    ends there instead of asking the model again. It is a `ToolDenied` so that code handling
    governance refusals sees both; agents that only catch errors around `call_tool` let it
    propagate, which is the point (the run ends without another model turn).
    """


@runtime_checkable
class ToolGate(Protocol):
    """Runs tool calls on an agent's behalf and observes its LLM turns."""

    async def call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Run tool `name` with keyword `arguments`; raise `ToolCallError` if it cannot."""
        ...

    def llm_turn(self) -> None:
        """Note that the agent is about to make one model request."""
        ...


def validate_tool_call(specs: Mapping[str, ToolSpec], name: str, arguments: object) -> ToolSpec:
    """The spec of tool `name` if `arguments` fit it; else `ToolCallError` saying what is wrong.

    `specs` maps tool names to their specs. The check needs no tool and runs nothing, so a gate
    can refuse an unknown tool or bad arguments before it charges a budget or journals an
    intent; `DirectToolGate.call` applies the same check before it runs a tool.
    """
    spec = specs.get(name)
    if spec is None:
        known = ", ".join(specs) or "none"
        msg = f"unknown tool {name!r} (known tools: {known})"
        raise ToolCallError(msg, tool=name)
    if not isinstance(arguments, Mapping) or not all(isinstance(k, str) for k in arguments):
        msg = f"tool {name!r}: arguments must be a mapping of names to values"
        raise ToolCallError(msg, tool=name)
    _check_arguments(spec, arguments)
    return spec


def _check_arguments(spec: ToolSpec, arguments: Mapping[str, Any]) -> None:
    """Raise `ToolCallError` unless the argument names fit the tool's JSON schema."""
    properties = spec.parameters.get("properties")
    required = spec.parameters.get("required")
    known = set(properties) if isinstance(properties, dict) else set()
    needed = {str(name) for name in required} if isinstance(required, list) else set()
    unknown = sorted(set(arguments) - known)
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        msg = f"tool {spec.name!r}: unknown arguments {unknown} (accepted: {accepted})"
        raise ToolCallError(msg, tool=spec.name)
    missing = sorted(needed - set(arguments))
    if missing:
        msg = f"tool {spec.name!r}: missing required arguments {missing}"
        raise ToolCallError(msg, tool=spec.name)


class ToolTable:
    """Python callables as tools, each described once (`tool_spec`), so that the gates of many
    runs share one table instead of rebuilding every JSON schema per run."""

    __slots__ = ("specs", "tools")

    def __init__(self, tools: Iterable[Callable[..., Any]] = ()) -> None:
        self.tools: dict[str, Callable[..., Any]] = {}
        self.specs: dict[str, ToolSpec] = {}
        for tool in tools:
            spec = tool_spec(tool)
            if spec.name in self.specs:
                msg = f"tools: two tools are named {spec.name!r}"
                raise ValueError(msg)
            self.tools[spec.name] = tool
            self.specs[spec.name] = spec


class DirectToolGate:
    """A gate that runs Python callables itself, with no governance.

    Sync tools run in a worker thread (`asyncio.to_thread`) so they never block the event loop;
    async tools are awaited. It counts tool calls that reached a tool, failed ones and LLM turns.
    """

    def __init__(self, tools: Iterable[Callable[..., Any]] | ToolTable = ()) -> None:
        table = tools if isinstance(tools, ToolTable) else ToolTable(tools)
        self._tools = table.tools
        self._specs = table.specs
        self.tool_calls = 0
        self.tool_errors = 0
        self.llm_turns = 0

    @property
    def specs(self) -> list[ToolSpec]:
        """The spec of every tool, in the order given."""
        return list(self._specs.values())

    async def call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Validate the call against the tool's spec, run the tool and return its result."""
        validate_tool_call(self._specs, name, arguments)
        self.tool_calls += 1
        try:
            return await self._run(self._tools[name], dict(arguments))
        except ToolCallError:
            self.tool_errors += 1
            raise
        except Exception as exc:
            self.tool_errors += 1
            msg = f"tool {name!r} failed: {type(exc).__name__}: {exc}"
            raise ToolCallError(msg, tool=name) from exc

    def llm_turn(self) -> None:
        """Count one model request."""
        self.llm_turns += 1

    @staticmethod
    async def _run(tool: Callable[..., Any], arguments: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(tool):
            return await tool(**arguments)
        result = await asyncio.to_thread(tool, **arguments)
        if inspect.isawaitable(result):
            return await result
        return result


SecretReader: TypeAlias = Callable[[str], Awaitable[str | None]]
"""How an invocation reads a secret: an audited ask of the process's secret scope."""


@dataclass
class Invocation:
    """One run of an agent: the prompt messages, the trigger event, the context and the tools.

    `messages` are role/content dicts (context blocks, conversation, trigger message). `event` is
    the `TriggerEvent` (or a dict with the same keys). Tools only run through `call_tool`.
    """

    messages: list[dict[str, Any]]
    gate: ToolGate
    event: Any = None
    context: AgentContext | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    secrets: SecretReader | None = None

    @classmethod
    def direct(
        cls,
        messages: list[dict[str, Any]],
        tools: Iterable[Callable[..., Any]] = (),
        *,
        event: Any = None,
        context: AgentContext | None = None,
    ) -> Invocation:
        """An invocation whose tools run through a fresh `DirectToolGate` and are all offered."""
        gate = DirectToolGate(tools)
        return cls(messages=messages, gate=gate, event=event, context=context, tools=gate.specs)

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """Run a tool through the gate; raises `ToolCallError` (or `ToolDenied`) if it cannot."""
        return await self.gate.call(name, {} if arguments is None else arguments)

    def record_llm_turn(self) -> None:
        """Tell the gate the agent is about to make one model request."""
        self.gate.llm_turn()

    async def get_secret(self, name: str) -> str | None:
        """The value of the process's secret `name`, or None once it expired or was revoked.

        Each read is audited: the secret scope journals it as a `secret_access` by name, never
        the value. Raises `LookupError` when the process has no secret scope and
        `UnknownSecretError` (a `KeyError`) for a name it does not declare.
        """
        if self.secrets is None:
            msg = "this process has no secret scope (ProcessConfig.secrets.enabled is false)"
            raise LookupError(msg)
        return await self.secrets(name)


Agent: TypeAlias = Callable[[Invocation], Awaitable[str]]
"""The agent contract: an async callable that takes an `Invocation` and returns the final reply."""
