"""MissionActor: runs counted, evaluations (success check, then the LLM judge) on the io loop one at
a time, decisions told as notices with their action, limits on a ManualClock, escalation,
operations by hand, snapshots."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pykka
import pytest
from governance_actor_support import WAIT, Webhook, notice, notices

from greenroom.actors import ActorRef, ActorSystem, ManualClock
from greenroom.agents import Invocation
from greenroom.governance import (
    CheckLimits,
    CompleteMission,
    ContextSummary,
    EscalationTarget,
    FailMission,
    GovernanceStatus,
    HealthConfig,
    MissionActor,
    MissionConfig,
    MissionDecision,
    MissionEvidence,
    MissionJudge,
    MissionStateError,
    PauseMission,
    Reconfigure,
    ResumeMission,
    RunCompleted,
    Snapshot,
)
from greenroom.testing import TestProbe

HOUR = 3600.0


def mission(**fields: Any) -> MissionConfig:
    return MissionConfig(enabled=True, objective="Migrate every table to v2",
                         success_criteria="All tables pass v2 validation",
                         **{"eval_every": 1, **fields})


def verdict(achieved: bool = True, confidence: float = 0.9) -> str:
    return json.dumps({"achieved": achieved, "confidence": confidence,
                       "reasoning": "checked the tables", "progress_summary": "7 of 7 tables"})


def judge_of(*replies: str) -> Any:
    """A judge agent answering `replies` in order; it records the prompts it saw."""
    queue = list(replies)

    async def judge(invocation: Invocation) -> str:
        judge.prompts.append(invocation.messages)  # type: ignore[attr-defined]
        return queue.pop(0)

    judge.prompts = []  # type: ignore[attr-defined]
    return judge


class HeldJudge:
    """A judge that answers only once the test calls `release(reply)` (from its thread)."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self._reply = ""
        self.started = threading.Event()
        self.calls = 0

    async def __call__(self, invocation: Invocation) -> str:
        self.calls += 1
        self.started.set()
        await asyncio.to_thread(self._released.wait, TestProbe.scaled(30.0))  # never hangs
        return self._reply

    def release(self, reply: str) -> None:
        self._reply = reply
        self._released.set()


def spawn(
    system: ActorSystem, probe: TestProbe | None, config: MissionConfig | None = None,
    **options: Any,
) -> ActorRef[Any]:
    owner = None if probe is None else probe.ref
    return system.spawn(MissionActor, config or mission(), "migrator", owner=owner, **options)


def run(actor: ActorRef[Any], count: int = 1) -> None:
    for _ in range(count):
        actor.tell(RunCompleted(MissionEvidence(conversation=[{"role": "assistant",
                                                               "content": "migrated"}])))


def test_an_achieved_check_completes_the_mission_with_on_complete(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, mission(eval_every=2), success_check=lambda ev: True)
    run(actor)
    assert actor.ask(GovernanceStatus())["invocation_count"] == 1
    probe.expect_no_message(0.05)
    run(actor)
    evaluation, state = notices(probe, 2)
    assert evaluation.kind == "mission_evaluation"
    assert evaluation.action is None
    assert evaluation.data["achieved"] is True
    assert evaluation.data["source"] == "check"
    assert evaluation.data["invocation_number"] == 2
    assert state.kind == "mission_state"
    assert state.action == "stop"
    assert state.data["state"] == "completed"
    assert state.data["previous_state"] == "active"


@pytest.mark.parametrize("on_complete", ["continue", "suspend"])
def test_on_complete_is_honoured(actor_system: ActorSystem, on_complete: str) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, mission(on_complete=on_complete),
                  success_check=lambda ev: True)
    run(actor)
    assert notice(probe, "mission_state").action == on_complete


def test_without_auto_complete_achieved_continues(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, mission(auto_complete=False), success_check=lambda ev: True)
    run(actor)
    assert notice(probe, "mission_state").action == "continue"


