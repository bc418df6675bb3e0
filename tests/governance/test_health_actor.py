"""HealthActor: observations told by the process become anomaly and recovery notices with the
configured action; escalation on the io loop; cooldowns on a ManualClock; snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from governance_actor_support import Webhook, notice, notices, shows

from greenroom.actors import ActorRef, ActorSystem, ManualClock
from greenroom.governance import (
    BudgetConfig,
    ClearAnomalies,
    EscalationTarget,
    GovernanceStatus,
    HealthActor,
    HealthConfig,
    Reconfigure,
    Responded,
    RunDiscarded,
    RunFailed,
    RunSucceeded,
    Snapshot,
    ToolCalled,
)
from greenroom.testing import TestProbe

SECRET_ARG = "card-4242-4242-4242"


def spawn(system: ActorSystem, probe: TestProbe | None, **fields: Any) -> ActorRef[Any]:
    config = HealthConfig(enabled=True, **fields)
    owner = None if probe is None else probe.ref
    return system.spawn(HealthActor, config, "orders", owner=owner)


def call(health: ActorRef[Any], tool: str = "get_status", run_id: str = "e1", **args: Any) -> None:
    health.tell(ToolCalled(run_id, tool, args or {"card": SECRET_ARG}))


def test_a_stuck_agent_is_noticed_with_hashes_only(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    health = spawn(actor_system, probe)
    call(health)
    call(health)
    probe.expect_no_message(0.05)
    call(health)
    anomaly = notice(probe, "anomaly")
    assert anomaly.source == "health"
    assert anomaly.action is None  # on_anomaly="log": nothing for the process to do
    assert anomaly.data["anomaly_type"] == "stuck"
    assert anomaly.data["details"]["tool"] == "get_status"
    assert anomaly.data["details"]["run_id"] == "e1"
    status = health.ask(GovernanceStatus())
    assert status["is_healthy"] is False
    assert not shows(SECRET_ARG, anomaly, status, health.ask(Snapshot()))


def test_the_action_is_on_anomaly_and_the_run_end_brings_one_recovery(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    health = spawn(actor_system, probe, on_anomaly="pause")
    for _ in range(3):
        call(health)
    assert notice(probe, "anomaly").action == "pause"
    health.tell(RunSucceeded("e1"))
    recovery = notice(probe, "recovery")
    assert recovery.action is None
    assert recovery.data["anomaly_type"] == "stuck"
    assert recovery.data["details"] == {"run_id": "e1", "reason": "run_ended", "outcome": "ok"}
    assert health.ask(GovernanceStatus())["is_healthy"] is True


def test_stop_is_passed_on_as_the_action(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    health = spawn(actor_system, probe, on_anomaly="stop", empty_threshold=2)
    health.tell(Responded("e1", ""))
    health.tell(Responded("e2", "ok"))
    anomaly = notice(probe, "anomaly")
    assert anomaly.data["anomaly_type"] == "empty_response"
    assert anomaly.action == "stop"


def test_a_loop_across_tools_is_noticed(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    health = spawn(actor_system, probe)
    for _ in range(2):
        call(health, "check", item=1)
        call(health, "fix", item=1)
    probe.expect_no_message(0.05)  # A B A B is not a loop with the defaults
    call(health, "check", item=1)
    call(health, "fix", item=1)
    anomaly = notice(probe, "anomaly")
    assert anomaly.data["anomaly_type"] == "loop"
    assert [step["tool"] for step in anomaly.data["details"]["pattern"]] == ["check", "fix"]


def test_the_cooldown_runs_on_the_clock(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    probe = TestProbe(actor_system)
    health = spawn(actor_system, probe, cooldown=60.0)
    for _ in range(3):
        call(health)
    notice(probe, "anomaly")
    call(health)
    health.ask(GovernanceStatus())  # the call above has been handled
    probe.expect_no_message(0.05)
    manual_clock.advance(60)
    call(health)
    assert notice(probe, "anomaly").data["details"]["count"] == 5


def test_the_error_rate_counts_run_outcomes(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    health = spawn(actor_system, probe, error_window=4, on_anomaly="pause")
    health.tell(RunFailed("e1"))
    health.tell(RunFailed("e2"))
    health.tell(RunDiscarded("e3"))  # a retry to come: no outcome
    health.tell(RunSucceeded("e4"))
    probe.expect_no_message(0.05)
    health.tell(RunSucceeded("e5"))
    anomaly = notice(probe, "anomaly")
    assert anomaly.data["anomaly_type"] == "high_error_rate"
    assert anomaly.data["details"]["errors"] == 2
    health.tell(RunSucceeded("e6"))
    assert notice(probe, "recovery").data["anomaly_type"] == "high_error_rate"


def test_clear_anomalies_answers_how_many_and_starts_afresh(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    health = spawn(actor_system, probe)
    for _ in range(3):
        call(health)
    notice(probe, "anomaly")
    assert health.ask(ClearAnomalies()) == 1
    status = health.ask(GovernanceStatus())
    assert status["anomaly_count"] == 0
    assert status["is_healthy"] is True
    call(health)  # the old history was forgotten: one call is not stuck
    health.ask(GovernanceStatus())
    probe.expect_no_message(0.05)


def test_escalate_posts_the_anomaly_and_reports_the_outcome(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    with Webhook(actor_system).running() as hook:
        health = spawn(actor_system, probe, on_anomaly="escalate",
                       escalation=EscalationTarget(webhook_url=hook.url("/ok")))
        for _ in range(3):
            call(health)
        anomaly, outcome = notices(probe, 2)
        assert anomaly.kind == "anomaly"
        assert anomaly.action == "escalate"
        _, body = hook.expect()
        assert body["type"] == "anomaly"
        assert body["source"] == "health"
        assert body["process_id"] == "orders"
        assert body["anomaly_type"] == "stuck"
        assert SECRET_ARG not in str(body)
        assert outcome.kind == "escalation"
        assert outcome.data["ok"] is True
        assert outcome.data["about"] == "anomaly"


def test_a_snapshot_restores_the_monitor(actor_system: ActorSystem) -> None:
    first = spawn(actor_system, None, empty_threshold=2)
    first.tell(Responded("e1", ""))
    snapshot = first.ask(Snapshot())
    actor_system.stop(first)
    probe = TestProbe(actor_system)
    config = HealthConfig(enabled=True, empty_threshold=2)
    health = actor_system.spawn(HealthActor, config, "orders", owner=probe.ref, state=snapshot)
    assert health.ask(Snapshot()) == snapshot
    health.tell(Responded("e2", "."))  # the second short reply in a row, across the restart
    assert notice(probe, "anomaly").data["details"]["consecutive"] == 2


def test_reconfigure_applies_new_thresholds(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    health = spawn(actor_system, probe)
    call(health)
    call(health)
    status = health.ask(Reconfigure(HealthConfig(enabled=True, stuck_threshold=2,
                                                 on_anomaly="pause")))
    assert status["on_anomaly"] == "pause"
    call(health)
    assert notice(probe, "anomaly").action == "pause"
    with pytest.raises(TypeError, match="HealthActor needs a HealthConfig, got BudgetConfig"):
        health.ask(Reconfigure(BudgetConfig()))


def test_messages_refuse_bad_fields_and_hide_what_they_carry() -> None:
    message = ToolCalled("e1", "charge", {"card": SECRET_ARG})
    assert SECRET_ARG not in repr(message)
    assert "reply text" not in repr(Responded("e1", "reply text"))
    with pytest.raises(TypeError, match="arguments: expected a mapping"):
        ToolCalled("e1", "charge", ["card"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="run_id: expected a string, got NoneType"):
        RunSucceeded(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tool: must not be empty"):
        ToolCalled("e1", "")
    with pytest.raises(TypeError, match="content: expected a string"):
        Responded("e1", None)  # type: ignore[arg-type]
