"""Test kit: `TestProbe`, `ManualClock`, `ScriptedAgent`, and the pytest plugin's fixtures.

Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.actors.clock import ManualClock
    from greenroom.testing.probe import TestProbe, time_factor
    from greenroom.testing.scripted import ScriptedAgent, ScriptExhausted, ToolStep

__all__ = [
    "ManualClock",
    "ScriptExhausted",
    "ScriptedAgent",
    "TestProbe",
    "ToolStep",
    "time_factor",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
