"""Test kit: `TestProbe`, `ManualClock`, and the pytest plugin's fixtures."""

from greenroom.actors.clock import ManualClock
from greenroom.testing.probe import TestProbe, time_factor

__all__ = ["ManualClock", "TestProbe", "time_factor"]
