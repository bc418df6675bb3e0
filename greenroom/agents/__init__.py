"""Agents: the invocation contract, prompt framing, the OpenAI-compatible client, model lookup.

An agent is an async callable `agent(invocation) -> str`; tools run only through
`invocation.call_tool`, so governance sees every call whatever framework made it.
Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.agents.framing import (
        DEFAULT_MAX_PAYLOAD_CHARS,
        PAYLOAD_TAG,
        build_messages,
        context_blocks,
        frame_payload,
        render_payload,
        trigger_message,
    )
    from greenroom.agents.invocation import (
        Agent,
        DirectToolGate,
        Invocation,
        LLMTurnDenied,
        ToolCallError,
        ToolDenied,
        ToolGate,
        validate_tool_call,
    )
    from greenroom.agents.openai import (
        DEFAULT_OPENAI_BASE_URL,
        ModelConfigError,
        ModelError,
        OpenAIChatAgent,
        resolve_model,
    )

__all__ = [
    "DEFAULT_MAX_PAYLOAD_CHARS",
    "DEFAULT_OPENAI_BASE_URL",
    "PAYLOAD_TAG",
    "Agent",
    "DirectToolGate",
    "Invocation",
    "LLMTurnDenied",
    "ModelConfigError",
    "ModelError",
    "OpenAIChatAgent",
    "ToolCallError",
    "ToolDenied",
    "ToolGate",
    "build_messages",
    "context_blocks",
    "frame_payload",
    "render_payload",
    "resolve_model",
    "trigger_message",
    "validate_tool_call",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
