"""pytest plugin (entry point `greenroom`): the `actor_system` and `manual_clock` fixtures.

`actor_system` is a fresh `ActorSystem` per test, shut down afterwards. It uses the test's
`manual_clock` when the test asks for that fixture too. The test fails if any actor did not stop
at shutdown, or if a plain pykka actor started during the test is still running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pykka
import pytest

from greenroom.actors.clock import ManualClock
from greenroom.actors.system import ActorSystem
from greenroom.testing.probe import time_factor

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def manual_clock() -> ManualClock:
    """A `ManualClock` for the test; advance it to fire timers."""
    return ManualClock()


@pytest.fixture
def actor_system(request: pytest.FixtureRequest) -> Iterator[ActorSystem]:
    """A fresh actor system, shut down after the test; leaked actors fail the test."""
    clock = request.getfixturevalue("manual_clock") if "manual_clock" in request.fixturenames \
        else None
    before = set(map(id, pykka.ActorRegistry.get_all()))
    system = ActorSystem(name=f"test-{request.node.name}", clock=clock)
    try:
        yield system
    finally:
        killed = system.shutdown(timeout=10.0 * time_factor())
    leaked = [ref for ref in pykka.ActorRegistry.get_all() if id(ref) not in before]
    for ref in leaked:
        ref.stop(block=True, timeout=5.0)
    problems = []
    if killed:
        problems.append(f"actors that did not stop at shutdown and were killed: {killed}")
    if leaked:
        problems.append(f"plain pykka actors left running: {leaked}")
    if problems:
        pytest.fail("; ".join(problems))
