"""Strategy x restart type x exit kind: exactly which children stop and start again.

Three children a, b, c start in order; b exits (normal stop or failure). b's restart type and
its siblings' restart type vary independently. The expected outcome is written out here from
OTP's rules (not computed with `greenroom.supervision.policy`):

- b is restarted if permanent, or transient and it failed; otherwise nothing else happens
  (b is forgotten if temporary, parked as "stopped" otherwise).
- When b is restarted, the strategy picks the siblings that go with it (one_for_one: none,
  one_for_all: all, rest_for_one: those started after b). They are stopped in reverse start
  order, then restarted in start order, except temporary siblings, which are stopped and
  forgotten: a temporary child is never restarted, "even when a sibling's restart takes it down".
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sup_support import CRASH, STOP, child, drain, echo, new_probe, which, worker

from greenroom.actors.system import ActorSystem
from greenroom.supervision import (
    ChildFailed,
    ChildRestarted,
    ChildStarted,
    ChildStopped,
    Supervisor,
)
from greenroom.supervision.spec import Restart, RestartStrategy
from greenroom.testing.probe import TestProbe

STRATEGIES: list[RestartStrategy] = ["one_for_one", "one_for_all", "rest_for_one"]
RESTARTS: list[Restart] = ["permanent", "transient", "temporary"]
ORDER = ["a", "b", "c"]

SIBLINGS_GOING_ALONG = {"one_for_one": [], "one_for_all": ["a", "c"], "rest_for_one": ["c"]}


def expected_outcome(
    strategy: RestartStrategy, b_restart: Restart, sibling_restart: Restart, failed: bool
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]:
    """(lifecycle log after b exits, (id, status) of each child, ids restarted)."""
    log: list[tuple[str, str]] = [] if failed else [("stop", "b")]  # no on_stop on failure
    b_restarts = b_restart == "permanent" or (b_restart == "transient" and failed)
    if not b_restarts:
        children = [("a", "running"), ("c", "running")]
        if b_restart != "temporary":
            children.insert(1, ("b", "stopped"))
        return log, children, []
    siblings = SIBLINGS_GOING_ALONG[strategy]
    log += [("stop", s) for s in reversed(siblings)]
    restarted = [i for i in ORDER if i == "b" or (i in siblings and sibling_restart != "temporary")]
    log += [("start", i) for i in restarted]
    children = [(i, "running") for i in ORDER
                if not (i in siblings and sibling_restart == "temporary")]
    return log, children, restarted


@pytest.mark.parametrize("exit_kind", ["normal", "failure"])
@pytest.mark.parametrize("sibling_restart", RESTARTS)
@pytest.mark.parametrize("b_restart", RESTARTS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_restart_matrix(
    actor_system: ActorSystem,
    dispatcher: str,
    strategy: RestartStrategy,
    b_restart: Restart,
    sibling_restart: Restart,
    exit_kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL)
    failed = exit_kind == "failure"
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildStarted, ChildStopped, ChildFailed, ChildRestarted)
    specs = [
        worker(log, i, dispatcher=dispatcher,
               restart=b_restart if i == "b" else sibling_restart)
        for i in ORDER
    ]
    sup = actor_system.spawn(
        Supervisor, strategy=strategy, children=specs, max_restarts=10, name="sup",
        dispatcher=dispatcher,
    )
    assert log.receive_messages(3) == [("start", i) for i in ORDER]
    assert [e.child_id for e in drain(events)] == ORDER  # ChildStarted, in order

    b = child(sup, "b")
    b.tell(CRASH if failed else STOP)
    # The supervisor publishes ChildFailed/ChildStopped for b first, then acts on it within the
    # same turn; the ask in `which` is handled after that turn.
    exit_event: Any = events.receive_message()
    assert isinstance(exit_event, ChildFailed if failed else ChildStopped)
    assert exit_event.child_id == "b"
    expected_log, expected_children, expected_restarts = expected_outcome(
        strategy, b_restart, sibling_restart, failed
    )
    assert which(sup) == expected_children
    assert drain(log) == expected_log
    later = drain(events)
    assert [e.child_id for e in later if isinstance(e, ChildRestarted)] == expected_restarts
    assert [e.child_id for e in later if isinstance(e, ChildStarted)] == expected_restarts
    assert all(e.attempt == 1 and e.delay == 0.0 for e in later if isinstance(e, ChildRestarted))
    if expected_restarts:  # the restarted b answers through its stable handle
        assert echo(b, 1).child_id == "b"
