"""HealthMonitor: stuck, loop, empty replies, error rate, cooldowns, recoveries, checkpoints.

Everything runs on a `ManualClock`: cooldowns are crossed by advancing it, never by sleeping.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from greenroom.actors import ManualClock
from greenroom.governance.config import HealthConfig
from greenroom.governance.health import (
    OPEN_RUN_LIMIT,
    Anomaly,
    AnomalyType,
    HealthEvent,
    HealthMonitor,
    Recovery,
)


def make(**fields: Any) -> tuple[HealthMonitor, ManualClock]:
    """An enabled monitor with the given thresholds, on a fresh manual clock."""
    clock = ManualClock()
    config = HealthConfig.model_validate({"enabled": True, **fields})
    return HealthMonitor(config, "proc-1", clock=clock), clock


def anomalies(events: list[HealthEvent]) -> list[Anomaly]:
    return [event for event in events if isinstance(event, Anomaly)]


def recoveries(events: list[HealthEvent]) -> list[Recovery]:
    return [event for event in events if isinstance(event, Recovery)]


def calls(monitor: HealthMonitor, *names: str, run_id: str = "") -> list[HealthEvent]:
    """Record one call per name (arguments `{"x": 1}`), returning every event raised."""
    events: list[HealthEvent] = []
    for name in names:
        events += monitor.record_tool_call(name, {"x": 1}, run_id=run_id)
    return events


def replies(monitor: HealthMonitor, *texts: str) -> list[HealthEvent]:
    events: list[HealthEvent] = []
    for text in texts:
        events += monitor.record_response(text)
    return events


def outcomes(monitor: HealthMonitor, pattern: str) -> list[HealthEvent]:
    """Record run outcomes from a string: 'E' is an error, '.' a success."""
    events: list[HealthEvent] = []
    for mark in pattern:
        events += monitor.record_error() if mark == "E" else monitor.record_success()
    return events


# -- stuck ---------------------------------------------------------------------------------------


def test_stuck_after_threshold_identical_calls() -> None:
    monitor, clock = make()
    assert monitor.record_tool_call("get_status", {"pipeline": "p3"}) == []
    assert monitor.record_tool_call("get_status", {"pipeline": "p3"}) == []
    events = monitor.record_tool_call("get_status", {"pipeline": "p3"})
    assert len(events) == 1
    anomaly = events[0]
    assert isinstance(anomaly, Anomaly)
    assert anomaly.anomaly_type is AnomalyType.STUCK
    assert anomaly.action == "log"
    assert anomaly.process_id == "proc-1"
    assert anomaly.timestamp == datetime.fromtimestamp(clock.time(), tz=UTC)
    assert anomaly.details["tool"] == "get_status"
    assert anomaly.details["count"] == 3
    assert anomaly.details["threshold"] == 3
    assert anomaly.details["run_id"] == ""
    assert "get_status called 3 times in a row" in anomaly.description


def test_stuck_needs_the_same_arguments_and_consecutive_calls() -> None:
    monitor, _ = make()
    assert monitor.record_tool_call("get_status", {"pipeline": "p1"}) == []
    assert monitor.record_tool_call("get_status", {"pipeline": "p2"}) == []
    assert monitor.record_tool_call("get_status", {"pipeline": "p3"}) == []
    assert calls(monitor, "a", "a", "b", "a", "a") == []


def test_argument_order_does_not_matter_but_nested_values_do() -> None:
    monitor, _ = make()
    monitor.record_tool_call("t", {"a": 1, "b": [1, 2]})
    monitor.record_tool_call("t", {"b": [1, 2], "a": 1})
    assert anomalies(monitor.record_tool_call("t", {"a": 1, "b": [1, 2]}))
    other, _ = make()
    other.record_tool_call("t", {"a": 1, "b": [1, 2]})
    other.record_tool_call("t", {"a": 1, "b": [2, 1]})
    assert other.record_tool_call("t", {"a": 1, "b": [1, 2]}) == []


def test_no_arguments_and_empty_arguments_are_the_same_call() -> None:
    monitor, _ = make()
    monitor.record_tool_call("ping")
    monitor.record_tool_call("ping", {})
    assert anomalies(monitor.record_tool_call("ping", None))


def test_arguments_json_cannot_hold_still_hash_stably() -> None:
    monitor, _ = make()
    marker = object()
    circular: dict[str, Any] = {}
    circular["self"] = circular
    for _ in range(2):
        assert monitor.record_tool_call("t", {"obj": marker}) == []
    assert anomalies(monitor.record_tool_call("t", {"obj": marker}))
    other, _ = make()
    for _ in range(2):
        assert other.record_tool_call("t", circular) == []
    assert anomalies(other.record_tool_call("t", circular))
    mixed, _ = make()
    for _ in range(2):
        assert mixed.record_tool_call("t", {"m": {1: "a", "b": 2}}) == []
    assert anomalies(mixed.record_tool_call("t", {"m": {1: "a", "b": 2}}))


def test_stuck_threshold_is_configurable() -> None:
    monitor, _ = make(stuck_threshold=5)
    assert calls(monitor, *"aaaa") == []
    assert [a.details["count"] for a in anomalies(calls(monitor, "a"))] == [5]


def test_argument_values_never_appear_in_anomalies_or_status() -> None:
    monitor, _ = make()
    for _ in range(3):
        events = monitor.record_tool_call("login", {"password": "hunter2-secret"})
    dumped = json.dumps([event.to_dict() for event in events])
    dumped += json.dumps(monitor.health_status()) + json.dumps(monitor.to_dict())
    assert "hunter2" not in dumped
    assert "login" in dumped


def test_ongoing_stuck_is_not_reported_again_within_the_cooldown() -> None:
    monitor, clock = make(cooldown=300)
    assert len(anomalies(calls(monitor, *"aaa"))) == 1
    assert calls(monitor, *"aaaaa") == []
    clock.advance(299.0)
    assert calls(monitor, "a") == []
    clock.advance(1.0)
    reminder = anomalies(calls(monitor, "a"))
    assert len(reminder) == 1
    assert reminder[0].details["count"] == 10


def test_cooldown_zero_reports_every_repeat() -> None:
    monitor, _ = make(cooldown=0)
    assert len(anomalies(calls(monitor, *"aaaaa"))) == 3


def test_stuck_recovers_once_when_the_run_makes_a_different_call() -> None:
    monitor, clock = make()
    calls(monitor, *"aaa")
    clock.advance(5)
    events = calls(monitor, "b")
    assert len(events) == 1
    recovery = events[0]
    assert isinstance(recovery, Recovery)
    assert recovery.anomaly_type is AnomalyType.STUCK
    assert recovery.details == {"run_id": "", "reason": "pattern_broken"}
    assert (recovery.timestamp - recovery.since).total_seconds() == 5
    assert calls(monitor, "c", "d") == []


def test_stuck_recovers_when_its_run_ends_whatever_the_outcome() -> None:
    monitor, _ = make()
    calls(monitor, *"aaa", run_id="e1")
    ended = recoveries(monitor.record_error(run_id="e1"))
    assert [r.details for r in ended] == [
        {"run_id": "e1", "reason": "run_ended", "outcome": "error"}]
    assert monitor.record_success(run_id="e1") == []


def test_a_different_stuck_call_is_reported_at_once() -> None:
    monitor, _ = make()
    assert len(anomalies(calls(monitor, *"aaa"))) == 1
    events = calls(monitor, *"bbb")
    assert [type(e).__name__ for e in events] == ["Recovery", "Anomaly"]
    assert events[1].details["tool"] == "b"


def test_each_run_has_its_own_tool_history() -> None:
    monitor, _ = make()
    for _ in range(2):
        assert calls(monitor, "a", run_id="e1") == []
        assert calls(monitor, "a", run_id="e2") == []
    stuck = anomalies(calls(monitor, "a", run_id="e2"))
    assert [a.details["run_id"] for a in stuck] == ["e2"]
    assert monitor.tool_history.keys() == {"e1", "e2"}
    assert len(monitor.tool_history["e1"]) == 2


def test_a_new_run_starts_a_fresh_history() -> None:
    monitor, _ = make()
    calls(monitor, "a", "a")
    monitor.record_success()
    assert monitor.tool_history == {}
    assert calls(monitor, "a", "a") == []


def test_the_same_stuck_call_in_the_next_run_waits_for_the_cooldown() -> None:
    monitor, clock = make(cooldown=60)
    calls(monitor, *"aaa", run_id="e1")
    monitor.record_success(run_id="e1")
    clock.advance(30)
    assert calls(monitor, *"aaa", run_id="e2") == []
    status = monitor.health_status()
    assert status["is_healthy"] is False
    assert status["active_anomalies"][0]["reported"] is False
    assert monitor.record_success(run_id="e2") == [], "no recovery for a hidden incident"
    clock.advance(30)
    assert len(anomalies(calls(monitor, *"aaa", run_id="e3"))) == 1


def test_a_stuck_threshold_of_one_is_refused_by_the_config() -> None:
    with pytest.raises(ValueError, match="stuck_threshold"):
        HealthConfig(enabled=True, stuck_threshold=1)  # every call would be "stuck"


# -- loop ----------------------------------------------------------------------------------------


def test_a_b_a_b_alone_is_not_a_loop_with_the_defaults() -> None:
    monitor, _ = make()
    assert calls(monitor, *"abab") == []
    assert calls(monitor, "a") == []


def test_a_block_and_two_repeats_is_a_loop_with_the_defaults() -> None:
    monitor, _ = make()
    events = calls(monitor, *"ababab")
    assert len(events) == 1
    loop = events[0]
    assert isinstance(loop, Anomaly)
    assert loop.anomaly_type is AnomalyType.LOOP
    assert [step["tool"] for step in loop.details["pattern"]] == ["a", "b"]
    assert loop.details["occurrences"] == 3
    assert loop.details["repeats"] == 2
    assert loop.details["min_repeats"] == 2
    assert "a -> b ran 3 times in a row" in loop.description


def test_three_call_block_needs_nine_calls() -> None:
    monitor, _ = make()
    assert calls(monitor, "check", "fix", "verify") == []
    assert calls(monitor, "check", "fix", "verify", "check", "fix") == []
    loop = anomalies(calls(monitor, "verify"))
    assert len(loop) == 1
    assert [s["tool"] for s in loop[0].details["pattern"]] == ["check", "fix", "verify"]


def test_loop_min_repeats_three_needs_four_occurrences() -> None:
    monitor, _ = make(loop_min_repeats=3)
    assert calls(monitor, *"ababab") == []
    assert len(anomalies(calls(monitor, *"ab"))) == 1


def test_working_through_different_arguments_is_not_a_loop() -> None:
    monitor, _ = make()
    events: list[HealthEvent] = []
    for item in range(10):
        events += monitor.record_tool_call("check", {"item": item})
        events += monitor.record_tool_call("fix", {"item": item})
    assert events == []


def test_one_call_repeated_is_stuck_not_a_loop() -> None:
    monitor, _ = make(stuck_threshold=10)
    assert calls(monitor, *("a" * 9)) == []
    assert [a.anomaly_type for a in anomalies(calls(monitor, "a"))] == [AnomalyType.STUCK]


def test_a_block_with_repeated_calls_inside_is_a_loop() -> None:
    monitor, _ = make()
    assert calls(monitor, *"aabaabaa") == []
    loop = anomalies(calls(monitor, "b"))
    assert [s["tool"] for s in loop[0].details["pattern"]] == ["a", "a", "b"]


def test_the_shortest_block_is_reported() -> None:
    monitor, _ = make()
    loop = anomalies(calls(monitor, *"ababab"))
    assert len(loop[0].details["pattern"]) == 2
    assert calls(monitor, *"ababab") == [], "abab-abab-abab is the same loop, still going"


def test_loop_continuing_is_one_incident_and_recovers_once_when_left() -> None:
    monitor, clock = make()
    calls(monitor, *"ababab")
    assert calls(monitor, *"abababa") == []
    clock.advance(2)
    events = calls(monitor, "c")
    assert [(type(e).__name__, e.anomaly_type) for e in events] == [
        ("Recovery", AnomalyType.LOOP)]
    assert events[0].details["reason"] == "pattern_broken"
    assert calls(monitor, "d") == []


def test_a_loop_is_the_same_up_to_rotation_for_the_cooldown() -> None:
    monitor, _ = make()
    first = anomalies(calls(monitor, *"ababab", run_id="e1"))
    monitor.record_success(run_id="e1")
    assert calls(monitor, *"bababa", run_id="e2") == []
    other = anomalies(calls(monitor, *"acacac", run_id="e3"))
    assert len(first) == 1
    assert len(other) == 1
    assert other[0].evidence != first[0].evidence


def test_loop_must_fit_in_the_window() -> None:
    monitor, _ = make(loop_window=20)
    assert len(anomalies(calls(monitor, *("abcdef" * 3)))) == 1
    monitor.record_success()
    assert calls(monitor, *("abcdefg" * 3)) == [], "7 calls x 3 = 21 > 20"
    small, _ = make(loop_window=8)
    assert calls(small, *("abc" * 3)) == [], "3 calls x 3 = 9 > 8"
    assert len(anomalies(calls(small, *("de" * 3)))) == 1


def test_a_window_too_small_for_any_loop_is_refused() -> None:
    with pytest.raises(ValueError, match=r"loop_window: 5 cannot hold a loop"):
        HealthConfig(enabled=True, loop_window=5, loop_min_repeats=2)
    # model_copy skips validation; the monitor checks again.
    config = HealthConfig(enabled=True).model_copy(update={"loop_window": 5})
    with pytest.raises(ValueError, match=r"loop_window: 5 .* must be >= 6"):
        HealthMonitor(config, "p", clock=ManualClock())
    HealthMonitor(config.model_copy(update={"loop_window": 6}), "p", clock=ManualClock())


def test_stuck_and_loop_follow_each_other() -> None:
    monitor, _ = make()
    assert [a.anomaly_type for a in anomalies(calls(monitor, *"ababab"))] == [AnomalyType.LOOP]
    events = calls(monitor, *"bb")
    assert [(type(e).__name__, e.anomaly_type) for e in events] == [
        ("Recovery", AnomalyType.LOOP), ("Anomaly", AnomalyType.STUCK)]


# -- empty responses -----------------------------------------------------------------------------


def test_empty_responses_after_threshold_short_replies() -> None:
    monitor, _ = make()
    assert replies(monitor, "", "ok") == []
    events = replies(monitor, "   \n")
    assert len(events) == 1
    anomaly = events[0]
    assert isinstance(anomaly, Anomaly)
    assert anomaly.anomaly_type is AnomalyType.EMPTY_RESPONSE
    assert anomaly.details == {"consecutive": 3, "lengths": [0, 2, 0], "max_chars": 10}


def test_short_means_fewer_than_empty_max_chars_after_stripping() -> None:
    monitor, _ = make()
    assert replies(monitor, "0123456789", "0123456789", "  0123456789  ") == []
    assert len(anomalies(replies(monitor, "012345678", "012345678", "  012345678\t"))) == 1


def test_a_long_reply_resets_the_streak_and_recovers_once() -> None:
    monitor, _ = make()
    assert replies(monitor, "", "", "a real answer", "", "") == []
    replies(monitor, "")
    events = replies(monitor, "a real answer")
    assert [(type(e).__name__, e.details) for e in events] == [
        ("Recovery", {"reason": "reply", "length": 13})]
    assert replies(monitor, "another one") == []


def test_replies_count_across_runs() -> None:
    monitor, _ = make()
    replies(monitor, "")
    monitor.record_success()
    replies(monitor, "")
    monitor.record_success()
    assert len(anomalies(replies(monitor, ""))) == 1


def test_ongoing_empty_replies_respect_the_cooldown() -> None:
    monitor, clock = make(cooldown=100)
    replies(monitor, "", "", "")
    assert replies(monitor, "", "") == []
    clock.advance(100)
    assert [a.details["consecutive"] for a in anomalies(replies(monitor, ""))] == [6]


def test_empty_max_chars_zero_never_flags() -> None:
    monitor, _ = make(empty_max_chars=0)
    assert replies(monitor, "", "", "", "") == []


def test_reply_text_is_never_kept() -> None:
    monitor, _ = make(empty_max_chars=50)
    events = replies(monitor, "secret-token-1", "secret-token-2", "secret-token-3")
    dumped = json.dumps([e.to_dict() for e in events]) + json.dumps(monitor.to_dict())
    assert "secret-token" not in dumped


# -- error rate ----------------------------------------------------------------------------------


def test_error_rate_waits_for_a_full_window() -> None:
    monitor, _ = make()
    assert outcomes(monitor, "EEEEEEEEE") == []
    events = outcomes(monitor, "E")
    assert [a.anomaly_type for a in anomalies(events)] == [AnomalyType.HIGH_ERROR_RATE]
    assert events[0].details == {"errors": 10, "window": 10, "rate": 1.0, "threshold": 0.5}


def test_error_rate_threshold_is_inclusive() -> None:
    monitor, _ = make()
    assert outcomes(monitor, ".....EEEE") == []
    assert outcomes(monitor, ".") == [], "4 of 10"
    assert len(anomalies(outcomes(monitor, "E"))) == 1, "5 of 10 (the oldest ok slid out)"


def test_error_rate_compares_exact_fractions() -> None:
    monitor, _ = make(error_rate_threshold=0.7)
    assert outcomes(monitor, "...EEEEEE.") == []
    assert len(anomalies(outcomes(monitor, "E"))) == 1, "7 of 10 is 0.7"


def test_error_rate_recovers_once_when_below_threshold() -> None:
    monitor, clock = make(error_window=4)
    assert len(anomalies(outcomes(monitor, "EE.E"))) == 1
    assert outcomes(monitor, "E") == []
    clock.advance(10)
    assert outcomes(monitor, "..") == [], "2 of 4 is still at the threshold"
    events = outcomes(monitor, ".")
    assert [type(e).__name__ for e in events] == ["Recovery"]
    recovery = recoveries(events)[0]
    assert (recovery.timestamp - recovery.since).total_seconds() == 10
    assert recovery.details["rate"] == 0.25
    assert outcomes(monitor, "..") == []


def test_error_window_of_one_flags_a_single_failure() -> None:
    monitor, _ = make(error_window=1)
    assert len(anomalies(outcomes(monitor, "E"))) == 1
    assert len(recoveries(outcomes(monitor, "."))) == 1


def test_discarded_runs_add_no_sample_but_end_the_run() -> None:
    monitor, _ = make(error_window=2)
    calls(monitor, *"aaa", run_id="e1")
    events = monitor.discard_run(run_id="e1")
    assert [r.details["outcome"] for r in recoveries(events)] == ["discarded"]
    assert monitor.tool_history == {}
    assert outcomes(monitor, "E") == []
    assert monitor.discard_run(run_id="never-seen") == []


def test_process_wide_anomalies_are_keyed_by_kind_only() -> None:
    monitor, clock = make(error_window=2, cooldown=50)
    outcomes(monitor, "EE")
    outcomes(monitor, "..")
    clock.advance(10)
    assert outcomes(monitor, "EE") == [], "same kind within the cooldown"
    assert len(anomalies(replies(monitor, "", "", ""))) == 1, "another kind"


# -- actions, status, clearing -------------------------------------------------------------------


@pytest.mark.parametrize("action", ["log", "pause", "escalate"])
def test_the_configured_action_travels_on_the_anomaly(action: str) -> None:
    monitor, _ = make(on_anomaly=action)
    assert anomalies(calls(monitor, *"aaa"))[0].action == action
    assert monitor.health_status()["on_anomaly"] == action


def test_health_status_summarises() -> None:
    monitor, _ = make()
    healthy = monitor.health_status()
    assert healthy == {
        "enabled": True, "is_healthy": True, "anomaly_count": 0,
        "anomalies_by_type": {"stuck": 0, "loop": 0, "empty_response": 0, "high_error_rate": 0},
        "recovery_count": 0, "active_anomalies": [], "latest_anomaly": None,
        "on_anomaly": "log",
    }
    calls(monitor, *"aaa", run_id="e1")
    calls(monitor, "b", run_id="e1")
    replies(monitor, "", "", "")
    status = monitor.health_status()
    json.dumps(status)
    assert status["is_healthy"] is False
    assert status["anomaly_count"] == 2
    assert status["anomalies_by_type"]["stuck"] == 1
    assert status["anomalies_by_type"]["empty_response"] == 1
    assert status["recovery_count"] == 1
    assert [(a["anomaly_type"], a["run_id"], a["reported"]) for a in status[
        "active_anomalies"]] == [("empty_response", None, True)]
    assert status["latest_anomaly"]["anomaly_type"] == "empty_response"
    assert monitor.latest_anomaly is monitor.anomalies[-1]


def test_history_keeps_the_last_anomalies_but_counts_them_all() -> None:
    clock = ManualClock()
    monitor = HealthMonitor(HealthConfig(enabled=True, cooldown=0), "p", clock=clock,
                            history_limit=2)
    calls(monitor, *"aaaaa")
    assert len(monitor.anomalies) == 2
    assert monitor.health_status()["anomaly_count"] == 3


def test_clear_anomalies_starts_afresh() -> None:
    monitor, _ = make(error_window=3)
    calls(monitor, *"aaa")
    outcomes(monitor, "EEE")
    assert monitor.clear_anomalies() == 2
    status = monitor.health_status()
    assert status["anomaly_count"] == 0
    assert status["is_healthy"] is True
    assert status["latest_anomaly"] is None
    assert monitor.anomalies == []
    assert outcomes(monitor, "E") == [], "the old window is gone"
    assert calls(monitor, "a", "a") == [], "the old tool history is gone"
    assert len(anomalies(calls(monitor, "a"))) == 1, "and so is the cooldown"
    assert len(anomalies(outcomes(monitor, "EE"))) == 1
    assert monitor.clear_anomalies() == 2


def test_a_disabled_monitor_ignores_observations() -> None:
    monitor = HealthMonitor(HealthConfig(), "p", clock=ManualClock())
    assert calls(monitor, *"aaaaaa") == []
    assert replies(monitor, "", "", "") == []
    assert outcomes(monitor, "E" * 10) == []
    assert monitor.discard_run() == []
    assert monitor.health_status()["enabled"] is False
    assert monitor.health_status()["is_healthy"] is True
    with pytest.raises(ValueError, match="tool_name"):
        monitor.record_tool_call("")


def test_update_config_applies_new_thresholds_and_keeps_evidence() -> None:
    monitor, _ = make(error_window=10)
    assert outcomes(monitor, "EEE.......") == []
    monitor.update_config(HealthConfig(enabled=True, error_window=4, on_anomaly="pause"))
    assert outcomes(monitor, "E") == [], "1 of the last 4"
    events = outcomes(monitor, "E")
    assert [(a.action, a.details["errors"]) for a in anomalies(events)] == [("pause", 2)]
    assert monitor.config.error_window == 4


def test_disabling_drops_open_incidents_but_keeps_the_history() -> None:
    monitor, _ = make()
    replies(monitor, "", "", "")
    monitor.update_config(HealthConfig(enabled=False))
    status = monitor.health_status()
    assert status["is_healthy"] is True
    assert status["anomaly_count"] == 1
    monitor.update_config(HealthConfig(enabled=True))
    assert replies(monitor, "a real answer") == []


def test_bad_update_config_changes_nothing() -> None:
    monitor, _ = make()
    with pytest.raises(TypeError, match="config: expected a HealthConfig"):
        monitor.update_config({"enabled": True})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loop_window"):
        monitor.update_config(HealthConfig(enabled=True, loop_window=4))
    assert monitor.config.loop_window == 20


def test_a_forgotten_run_closes_its_incidents() -> None:
    monitor, _ = make()
    calls(monitor, *"aaa", run_id="first")
    for number in range(OPEN_RUN_LIMIT - 1):
        assert calls(monitor, "x", run_id=f"run-{number}") == []
    events = calls(monitor, "x", run_id="one-too-many")
    assert [(r.details["run_id"], r.details["outcome"]) for r in recoveries(events)] == [
        ("first", "forgotten")]
    assert len(monitor.tool_history) == OPEN_RUN_LIMIT
    assert "first" not in monitor.tool_history


# -- bad input -----------------------------------------------------------------------------------


def test_bad_constructor_arguments_name_the_argument() -> None:
    clock = ManualClock()
    config = HealthConfig(enabled=True)
    with pytest.raises(TypeError, match="config"):
        HealthMonitor({"enabled": True}, "p", clock=clock)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="process_id"):
        HealthMonitor(config, "", clock=clock)
    with pytest.raises(ValueError, match="history_limit"):
        HealthMonitor(config, "p", clock=clock, history_limit=0)
    with pytest.raises(ValueError, match="history_limit"):
        HealthMonitor(config, "p", clock=clock, history_limit=True)


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda m: m.record_tool_call("", {}), ValueError, "tool_name"),
        (lambda m: m.record_tool_call(7, {}), ValueError, "tool_name"),
        (lambda m: m.record_tool_call("t", ["x"]), TypeError, "args"),
        (lambda m: m.record_tool_call("t", {1: "x"}), TypeError, "args"),
        (lambda m: m.record_tool_call("t", {}, run_id=3), TypeError, "run_id"),
        (lambda m: m.record_response(None), TypeError, "content"),
        (lambda m: m.record_response(b"ok"), TypeError, "content"),
        (lambda m: m.record_success(run_id=None), TypeError, "run_id"),
        (lambda m: m.record_error(run_id=1), TypeError, "run_id"),
        (lambda m: m.discard_run(run_id=1.5), TypeError, "run_id"),
    ],
)
def test_bad_observations_name_the_argument_and_change_nothing(
    call: Any, error: type[Exception], name: str
) -> None:
    monitor, _ = make()
    calls(monitor, "a", "a")
    replies(monitor, "", "")
    before = (monitor.to_dict(), monitor.tool_history)
    with pytest.raises(error, match=name):
        call(monitor)
    assert (monitor.to_dict(), monitor.tool_history) == before


# -- checkpoints ---------------------------------------------------------------------------------


def round_trip(monitor: HealthMonitor, clock: ManualClock, **fields: Any) -> HealthMonitor:
    """A monitor rebuilt from a JSON-encoded checkpoint of `monitor`."""
    data = json.loads(json.dumps(monitor.to_dict()))
    config = HealthConfig.model_validate({"enabled": True, **fields})
    return HealthMonitor.from_dict(data, config, clock=clock)


def test_checkpoint_keeps_history_counts_and_cooldowns() -> None:
    monitor, clock = make()
    calls(monitor, *"aaa", run_id="e1")
    monitor.record_success(run_id="e1")
    restored = round_trip(monitor, clock)
    assert restored.process_id == "proc-1"
    assert restored.anomalies == monitor.anomalies
    assert restored.health_status() == monitor.health_status()
    assert calls(restored, *"aaa", run_id="e2") == [], "the cooldown survived"
    clock.advance(300)
    assert len(anomalies(calls(restored, "a", run_id="e2"))) == 1


def test_checkpoint_keeps_reply_streak_error_window_and_open_incidents() -> None:
    monitor, clock = make(error_window=3)
    replies(monitor, "", "")
    outcomes(monitor, "EEE")
    restored = round_trip(monitor, clock, error_window=3)
    assert len(anomalies(replies(restored, ""))) == 1
    assert outcomes(restored, ".") == []
    assert len(recoveries(outcomes(restored, "."))) == 1, "the restored incident recovers"


def test_checkpoint_leaves_out_tool_histories_of_runs_in_flight() -> None:
    monitor, clock = make()
    calls(monitor, "a", "a", run_id="e1")
    assert "e1" not in json.dumps(monitor.to_dict())
    restored = round_trip(monitor, clock)
    assert calls(restored, "a", run_id="e1") == [], "the re-run starts afresh"


def test_checkpoint_under_a_new_config_trims_the_windows() -> None:
    monitor, clock = make()
    outcomes(monitor, "EEE.......")
    restored = round_trip(monitor, clock, error_window=2)
    assert [a.details for a in anomalies(outcomes(restored, "E"))] == [
        {"errors": 1, "window": 2, "rate": 0.5, "threshold": 0.5}]


def test_expired_cooldowns_are_not_checkpointed() -> None:
    monitor, clock = make(cooldown=10)
    calls(monitor, *"aaa")
    assert len(monitor.to_dict()["cooldowns"]) == 1
    clock.advance(10)
    assert monitor.to_dict()["cooldowns"] == {}


def test_anomaly_and_recovery_round_trip() -> None:
    monitor, _ = make()
    events = calls(monitor, *"aaa") + calls(monitor, "b")
    anomaly, recovery = events
    assert isinstance(anomaly, Anomaly)
    assert isinstance(recovery, Recovery)
    assert Anomaly.from_dict(json.loads(json.dumps(anomaly.to_dict()))) == anomaly
    assert Recovery.from_dict(json.loads(json.dumps(recovery.to_dict()))) == recovery


def good_checkpoint() -> dict[str, Any]:
    monitor, _ = make()
    calls(monitor, *"aaa")
    replies(monitor, "", "", "")
    outcomes(monitor, "E")
    data: dict[str, Any] = json.loads(json.dumps(monitor.to_dict()))
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format=2), "health.format"),
        (lambda d: d.pop("process_id"), r"health\.process_id: missing"),
        (lambda d: d.update(anomalies="x"), "health.anomalies: expected list"),
        (lambda d: d["anomalies"][0].update(anomaly_type="bogus"), "anomaly.anomaly_type"),
        (lambda d: d["anomalies"][0].update(timestamp="yesterday"), "anomaly.timestamp"),
        (lambda d: d["anomalies"][0].update(details=[]), "anomaly.details"),
        (lambda d: d["counts"].update(stuck=-1), r"health\.counts\.stuck: must be >= 0"),
        (lambda d: d["counts"].update(loop=True), r"health\.counts\.loop: expected int"),
        (lambda d: d.update(recovery_count="1"), "health.recovery_count"),
        (lambda d: d.update(cooldowns={"stuck:x": "now"}), r"health\.cooldowns"),
        (lambda d: d.update(reply_lengths=[-1]), "health.reply_lengths"),
        (lambda d: d.update(short_streak=-2), "health.short_streak"),
        (lambda d: d.update(outcomes=["maybe"]), "health.outcomes"),
        (lambda d: d.update(incidents={"stuck": {}}), "health.incidents"),
        (lambda d: d["incidents"].update(empty_response={"evidence": ""}),
         r"incidents\.empty_response\.since: missing"),
    ],
)
def test_bad_checkpoints_name_the_field(mutate: Any, message: str) -> None:
    data = good_checkpoint()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        HealthMonitor.from_dict(data, HealthConfig(enabled=True), clock=ManualClock())


def test_checkpoint_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="health: expected a mapping"):
        HealthMonitor.from_dict([], HealthConfig(), clock=ManualClock())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="anomaly: expected a mapping"):
        Anomaly.from_dict("x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"recovery\.since"):
        Recovery.from_dict({"anomaly_type": "loop", "description": "", "timestamp":
                            "2026-01-01T00:00:00+00:00", "details": {}, "evidence": "",
                            "process_id": "p"})
