"""`CronTriggerActor` on a `ManualClock`: a simulated day, DST days, downtime, clock jumps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from trigger_support import RecordingHost

from greenroom.actors import ManualClock
from greenroom.triggers.config import TriggerConfig
from greenroom.triggers.cron import MAX_WAIT, CronTriggerActor
from greenroom.triggers.host import Delivery, TriggerStats

if TYPE_CHECKING:
    from greenroom.actors import ActorRef, ActorSystem
    from greenroom.triggers.event import TriggerEvent

START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
NY = "America/New_York"


class SleepyClock(ManualClock):
    """A ManualClock whose wall time can leap while its timers stand still (a machine asleep)."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.slept = 0.0

    def time(self) -> float:
        """Wall time, including the sleeps."""
        return super().time() + self.slept


@pytest.fixture
def clock_start() -> float:
    return START


@pytest.fixture
def manual_clock(clock_start: float) -> ManualClock:
    return SleepyClock(clock_start)


@pytest.fixture
def host(manual_clock: ManualClock) -> RecordingHost:
    return RecordingHost(clock=manual_clock)


def utc(*fields: int) -> float:
    year, month, day, hour, minute = (*fields, 0, 0)[:5]
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def iso(instant: float) -> str:
    return datetime.fromtimestamp(instant, UTC).isoformat()


def spawn_cron(
    system: ActorSystem, host: RecordingHost, expression: str, **fields: Any
) -> tuple[ActorRef[Any], TriggerStats]:
    config = TriggerConfig(type="cron", cron_expression=expression, **fields)
    stats = TriggerStats("t1", "cron")
    return system.spawn(CronTriggerActor, config, "t1", host, stats), stats


def settle(ref: ActorRef[Any]) -> None:
    """Return once the actor has handled every message sent to it so far, and those it sent
    itself meanwhile (an accepted `Delivery` is a no-op for a trigger actor)."""
    for _ in range(2):
        ref.ask(Delivery(True, "settle"), timeout=10)


def run(clock: ManualClock, ref: ActorRef[Any], seconds: float, step: float) -> None:
    """Advance `seconds` in steps, letting the actor handle each step before the next."""
    for _ in range(round(seconds / step)):
        clock.advance(step)
        settle(ref)


def scheduled(events: list[TriggerEvent]) -> list[str]:
    return [event.payload["scheduled_time"] for event in events]


# A simulated day ------------------------------------------------------------------------------


def test_a_simulated_day_fires_every_five_minutes(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost
) -> None:
    ref, stats = spawn_cron(actor_system, host, "*/5 * * * *")
    assert stats.info["next_fire"] == iso(START + 300)
    events: list[TriggerEvent] = []
    for minute in range(1, 24 * 60 + 1):
        manual_clock.advance(60)
        if minute % 5 == 0:
            events.append(host.next_event(timeout=10))
        settle(ref)
    assert host.drain() == []
    slots = [START + 300 * n for n in range(1, 289)]
    assert len(events) == 288
    assert scheduled(events) == [iso(slot) for slot in slots]
    assert [event.metadata["checkpoint"] for event in events] == slots
    assert [event.idempotency_key for event in events] == [f"t1@{iso(s)}" for s in slots]
    assert events[0].payload == {
        "scheduled_time": "2026-01-01T00:05:00+00:00",
        "cron_expression": "*/5 * * * *",
        "timezone": "UTC",
        "catch_up": False,
    }
    assert all(event.trigger_type == "cron" and event.trigger_id == "t1" for event in events)
    assert (stats.fired, stats.refused) == (288, 0)
    assert host.checkpoints["t1"] == START + 86400
    assert stats.info["next_fire"] == iso(START + 86400 + 300)


def test_seconds_schedule(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost
) -> None:
    ref, _ = spawn_cron(actor_system, host, "* * * * * */15")
    run(manual_clock, ref, 60, 5)
    assert scheduled(host.drain()) == [iso(START + s) for s in (15, 30, 45, 60)]


# Daylight saving time in New York -------------------------------------------------------------


def _ny(*fields: int) -> float:
    year, month, day, hour, minute = (*fields, 0, 0)[:5]
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(NY)).timestamp()


