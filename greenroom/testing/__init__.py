"""Test kit: `TestProbe`, `ManualClock`, `ScriptedAgent`, and the pytest plugin's fixtures."""

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
