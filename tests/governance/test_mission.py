"""MissionTracker: schedule, success check, verdict rules, limits, manual moves, checkpoints.

Time is a ManualClock throughout; the LLM judge is not involved here (see test_mission_judge.py),
its verdicts are built by hand.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from greenroom.agents.framing import context_blocks
from greenroom.governance.config import MissionConfig
from greenroom.governance.mission import (
    MissionAction,
    MissionDecision,
    MissionEvaluation,
    MissionEvidence,
    MissionState,
    MissionStateError,
    MissionTracker,
)
from greenroom.testing import ManualClock

HOUR = 3600.0


def mission(**fields: Any) -> MissionConfig:
    """An enabled mission config with a goal; `fields` override the defaults."""
    values: dict[str, Any] = {
        "enabled": True,
        "objective": "Migrate all tables to the v2 schema",
        "success_criteria": "Every table passes v2 validation",
    }
    values.update(fields)
    return MissionConfig.model_validate(values)


def verdict(
    achieved: bool = False,
    confidence: float = 0.9,
    *,
    inconclusive: bool = False,
    number: int = 0,
    progress: str = "",
) -> MissionEvaluation:
    """A judge evaluation made by hand."""
    return MissionEvaluation(
        achieved=achieved,
        confidence=confidence,
        reasoning="inconclusive: timed out" if inconclusive else "looked at the tables",
        progress_summary=progress,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        invocation_number=number,
        source="judge",
        inconclusive=inconclusive,
    )


def run(tracker: MissionTracker, times: int = 1) -> None:
    """Count `times` finished runs, each after passing the limit check."""
    for _ in range(times):
        assert tracker.check_limits().run
        tracker.increment_invocation()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


# -- construction ----------------------------------------------------------------------------


def test_a_new_tracker_is_active_with_nothing_counted(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    assert tracker.state is MissionState.ACTIVE
    assert tracker.process_id == "migrator"
    assert tracker.invocation_count == 0
    assert tracker.started_at == clock.time()
    assert tracker.evaluations == []
    assert tracker.last_evaluation is None
    assert tracker.reason == ""
    assert tracker.deadline is None
    assert not tracker.should_evaluate()


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"config": {"enabled": True}}, TypeError, "config: expected a MissionConfig"),
        ({"config": MissionConfig()}, ValueError, r"config\.enabled"),
        ({"process_id": ""}, ValueError, "process_id"),
        ({"process_id": 7}, ValueError, "process_id"),
        ({"success_check": "yes"}, TypeError, "success_check"),
        ({"history_limit": 0}, ValueError, "history_limit"),
        ({"history_limit": True}, TypeError, "history_limit"),
        ({"max_inconclusive": 0}, ValueError, "max_inconclusive"),
    ],
)
def test_bad_constructor_arguments_are_named(
    clock: ManualClock, kwargs: dict[str, Any], error: type[Exception], text: str
) -> None:
    arguments: dict[str, Any] = {"config": mission(), "process_id": "p", "clock": clock}
    arguments.update(kwargs)
    with pytest.raises(error, match=text):
        MissionTracker(**arguments)


# -- context ---------------------------------------------------------------------------------


def test_context_summary_carries_objective_and_progress(clock: ManualClock) -> None:
    tracker = MissionTracker(
        mission(max_invocations=50, timeout_hours=24), "migrator", clock=clock
    )
    run(tracker, 2)
    clock.advance(1.5 * HOUR)
    summary = tracker.context_summary()
    assert summary == {
        "objective": "Migrate all tables to the v2 schema",
        "success_criteria": "Every table passes v2 validation",
        "status": "active",
        "invocations": 2,
        "max_invocations": 50,
        "hours_elapsed": 1.5,
        "timeout_hours": 24.0,
        "last_evaluation": None,
    }
    json.dumps(summary)


def test_context_summary_without_limits_and_as_a_prompt_block(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    summary = tracker.context_summary()
    assert summary["max_invocations"] is None
    assert summary["timeout_hours"] is None
    [block] = context_blocks(mission=summary)
    assert block["role"] == "system"
    assert block["content"].startswith("[Mission]\n")
    assert "Migrate all tables to the v2 schema" in block["content"]


def test_context_shows_the_last_conclusive_evaluation_only(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    tracker.record_evaluation(verdict(confidence=0.8, number=5, progress="12 of 40 tables"))
    tracker.record_evaluation(verdict(inconclusive=True, number=10))
    assert tracker.context_summary()["last_evaluation"] == {
        "invocation": 5,
        "achieved": False,
        "confidence": 0.8,
        "progress": "12 of 40 tables",
    }


def test_context_progress_falls_back_to_the_reasoning_and_is_cut(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    long = MissionEvaluation(
        achieved=False,
        confidence=0.9,
        reasoning="x" * 1000,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        invocation_number=1,
        source="judge",
    )
    tracker.record_evaluation(long)
    progress = tracker.context_summary()["last_evaluation"]["progress"]
    assert progress.startswith("xxx")
    assert len(progress) < 400


def test_context_of_a_paused_mission_says_why(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    tracker.pause("waiting for the DBA")
    summary = tracker.context_summary()
    assert summary["status"] == "paused"
    assert summary["status_reason"] == "waiting for the DBA"


def test_hours_elapsed_stop_when_the_mission_ends(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    clock.advance(HOUR)
    tracker.complete()
    clock.advance(5 * HOUR)
    assert tracker.context_summary()["hours_elapsed"] == 1.0


# -- evaluation schedule ---------------------------------------------------------------------


def test_an_evaluation_is_due_every_eval_every_runs(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(eval_every=3), "migrator", clock=clock)
    due = []
    for _ in range(7):
        run(tracker)
        due.append(tracker.should_evaluate())
        if due[-1]:
            assert tracker.begin_evaluation(MissionEvidence()) is None
            assert not tracker.should_evaluate()
    assert due == [False, False, True, False, False, True, False]


def test_check_interval_is_accepted_for_eval_every(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(check_interval=2), "migrator", clock=clock)
    run(tracker, 2)
    assert tracker.should_evaluate()


def test_increment_invocation_returns_the_count(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    assert tracker.increment_invocation() == 1
    assert tracker.increment_invocation() == 2


def test_without_a_check_the_judge_is_asked(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(eval_every=1), "migrator", clock=clock)
    run(tracker)
    assert tracker.begin_evaluation(MissionEvidence(invocation_count=1)) is None
    assert tracker.evaluations == []
    assert tracker.state is MissionState.ACTIVE


def test_an_operator_may_force_an_evaluation_before_it_is_due(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(eval_every=5), "p", clock=clock, success_check=lambda e: True)
    decision = tracker.begin_evaluation(MissionEvidence())
    assert decision is not None
    assert decision.state is MissionState.COMPLETED


def test_begin_evaluation_rejects_bad_evidence_and_inactive_missions(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    with pytest.raises(TypeError, match="evidence"):
        tracker.begin_evaluation({"state": {}})  # type: ignore[arg-type]
    tracker.pause()
    with pytest.raises(MissionStateError, match="cannot evaluate while paused"):
        tracker.begin_evaluation(MissionEvidence())


# -- programmatic success check ---------------------------------------------------------------


def test_a_check_returning_true_completes_and_stops_by_default(clock: ManualClock) -> None:
    seen: list[MissionEvidence] = []

    def check(evidence: MissionEvidence) -> bool:
        seen.append(evidence)
        return evidence.state.get("tables_left") == 0

    tracker = MissionTracker(mission(eval_every=1), "migrator", clock=clock, success_check=check)
    run(tracker)
    clock.advance(60)
    evidence = MissionEvidence(state={"tables_left": 0}, invocation_count=1)
    decision = tracker.begin_evaluation(evidence)
    assert seen == [evidence]
    assert decision is not None
    assert decision.state is MissionState.COMPLETED
    assert decision.previous_state is MissionState.ACTIVE
    assert decision.changed
    assert decision.action is MissionAction.STOP
    assert not decision.escalate
    evaluation = decision.evaluation
    assert evaluation is not None
    assert evaluation.achieved
    assert evaluation.confidence == 1.0
    assert evaluation.source == "check"
    assert evaluation.invocation_number == 1
    assert evaluation.timestamp == datetime.fromtimestamp(clock.time(), UTC)
    assert tracker.evaluations == [evaluation]


def test_a_check_returning_false_keeps_going(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock, success_check=lambda e: False)
    decision = tracker.begin_evaluation(MissionEvidence())
    assert decision is not None
    assert decision.state is MissionState.ACTIVE
    assert decision.action is MissionAction.CONTINUE
    assert not decision.changed
    assert decision.evaluation is not None
    assert decision.evaluation.confidence == 1.0
    assert not decision.evaluation.achieved


def test_a_check_returning_none_falls_back_to_the_judge(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock, success_check=lambda e: None)
    assert tracker.begin_evaluation(MissionEvidence()) is None
    assert tracker.evaluations == []


def test_a_check_that_raises_is_inconclusive(clock: ManualClock) -> None:
    def check(evidence: MissionEvidence) -> bool:
        raise KeyError("tables_left")

    tracker = MissionTracker(mission(), "p", clock=clock, success_check=check)
    decision = tracker.begin_evaluation(MissionEvidence())
    assert decision is not None
    assert decision.state is MissionState.ACTIVE
    assert decision.evaluation is not None
    assert decision.evaluation.inconclusive
    assert decision.evaluation.source == "check"
    assert "success_check raised KeyError" in decision.evaluation.reasoning
    assert tracker.inconclusive_streak == 1


def test_a_check_returning_a_non_bool_is_inconclusive(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock, success_check=lambda e: 1)  # type: ignore[arg-type,return-value]
    decision = tracker.begin_evaluation(MissionEvidence())
    assert decision is not None
    assert decision.evaluation is not None
    assert decision.evaluation.inconclusive
    assert "returned int; expected True, False or None" in decision.evaluation.reasoning


# -- verdict rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_complete", "action"),
    [
        ("stop", MissionAction.STOP),
        ("suspend", MissionAction.SUSPEND),
        ("continue", MissionAction.CONTINUE),
    ],
)
def test_achieved_with_auto_complete_carries_on_complete(
    clock: ManualClock, on_complete: str, action: MissionAction
) -> None:
    tracker = MissionTracker(mission(on_complete=on_complete), "p", clock=clock)
    decision = tracker.record_evaluation(verdict(achieved=True, confidence=0.95))
    assert decision.state is MissionState.COMPLETED
    assert decision.action is action
    assert not decision.escalate
    assert "achieved" in tracker.reason


def test_achieved_without_auto_complete_completes_but_keeps_running(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(auto_complete=False, on_complete="stop"), "p", clock=clock)
    decision = tracker.record_evaluation(verdict(achieved=True, confidence=0.95))
    assert decision.state is MissionState.COMPLETED
    assert decision.action is MissionAction.CONTINUE


def test_low_confidence_pauses_suspends_and_escalates(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(confidence_threshold=0.7), "p", clock=clock)
    decision = tracker.record_evaluation(verdict(achieved=False, confidence=0.4))
    assert decision.state is MissionState.PAUSED
    assert decision.action is MissionAction.SUSPEND
    assert decision.escalate
    assert "0.40 is below confidence_threshold 0.70" in decision.reason
    assert not tracker.should_evaluate()


def test_an_unsure_achieved_verdict_does_not_complete(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(confidence_threshold=0.8), "p", clock=clock)
    decision = tracker.record_evaluation(verdict(achieved=True, confidence=0.6))
    assert decision.state is MissionState.PAUSED
    assert decision.escalate


def test_confidence_at_the_threshold_is_enough(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(confidence_threshold=0.7), "p", clock=clock)
    decision = tracker.record_evaluation(verdict(achieved=False, confidence=0.7))
    assert decision.state is MissionState.ACTIVE
    assert not decision.escalate


def test_a_sure_not_yet_keeps_going(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    decision = tracker.record_evaluation(verdict(achieved=False, confidence=0.9))
    assert decision.state is MissionState.ACTIVE
    assert decision.action is MissionAction.CONTINUE
    assert "not achieved yet" in decision.reason


def test_record_evaluation_rejects_other_types(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    with pytest.raises(TypeError, match="evaluation: expected a MissionEvaluation"):
        tracker.record_evaluation({"achieved": True})  # type: ignore[arg-type]


# -- inconclusive verdicts never stall the mission ----------------------------------------------


def test_inconclusive_verdicts_are_retried_at_the_next_evaluation(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(eval_every=2), "p", clock=clock, max_inconclusive=3)
    escalations = []
    for _ in range(10):
        run(tracker, 2)
        assert tracker.should_evaluate()
        assert tracker.begin_evaluation(MissionEvidence()) is None
        decision = tracker.record_evaluation(verdict(inconclusive=True))
        assert decision.state is MissionState.ACTIVE
        assert decision.action is MissionAction.CONTINUE
        escalations.append(decision.escalate)
    assert escalations == [False, False, True] + [False] * 7
    assert tracker.inconclusive_streak == 10
    run(tracker, 2)
    assert tracker.should_evaluate()
    tracker.begin_evaluation(MissionEvidence())
    decision = tracker.record_evaluation(verdict(achieved=True, confidence=0.9))
    assert decision.state is MissionState.COMPLETED
    assert tracker.inconclusive_streak == 0


def test_a_conclusive_verdict_resets_the_inconclusive_streak(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock, max_inconclusive=2)
    tracker.record_evaluation(verdict(inconclusive=True))
    tracker.record_evaluation(verdict(confidence=0.9))
    assert not tracker.record_evaluation(verdict(inconclusive=True)).escalate
    assert tracker.record_evaluation(verdict(inconclusive=True)).escalate


def test_an_inconclusive_evaluation_is_never_achieved() -> None:
    with pytest.raises(ValueError, match="achieved: an inconclusive evaluation"):
        MissionEvaluation(
            achieved=True,
            confidence=0.0,
            reasoning="",
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
            invocation_number=0,
            source="judge",
            inconclusive=True,
        )


def test_a_verdict_after_the_mission_stopped_being_active_is_only_recorded(
    clock: ManualClock,
) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    tracker.pause()
    decision = tracker.record_evaluation(verdict(achieved=True, confidence=1.0))
    assert decision.state is MissionState.PAUSED
    assert not decision.changed
    assert "evaluation recorded only" in decision.reason
    tracker.fail("gave up")
    tracker.record_evaluation(verdict(achieved=True, confidence=1.0))
    assert tracker.state is MissionState.FAILED
    assert len(tracker.evaluations) == 2


def test_the_history_is_bounded(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock, history_limit=3)
    for number in range(5):
        tracker.record_evaluation(verdict(number=number))
    assert [e.invocation_number for e in tracker.evaluations] == [2, 3, 4]
    assert tracker.last_evaluation is not None
    assert tracker.last_evaluation.invocation_number == 4


# -- limits -----------------------------------------------------------------------------------


def test_timeout_fails_the_mission_on_the_clock(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(timeout_hours=2), "p", clock=clock)
    assert tracker.deadline == clock.time() + 2 * HOUR
    clock.advance(2 * HOUR - 1)
    assert not tracker.is_timed_out()
    assert tracker.check_limits().run
    clock.advance(1)
    assert tracker.is_timed_out()
    decision = tracker.check_limits()
    assert not decision.run
    assert decision.state is MissionState.FAILED
    assert decision.previous_state is MissionState.ACTIVE
    assert decision.action is MissionAction.SUSPEND
    assert decision.escalate
    assert "timeout_hours=2" in decision.reason
    assert tracker.reason == decision.reason


def test_max_duration_is_accepted_for_timeout_hours(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(max_duration="30m"), "p", clock=clock)
    clock.advance(30 * 60)
    assert tracker.check_limits().state is MissionState.FAILED


def test_a_paused_mission_still_times_out(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(timeout_hours=1), "p", clock=clock)
    tracker.pause()
    clock.advance(HOUR)
    decision = tracker.check_limits()
    assert decision.previous_state is MissionState.PAUSED
    assert decision.state is MissionState.FAILED


def test_max_invocations_allows_exactly_that_many_runs(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(max_invocations=3), "p", clock=clock)
    run(tracker, 3)
    assert tracker.is_over_limit()
    decision = tracker.check_limits()
    assert not decision.run
    assert decision.state is MissionState.FAILED
    assert "max_invocations=3" in decision.reason


def test_runs_while_paused_count_towards_max_invocations(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(max_invocations=2, eval_every=1), "p", clock=clock)
    tracker.pause()
    run(tracker, 2)
    assert tracker.invocation_count == 2
    assert tracker.check_limits().state is MissionState.FAILED


def test_a_finished_mission_no_longer_holds_runs_back(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(max_invocations=1, timeout_hours=1), "p", clock=clock)
    tracker.complete()
    clock.advance(2 * HOUR)
    tracker.increment_invocation()
    tracker.increment_invocation()
    decision = tracker.check_limits()
    assert decision.run
    assert not decision.changed
    assert tracker.state is MissionState.COMPLETED
    assert tracker.invocation_count == 0


def test_update_config_raises_a_limit_on_a_running_mission(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(max_invocations=1), "p", clock=clock)
    run(tracker)
    assert tracker.is_over_limit()
    tracker.update_config(mission(max_invocations=5))
    assert tracker.check_limits().run
    assert tracker.invocation_count == 1
    with pytest.raises(ValueError, match=r"config\.enabled"):
        tracker.update_config(MissionConfig())


# -- by hand ----------------------------------------------------------------------------------


def test_pause_and_resume_by_hand(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(eval_every=2), "p", clock=clock)
    run(tracker)
    paused = tracker.pause()
    assert paused.state is MissionState.PAUSED
    assert paused.action is MissionAction.CONTINUE
    assert not paused.escalate
    run(tracker, 3)
    assert not tracker.should_evaluate()
    resumed = tracker.resume()
    assert resumed.state is MissionState.ACTIVE
    assert resumed.reason == "resumed by operator"
    run(tracker)
    assert not tracker.should_evaluate()
    run(tracker)
    assert tracker.should_evaluate()
    assert tracker.invocation_count == 6


def test_resume_after_a_low_confidence_pause(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(eval_every=1), "p", clock=clock)
    tracker.record_evaluation(verdict(confidence=0.1))
    tracker.resume("checked by hand")
    run(tracker)
    assert tracker.should_evaluate()


@pytest.mark.parametrize(
    ("operation", "state"), [("fail", MissionState.FAILED), ("complete", MissionState.COMPLETED)]
)
def test_fail_and_complete_by_hand_end_the_mission(
    clock: ManualClock, operation: str, state: MissionState
) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    decision: MissionDecision = getattr(tracker, operation)("operator decided")
    assert decision.state is state
    assert decision.action is MissionAction.CONTINUE
    assert tracker.reason == "operator decided"
    with pytest.raises(MissionStateError):
        tracker.resume()


@pytest.mark.parametrize(
    ("setup", "operation", "text"),
    [
        ([], "resume", "cannot resume while active"),
        (["pause"], "pause", "cannot pause while paused"),
        (["fail"], "complete", "cannot complete while failed"),
        (["complete"], "fail", "cannot fail while completed"),
        (["fail"], "pause", "cannot pause while failed"),
    ],
)
def test_moves_the_state_does_not_allow_are_refused(
    clock: ManualClock, setup: list[str], operation: str, text: str
) -> None:
    tracker = MissionTracker(mission(), "migrator", clock=clock)
    for step in setup:
        getattr(tracker, step)()
    before = tracker.to_dict()
    with pytest.raises(MissionStateError, match=text) as info:
        getattr(tracker, operation)()
    assert "'migrator'" in str(info.value)
    assert info.value.operation == operation
    assert tracker.to_dict() == before


def test_a_manual_move_needs_a_reason(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    with pytest.raises(ValueError, match="reason"):
        tracker.fail("  ")
    assert tracker.state is MissionState.ACTIVE


# -- checkpoints ------------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip_through_json(clock: ManualClock) -> None:
    config = mission(eval_every=2, timeout_hours=10)
    tracker = MissionTracker(config, "migrator", clock=clock)
    run(tracker, 3)
    tracker.record_evaluation(verdict(inconclusive=True, number=2))
    tracker.record_evaluation(verdict(confidence=0.3, number=3))
    data = json.loads(json.dumps(tracker.to_dict()))

    later = ManualClock(start=clock.time() + 9 * HOUR)
    restored = MissionTracker.from_dict(data, config, clock=later)
    assert restored.to_dict() == tracker.to_dict()
    assert restored.state is MissionState.PAUSED
    assert restored.evaluations == tracker.evaluations
    assert restored.started_at == tracker.started_at
    assert restored.check_limits().run
    later.advance(HOUR)
    assert restored.check_limits().state is MissionState.FAILED


def test_from_dict_keeps_the_newest_evaluations(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    for number in range(5):
        tracker.record_evaluation(verdict(number=number))
    restored = MissionTracker.from_dict(tracker.to_dict(), mission(), history_limit=2)
    assert [e.invocation_number for e in restored.evaluations] == [3, 4]


def test_a_restored_finished_mission_keeps_its_end_time(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    clock.advance(HOUR)
    tracker.fail("gave up")
    restored = MissionTracker.from_dict(tracker.to_dict(), mission(), clock=clock)
    clock.advance(HOUR)
    assert restored.context_summary()["hours_elapsed"] == 1.0


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"state": "sleeping"}, "state: 'sleeping' is not a mission state"),
        ({"process_id": None}, "process_id: expected a string"),
        ({"reason": 3}, "reason: expected a string"),
        ({"started_at": "yesterday"}, "started_at: expected a finite number"),
        ({"ended_at": float("nan")}, "ended_at: expected a finite number"),
        ({"invocation_count": -1}, "invocation_count: expected an int >= 0"),
        ({"runs_since_evaluation": 1.5}, "runs_since_evaluation"),
        ({"inconclusive_streak": True}, "inconclusive_streak"),
        ({"evaluations": {}}, "evaluations: expected a list"),
        ({"evaluations": [{"confidence": 2}]}, r"evaluations\[0\]\.timestamp"),
    ],
)
def test_from_dict_names_the_bad_field(
    clock: ManualClock, change: dict[str, Any], text: str
) -> None:
    data = MissionTracker(mission(), "p", clock=clock).to_dict()
    data.update(change)
    with pytest.raises(ValueError, match=text):
        MissionTracker.from_dict(data, mission(), clock=clock)


def test_from_dict_names_the_bad_evaluation_field(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    tracker.record_evaluation(verdict())
    data = tracker.to_dict()
    data["evaluations"][0]["confidence"] = 1.5
    with pytest.raises(ValueError, match=r"evaluations\[0\]\.confidence"):
        MissionTracker.from_dict(data, mission(), clock=clock)


def test_from_dict_rejects_a_non_mapping() -> None:
    with pytest.raises(ValueError, match="mission checkpoint: expected a mapping"):
        MissionTracker.from_dict([], mission())  # type: ignore[arg-type]


# -- value objects ----------------------------------------------------------------------------


def test_evaluation_round_trips_and_defaults(clock: ManualClock) -> None:
    evaluation = verdict(achieved=True, confidence=1, number=7, progress="all done")
    assert isinstance(evaluation.confidence, float)
    assert MissionEvaluation.from_dict(json.loads(json.dumps(evaluation.to_dict()))) == evaluation
    minimal = evaluation.to_dict()
    for optional in ("progress_summary", "inconclusive", "attempts"):
        del minimal[optional]
    restored = MissionEvaluation.from_dict(minimal)
    assert restored.progress_summary == ""
    assert restored.attempts == 1


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("achieved", "yes", "achieved: expected a bool"),
        ("inconclusive", 0, "inconclusive: expected a bool"),
        ("confidence", 1.5, "confidence: expected a number in"),
        ("confidence", float("nan"), "confidence"),
        ("confidence", True, "confidence"),
        ("reasoning", None, "reasoning: expected a string"),
        ("timestamp", "now", "timestamp: expected a datetime"),
        ("invocation_number", -1, "invocation_number: expected an int >= 0"),
        ("attempts", 0, "attempts: expected an int >= 1"),
        ("source", "oracle", "source: expected one of check, judge"),
    ],
)
def test_bad_evaluation_fields_are_named(field: str, value: Any, text: str) -> None:
    fields: dict[str, Any] = verdict().__dict__ | {field: value}
    with pytest.raises(ValueError, match=text):
        MissionEvaluation(**fields)


def test_evaluation_from_dict_names_missing_and_bad_fields() -> None:
    data = verdict().to_dict()
    del data["source"]
    with pytest.raises(ValueError, match="source: missing"):
        MissionEvaluation.from_dict(data)
    with pytest.raises(ValueError, match="timestamp"):
        MissionEvaluation.from_dict(verdict().to_dict() | {"timestamp": "soon"})
    with pytest.raises(ValueError, match="evaluation: expected a mapping"):
        MissionEvaluation.from_dict("x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "error", "text"),
    [
        ({"conversation": "hello"}, TypeError, "conversation"),
        ({"state": [1]}, TypeError, "state: expected a mapping"),
        ({"trigger_event": None}, TypeError, "trigger_event: expected a mapping"),
        ({"tool_calls": "search"}, TypeError, "tool_calls"),
        ({"invocation_count": -1}, ValueError, "invocation_count"),
    ],
)
def test_bad_evidence_is_named(fields: dict[str, Any], error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        MissionEvidence(**fields)


def test_decision_to_dict_is_json_ready(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(), "p", clock=clock)
    decision = tracker.record_evaluation(verdict(confidence=0.2))
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["state"] == "paused"
    assert data["previous_state"] == "active"
    assert data["action"] == "suspend"
    assert data["escalate"] is True
    assert data["run"] is True
    assert data["evaluation"]["confidence"] == 0.2
    assert tracker.check_limits().to_dict()["evaluation"] is None


def test_the_config_sets_max_inconclusive_and_a_new_config_changes_it(clock: ManualClock) -> None:
    tracker = MissionTracker(mission(max_inconclusive=1), "p", clock=clock)
    assert tracker.record_evaluation(verdict(inconclusive=True)).escalate
    tracker.record_evaluation(verdict(confidence=0.9))
    tracker.update_config(mission(max_inconclusive=2))
    assert not tracker.record_evaluation(verdict(inconclusive=True)).escalate
    assert tracker.record_evaluation(verdict(inconclusive=True)).escalate
