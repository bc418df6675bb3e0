"""The autonomy budget policy: limits checked before each action, warnings, the daily reset on the
clock, live limits, responses to violations and checkpoints. Time is a `ManualClock`."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from greenroom.actors import ManualClock
from greenroom.governance.budget import (
    LIMIT_NAMES,
    BudgetDecision,
    BudgetEnforcer,
    BudgetState,
    BudgetUsage,
    BudgetViolation,
    BudgetWarning,
)
from greenroom.governance.config import (
    AutonomyBudget,
    BudgetConfig,
    EscalationTarget,
    ToolCostAnnotation,
)

HOUR = 3600.0
DAY = 86_400.0
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # ManualClock's default start


def at(clock: ManualClock, iso: str) -> None:
    """Advance `clock` (started at JAN_1) to the UTC instant `iso`, which must not be past.

    The step is computed on the clock's offset from its start, so whole and half seconds land
    exactly on the instant (a reset boundary is hit, not missed by a rounding error).
    """
    offset = datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() - JAN_1
    clock.advance(offset - clock.monotonic())


def budget(**fields: Any) -> BudgetConfig:
    return AutonomyBudget(**fields)


def enforcer(clock: ManualClock, **fields: Any) -> BudgetEnforcer:
    return BudgetEnforcer(budget(**fields), clock=clock)


def calls(enf: BudgetEnforcer, tool: str, count: int, run_id: str | None = None) -> None:
    """Make `count` allowed tool calls; fail if any is refused."""
    for index in range(count):
        decision = enf.authorize_tool_call(tool, run_id=run_id)
        assert decision.allowed, f"call {index + 1} refused: {decision.violation}"


def refusal(decision: BudgetDecision) -> BudgetViolation:
    """The violation of a refused decision; fails the test if the action was allowed."""
    assert decision.violation is not None, "expected a refusal"
    return decision.violation


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


# Tool calls ------------------------------------------------------------------------------------


def test_tool_calls_per_run_veto_the_call_after_the_limit(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=3)
    assert enf.start_run().allowed
    calls(enf, "search", 3)
    decision = enf.authorize_tool_call("search")
    assert not decision.allowed
    violation = decision.violation
    assert violation is not None
    assert violation.limit_name == "max_tool_calls_per_run"
    assert (violation.limit_value, violation.current_value) == (3, 4)
    assert violation.tool_name == "search"
    assert violation.period == "run"
    assert violation.retry_at is None
    assert violation.action == "pause"
    # Not counted: neither the run nor the day moved.
    assert enf.state.run_usage() == BudgetUsage(tool_calls=3, cost=3.0)
    assert enf.state.daily.tool_calls == 3


def test_a_new_run_starts_with_fresh_per_run_counters(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=2)
    enf.start_run()
    calls(enf, "a", 2)
    assert not enf.authorize_tool_call("a").allowed
    assert enf.end_run() == BudgetUsage(tool_calls=2, cost=2.0)
    enf.start_run()
    calls(enf, "a", 2)
    assert enf.state.daily.tool_calls == 4


def test_tool_costs_weights_and_unlisted_tools_cost_one(clock: ManualClock) -> None:
    enf = enforcer(
        clock,
        max_cost_per_run=10.0,
        tool_costs={"charge": ToolCostAnnotation(cost_weight=4.0, irreversible=True),
                    "search": 0.5},
    )
    enf.start_run()
    assert enf.state.tool_cost("other") == ToolCostAnnotation(cost_weight=1.0, irreversible=False)
    calls(enf, "charge", 2)  # 8
    calls(enf, "search", 2)  # 9
    refused = enf.authorize_tool_call("charge")  # would be 13
    assert refused.violation is not None
    assert refused.violation.limit_name == "max_cost_per_run"
    assert refused.violation.current_value == 13.0
    calls(enf, "other", 1)  # 10: the refused charge did not count
    assert not enf.authorize_tool_call("search").allowed
    assert enf.state.run_usage() == BudgetUsage(tool_calls=5, cost=10.0, irreversible=2)


def test_float_costs_fill_the_limit_exactly(clock: ManualClock) -> None:
    enf = enforcer(clock, max_cost_per_run=0.3, max_cost_per_day=0.7, tool_costs={"t": 0.1})
    enf.start_run()
    calls(enf, "t", 3)  # 0.1 + 0.1 + 0.1 is 0.30000000000000004 in floats
    assert refusal(enf.authorize_tool_call("t")).limit_name == "max_cost_per_run"
    enf.start_run()
    calls(enf, "t", 3)
    enf.start_run()
    calls(enf, "t", 1)  # 0.7 for the day
    assert refusal(enf.authorize_tool_call("t")).limit_name == "max_cost_per_day"
    assert enf.state.remaining()["cost_per_day"] == 0.0


def test_irreversible_calls_are_limited_separately(clock: ManualClock) -> None:
    enf = enforcer(
        clock,
        max_irreversible_per_run=1,
        tool_costs={"send_email": ToolCostAnnotation(irreversible=True)},
    )
    enf.start_run()
    calls(enf, "send_email", 1)
    refused = enf.authorize_tool_call("send_email")
    assert refused.violation is not None
    assert refused.violation.limit_name == "max_irreversible_per_run"
    calls(enf, "search", 5)  # reversible calls are not limited by it


def test_zero_limits_and_free_tools(clock: ManualClock) -> None:
    enf = enforcer(clock, max_cost_per_run=0.0, tool_costs={"free": 0.0})
    enf.start_run()
    calls(enf, "free", 3)  # adds nothing to cost, so a zero cost limit does not stop it
    assert not enf.authorize_tool_call("paid").allowed
    none = enforcer(clock, max_tool_calls_per_run=0)
    none.start_run()
    assert not none.authorize_tool_call("free").allowed


def test_first_limit_in_config_order_is_reported(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=1, max_cost_per_run=1.0,
                   max_tool_calls_per_day=1)
    enf.start_run()
    calls(enf, "a", 1)
    violation = enf.authorize_tool_call("a").violation
    assert violation is not None
    assert violation.limit_name == "max_tool_calls_per_run"
    enf.start_run()
    daily = enf.authorize_tool_call("a").violation
    assert daily is not None
    assert daily.limit_name == "max_tool_calls_per_day"


def test_daily_tool_calls_span_runs_and_say_when_to_retry(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_day=5, on_exceeded="escalate")
    at(clock, "2026-01-01T09:00:00")
    enf.start_run("r1")
    calls(enf, "a", 3, "r1")
    enf.end_run("r1")
    enf.start_run("r2")
    calls(enf, "a", 2, "r2")
    violation = enf.authorize_tool_call("a", run_id="r2").violation
    assert violation is not None
    assert violation.limit_name == "max_tool_calls_per_day"
    assert violation.period == "day"
    assert violation.action == "escalate"
    assert violation.retry_at == JAN_1 + DAY
    at(clock, "2026-01-02T00:00:00")
    decision = enf.authorize_tool_call("a", run_id="r2")
    assert decision.allowed
    assert decision.daily_reset


# LLM turns -------------------------------------------------------------------------------------


def test_llm_turns_are_stopped_before_the_turn(clock: ManualClock) -> None:
    enf = enforcer(clock, max_llm_turns_per_run=2, max_tool_calls_per_run=10)
    enf.start_run()
    assert enf.authorize_llm_turn().allowed
    assert enf.authorize_llm_turn().allowed
    refused = enf.authorize_llm_turn()
    assert refused.violation is not None
    assert refused.violation.limit_name == "max_llm_turns_per_run"
    assert refused.violation.tool_name is None
    assert refused.violation.current_value == 3
    assert "another LLM turn" in refused.violation.describe()
    assert enf.state.run_usage() == BudgetUsage(llm_turns=2)
    calls(enf, "a", 1)  # the turn limit does not veto tool calls
    enf.start_run()
    assert enf.authorize_llm_turn().allowed


# Runs per day and the daily reset --------------------------------------------------------------


def test_runs_per_day_refuses_the_run_until_the_reset_for_several_days(clock: ManualClock) -> None:
    enf = enforcer(clock, max_runs_per_day=2)
    at(clock, "2026-01-01T08:00:00")
    assert enf.start_run("day0").allowed
    for day in range(1, 4):
        assert enf.start_run(f"filler{day}").allowed  # the day is now full
        refused = enf.start_run("late")
        violation = refused.violation
        assert violation is not None
        assert violation.limit_name == "max_runs_per_day"
        assert (violation.limit_value, violation.current_value) == (2, 3)
        assert "starting this run" in violation.describe()
        assert violation.retry_at == JAN_1 + day * DAY
        assert enf.next_reset_at() == violation.retry_at
        assert enf.state.run_usage("late") is None  # a refused run is not opened ...
        assert enf.state.daily_runs == 2  # ... nor counted
        with pytest.raises(ValueError, match="run 'late' is not open"):
            enf.authorize_tool_call("x", run_id="late")
        clock.advance(violation.retry_at - JAN_1 - clock.monotonic() - 0.5)
        assert not enf.start_run("late").allowed  # half a second early
        clock.advance(0.5)
        retried = enf.start_run("late")  # the caller kept the event and retries at retry_at
        assert retried.allowed
        assert retried.daily_reset
        assert enf.state.daily_runs == 1
        for run_id in (f"filler{day}", "late", "day0"):
            enf.end_run(run_id)
        clock.advance(8 * HOUR)


def test_daily_reset_exactly_at_the_boundary(clock: ManualClock) -> None:
    state = BudgetState(budget(), clock=clock)
    state.record_run_start()
    state.record_tool_call("a")
    at(clock, "2026-01-01T23:59:59.500")
    assert not state.check_daily_reset()
    assert state.daily.tool_calls == 1
    clock.advance(0.5)
    assert state.check_daily_reset()
    assert state.daily == BudgetUsage()
    assert state.daily_runs == 0
    assert state.period_start == JAN_1 + DAY
    assert not state.check_daily_reset()


def test_idle_days_reset_once(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_day=10)
    enf.start_run()
    calls(enf, "a", 9)
    enf.end_run()
    clock.advance(3 * DAY + 5 * HOUR)  # nothing happens for three days
    assert enf.state.remaining()["tool_calls_per_day"] == 10  # a read sees the new day
    start = enf.start_run()
    assert start.daily_reset  # reported once, by the next decision
    assert enf.state.period_start == JAN_1 + 3 * DAY
    assert enf.next_reset_at() == JAN_1 + 4 * DAY
    assert not enf.authorize_tool_call("a").daily_reset


def test_reset_hour_is_honoured(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_day=2, daily_reset_hour_utc=6)
    at(clock, "2026-01-01T03:00:00")
    assert enf.state.period_start == JAN_1 - 18 * HOUR  # Dec 31 06:00
    enf.start_run()
    calls(enf, "a", 2)
    at(clock, "2026-01-01T05:59:59")
    assert not enf.authorize_tool_call("a").allowed
    at(clock, "2026-01-01T06:00:00")
    assert enf.authorize_tool_call("a").allowed
    assert enf.next_reset_at() == JAN_1 + DAY + 6 * HOUR


def test_a_run_in_flight_keeps_its_counters_across_the_reset(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=3, max_tool_calls_per_day=100)
    at(clock, "2026-01-01T23:59:00")
    enf.start_run()
    calls(enf, "a", 2)
    clock.advance(120)
    decision = enf.authorize_tool_call("a")
    assert decision.allowed
    assert decision.daily_reset
    assert enf.state.daily.tool_calls == 1
    assert not enf.authorize_tool_call("a").allowed  # the run's limit still counts all three


def test_changing_the_reset_hour_counts_no_day_twice(clock: ManualClock) -> None:
    state = BudgetState(budget(daily_reset_hour_utc=6), clock=clock)
    at(clock, "2026-01-01T07:00:00")
    state.check_daily_reset()
    assert state.period_start == JAN_1 + 6 * HOUR
    state.update_config(budget(daily_reset_hour_utc=0))
    assert state.next_reset_at() == JAN_1 + DAY  # a short day: 06:00 to midnight
    state.update_config(budget(daily_reset_hour_utc=9))
    assert state.next_reset_at() == JAN_1 + 9 * HOUR  # the same day's 09:00
    at(clock, "2026-01-01T09:00:00")
    assert state.check_daily_reset()


def test_a_clock_moving_backwards_never_resets(clock: ManualClock) -> None:
    state = BudgetState(budget(), clock=clock)
    at(clock, "2026-01-03T12:00:00")
    state.record_run_start()
    state.record_tool_call("a")

    class Behind:
        """A wall clock set back two days."""

        def time(self) -> float:
            return clock.time() - 2 * DAY

        def monotonic(self) -> float:
            return clock.monotonic()

    restored = BudgetState.from_dict(state.to_dict(), budget(), clock=Behind())  # type: ignore[arg-type]
    assert not restored.check_daily_reset()
    assert restored.daily.tool_calls == 1
    assert restored.next_reset_at() == JAN_1 + 3 * DAY


# Warnings --------------------------------------------------------------------------------------


def test_warning_once_per_run_for_per_run_limits(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=10)
    for _ in range(2):
        enf.start_run()
        warnings = [w for _ in range(10) for w in enf.authorize_tool_call("a").warnings]
        assert warnings == [BudgetWarning("max_tool_calls_per_run", 10, 8, 0.8)]
        assert warnings[0].period == "run"
        enf.end_run()


def test_warning_once_per_day_for_daily_limits(clock: ManualClock) -> None:
    enf = enforcer(clock, max_cost_per_day=10.0, warning_threshold=0.5)
    seen: list[BudgetWarning] = []
    for _ in range(3):
        enf.start_run()
        for _ in range(3):
            seen.extend(enf.authorize_tool_call("a").warnings)
        enf.end_run()
    assert [(w.limit_name, w.current_value, w.percentage) for w in seen] == [
        ("max_cost_per_day", 5.0, 0.5)
    ]
    at(clock, "2026-01-02T00:00:00")
    enf.start_run()
    again = [w for _ in range(5) for w in enf.authorize_tool_call("a").warnings]
    assert [w.limit_name for w in again] == ["max_cost_per_day"]


def test_every_limit_can_warn(clock: ManualClock) -> None:
    enf = enforcer(
        clock,
        max_tool_calls_per_run=1, max_llm_turns_per_run=1, max_cost_per_run=1.0,
        max_irreversible_per_run=1, max_tool_calls_per_day=1, max_runs_per_day=1,
        max_cost_per_day=1.0, warning_threshold=1.0,
        tool_costs={"x": ToolCostAnnotation(irreversible=True)},
    )
    names = [w.limit_name for w in enf.start_run().warnings]
    names += [w.limit_name for w in enf.authorize_llm_turn().warnings]
    names += [w.limit_name for w in enf.authorize_tool_call("x").warnings]
    assert sorted(names) == sorted(LIMIT_NAMES)


def test_thresholds_that_are_not_exact_in_floats_still_warn(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=10, warning_threshold=0.7)  # 0.7 * 10 > 7.0
    enf.start_run()
    warned_at = [n for n in range(1, 11) if enf.authorize_tool_call("a").warnings]
    assert warned_at == [7]


def test_a_refused_action_never_warns(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=1, warning_threshold=1.0)
    enf.start_run()
    assert enf.authorize_tool_call("a").warnings
    refused = enf.authorize_tool_call("a")
    assert refused.warnings == ()
    assert not refused.allowed


def test_changing_a_limit_rearms_its_warning(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_day=10, max_cost_per_day=100.0)
    enf.start_run()
    assert [w.limit_name for _ in range(8) for w in enf.authorize_tool_call("a").warnings] == [
        "max_tool_calls_per_day"
    ]
    enf.reconfigure(budget(max_tool_calls_per_day=20, max_cost_per_day=100.0))
    late = [w for _ in range(8) for w in enf.authorize_tool_call("a").warnings]
    assert [(w.limit_name, w.current_value) for w in late] == [("max_tool_calls_per_day", 16)]
    enf.reconfigure(budget(max_tool_calls_per_day=20, max_cost_per_day=100.0,
                           warning_threshold=0.1))
    assert [w.limit_name for w in enf.authorize_tool_call("a").warnings] == [
        "max_tool_calls_per_day", "max_cost_per_day"
    ]


# Live limits, disabled budgets -----------------------------------------------------------------


def test_reconfigure_keeps_counters_and_applies_new_limits(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=10, max_cost_per_day=50.0)
    enf.start_run()
    calls(enf, "a", 6)
    enf.reconfigure(budget(max_tool_calls_per_run=4, max_cost_per_day=50.0, on_exceeded="stop"))
    violation = enf.authorize_tool_call("a").violation
    assert violation is not None
    assert (violation.limit_value, violation.current_value, violation.action) == (4, 7, "stop")
    assert enf.state.remaining()["tool_calls_per_run"] == -2
    assert "tool calls this run: 0 of 4 left" in (enf.context_block() or "")
    enf.reconfigure(budget(max_tool_calls_per_run=20, max_cost_per_day=50.0))
    calls(enf, "a", 1)
    assert enf.state.run_usage() == BudgetUsage(tool_calls=7, cost=7.0)
    assert enf.config.max_tool_calls_per_run == 20


def test_a_lowered_limit_only_refuses_actions_that_add_to_its_counter(
    clock: ManualClock,
) -> None:
    enf = enforcer(clock, max_irreversible_per_run=3, max_cost_per_day=10.0,
                   tool_costs={"email": ToolCostAnnotation(irreversible=True), "free": 0.0})
    enf.start_run()
    calls(enf, "email", 3)
    enf.reconfigure(budget(max_irreversible_per_run=1, max_cost_per_day=2.0,
                           tool_costs={"email": ToolCostAnnotation(irreversible=True),
                                       "free": 0.0}))
    assert refusal(enf.authorize_tool_call("email")).limit_name == "max_irreversible_per_run"
    calls(enf, "free", 2)  # neither irreversible nor costly: still allowed
    assert refusal(enf.authorize_tool_call("search")).limit_name == "max_cost_per_day"
    assert enf.authorize_llm_turn().allowed


def test_a_disabled_budget_allows_everything_and_keeps_old_counters(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=1, max_runs_per_day=1)
    enf.start_run()
    calls(enf, "a", 1)
    enf.reconfigure(BudgetConfig(max_tool_calls_per_run=1, max_runs_per_day=1))  # enabled=False
    assert enf.start_run().allowed
    for _ in range(5):
        assert enf.authorize_tool_call("a") == BudgetDecision()
        assert enf.authorize_llm_turn() == BudgetDecision()
    assert enf.state.daily == BudgetUsage(tool_calls=1, cost=1.0)
    assert enf.state.daily_runs == 1
    assert set(enf.state.remaining().values()) == {None}
    assert enf.context_block() is None
    enf.reconfigure(budget(max_tool_calls_per_run=1, max_runs_per_day=1))
    assert not enf.start_run().allowed  # the run counted before disabling still counts


def test_the_overview_spelling_works_end_to_end(clock: ManualClock) -> None:
    enf = enforcer(
        clock,
        max_tool_calls_per_invocation=10,
        max_daily_cost=50.0,
        tool_costs={"search_database": 0.01, "send_email": 0.10, "process_payment": 5.00},
        on_budget_exceeded="escalate",
        warning_threshold=0.8,
    )
    enf.start_run("morning")
    calls(enf, "process_payment", 5, "morning")
    calls(enf, "search_database", 5, "morning")  # 25.05 units, 10 calls
    refused = refusal(enf.authorize_tool_call("send_email", run_id="morning"))
    assert refused.limit_name == "max_tool_calls_per_run"
    enf.end_run("morning")
    enf.start_run("evening")
    calls(enf, "process_payment", 4, "evening")
    calls(enf, "send_email", 1, "evening")  # 45.15 units
    late = refusal(enf.authorize_tool_call("process_payment", run_id="evening"))
    assert (late.limit_name, late.action) == ("max_cost_per_day", "escalate")
    assert late.current_value == pytest.approx(50.15)
    calls(enf, "search_database", 1, "evening")  # a cheap call still fits
    assert enf.state.daily.cost == pytest.approx(45.16)
    assert enf.handle_violation(late).escalate


def test_a_default_config_is_disabled(clock: ManualClock) -> None:
    enf = BudgetEnforcer(BudgetConfig(max_runs_per_day=0), clock=clock)
    assert enf.start_run().allowed
    assert enf.authorize_tool_call("a").allowed


# Concurrent runs -------------------------------------------------------------------------------


def test_concurrent_runs_have_their_own_per_run_counters(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=2, max_tool_calls_per_day=5)
    enf.start_run("r1")
    enf.start_run("r2")
    calls(enf, "a", 2, "r1")
    calls(enf, "a", 2, "r2")
    assert not enf.authorize_tool_call("a", run_id="r1").allowed
    enf.start_run()  # the unnamed run is one more run
    calls(enf, "a", 1)
    assert refusal(enf.authorize_tool_call("a")).limit_name == "max_tool_calls_per_day"
    assert enf.state.remaining("r1")["tool_calls_per_run"] == 0
    assert enf.state.remaining("not-open")["tool_calls_per_run"] == 2
    assert enf.end_run("r1") == BudgetUsage(tool_calls=2, cost=2.0)
    assert enf.end_run("r1") is None
    assert enf.state.run_usage("r2") == BudgetUsage(tool_calls=2, cost=2.0)


def test_run_ids_must_be_open_and_well_formed(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=2)
    with pytest.raises(ValueError, match=r"run_id: the unnamed run \(run_id=None\) is not open"):
        enf.authorize_tool_call("a")
    with pytest.raises(ValueError, match="run_id: run 'x' is not open"):
        enf.authorize_llm_turn(run_id="x")
    with pytest.raises(ValueError, match="run_id: expected a non-empty string"):
        enf.start_run("")
    with pytest.raises(ValueError, match="run_id: expected a non-empty string"):
        enf.start_run(7)  # type: ignore[arg-type]
    assert enf.state.daily_runs == 0


def test_reopening_a_run_zeroes_its_counters(clock: ManualClock) -> None:
    state = BudgetState(budget(max_tool_calls_per_run=1), clock=clock)
    assert state.record_run_start("r") is None
    assert state.record_tool_call("a", run_id="r") is None
    assert state.record_tool_call("a", run_id="r") is not None
    state.reset_run("r")
    assert state.record_tool_call("a", run_id="r") is None
    assert state.daily_runs == 1


# Context and responses -------------------------------------------------------------------------


def test_remaining_and_context_block(clock: ManualClock) -> None:
    enf = enforcer(
        clock,
        max_tool_calls_per_run=20, max_llm_turns_per_run=10, max_cost_per_run=25.0,
        max_irreversible_per_run=2, max_tool_calls_per_day=500, max_cost_per_day=100.0,
        tool_costs={"stripe_charge": ToolCostAnnotation(cost_weight=5.0, irreversible=True),
                    "search": 0.5},
    )
    at(clock, "2026-01-01T10:00:00")
    enf.start_run()
    enf.authorize_llm_turn()
    enf.authorize_tool_call("stripe_charge")
    enf.authorize_tool_call("search")
    assert enf.state.remaining() == {
        "tool_calls_per_run": 18,
        "llm_turns_per_run": 9,
        "cost_per_run": 19.5,
        "irreversible_per_run": 1,
        "tool_calls_per_day": 498,
        "runs_per_day": None,
        "cost_per_day": 94.5,
    }
    assert enf.context_block() == "\n".join([
        "tool calls this run: 18 of 20 left",
        "LLM turns this run: 9 of 10 left",
        "cost units this run: 19.5 of 25 left",
        "irreversible actions this run: 1 of 2 left",
        "tool calls today: 498 of 500 left",
        "cost units today: 94.5 of 100 left",
        "cost per call: search 0.5; stripe_charge 5, irreversible; any other tool 1",
        "daily limits reset at 2026-01-02T00:00:00Z",
    ])


def test_context_block_is_left_out_when_not_wanted(clock: ManualClock) -> None:
    assert enforcer(clock, max_tool_calls_per_run=3, inject_remaining=False).context_block() is None
    assert enforcer(clock).context_block() is None  # nothing limited
    per_run = enforcer(clock, max_llm_turns_per_run=3, tool_costs={"a": 2.0})
    assert per_run.context_block() == "LLM turns this run: 3 of 3 left"


@pytest.mark.parametrize(
    ("action", "suspend", "stop", "escalate"),
    [("pause", True, False, False), ("stop", False, True, False), ("escalate", True, False, True)],
)
def test_handle_violation_maps_on_exceeded(
    clock: ManualClock, action: str, suspend: bool, stop: bool, escalate: bool
) -> None:
    target = EscalationTarget(webhook_url="https://hooks.example.com/budget")
    enf = enforcer(clock, max_tool_calls_per_run=0, on_exceeded=action, escalation=target)
    enf.start_run()
    violation = enf.authorize_tool_call("a").violation
    assert violation is not None
    response = enf.handle_violation(violation)
    assert (response.action, response.suspend, response.stop, response.escalate) == (
        action, suspend, stop, escalate
    )
    assert response.escalation == (target if escalate else None)
    assert response.reason == "budget"
    assert response.violation is violation


def test_the_action_is_the_one_in_force_when_the_violation_happened(clock: ManualClock) -> None:
    enf = enforcer(clock, max_tool_calls_per_run=0, on_budget_exceeded="stop")
    enf.start_run()
    violation = enf.authorize_tool_call("a").violation
    assert violation is not None
    enf.reconfigure(budget(max_tool_calls_per_run=0, on_exceeded="pause"))
    assert enf.handle_violation(violation).stop


def test_describe_names_the_tool_limit_and_reset(clock: ManualClock) -> None:
    enf = enforcer(clock, max_cost_per_day=1.0, tool_costs={"pay": 2.5})
    enf.start_run()
    violation = enf.authorize_tool_call("pay").violation
    assert violation is not None
    assert violation.describe() == (
        "budget exceeded: calling tool 'pay' would bring cost units today to 2.5, over the "
        "limit max_cost_per_day=1; daily limits reset at 2026-01-02T00:00:00Z"
    )
    assert BudgetViolation.from_dict(json.loads(json.dumps(violation.to_dict()))) == violation


# Checkpoints -----------------------------------------------------------------------------------


def _busy_enforcer(clock: ManualClock) -> BudgetEnforcer:
    enf = enforcer(clock, max_tool_calls_per_run=5, max_tool_calls_per_day=10,
                   max_cost_per_day=40.0, tool_costs={"pay": ToolCostAnnotation(
                       cost_weight=2.25, irreversible=True)})
    at(clock, "2026-01-01T12:00:00")
    enf.start_run("r1")
    calls(enf, "pay", 4, "r1")  # warns for the run limit
    enf.authorize_llm_turn(run_id="r1")
    enf.start_run()
    calls(enf, "a", 4)  # 8 calls today: warns for the daily limit
    return enf


def test_enforcer_round_trips_through_json(clock: ManualClock) -> None:
    enf = _busy_enforcer(clock)
    data = json.loads(json.dumps(enf.to_dict()))
    copy = BudgetEnforcer.from_dict(data, enf.config, clock=clock)
    assert copy.to_dict() == enf.to_dict()
    assert copy.state.run_usage("r1") == BudgetUsage(
        tool_calls=4, llm_turns=1, cost=9.0, irreversible=4
    )
    # Warnings already sent are not sent again; limits still bite.
    assert copy.authorize_tool_call("pay", run_id="r1").warnings == ()
    assert copy.authorize_tool_call("a").warnings == ()
    assert not copy.authorize_tool_call("a", run_id="r1").allowed


def test_state_round_trips_and_resets_after_a_night_down(clock: ManualClock) -> None:
    state = _busy_enforcer(clock).state
    saved = json.loads(json.dumps(state.to_dict()))
    assert saved["daily"] == {"tool_calls": 8, "llm_turns": 1, "cost": 13.0, "irreversible": 4}
    assert saved["daily_runs"] == 2
    same_day = BudgetState.from_dict(saved, state.config, clock=clock)
    assert same_day.to_dict() == state.to_dict()
    at(clock, "2026-01-02T01:00:00")  # the process was down over midnight
    restored = BudgetEnforcer.from_dict(
        {"version": 1, "state": saved, "warned_day": ["max_tool_calls_per_day"],
         "warned_runs": {}},
        state.config, clock=clock,
    )
    assert restored.check_daily_reset()
    assert restored.state.daily == BudgetUsage()
    assert not restored.check_daily_reset()


def test_replay_counts_runs_finished_in_the_current_day(clock: ManualClock) -> None:
    state = BudgetState(budget(max_runs_per_day=3), clock=clock)
    at(clock, "2026-01-02T03:00:00")
    usage = BudgetUsage(tool_calls=2, cost=1.5)
    assert not state.replay_run(usage, finished_at=JAN_1 + 23 * HOUR)  # yesterday
    assert state.replay_run(usage, finished_at=JAN_1 + DAY + HOUR)
    assert (state.daily, state.daily_runs) == (usage, 1)
    disabled = BudgetState(BudgetConfig(), clock=clock)
    assert not disabled.replay_run(usage, finished_at=clock.time())


def test_violations_and_warnings_serialise(clock: ManualClock) -> None:
    violation = BudgetViolation("max_runs_per_day", 2, 3, None, "escalate", JAN_1 + DAY)
    data = json.loads(json.dumps(violation.to_dict()))
    assert data["period"] == "day"
    assert BudgetViolation.from_dict(data) == violation
    warning = BudgetWarning("max_cost_per_run", 10.0, 8.0, 0.8)
    assert warning.to_dict() == {"limit_name": "max_cost_per_run", "limit_value": 10.0,
                                 "current_value": 8.0, "percentage": 0.8, "period": "run"}


# Bad input -------------------------------------------------------------------------------------


def test_bad_arguments_name_what_is_wrong(clock: ManualClock) -> None:
    with pytest.raises(TypeError, match="config: expected a BudgetConfig, got dict"):
        BudgetEnforcer({"enabled": True}, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clock: expected a Clock with time"):
        BudgetState(budget(), clock=object())  # type: ignore[arg-type]
    state = BudgetState(budget(), clock=clock)
    with pytest.raises(ValueError, match="clock: give either clock or state"):
        BudgetEnforcer(budget(), clock=clock, state=state)
    with pytest.raises(TypeError, match="state: expected a BudgetState"):
        BudgetEnforcer(budget(), state=object())  # type: ignore[arg-type]
    enf = BudgetEnforcer(budget(max_tool_calls_per_run=1), state=state)
    enf.start_run()
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match="tool_name: expected a non-empty string"):
            enf.authorize_tool_call(bad)  # type: ignore[arg-type]
    assert enf.state.run_usage() == BudgetUsage()
    with pytest.raises(TypeError, match="violation: expected a BudgetViolation"):
        enf.handle_violation({"limit_name": "max_runs_per_day"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config: expected a BudgetConfig"):
        enf.reconfigure(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit_name: unknown limit 'max_fun'"):
        state.used("max_fun")
    with pytest.raises(TypeError, match="usage: expected a BudgetUsage"):
        state.replay_run({"tool_calls": 1}, finished_at=clock.time())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="finished_at: expected epoch seconds"):
        state.replay_run(BudgetUsage(), finished_at="now")  # type: ignore[arg-type]


def test_bad_values_are_refused_when_built(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="limit_name: expected one of max_tool_calls_per_run"):
        BudgetViolation("max_fun", 1, 2)
    with pytest.raises(ValueError, match="action: expected one of pause, stop, escalate"):
        BudgetViolation("max_runs_per_day", 1, 2, action="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit_name"):
        BudgetWarning("max_fun", 1, 1, 1.0)


def _state_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1, "period_start": JAN_1, "daily_runs": 0, "runs": {},
        "daily": {"tool_calls": 0, "llm_turns": 0, "cost": 0.0, "irreversible": 0},
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "budget: expected a mapping, got list"),
        (_state_dict(version=2), "budget.version: expected 1, got 2"),
        (_state_dict(period_start="x"), "budget.period_start: expected a finite number"),
        (_state_dict(period_start=float("nan")), "budget.period_start: expected a finite"),
        (_state_dict(daily_runs=-1), "budget.daily_runs: expected an integer >= 0, got -1"),
        (_state_dict(daily_runs=True), "budget.daily_runs: expected an integer >= 0, got True"),
        (_state_dict(daily=None), "budget.daily: expected a mapping, got NoneType"),
        (_state_dict(daily={"tool_calls": 0, "llm_turns": 0, "cost": -1, "irreversible": 0}),
         "budget.daily.cost: expected a finite number >= 0, got -1"),
        (_state_dict(runs=[]), "budget.runs: expected a mapping, got list"),
        (_state_dict(runs={1: {}}), "budget.runs: run ids must be strings, got 1"),
        (_state_dict(runs={"r": {"tool_calls": 1.5}}),
         r"budget.runs\['r'\].tool_calls: expected an integer >= 0, got 1.5"),
    ],
)
def test_bad_state_data_names_the_field(
    clock: ManualClock, data: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BudgetState.from_dict(data, budget(), clock=clock)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": None}, "budget_enforcer.version: expected 1, got None"),
        ({"state": "x"}, "budget_enforcer.state: expected a mapping, got str"),
        ({"warned_day": "max_runs_per_day"}, "budget_enforcer.warned_day: expected a list"),
        ({"warned_day": ["max_fun"]}, "budget_enforcer.warned_day: expected one of"),
        ({"warned_runs": {"r": ["max_fun"]}}, r"budget_enforcer.warned_runs\['r'\]: expected"),
        ({"warned_runs": None}, "budget_enforcer.warned_runs: expected a mapping"),
        ({"warned_runs": {2: []}}, "budget_enforcer.warned_runs: run ids must be strings"),
    ],
)
def test_bad_enforcer_data_names_the_field(
    clock: ManualClock, changes: dict[str, Any], message: str
) -> None:
    data = {"version": 1, "state": _state_dict(), "warned_day": [], "warned_runs": {}, **changes}
    with pytest.raises(ValueError, match=message):
        BudgetEnforcer.from_dict(data, budget(), clock=clock)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"limit_name": "max_fun"}, "violation.limit_name: expected one of"),
        ({"action": "explode"}, "violation.action: expected one of pause, stop, escalate"),
        ({"tool_name": ""}, "violation.tool_name: expected a non-empty string or None"),
        ({"retry_at": "soon"}, "violation.retry_at: expected epoch seconds or None"),
        ({"limit_value": -1}, "violation.limit_value: expected a finite number >= 0"),
    ],
)
def test_bad_violation_data_names_the_field(changes: dict[str, Any], message: str) -> None:
    data = {**BudgetViolation("max_runs_per_day", 1, 2).to_dict(), **changes}
    with pytest.raises(ValueError, match=message):
        BudgetViolation.from_dict(data)


# Invariant -------------------------------------------------------------------------------------


def _check_decision(
    enf: BudgetEnforcer, decision: BudgetDecision, run_id: str,
    warned: set[tuple[str, float, str | None]],
) -> None:
    """A refusal is of an action that would pass a limit; each warning comes once per period."""
    if decision.violation is not None:
        assert decision.violation.current_value > decision.violation.limit_value
    for warning in decision.warnings:
        key: tuple[str, float, str | None]
        if warning.period == "day":
            key = (warning.limit_name, enf.state.period_start, None)
        else:
            key = (warning.limit_name, 0.0, run_id)
        assert key not in warned, f"warned twice: {warning}"
        warned.add(key)


def _check_limits(enf: BudgetEnforcer, limits: dict[str, Any], open_runs: list[str]) -> None:
    """No counter of an open run, or of the day, is past its limit."""
    for name, maximum in limits.items():
        if maximum is None:
            continue
        for run in open_runs:
            assert enf.state.used(name, run) <= maximum + 1e-9, (name, run)


@pytest.mark.parametrize("seed", range(20))
def test_random_traffic_never_exceeds_a_limit(clock: ManualClock, seed: int) -> None:
    """Whatever the sequence of runs, turns, calls and days, no counter passes its limit, every
    refusal is of an action that would have, and no warning repeats within its period."""
    rng = random.Random(seed)
    limits: dict[str, Any] = {
        name: (rng.choice([None, 0, 1, 2, 5, 9]) if "cost" not in name
               else rng.choice([None, 0.0, 1.5, 4.0, 7.25]))
        for name in LIMIT_NAMES
    }
    enf = enforcer(
        clock, **limits, warning_threshold=rng.choice([0.5, 0.8, 1.0]),
        daily_reset_hour_utc=rng.randrange(24),
        tool_costs={"cheap": 0.25, "dear": ToolCostAnnotation(cost_weight=2.5, irreversible=True),
                    "free": 0.0},
    )
    warned: set[tuple[str, float, str | None]] = set()
    open_runs: list[str] = []
    for step in range(400):
        roll = rng.random()
        if roll < 0.1 or not open_runs:
            run_id = f"r{step}"
            decision = enf.start_run(run_id)
            if decision.allowed:
                open_runs.append(run_id)
            else:
                clock.advance(rng.choice([HOUR, 5 * HOUR]))
        elif roll < 0.15:
            run_id = rng.choice(open_runs)
            enf.end_run(run_id)
            open_runs.remove(run_id)
            continue
        else:
            run_id = rng.choice(open_runs)
            if roll < 0.2:
                clock.advance(rng.choice([60.0, HOUR, 7 * HOUR]))
            if roll < 0.35:
                decision = enf.authorize_llm_turn(run_id=run_id)
            else:
                tool = rng.choice(["cheap", "dear", "free", "other"])
                decision = enf.authorize_tool_call(tool, run_id=run_id)
        _check_decision(enf, decision, run_id, warned)
        _check_limits(enf, limits, open_runs)
