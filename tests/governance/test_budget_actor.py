"""BudgetActor: decisions answered, notices told to the owner, escalation on the io loop, the daily
reset on a timer, snapshots and live limits. Time is a `ManualClock`; the owner is a TestProbe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pykka
import pytest
from governance_actor_support import Webhook, notice, notices

from greenroom.actors import ActorRef, ActorSystem, ManualClock
from greenroom.governance import (
    AuthorizeTool,
    AutonomyBudget,
    BudgetActor,
    BudgetConfig,
    BudgetUsage,
    ContextBlock,
    EndRun,
    EscalationTarget,
    GovernanceNotice,
    GovernanceStatus,
    HealthConfig,
    LlmTurn,
    Reconfigure,
    Snapshot,
    StartRun,
)
from greenroom.testing import TestProbe

DAY = 86_400.0


def spawn(
    system: ActorSystem, probe: TestProbe | None, config: BudgetConfig | None = None,
    **options: Any,
) -> ActorRef[Any]:
    config = config if config is not None else AutonomyBudget(max_tool_calls_per_run=2)
    owner = None if probe is None else probe.ref
    return system.spawn(BudgetActor, config, "payments", owner=owner, **options)


def test_an_allowed_call_is_counted_and_tells_nothing(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe)
    assert budget.ask(StartRun("r1")).allowed
    decision = budget.ask(AuthorizeTool("r1", "search"))
    assert decision.allowed
    assert decision.warnings == ()
    status = budget.ask(GovernanceStatus())
    assert status["daily"]["tool_calls"] == 1
    assert status["runs"] == {"r1": BudgetUsage(tool_calls=1, cost=1.0).to_dict()}
    probe.expect_no_message(0.05)


def test_a_veto_is_not_counted_and_tells_tool_denied_then_the_violation(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, AutonomyBudget(max_tool_calls_per_run=1,
                                                       warning_threshold=1.0))
    budget.ask(StartRun("r1"))
    assert budget.ask(AuthorizeTool("r1", "search")).allowed
    probe.fish_for_message(lambda m: m.kind == "budget_warning")  # 1 of 1 reached the threshold
    decision = budget.ask(AuthorizeTool("r1", "search"))
    assert not decision.allowed
    denied, violation = notices(probe, 2)
    assert denied == GovernanceNotice("budget", "tool_denied", {
        "run_id": "r1", "tool": "search", "message": decision.violation.describe(),
        "violation": decision.violation.to_dict(),
    })
    assert violation.kind == "budget_violation"
    assert violation.action == "pause"
    assert violation.data["limit_name"] == "max_tool_calls_per_run"
    assert violation.data["message"] == decision.violation.describe()
    assert budget.ask(GovernanceStatus())["daily"]["tool_calls"] == 1


def test_warnings_come_once_per_limit_per_period(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, AutonomyBudget(max_tool_calls_per_day=5))
    budget.ask(StartRun("r1"))
    for _ in range(3):
        budget.ask(AuthorizeTool("r1", "search"))
    probe.expect_no_message(0.05)
    decision = budget.ask(AuthorizeTool("r1", "search"))
    assert [w.limit_name for w in decision.warnings] == ["max_tool_calls_per_day"]
    warning = notice(probe, "budget_warning")
    assert warning.action is None
    assert warning.data == {"run_id": "r1", **decision.warnings[0].to_dict()}
    budget.ask(AuthorizeTool("r1", "search"))
    probe.expect_no_message(0.05)


def test_an_llm_turn_past_the_limit_is_refused_with_the_configured_action(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, AutonomyBudget(max_llm_turns_per_run=1,
                                                       on_exceeded="stop"))
    budget.ask(StartRun())
    assert budget.ask(LlmTurn()).allowed
    notice(probe, "budget_warning")
    assert not budget.ask(LlmTurn()).allowed
    violation = notice(probe, "budget_violation")
    assert violation.action == "stop"
    assert violation.data["limit_name"] == "max_llm_turns_per_run"
    assert violation.data["run_id"] is None


def test_a_refused_run_says_when_to_retry_and_the_reset_timer_announces_the_new_day(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, AutonomyBudget(max_runs_per_day=1,
                                                       warning_threshold=1.0))
    assert budget.ask(StartRun("r1")).allowed
    notice(probe, "budget_warning")
    refused = budget.ask(StartRun("r2"))
    midnight = datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    assert refused.violation.retry_at == midnight
    violation = notice(probe, "budget_violation")
    assert violation.data["retry_at"] == midnight
    assert violation.action == "pause"
    manual_clock.advance(DAY - 1)
    probe.expect_no_message(0.05)
    manual_clock.advance(1)
    reset = notice(probe, "budget_reset")
    assert reset.action is None
    assert reset.data == {"period_start": "2026-01-02T00:00:00+00:00",
                          "next_reset_at": "2026-01-03T00:00:00+00:00"}
    assert budget.ask(StartRun("r2")).allowed


def test_the_reset_timer_keeps_firing_day_after_day(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, AutonomyBudget(max_runs_per_day=10,
                                                       daily_reset_hour_utc=6))
    for day in (1, 2, 3):
        budget.ask(GovernanceStatus())  # the timer is re-armed before the clock moves on
        manual_clock.advance(DAY)
        reset = notice(probe, "budget_reset")
        assert reset.data["period_start"] == f"2026-01-0{day}T06:00:00+00:00"


def test_a_reset_missed_while_down_is_announced_at_start(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    first = spawn(actor_system, None, AutonomyBudget(max_runs_per_day=1))
    first.ask(StartRun("r1"))
    snapshot = first.ask(Snapshot())
    actor_system.stop(first)
    manual_clock.advance(2 * DAY)
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, AutonomyBudget(max_runs_per_day=1), state=snapshot)
    assert notice(probe, "budget_reset").data["period_start"] == "2026-01-03T00:00:00+00:00"
    assert budget.ask(StartRun("r2")).allowed


def test_a_snapshot_restores_counters_open_runs_and_warnings(actor_system: ActorSystem) -> None:
    config = AutonomyBudget(max_tool_calls_per_day=10, max_tool_calls_per_run=5)
    first = spawn(actor_system, None, config)
    first.ask(StartRun("r1"))
    for _ in range(8):
        first.ask(AuthorizeTool("r1", "search"))
    snapshot = first.ask(Snapshot())
    assert snapshot["state"]["daily"]["tool_calls"] == 5
    actor_system.stop(first)
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, config, state=snapshot)
    assert budget.ask(Snapshot()) == snapshot
    assert not budget.ask(AuthorizeTool("r1", "search")).allowed  # r1 is still open, at 5
    assert notice(probe, "budget_violation").data["limit_name"] == "max_tool_calls_per_run"


def test_end_run_returns_the_usage_and_closes_the_run(actor_system: ActorSystem) -> None:
    budget = spawn(actor_system, None, AutonomyBudget(max_cost_per_run=10.0))
    budget.ask(StartRun("r1"))
    budget.ask(AuthorizeTool("r1", "search"))
    budget.ask(LlmTurn("r1"))
    assert budget.ask(EndRun("r1")) == BudgetUsage(tool_calls=1, llm_turns=1, cost=1.0)
    assert budget.ask(EndRun("r1")) is None
    with pytest.raises(ValueError, match="run_id: run 'r1' is not open"):
        budget.ask(AuthorizeTool("r1", "search"))
    assert budget.ask(GovernanceStatus())["runs"] == {}  # the failed ask changed nothing


def test_the_context_block_shows_what_is_left(actor_system: ActorSystem) -> None:
    budget = spawn(actor_system, None, AutonomyBudget(max_tool_calls_per_run=3))
    budget.ask(StartRun("r1"))
    budget.ask(AuthorizeTool("r1", "search"))
    assert budget.ask(ContextBlock("r1")) == "tool calls this run: 2 of 3 left"
    quiet = spawn(actor_system, None, AutonomyBudget(max_tool_calls_per_run=3,
                                                     inject_remaining=False))
    assert quiet.ask(ContextBlock()) is None


def test_status_is_json_ready_and_names_what_is_left(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    budget = spawn(actor_system, None, AutonomyBudget(max_cost_per_day=4.0))
    budget.ask(StartRun("r1"))
    budget.ask(AuthorizeTool("r1", "search"))
    status = budget.ask(GovernanceStatus())
    assert status["enabled"] is True
    assert status["on_exceeded"] == "pause"
    assert status["remaining"]["cost_per_day"] == 3.0
    assert status["daily"] == {"tool_calls": 1, "llm_turns": 0, "cost": 1.0, "irreversible": 0,
                               "runs": 1}
    assert status["next_reset_at"] == "2026-01-02T00:00:00+00:00"


def test_reconfigure_changes_limits_on_the_running_actor(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, AutonomyBudget(max_tool_calls_per_run=1))
    budget.ask(StartRun("r1"))
    budget.ask(AuthorizeTool("r1", "search"))
    assert not budget.ask(AuthorizeTool("r1", "search")).allowed
    status = budget.ask(Reconfigure(AutonomyBudget(max_tool_calls_per_run=3)))
    assert status["remaining"]["tool_calls_per_run"] == 3  # for a new run
    assert budget.ask(AuthorizeTool("r1", "search")).allowed
    with pytest.raises(TypeError, match="BudgetActor needs a BudgetConfig, got HealthConfig"):
        budget.ask(Reconfigure(HealthConfig()))
    assert budget.ask(GovernanceStatus())["daily"]["tool_calls"] == 2


def test_a_disabled_budget_allows_everything_and_tells_nothing(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, BudgetConfig(max_tool_calls_per_run=0))
    budget.ask(StartRun("r1"))
    assert budget.ask(AuthorizeTool("r1", "search")).allowed
    assert budget.ask(ContextBlock("r1")) is None
    probe.expect_no_message(0.05)


def test_escalate_posts_the_violation_once_per_limit_per_period(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    with Webhook(actor_system).running() as hook:
        config = AutonomyBudget(max_tool_calls_per_run=0, on_exceeded="escalate",
                                escalation=EscalationTarget(webhook_url=hook.url("/ok")))
        budget = spawn(actor_system, probe, config)
        budget.ask(StartRun("r1"))
        budget.ask(AuthorizeTool("r1", "charge"))
        assert notice(probe, "budget_violation").action == "escalate"
        path, body = hook.expect()
        assert path == "/ok"
        assert body["type"] == "budget_violation"
        assert body["process_id"] == "payments"
        assert body["source"] == "budget"
        assert body["tool_name"] == "charge"
        assert body["limit_name"] == "max_tool_calls_per_run"
        outcome = notice(probe, "escalation")
        assert outcome.action is None
        assert outcome.data["about"] == "budget_violation"
        assert outcome.data["ok"] is True
        budget.ask(AuthorizeTool("r1", "charge"))  # the same limit, the same run
        assert notice(probe, "budget_violation").action == "escalate"
        budget.ask(StartRun("r2"))
        budget.ask(AuthorizeTool("r2", "charge"))  # a new run is a new period
        assert hook.expect()[1]["run_id"] == "r2"
        assert notice(probe, "escalation").data["ok"] is True
        assert hook.received_nothing()


def test_a_failed_escalation_is_reported_and_the_actor_goes_on(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    with Webhook(actor_system).running() as hook:
        config = AutonomyBudget(max_runs_per_day=0, on_exceeded="escalate",
                                escalation=EscalationTarget(webhook_url=hook.url("/fail")))
        budget = spawn(actor_system, probe, config)
        assert not budget.ask(StartRun("r1")).allowed
        hook.expect()
        outcome = notice(probe, "escalation")
        assert outcome.data["ok"] is False
        assert outcome.data["webhook"]["status"] == 500
        assert budget.ask(GovernanceStatus())["enabled"] is True


def test_escalate_without_a_target_reports_that_nothing_was_sent(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    budget = spawn(actor_system, probe, AutonomyBudget(max_runs_per_day=0,
                                                       on_exceeded="escalate"))
    budget.ask(StartRun("r1"))
    outcome = notice(probe, "escalation")
    assert outcome.data == {"about": "budget_violation", "ok": False, "webhook": None,
                            "event": None, "attempted": False}


def test_messages_refuse_bad_fields_in_the_sender() -> None:
    with pytest.raises(ValueError, match="run_id: must not be empty"):
        StartRun("")
    with pytest.raises(TypeError, match="tool_name: expected a string, got int"):
        AuthorizeTool("r1", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config: expected a BudgetConfig"):
        Reconfigure({"max_runs_per_day": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="action: expected None or one of"):
        GovernanceNotice("budget", "budget_violation", {}, "explode")
    with pytest.raises(ValueError, match="source: expected one of"):
        GovernanceNotice("journal", "x", {})


def test_bad_constructor_arguments_raise_from_spawn(actor_system: ActorSystem) -> None:
    with pytest.raises(TypeError, match="config: expected a BudgetConfig"):
        actor_system.spawn(BudgetActor, HealthConfig(), "payments")
    with pytest.raises(ValueError, match="process_name: expected a non-empty string"):
        actor_system.spawn(BudgetActor, AutonomyBudget(), "")
    with pytest.raises(ValueError, match=r"budget_enforcer\.version"):
        actor_system.spawn(BudgetActor, AutonomyBudget(), "payments", state={"version": 9})


def test_an_ask_to_a_stopped_budget_fails_at_once(actor_system: ActorSystem) -> None:
    budget = spawn(actor_system, None)
    actor_system.stop(budget)
    with pytest.raises(pykka.ActorDeadError):
        budget.ask(StartRun("r1"))

