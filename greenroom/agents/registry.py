"""Python agents by name, so text configs (`.agent` manifests, API deploys) can name them.

A manifest holds data, never code: its `model` is a string. `register_agent("triage", fn)` makes
the model string `"python:triage"` resolve to `fn` (`greenroom.agents.resolve_model`), so a
program registers its agents and then loads manifests that use them. The callable is any agent:
`async def agent(invocation) -> str`, or a sync function (run in a worker thread). The registry
is process-wide, like the trigger-type registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["lookup_agent", "register_agent", "registered_agents", "unregister_agent"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
_AGENTS: dict[str, Callable[..., Any]] = {}


def register_agent(name: str, agent: Callable[..., Any], *, overwrite: bool = False) -> None:
    """Make `"python:<name>"` resolve to `agent`. Raises `ValueError` for a malformed name or a
    name already taken (unless `overwrite`), `TypeError` for something that is not callable.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        msg = (f"name: expected a letter then up to 127 letters, digits, '_', '.' or '-', "
               f"got {name!r}")
        raise ValueError(msg)
    if not callable(agent):
        msg = f"agent: expected a callable, got {type(agent).__name__}"
        raise TypeError(msg)
    if name in _AGENTS and not overwrite:
        msg = f"an agent named {name!r} is already registered (pass overwrite=True)"
        raise ValueError(msg)
    _AGENTS[name] = agent


def unregister_agent(name: str) -> bool:
    """Forget the agent registered as `name`; True if there was one."""
    return _AGENTS.pop(name, None) is not None


def registered_agents() -> list[str]:
    """The registered agent names, sorted."""
    return sorted(_AGENTS)


def lookup_agent(name: str) -> Callable[..., Any] | None:
    """The agent registered as `name`, or None."""
    return _AGENTS.get(name)