def test_an_undecided_check_asks_the_judge(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    judge = judge_of(verdict(achieved=True, confidence=0.95))
    actor = spawn(actor_system, probe, judge=judge, success_check=lambda ev: None)
    run(actor)
    evaluation = notice(probe, "mission_evaluation")
    assert evaluation.data["source"] == "judge"
    assert evaluation.data["confidence"] == 0.95
    assert evaluation.data["progress_summary"] == "7 of 7 tables"
    assert notice(probe, "mission_state").action == "stop"
    prompt = json.dumps(judge.prompts[0])
    assert "Migrate every table to v2" in prompt
    assert "migrated" in prompt  # the evidence reached the judge


def test_an_async_success_check_is_awaited(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)

    async def check(evidence: MissionEvidence) -> bool:
        await asyncio.sleep(0)
        return evidence.invocation_count >= 2

    actor = spawn(actor_system, probe, success_check=check)
    run(actor)
    assert notice(probe, "mission_evaluation").data["achieved"] is False
    run(actor)
    assert notice(probe, "mission_evaluation").data["achieved"] is True
    assert notice(probe, "mission_state").data["state"] == "completed"


def test_a_check_that_raises_is_inconclusive_and_the_mission_goes_on(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)

    def check(evidence: MissionEvidence) -> bool:
        raise RuntimeError("validator down")

    actor = spawn(actor_system, probe, success_check=check)
    run(actor)
    evaluation = notice(probe, "mission_evaluation")
    assert evaluation.data["inconclusive"] is True
    assert "RuntimeError: validator down" in evaluation.data["reasoning"]
    assert actor.ask(GovernanceStatus())["state"] == "active"


def test_an_undecided_check_without_a_judge_is_inconclusive(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, success_check=lambda ev: None)
    run(actor)
    evaluation = notice(probe, "mission_evaluation")
    assert evaluation.data["inconclusive"] is True
    assert evaluation.data["reasoning"] == "success_check was undecided and no judge is configured"


def test_a_judge_evaluates_on_the_io_loop_while_the_actor_keeps_answering(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    judge = HeldJudge()
    actor = spawn(actor_system, probe, judge=judge)
    run(actor)
    assert judge.started.wait(TestProbe.scaled(WAIT))
    status = actor.ask(GovernanceStatus())
    assert status["evaluating"] is True
    assert actor.ask(ContextSummary())["status"] == "active"
    run(actor)  # due again, but one evaluation at a time: it waits for the first
    assert actor.ask(GovernanceStatus())["invocation_count"] == 2
    assert judge.calls == 1
    judge.release(verdict(achieved=False, confidence=0.9))
    first, second = notices(probe, 2)
    assert first.data["invocation_number"] == 1
    assert second.data["invocation_number"] == 2  # then the run that became due meanwhile
    assert judge.calls == 2
    status = actor.ask(GovernanceStatus())
    assert status["evaluating"] is False
    assert status["last_evaluation"]["achieved"] is False
    probe.expect_no_message(0.05)


def test_an_unsure_verdict_pauses_and_escalates(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    with Webhook(actor_system).running() as hook:
        config = mission(escalation=EscalationTarget(webhook_url=hook.url("/ok")))
        actor = spawn(actor_system, probe, config,
                      judge=judge_of(verdict(achieved=True, confidence=0.4)))
        run(actor)
        notice(probe, "mission_evaluation")
        state = notice(probe, "mission_state")
        assert state.action == "pause"
        assert state.data["state"] == "paused"
        assert state.data["escalate"] is True
        _, body = hook.expect()
        assert body["type"] == "mission_paused"
        assert body["source"] == "mission"
        assert "below confidence_threshold" in body["reason"]
        outcome = notice(probe, "escalation")
        assert outcome.data["ok"] is True
        assert outcome.data["about"] == "mission_paused"


def test_inconclusive_verdicts_escalate_once_after_max_inconclusive(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    with Webhook(actor_system).running() as hook:
        config = mission(max_inconclusive=2,
                         escalation=EscalationTarget(webhook_url=hook.url("/ok")))
        actor = spawn(actor_system, probe, config, judge=judge_of(*["no json"] * 6))
        run(actor)
        first = notice(probe, "mission_evaluation")
        assert first.data["inconclusive"] is True
        assert first.data["attempts"] == 2  # one retry
        run(actor)
        notice(probe, "mission_evaluation")
        assert hook.expect()[1]["type"] == "mission_inconclusive"
        assert notice(probe, "escalation").data["about"] == "mission_inconclusive"
        run(actor)
        notice(probe, "mission_evaluation")
        assert actor.ask(GovernanceStatus())["state"] == "active"
        assert hook.received_nothing()


def test_max_invocations_fails_the_mission_after_the_last_evaluation(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, mission(max_invocations=2),
                  success_check=lambda ev: False)
    run(actor, 2)  # the second run ends while the first is being checked
    first, second, state = notices(probe, 3)
    assert [first.kind, second.kind] == ["mission_evaluation", "mission_evaluation"]
    assert second.data["invocation_number"] == 2  # the last run is evaluated before the limit
    assert state.action == "fail"
    status = actor.ask(GovernanceStatus())
    assert status["state"] == "failed"
    assert "max_invocations=2" in status["reason"]
    decision = actor.ask(CheckLimits())
    assert decision.run is True  # an ended mission no longer holds runs back


def test_the_failing_limit_asks_the_process_to_fail_and_escalates(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    with Webhook(actor_system).running() as hook:
        config = mission(max_invocations=1, eval_every=5,
                         escalation=EscalationTarget(webhook_url=hook.url("/ok")))
        actor = spawn(actor_system, probe, config, success_check=lambda ev: False)
        run(actor)
        state = notice(probe, "mission_state")
        assert state.action == "fail"
        assert state.data["state"] == "failed"
        assert state.data["run"] is False
        assert state.data["invocation_count"] == 1
        assert hook.expect()[1]["type"] == "mission_failed"
        assert notice(probe, "escalation").data["ok"] is True


def test_the_timeout_fails_an_idle_mission_on_its_timer(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, mission(timeout_hours=2), success_check=lambda ev: False)
    assert actor.ask(GovernanceStatus())["deadline"] == "2026-01-01T02:00:00+00:00"
    manual_clock.advance(HOUR)
    actor.ask(GovernanceStatus())  # the hourly re-check has re-armed the timer
    probe.expect_no_message(0.05)
    manual_clock.advance(HOUR)
    state = notice(probe, "mission_state")
    assert state.action == "fail"
    assert "timed out" in state.data["reason"]


def test_check_limits_waits_for_a_pending_verdict_that_may_complete_the_mission(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    judge = HeldJudge()
    actor = spawn(actor_system, probe, mission(max_invocations=1), judge=judge)
    run(actor)
    assert judge.started.wait(TestProbe.scaled(WAIT))
    pending = actor.ask(CheckLimits(), block=False)
    actor.ask(GovernanceStatus())  # CheckLimits was handled, and held back
    assert not pending.done()
    judge.release(verdict(achieved=True, confidence=0.9))
    decision: MissionDecision = pending.get(timeout=TestProbe.scaled(WAIT))
    assert decision.state.value == "completed"
    assert decision.run is True
    assert notice(probe, "mission_state").action == "stop"


def test_check_limits_answers_at_once_otherwise(actor_system: ActorSystem) -> None:
    actor = spawn(actor_system, None, success_check=lambda ev: False)
    decision = actor.ask(CheckLimits())
    assert decision.run is True
    assert decision.changed is False


def test_operations_by_hand_answer_the_new_state_and_leave_the_process_alone(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, success_check=lambda ev: True)
    assert actor.ask(PauseMission("waiting for the DBA")) == "paused"
    paused = notice(probe, "mission_state")
    assert paused.action is None
    assert paused.data["reason"] == "waiting for the DBA"
    run(actor)  # paused: counted, not evaluated
    assert actor.ask(GovernanceStatus())["invocation_count"] == 1
    assert actor.ask(ResumeMission()) == "active"
    assert notice(probe, "mission_state").data["state"] == "active"
    assert actor.ask(FailMission("abandoned")) == "failed"
    assert notice(probe, "mission_state").action is None
    with pytest.raises(MissionStateError, match="cannot complete while failed"):
        actor.ask(CompleteMission())


def test_complete_by_hand(actor_system: ActorSystem) -> None:
    actor = spawn(actor_system, None, success_check=lambda ev: False)
    assert actor.ask(CompleteMission("done by hand")) == "completed"
    with pytest.raises(ValueError, match="reason: expected a non-empty string"):
        PauseMission(" ")


def test_the_context_summary_is_the_mission_block(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, mission(max_invocations=10),
                  judge=judge_of(verdict(achieved=False, confidence=0.8)))
    run(actor)
    notice(probe, "mission_evaluation")
    summary = actor.ask(ContextSummary())
    assert summary["objective"] == "Migrate every table to v2"
    assert summary["invocations"] == 1
    assert summary["max_invocations"] == 10
    assert summary["last_evaluation"]["progress"] == "7 of 7 tables"


def test_a_snapshot_restores_the_tracker(actor_system: ActorSystem) -> None:
    first = spawn(actor_system, None, mission(eval_every=3), success_check=lambda ev: True)
    run(first, 2)
    snapshot = first.ask(Snapshot())
    assert snapshot["invocation_count"] == 2
    actor_system.stop(first)
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, mission(eval_every=3), state=snapshot,
                  success_check=lambda ev: True)
    run(actor)  # the third run since the start: due
    assert notice(probe, "mission_evaluation").data["invocation_number"] == 3


def test_reconfigure_keeps_the_counters(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    actor = spawn(actor_system, probe, mission(max_invocations=1, eval_every=5),
                  success_check=lambda ev: False)
    status = actor.ask(Reconfigure(mission(max_invocations=3, eval_every=5)))
    assert status["progress"]["max_invocations"] == 3
    run(actor, 2)
    assert actor.ask(GovernanceStatus())["state"] == "active"
    with pytest.raises(TypeError, match="MissionActor needs a MissionConfig"):
        actor.ask(Reconfigure(HealthConfig()))
    with pytest.raises(ValueError, match="the mission is disabled"):
        actor.ask(Reconfigure(MissionConfig()))


def test_a_judge_object_can_be_given_ready_made(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    judge = MissionJudge(judge_of(verdict(achieved=False, confidence=0.8)), retries=0)
    actor = spawn(actor_system, probe, judge=judge)
    run(actor)
    assert notice(probe, "mission_evaluation").data["attempts"] == 1


def test_a_mission_needs_a_way_to_be_evaluated(actor_system: ActorSystem) -> None:
    with pytest.raises(ValueError, match="judge: a mission needs a judge"):
        spawn(actor_system, None)
    with pytest.raises(ValueError, match=r"config\.enabled: the mission is disabled"):
        spawn(actor_system, None, MissionConfig(), success_check=lambda ev: True)
    with pytest.raises(TypeError, match="evidence: expected a MissionEvidence"):
        RunCompleted({"conversation": []})  # type: ignore[arg-type]


def test_pending_asks_fail_when_the_actor_stops(actor_system: ActorSystem) -> None:
    judge = HeldJudge()
    actor = spawn(actor_system, None, mission(max_invocations=1), judge=judge)
    run(actor)
    assert judge.started.wait(TestProbe.scaled(WAIT))
    pending = actor.ask(CheckLimits(), block=False)
    actor.ask(GovernanceStatus())
    actor_system.stop(actor)
    with pytest.raises(pykka.ActorDeadError):
        pending.get(timeout=TestProbe.scaled(WAIT))
    judge.release(verdict())
