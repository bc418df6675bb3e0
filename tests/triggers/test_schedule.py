"""Cron schedules (validation, time zones, DST) and catch-up planning, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from greenroom.triggers.config import MAX_CATCH_UP
from greenroom.triggers.schedule import (
    CatchUp,
    CronSchedule,
    _year_changes,
    iso_utc,
    plan_catch_up,
    zone_of,
)

NY = "America/New_York"


def at(tz: str, *fields: int) -> float:
    """Epoch seconds of a local time in `tz` (first occurrence if repeated)."""
    year, month, day, hour, minute, second = (*fields, 0, 0, 0)[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz)).timestamp()


def utc(*fields: int) -> float:
    return at("UTC", *fields)


def local(instant: float, tz: str) -> str:
    return datetime.fromtimestamp(instant, ZoneInfo(tz)).strftime("%m-%d %H:%M:%S%z")


def upcoming(schedule: CronSchedule, start: float, n: int) -> list[str]:
    return [local(s, schedule.timezone) for s in islice(schedule.slots_after(start), n)]


# Validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("alias", "expected"), [
    ("@yearly", utc(2027, 1, 1)),
    ("@annually", utc(2027, 1, 1)),
    ("@monthly", utc(2026, 2, 1)),
    ("@weekly", utc(2026, 1, 4)),  # 2026-01-01 is a Thursday: next Sunday
    ("@daily", utc(2026, 1, 2)),
    ("@midnight", utc(2026, 1, 2)),
    ("@hourly", utc(2026, 1, 1, 1)),
    ("@HOURLY", utc(2026, 1, 1, 1)),
])
def test_aliases(alias: str, expected: float) -> None:
    assert CronSchedule(alias).next_after(utc(2026, 1, 1)) == expected


def test_six_fields_take_trailing_seconds() -> None:
    schedule = CronSchedule("* * * * * 30")
    assert upcoming(schedule, utc(2026, 1, 1), 2) == ["01-01 00:00:30+0000", "01-01 00:01:30+0000"]
    every_ten = CronSchedule("*/2 * * * * */10")
    assert upcoming(every_ten, utc(2026, 1, 1, 0, 0, 50), 2) == [
        "01-01 00:02:00+0000", "01-01 00:02:10+0000",
    ]


@pytest.mark.parametrize(("expression", "fragment"), [
    ("@reboot", "'@reboot'"),
    ("@often", "unknown alias"),
    ("0 0 1 1 * 2027 *", "got 7"),
    ("0 0 1 1 * 2027", "not valid"),  # 6 fields: the last is seconds, 2027 is out of range
    ("* * * *", "got 4"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("61 * * * *", "not valid"),
    ("* 24 * * *", "not valid"),
    ("* * * * 8", "not valid"),
    ("a b c d e", "not valid"),
    ("R * * * *", "random (R) and hashed (H)"),
    ("H * * * *", "random (R) and hashed (H)"),
    ("0 0 31 2 *", "never fires"),
    ("0 0 30 2 *", "never fires"),
    ("0 0 31 4 *", "never fires"),
    ("0 0 31 4,6,9,11 *", "never fires"),
])
def test_bad_expressions_are_refused_naming_the_field(expression: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=r"^cron_expression: ") as caught:
        CronSchedule(expression)
    assert fragment in str(caught.value)


def test_impossible_date_passes_croniter_but_not_us() -> None:
    assert croniter.is_valid("0 0 31 2 *")
    with pytest.raises(ValueError, match="never fires"):
        CronSchedule("0 0 31 2 *")


def test_rare_but_possible_dates_are_accepted() -> None:
    leap = CronSchedule("0 0 29 2 *", "Europe/Paris")
    assert upcoming(leap, utc(2026, 1, 1), 2) == ["02-29 00:00:00+0100", "02-29 00:00:00+0100"]
    assert leap.next_after(utc(2026, 1, 1)) == at("Europe/Paris", 2028, 2, 29)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../../etc/passwd", "/etc/localtime"])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"^timezone: unknown IANA time zone"):
        zone_of(name)
    with pytest.raises(ValueError, match=r"^timezone: "):
        CronSchedule("* * * * *", name)


def test_day_of_month_and_day_of_week_combine_with_or() -> None:
    friday_or_13th = CronSchedule("0 0 13 * 5")  # 2026-02-13 is a Friday; 2026-03-13 too
    days = [datetime.fromtimestamp(s, UTC).day for s in islice(
        friday_or_13th.slots_after(utc(2026, 1, 1)), 6)]
    assert days == [2, 9, 13, 16, 23, 30]  # Fridays of January, plus the 13th (a Tuesday)


# next_after -----------------------------------------------------------------------------------


def test_next_after_is_strictly_after_in_utc() -> None:
    schedule = CronSchedule("*/5 * * * *")
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 0, 5)
    assert schedule.next_after(utc(2026, 1, 1) - 0.5) == utc(2026, 1, 1)
    assert schedule.next_after(utc(2026, 1, 1, 0, 4, 59) + 0.999) == utc(2026, 1, 1, 0, 5)


def test_next_after_uses_the_schedule_zone() -> None:
    nine = CronSchedule("0 9 * * *", "Asia/Tokyo")
    assert nine.next_after(utc(2025, 12, 31, 23)) == utc(2026, 1, 1, 0)  # 09:00 JST
    assert nine.next_after(utc(2026, 1, 1, 0)) == utc(2026, 1, 2, 0)
    india = CronSchedule("@hourly", "Asia/Kolkata")  # +05:30: hours fall on UTC half hours
    assert india.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 0, 30)


def test_spring_forward_in_new_york() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC); local 02:xx does not exist that day.
    before = at(NY, 2026, 3, 7, 23)
    assert upcoming(CronSchedule("30 2 * * *", NY), before, 3) == [
        "03-08 03:00:00-0400", "03-09 02:30:00-0400", "03-10 02:30:00-0400",
    ]
    assert CronSchedule("30 2 * * *", NY).next_after(before) == utc(2026, 3, 8, 7)
    assert upcoming(CronSchedule("30 1 * * *", NY), before, 2) == [
        "03-08 01:30:00-0500", "03-09 01:30:00-0400",
    ]
    # Several skipped wall-clock slots fire once, together with a real 03:00 slot.
    assert upcoming(CronSchedule("0,30 2-3 * * *", NY), before, 4) == [
        "03-08 03:00:00-0400", "03-08 03:30:00-0400", "03-09 02:00:00-0400",
        "03-09 02:30:00-0400",
    ]
    # Wildcard hours follow real time: no 02:00 that day.
    assert upcoming(CronSchedule("0 * * * *", NY), at(NY, 2026, 3, 8, 0, 30), 3) == [
        "03-08 01:00:00-0500", "03-08 03:00:00-0400", "03-08 04:00:00-0400",
    ]
    assert upcoming(CronSchedule("*/30 * * * *", NY), at(NY, 2026, 3, 8, 1), 3) == [
        "03-08 01:30:00-0500", "03-08 03:00:00-0400", "03-08 03:30:00-0400",
    ]


def test_fall_back_in_new_york() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC); local 01:xx happens twice.
    before = at(NY, 2026, 10, 31, 23)
    once = CronSchedule("30 1 * * *", NY)
    assert upcoming(once, before, 2) == ["11-01 01:30:00-0400", "11-02 01:30:00-0500"]
    assert once.next_after(before) == utc(2026, 11, 1, 5, 30)
    assert once.next_after(utc(2026, 11, 1, 5, 30)) == utc(2026, 11, 2, 6, 30)
    # Starting inside the repeated hour does not fire the repeat either.
    assert once.next_after(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30)
    pinned = CronSchedule("*/20 1-2 * * *", NY)
    assert upcoming(pinned, before, 6) == [
        "11-01 01:00:00-0400", "11-01 01:20:00-0400", "11-01 01:40:00-0400",
        "11-01 02:00:00-0500", "11-01 02:20:00-0500", "11-01 02:40:00-0500",
    ]
    assert upcoming(CronSchedule("30 2 * * *", NY), before, 1) == ["11-01 02:30:00-0500"]
    # Wildcard hours follow real time through the repeated hour.
    quarter = CronSchedule("*/15 * * * *", NY)
    real = list(islice(quarter.slots_after(utc(2026, 11, 1, 4, 50)), 12))
    assert [b - a for a, b in pairwise(real)] == [900.0] * 11
    assert local(real[0], NY) == "11-01 01:00:00-0400"
    assert local(real[4], NY) == "11-01 01:00:00-0500"


def _reference(expression: str, tz: str, start: float, end: float) -> list[float]:
    """Brute force over every real second of (start, end]: the rules of schedule.py restated."""
    zone = ZoneInfo(tz)
    step = 1 if len(expression.split()) == 6 else 60
    lo = datetime.fromtimestamp(start, UTC).replace(tzinfo=None) - timedelta(days=1)
    it = croniter(expression, lo, ret_type=datetime)
    wall: set[datetime] = set()
    limit = datetime.fromtimestamp(end, UTC).replace(tzinfo=None) + timedelta(days=1)
    while (slot := it.get_next(datetime)) <= limit:
        wall.add(slot)
    pinned = not expression.split()[1].startswith("*")
    fired: list[float] = []
    t = int(start) - int(start) % step + step
    while t <= end:
        here = datetime.fromtimestamp(t, zone)
        naive = here.replace(tzinfo=None)
        first_time = datetime(*naive.timetuple()[:6], tzinfo=zone).timestamp() == t
        if naive in wall and (first_time or not pinned):
            fired.append(float(t))
        elif pinned:  # the clocks jumped over wall-clock slots just before t: fire at t
            before = datetime.fromtimestamp(t - step, zone).replace(tzinfo=None)
            if naive - before > timedelta(seconds=step) and any(
                    before < w < naive for w in wall):
                fired.append(float(t))
        t += step
    return fired


@pytest.mark.parametrize(("expression", "tz", "day"), [
    ("*/15 * * * *", NY, (2026, 3, 8)),
    ("*/15 * * * *", NY, (2026, 11, 1)),
    ("0,30 1-3 * * *", NY, (2026, 3, 8)),
    ("0,30 1-3 * * *", NY, (2026, 11, 1)),
    ("45 * * * *", NY, (2026, 11, 1)),
    ("*/10 1-2 * * *", "Australia/Lord_Howe", (2026, 4, 5)),  # 30-minute fall back
    ("*/10 1-2 * * *", "Australia/Lord_Howe", (2026, 10, 4)),  # 30-minute spring forward
    ("5 2 * * *", "Europe/London", (2026, 3, 29)),
    ("5 1 * * *", "Europe/London", (2026, 10, 25)),
])
def test_slots_match_a_brute_force_reference_across_dst(
    expression: str, tz: str, day: tuple[int, int, int]
) -> None:
    schedule = CronSchedule(expression, tz)
    start, end = at(tz, *day) - 7200.5, at(tz, *day) + 86400.0
    expected = _reference(expression, tz, start, end)
    forward = list(islice(schedule.slots_after(start), len(expected) + 1))
    assert forward[:-1] == expected
    assert forward[-1] > end
    backward = list(islice(schedule.slots_through(end), len(expected)))
    assert backward[::-1] == expected
    assert schedule.count_between(start, end) == len(expected)


def _hourly_changes(tz: str, year: int) -> list[int]:
    """Brute force: every offset change in the year, found hour by hour then to the second."""
    zone = ZoneInfo(tz)

    def offset(t: int) -> timedelta | None:
        return datetime.fromtimestamp(t, zone).utcoffset()

    start, end = int(utc(year, 1, 1)), int(utc(year + 1, 1, 1))
    changes = []
    for hour in range(start, end, 3600):
        if offset(hour) != offset(min(end, hour + 3600)):
            changes.append(next(t for t in range(hour + 1, min(end, hour + 3600) + 1)
                                if offset(t) != offset(hour)))
    return changes


@pytest.mark.parametrize(("tz", "year"), [
    (NY, 2026), ("Australia/Lord_Howe", 2026), ("Europe/London", 1996), ("UTC", 2026),
    ("Pacific/Apia", 2011),  # the day skipped at the end of the year (-10:00 to +14:00)
    ("Europe/Moscow", 2014),  # a change of standard offset, no DST
])
def test_the_cached_transitions_of_a_year_match_a_brute_force_scan(tz: str, year: int) -> None:
    assert list(_year_changes(ZoneInfo(tz), year)) == _hourly_changes(tz, year)


def test_yearly_and_monthly_schedules_keep_to_the_wall_clock_across_years() -> None:
    yearly = CronSchedule("@yearly", NY)
    assert upcoming(yearly, utc(2026, 6, 1), 3) == ["01-01 00:00:00-0500"] * 3
    slots = list(islice(yearly.slots_after(utc(2026, 6, 1)), 3))
    assert [datetime.fromtimestamp(s, ZoneInfo(NY)).year for s in slots] == [2027, 2028, 2029]
    assert yearly.count_between(utc(2026, 6, 1), utc(2029, 6, 1)) == 3
    monthly = CronSchedule("0 3 1 * *", "Europe/London")
    assert upcoming(monthly, utc(2026, 2, 15), 3) == [
        "03-01 03:00:00+0000", "04-01 03:00:00+0100", "05-01 03:00:00+0100"]
    assert list(islice(monthly.slots_through(utc(2026, 5, 1, 12)), 3))[::-1] == list(
        islice(monthly.slots_after(utc(2026, 2, 15)), 3))


def test_next_after_answers_from_memory_exactly_as_it_computes() -> None:
    """The remembered (instant, slot) pair answers only inside its interval: at a slot, before
    the instant asked, across DST, and for another zone with the same expression."""
    ny, london = CronSchedule("30 1 * * *", NY), CronSchedule("30 1 * * *", "Europe/London")
    again = CronSchedule("30 1 * * *", NY)  # another schedule, sharing the memory
    start = at(NY, 2026, 10, 30)
    instants = [start + step * 1800.5 for step in range(150)]
    slots = list(islice(ny.slots_after(start - 86_400), 8))
    probes = sorted({*instants, *slots, *(s - 1 for s in slots), *(s + 0.25 for s in slots)})
    for instant in [*probes, *reversed(probes), *probes[::7]]:
        expected = next(ny.slots_after(instant))
        assert ny.next_after(instant) == expected
        assert again.next_after(instant) == expected
        assert london.next_after(instant) == next(london.slots_after(instant))


def test_seconds_schedule_matches_the_reference_across_the_gap() -> None:
    schedule = CronSchedule("* 1-3 * * * */20", NY)
    start, end = at(NY, 2026, 3, 8, 1, 58), at(NY, 2026, 3, 8, 3, 2)
    expected = _reference("* 1-3 * * * */20", NY, start, end)
    assert list(islice(schedule.slots_after(start), len(expected))) == expected
    assert schedule.count_between(start, end) == len(expected)
    assert local(expected[4], NY) == "03-08 01:59:40-0500"
    assert local(expected[5], NY) == "03-08 03:00:00-0400"
    assert len(expected) == 5 + 7  # 01:58:20..01:59:40, then 03:00:00..03:02:00


def test_count_between_is_half_open() -> None:
    schedule = CronSchedule("*/5 * * * *")
    assert schedule.count_between(utc(2026, 1, 1), utc(2026, 1, 1, 1)) == 12
    assert schedule.count_between(utc(2026, 1, 1) - 1, utc(2026, 1, 1, 1) - 1) == 12
    assert schedule.count_between(utc(2026, 1, 1, 1), utc(2026, 1, 1)) == 0
    assert schedule.count_between(utc(2026, 1, 1), utc(2027, 1, 1)) == 365 * 288


def test_iso_utc() -> None:
    assert iso_utc(utc(2026, 3, 8, 7)) == "2026-03-08T07:00:00+00:00"


# plan_catch_up --------------------------------------------------------------------------------

FIVE = CronSchedule("*/5 * * * *")
NOW = utc(2026, 1, 2, 12, 2)  # last slot 12:00; 12:02 is between slots
HOUR = 3600.0


def test_nothing_missed_when_never_run_or_up_to_date() -> None:
    for policy in ("skip", "latest", "all"):
        assert plan_catch_up(FIVE, None, NOW, policy, 86400) == CatchUp()
        assert plan_catch_up(FIVE, utc(2026, 1, 2, 12), NOW, policy, 86400) == CatchUp()
    assert plan_catch_up(FIVE, NOW + 60, NOW, "all", 86400) == CatchUp()


def test_skip_fires_nothing_but_counts() -> None:
    plan = plan_catch_up(FIVE, utc(2026, 1, 2, 11), NOW, "skip", 86400)
    assert plan == CatchUp((), 12, 0, utc(2026, 1, 2, 12))


def test_latest_fires_the_most_recent_slot() -> None:
    plan = plan_catch_up(FIVE, utc(2026, 1, 2, 11), NOW, "latest", 86400)
    assert plan == CatchUp((utc(2026, 1, 2, 12),), 12, 0, utc(2026, 1, 2, 12))


def test_all_fires_every_missed_slot_in_order() -> None:
    plan = plan_catch_up(FIVE, utc(2026, 1, 2, 11), NOW, "all", 86400)
    assert plan.slots == (*(utc(2026, 1, 2, 11, m) for m in range(5, 60, 5)), utc(2026, 1, 2, 12))
    assert (plan.missed, plan.outside_window) == (12, 0)


def test_a_slot_at_now_counts_as_missed() -> None:
    plan = plan_catch_up(FIVE, utc(2026, 1, 2, 11, 55), utc(2026, 1, 2, 12), "all", 86400)
    assert plan.slots == (utc(2026, 1, 2, 12),)


def test_window_drops_older_slots() -> None:
    plan = plan_catch_up(FIVE, utc(2026, 1, 1, 12), NOW, "all", HOUR)
    assert plan.missed == 288
    assert plan.outside_window == 288 - 12  # 11:05 .. 12:00 are within the hour before 12:02
    assert plan.slots[0] == utc(2026, 1, 2, 11, 5)
    assert len(plan.slots) == 12
    nothing_recent = plan_catch_up(FIVE, utc(2026, 1, 1, 12), NOW, "latest", 60)
    assert nothing_recent == CatchUp((), 288, 288, utc(2026, 1, 2, 12))
    assert plan_catch_up(FIVE, utc(2026, 1, 1, 12), NOW, "latest", 0).slots == ()


def test_all_is_capped_to_the_most_recent_slots() -> None:
    plan = plan_catch_up(FIVE, utc(2026, 1, 1, 12), NOW, "all", 86400)
    assert len(plan.slots) == MAX_CATCH_UP == 100
    assert plan.slots[-1] == utc(2026, 1, 2, 12)
    assert plan.slots[0] == utc(2026, 1, 2, 12) - 99 * 300
    assert plan.missed == 288
    small = plan_catch_up(FIVE, utc(2026, 1, 1, 12), NOW, "all", 86400, cap=3)
    assert small.slots == (utc(2026, 1, 2, 11, 50), utc(2026, 1, 2, 11, 55), utc(2026, 1, 2, 12))


def test_every_second_for_a_year_is_counted_not_enumerated() -> None:
    now = utc(2027, 1, 1)
    year_ago = utc(2026, 1, 1)
    for tz in ("UTC", NY):  # a wildcard hour follows real time, DST changes included
        plan = plan_catch_up(CronSchedule("* * * * * *", tz), year_ago, now, "all", 86400)
        assert plan.missed == 365 * 86400
        assert plan.outside_window == 364 * 86400
        assert plan.slots == tuple(float(s) for s in range(int(now) - 99, int(now) + 1))
        assert plan.latest == now


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="misfire_policy"):
        plan_catch_up(FIVE, 0.0, NOW, "most", 60)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window"):
        plan_catch_up(FIVE, 0.0, NOW, "all", -1)