@pytest.mark.parametrize(("clock_start", "expression", "expected"), [
    # 2026-03-08: 02:00 EST -> 03:00 EDT. 01:30 is normal; 02:30 does not exist: fires at 03:00.
    (_ny(2026, 3, 7, 12), "30 1 * * *", [utc(2026, 3, 8, 6, 30), utc(2026, 3, 9, 5, 30)]),
    (_ny(2026, 3, 7, 12), "30 2 * * *", [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)]),
    # 2026-11-01: 02:00 EDT -> 01:00 EST. 01:30 happens twice: fires once; 02:30 is normal.
    (_ny(2026, 10, 31, 12), "30 1 * * *", [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]),
    (_ny(2026, 10, 31, 12), "30 2 * * *", [utc(2026, 11, 1, 7, 30), utc(2026, 11, 2, 7, 30)]),
], ids=["spring-0130", "spring-0230", "fall-0130", "fall-0230"])
def test_dst_days_in_new_york(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost,
    expression: str, expected: list[float],
) -> None:
    ref, _ = spawn_cron(actor_system, host, expression, timezone=NY)
    run(manual_clock, ref, 2 * 86400, 300)
    events = host.drain()
    assert scheduled(events) == [iso(slot) for slot in expected]
    assert [event.payload["catch_up"] for event in events] == [False, False]
    assert all(event.payload["timezone"] == NY for event in events)


# Downtime and misfire policies ----------------------------------------------------------------

NOON = utc(2026, 1, 1, 12, 2)  # restart at 12:02; the checkpoint says 11:00 was the last slot


@pytest.mark.parametrize("clock_start", [NOON], ids=["noon"])
@pytest.mark.parametrize(("policy", "window", "expected"), [
    ("skip", 86400.0, []),
    ("latest", 86400.0, [utc(2026, 1, 1, 12)]),
    ("all", 86400.0, [utc(2026, 1, 1, 11, m) for m in range(5, 60, 5)] + [utc(2026, 1, 1, 12)]),
    ("all", 1800.0, [utc(2026, 1, 1, 11, m) for m in range(35, 60, 5)] + [utc(2026, 1, 1, 12)]),
    ("latest", 60.0, []),
], ids=["skip", "latest", "all", "all-half-hour-window", "latest-one-minute-window"])
def test_downtime_is_caught_up_by_policy(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost,
    policy: str, window: float, expected: list[float],
) -> None:
    host.checkpoints["t1"] = utc(2026, 1, 1, 11)
    ref, stats = spawn_cron(actor_system, host, "*/5 * * * *", misfire_policy=policy,
                            catch_up_window=window)
    caught_up = host.drain()  # on_start has run when spawn returns
    assert scheduled(caught_up) == [iso(slot) for slot in expected]
    for event in caught_up:
        assert event.payload["catch_up"] is True
        assert event.payload["missed_count"] == 12
        assert event.idempotency_key == f"t1@{event.payload['scheduled_time']}"
    assert stats.info["next_fire"] == iso(utc(2026, 1, 1, 12, 5))
    run(manual_clock, ref, 180, 60)
    [regular] = host.drain()
    assert regular.payload["scheduled_time"] == iso(utc(2026, 1, 1, 12, 5))
    assert regular.payload["catch_up"] is False
    assert "missed_count" not in regular.payload


@pytest.mark.parametrize("clock_start", [NOON], ids=["noon"])
def test_a_first_start_misses_nothing(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost
) -> None:
    ref, _ = spawn_cron(actor_system, host, "*/5 * * * *", misfire_policy="all")
    assert host.drain() == []
    run(manual_clock, ref, 180, 60)
    assert scheduled(host.drain()) == [iso(utc(2026, 1, 1, 12, 5))]


@pytest.mark.parametrize("clock_start", [NOON], ids=["noon"])
def test_a_checkpoint_ahead_of_the_clock_is_not_fired_again(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost
) -> None:
    host.checkpoints["t1"] = utc(2026, 1, 1, 12, 10)  # the clock was set back five minutes
    ref, stats = spawn_cron(actor_system, host, "*/5 * * * *", misfire_policy="all")
    assert host.drain() == []
    assert stats.info["next_fire"] == iso(utc(2026, 1, 1, 12, 15))
    run(manual_clock, ref, 13 * 60, 60)
    assert scheduled(host.drain()) == [iso(utc(2026, 1, 1, 12, 15))]


@pytest.mark.parametrize("clock_start", [NOON], ids=["noon"])
@pytest.mark.parametrize("checkpoint", ["yesterday", float("nan"), 1e300, True])
def test_a_checkpoint_that_is_not_a_time_is_ignored(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost, checkpoint: Any
) -> None:
    host.checkpoints["t1"] = checkpoint
    ref, _ = spawn_cron(actor_system, host, "*/5 * * * *", misfire_policy="all")
    assert host.drain() == []
    run(manual_clock, ref, 180, 60)
    assert scheduled(host.drain()) == [iso(utc(2026, 1, 1, 12, 5))]


