"""Agents for the CLI tests, registered as `python:cli-echo` and `python:cli-stuck`.

`greenroom run --import cli_agents` imports this module (the tests put tests/cli on
PYTHONPATH), so manifests can name the agents; the in-process client tests import it too.
"""

from __future__ import annotations

import asyncio
import json

from greenroom.agents import Invocation
from greenroom.agents.registry import register_agent

__all__ = ["ECHO", "STUCK"]

ECHO = "cli-echo"
STUCK = "cli-stuck"


async def echo(invocation: Invocation) -> str:
    """Answers a pending question with "pong"; otherwise says which payload it handled."""
    if any("Q1" in str(message.get("content", "")) for message in invocation.messages):
        return "ANSWER Q1: pong"
    payload = getattr(invocation.event, "payload", None)
    return f"handled {json.dumps(payload, sort_keys=True)}"


async def stuck(invocation: Invocation) -> str:
    """Never finishes on its own: a run in flight until it is cancelled (the stop tests)."""
    del invocation
    never_set = asyncio.Event()
    await never_set.wait()
    return "released"


register_agent(ECHO, echo, overwrite=True)
register_agent(STUCK, stuck, overwrite=True)