def test_on_the_system_clock(actor_system: ActorSystem) -> None:
    host = RecordingHost(clock=actor_system.clock)
    spawn_cron(actor_system, host, "* * * * * *")
    first, second = host.next_event(timeout=10), host.next_event(timeout=10)
    assert first.payload["scheduled_time"] < second.payload["scheduled_time"]


# Clock jumps while running --------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "expected"), [
    ("all", [START + 300 * n for n in range(1, 13)]),
    ("latest", [START + 3600]),
    ("skip", []),
])
def test_a_machine_asleep_catches_up_on_waking(
    actor_system: ActorSystem, manual_clock: SleepyClock, host: RecordingHost,
    policy: str, expected: list[float],
) -> None:
    ref, _ = spawn_cron(actor_system, host, "*/5 * * * *", misfire_policy=policy)
    manual_clock.slept = 3600.0 - MAX_WAIT  # wall time leaps; the timers stood still
    run(manual_clock, ref, MAX_WAIT, MAX_WAIT)  # the actor looks at the wall clock at last
    events = host.drain()
    assert scheduled(events) == [iso(slot) for slot in expected]
    assert all(e.payload["catch_up"] and e.payload["missed_count"] == 12 for e in events)
    run(manual_clock, ref, 300, 60)
    assert scheduled(host.drain()) == [iso(START + 3900)]


def test_one_long_advance_fires_each_slot_once_under_all(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost
) -> None:
    ref, _ = spawn_cron(actor_system, host, "*/5 * * * *", misfire_policy="all")
    manual_clock.advance(3600)  # ticks race the advance: some slots may come as catch-up
    settle(ref)
    run(manual_clock, ref, MAX_WAIT, MAX_WAIT)
    assert scheduled(host.drain()) == [iso(START + 300 * n) for n in range(1, 13)]


def test_a_clock_set_back_does_not_fire_early_or_twice(
    actor_system: ActorSystem, manual_clock: SleepyClock, host: RecordingHost
) -> None:
    ref, _ = spawn_cron(actor_system, host, "*/5 * * * *")
    run(manual_clock, ref, 300, 60)
    assert scheduled(host.drain()) == [iso(START + 300)]
    manual_clock.slept = -600.0  # the wall clock goes back ten minutes
    run(manual_clock, ref, 600, 60)
    assert host.drain() == []
    run(manual_clock, ref, 300, 60)
    assert scheduled(host.drain()) == [iso(START + 600)]


# Refusals and configuration -------------------------------------------------------------------


def test_a_refused_delivery_is_counted(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost
) -> None:
    ref, stats = spawn_cron(actor_system, host, "*/5 * * * *")
    host.refuse_reason = "process suspended"
    run(manual_clock, ref, 300, 60)
    assert host.drain() == []
    assert (stats.fired, stats.refused) == (1, 1)
    assert "t1" not in host.checkpoints
    host.refuse_reason = None
    run(manual_clock, ref, 300, 60)
    [event] = host.drain()
    assert event.payload["scheduled_time"] == iso(START + 600)
    assert (stats.fired, stats.refused) == (2, 1)
    assert host.checkpoints["t1"] == START + 600


def test_a_filter_drops_slots(
    actor_system: ActorSystem, manual_clock: ManualClock, host: RecordingHost
) -> None:
    ref, stats = spawn_cron(actor_system, host, "*/5 * * * *",
                            filter_expression="not scheduled_time.endswith(':05:00+00:00')")
    run(manual_clock, ref, 600, 60)
    assert scheduled(host.drain()) == [iso(START + 600)]
    assert stats.filtered == 1


@pytest.mark.parametrize(("fields", "fragment"), [
    ({"cron_expression": "0 0 31 2 *"}, "cron_expression: '0 0 31 2 *' never fires"),
    ({"cron_expression": "@reboot"}, "cron_expression: '@reboot'"),
    ({"cron_expression": "0 0 1 1 * 0 2030"}, "cron_expression: expected 5 fields"),
    ({"cron_expression": "61 * * * *"}, "cron_expression: '61 * * * *' is not valid"),
    ({}, "cron_expression: required"),
    ({"cron_expression": "* * * * *", "timezone": "Moon/Base"}, "timezone: unknown IANA"),
])
def test_config_errors_name_the_field(fields: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TriggerConfig(type="cron", **fields)
    assert fragment in str(caught.value)
