"""Cron schedules in a time zone, and catch-up planning for missed slots. Pure: no clock, no I/O.

Instants are epoch seconds (UTC floats); wall-clock times come from croniter applied to local
times of the schedule's IANA zone. Rules:

- Expressions have 5 fields (minute hour day-of-month month day-of-week), or 6 with **trailing**
  seconds (croniter's order), or are one of the aliases `@yearly @annually @monthly @weekly @daily
  @midnight @hourly`. `@reboot`, 7 fields (years), random `R` and hashed `H` values are refused,
  and so is an expression that never fires (`0 0 31 2 *`). When both day-of-month and day-of-week
  are restricted, a day matches if **either** does (Vixie cron's OR).
- Daylight saving time. An expression whose hour field is pinned (not `*` or `*/n`, e.g.
  `30 1 * * *`, `0 9-17 * * 1-5`, `@daily`) follows the wall clock: a local time repeated when
  clocks go back fires once (at its first occurrence), and a local time skipped when clocks go
  forward fires once at the transition (`30 2 * * *` fires at 03:00 that day). An expression with
  a wildcard hour (`*/15 * * * *`, `30 * * * *`, `@hourly`) follows real time, as in Vixie cron:
  it fires at every real instant whose local time matches, so it keeps its rhythm through the
  repeated hour (which therefore fires twice) and simply has no slots in a skipped hour.
- Zone offsets are sampled a day apart and bisected to the second (transitions fall on whole
  seconds), so two transitions less than a day apart would be seen as one. The transitions of a
  zone are found once per calendar year and cached (`_year_changes`), so a query costs a lookup
  whatever the distance to the next slot (a yearly schedule would otherwise sample a year of
  days on every query).
- An expression is parsed by croniter once per process (`_parsed`); each query iterates its own
  shallow copy (croniter copies the parsed fields before every step, so the copies share nothing
  they change), which costs about a fiftieth of parsing again.
- `next_after` remembers its last answer per expression and zone (`_LAST_NEXT`): every instant
  between the one asked and the slot found has that same next slot, so the triggers of a fleet
  that share a schedule (a daily report at 09:00) pay one croniter step per slot between them.
"""

from __future__ import annotations

import bisect
import copy
import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter

from greenroom.triggers.config import MAX_CATCH_UP

__all__ = [
    "CatchUp", "CronSchedule", "MisfirePolicy", "iso_utc", "plan_catch_up", "zone_of",
]

MisfirePolicy = Literal["skip", "latest", "all"]

_DAY = 86_400
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_UNSUPPORTED_VALUE = re.compile(r"[HR](\(.*\))?(/\d+)?", re.IGNORECASE)
_VALIDATION_START = 946_684_800.0  # 2000-01-01T00:00:00Z: any fixed instant will do


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone called `name`; raises `ValueError` naming the field when there is none."""
    try:
        return ZoneInfo(name)
    except (ValueError, TypeError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        msg = f"timezone: unknown IANA time zone {name!r}"
        raise ValueError(msg) from None


def _bad(problem: str) -> ValueError:
    return ValueError(f"cron_expression: {problem}")


def _normalise(expression: str) -> str:
    """The 5- or 6-field croniter text for `expression`, or `ValueError` saying what is wrong."""
    text = expression.strip()
    if not text:
        raise _bad("is empty; expected 5 fields such as '*/5 * * * *' or an alias")
    if text.startswith("@"):
        alias = text.lower()
        if alias == "@reboot":
            raise _bad("'@reboot' means 'at startup', not a schedule; it is not supported")
        if alias not in _ALIASES:
            raise _bad(f"unknown alias {text!r}; expected one of {sorted(_ALIASES)}")
        return _ALIASES[alias]
    fields = text.split()
    if len(fields) not in (5, 6):
        raise _bad(
            f"expected 5 fields (minute hour day-of-month month day-of-week) or 6 with trailing "
            f"seconds, got {len(fields)} in {text!r}"
        )
    for field in fields:
        if any(_UNSUPPORTED_VALUE.fullmatch(part) for part in field.split(",")):
            raise _bad(f"random (R) and hashed (H) values are not supported: {field!r}")
    return " ".join(fields)


@functools.lru_cache(maxsize=512)
def _parsed(cron_text: str) -> croniter[float]:
    """croniter's parse of `cron_text` (5 or 6 fields), made once and checked to fire at all
    (`CroniterBadDateError` if no date matches); query a copy, never this."""
    parsed = croniter(cron_text, 0.0, day_or=True)
    copy.copy(parsed).get_next(float, _VALIDATION_START)
    return parsed


def _offset_at(zone: ZoneInfo, instant: float) -> int:
    """`zone`'s UTC offset at `instant`, in seconds."""
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def _year_start(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp())


def _year_of(instant: float) -> int:
    return datetime.fromtimestamp(instant, UTC).year


@functools.lru_cache(maxsize=1024)
def _year_changes(zone: ZoneInfo, year: int) -> tuple[int, ...]:
    """The whole seconds in (the start of `year`, the start of the next year] (UTC) at which
    `zone`'s offset differs from the second before: sampled a day apart, then bisected."""
    start, end = _year_start(year), _year_start(year + 1)
    changes = []
    low, low_offset = start, _offset_at(zone, start)
    while low < end:
        high = min(end, low + _DAY)
        high_offset = _offset_at(zone, high)
        if high_offset != low_offset:
            before, after = low, high
            while after - before > 1:
                mid = (before + after) // 2
                if _offset_at(zone, mid) == low_offset:
                    before = mid
                else:
                    after = mid
            changes.append(after)
        low, low_offset = high, high_offset
    return tuple(changes)


def _changes(zone: ZoneInfo, after: float, until: float) -> Iterator[int]:
    """`zone`'s offset changes in (`after`, `until`], earliest first."""
    for year in range(_year_of(after), _year_of(until) + 1):
        for change in _year_changes(zone, year):
            if after < change <= until:
                yield change


_LAST_NEXT: dict[tuple[str, str], tuple[float, float]] = {}
"""(cron text, zone) -> (an instant asked, the first slot after it), shared by every schedule
and thread: a tuple is replaced whole, and any one pair answers exactly for its interval."""
_LAST_NEXT_SIZE = 1024
"""More distinct schedules than this in one OS process: the memory starts over."""


def _values(field: list[str], count: int) -> tuple[int, ...]:
    """croniter's expanded field as sorted ints (`*` means all `count` values from 0)."""
    if "*" in field:
        return tuple(range(count))
    return tuple(sorted({int(value) for value in field}))


@dataclass(frozen=True)
class _Fields:
    """What a schedule needs from its expression, whatever its zone."""

    cron_text: str
    follows_wall_clock: bool
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    seconds: tuple[int, ...]


@functools.lru_cache(maxsize=512)
def _fields_of(expression: str) -> _Fields:
    """`expression` checked and expanded, once per OS process (a fleet often shares a few
    schedules); `ValueError` naming `cron_expression` if it is not a valid schedule."""
    cron_text = _normalise(expression)
    fields = cron_text.split()
    try:
        expanded = _parsed(cron_text).expanded
    except CroniterBadDateError:
        raise _bad(f"{expression!r} never fires (no date matches it)") from None
    except (CroniterError, TypeError, KeyError) as exc:
        raise _bad(f"{expression!r} is not valid: {exc}") from None
    return _Fields(
        cron_text,
        follows_wall_clock=not fields[1].startswith("*"),
        minutes=_values(expanded[0], 60),
        hours=_values(expanded[1], 24),
        seconds=_values(expanded[5], 60) if len(fields) == 6 else (0,),
    )


class CronSchedule:
    """A validated cron expression in an IANA zone, answering "when" questions about instants.

    Immutable: every query builds its own croniter iterator, so one schedule may be shared
    between threads.
    """

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        self.expression = expression
        self.timezone = timezone
        self.zone = zone_of(timezone)
        fields = _fields_of(expression)
        self._cron_text = fields.cron_text
        self.follows_wall_clock = fields.follows_wall_clock
        """True when the hour field is pinned, so DST repeats and gaps are deduplicated."""
        self._minutes = fields.minutes
        self._hours = fields.hours
        self._seconds = fields.seconds
        self._per_day = len(self._hours) * len(self._minutes) * len(self._seconds)

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.timezone!r})"

    # Public queries -----------------------------------------------------------------------------

    def next_after(self, instant: float) -> float:
        """The first slot strictly after `instant` (both epoch seconds)."""
        key = (self._cron_text, self.timezone)
        known = _LAST_NEXT.get(key)
        if known is not None and known[0] <= instant < known[1]:
            return known[1]
        slot = next(self.slots_after(instant))
        if len(_LAST_NEXT) >= _LAST_NEXT_SIZE:
            _LAST_NEXT.clear()
        _LAST_NEXT[key] = (float(instant), slot)
        return slot

    def slots_after(self, instant: float) -> Iterator[float]:
        """Every slot strictly after `instant`, earliest first (an endless iterator)."""
        it = self._cron()
        t, strict = float(instant), True
        while True:
            off = self._offset(t)
            lower, inclusive = self._lower_bound(t, off, strict)
            local = self._next_local(it, lower, inclusive)
            slot = local - off
            change = self._first_change(t, slot, off)
            if change is None:
                yield float(slot)
                t, strict = slot, True
                continue
            if self._fires_in_gap(it, change, off):
                yield float(change)
                t, strict = change, True
            else:
                t, strict = change, False

    def slots_through(self, instant: float) -> Iterator[float]:
        """Every slot at or before `instant`, most recent first (ends where croniter gives up)."""
        it = self._cron()
        t, inclusive = float(instant), True
        while True:
            probe = t if inclusive else math.ceil(t) - 1  # an instant in the segment searched
            off = self._offset(probe)
            try:
                local = self._prev_local(it, t + off, inclusive)
            except CroniterBadDateError:
                return
            slot = local - off
            found = self._last_change(probe, slot - _DAY)
            if found is not None and found[0] > slot:
                start, before = found
                if self._fires_in_gap(it, start, before):
                    yield float(start)
                t, inclusive = start, False
                continue
            if found is not None and self.follows_wall_clock:
                start, before = found
                if before > off and local < start + before:  # second pass of a repeated hour
                    t, inclusive = start, False
                    continue
            yield float(slot)
            t, inclusive = slot, False

    def count_between(self, start: float, end: float) -> int:
        """How many slots fall in (`start`, `end`], without enumerating them one by one."""
        if end <= start:
            return 0
        it = self._cron()
        total = 0
        t, strict = float(start), True
        while True:
            off = self._offset(t)
            lower, inclusive = self._lower_bound(t, off, strict)
            change = self._first_change(t, end, off)
            if change is None:
                last = self._count_local(it, lower, inclusive, end + off, upper_inclusive=True)
                return total + last
            total += self._count_local(it, lower, inclusive, change + off, upper_inclusive=False)
            if self._fires_in_gap(it, change, off):
                total += 1
                t, strict = change, True
            else:
                t, strict = change, False

    # Zone offsets -------------------------------------------------------------------------------

    def _offset(self, instant: float) -> int:
        return _offset_at(self.zone, instant)

    def _first_change(self, t: float, until: float, off: int) -> int | None:
        """The first whole second in (t, until] whose offset differs from `off` (t's offset)."""
        for change in _changes(self.zone, t, until):
            if self._offset(change) != off:
                return change
        return None

    def _last_change(self, probe: float, floor: float) -> tuple[int, int] | None:
        """The latest transition in (floor, probe] and the offset before it, if any."""
        changes = list(_changes(self.zone, floor, probe))
        return (changes[-1], self._offset(changes[-1] - 1)) if changes else None

    def _lower_bound(self, t: float, off: int, strict: bool) -> tuple[float, bool]:
        """Where to look for the next local slot from `t`: past any already-fired repeated hour."""
        lower, inclusive = t + off, not strict
        if self.follows_wall_clock:
            found = self._last_change(t, t - _DAY)
            if found is not None:
                start, before = found
                repeated_until = start + before
                if before > off and lower < repeated_until:
                    return float(repeated_until), True
        return lower, inclusive

    def _fires_in_gap(self, it: croniter[float], change: int, before: int) -> bool:
        """Whether a wall-clock slot falls in the local hour skipped at `change` (if it is one)."""
        after = self._offset(change)
        if after <= before or not self.follows_wall_clock:
            return False
        gap_start, gap_end = change + before, change + after
        return self._next_local(it, gap_start, inclusive=True) < gap_end

    # Local (zone-less) slot arithmetic ----------------------------------------------------------

    def _cron(self) -> croniter[float]:
        return copy.copy(_parsed(self._cron_text))

    @staticmethod
    def _next_local(it: croniter[float], lower: float, inclusive: bool) -> int:
        start = math.ceil(lower) - 1 if inclusive else math.floor(lower)
        return int(it.get_next(float, start))

    @staticmethod
    def _prev_local(it: croniter[float], upper: float, inclusive: bool) -> int:
        start = math.floor(upper) + 1 if inclusive else math.ceil(upper)
        return int(it.get_prev(float, start))

    def _count_local(
        self, it: croniter[float], lower: float, inclusive: bool, upper: float, *,
        upper_inclusive: bool,
    ) -> int:
        """Local slots between the bounds, one croniter step per matching day."""
        first = math.ceil(lower) if inclusive else math.floor(lower) + 1
        stop = math.floor(upper) + 1 if upper_inclusive else math.ceil(upper)
        total = 0
        cursor = first
        while cursor < stop:
            try:
                slot = self._next_local(it, cursor, inclusive=True)
            except CroniterBadDateError:
                break
            if slot >= stop:
                break
            day = slot - slot % _DAY
            total += self._count_in_day(slot - day, min(stop, day + _DAY) - day)
            cursor = day + _DAY
        return total

    def _count_in_day(self, low: int, high: int) -> int:
        """Slots of a matching day whose second of the day is in [low, high)."""
        if low <= 0 and high >= _DAY:
            return self._per_day
        total = 0
        per_hour = len(self._minutes) * len(self._seconds)
        for hour in self._hours:
            base = hour * 3600
            if base + 3600 <= low or base >= high:
                continue
            if base >= low and base + 3600 <= high:
                total += per_hour
                continue
            for minute in self._minutes:
                at = base + minute * 60
                if at + 60 <= low or at >= high:
                    continue
                total += (bisect.bisect_left(self._seconds, high - at)
                          - bisect.bisect_left(self._seconds, low - at))
        return total


@dataclass(frozen=True)
class CatchUp:
    """What to do about the slots missed since the last handled one.

    `slots`: the missed slots to fire now, oldest first. `missed`: every slot in
    (last_slot, now]. `outside_window`: those of them older than the catch-up window.
    `latest`: the most recent missed slot (None when nothing was missed).
    """

    slots: tuple[float, ...] = ()
    missed: int = 0
    outside_window: int = 0
    latest: float | None = None


def plan_catch_up(
    schedule: CronSchedule,
    last_slot: float | None,
    now: float,
    policy: MisfirePolicy,
    window: float,
    cap: int = MAX_CATCH_UP,
) -> CatchUp:
    """Which missed slots in (last_slot, now] to fire, by `policy`, within `window` seconds.

    `skip` fires none, `latest` the most recent, `all` each of them (the most recent `cap`).
    Only slots newer than `now - window` are eligible. `last_slot=None` (never ran) misses
    nothing. Costs one step per eligible slot fired plus one per day of the gap, at most.
    """
    if policy not in get_args(MisfirePolicy):
        msg = f"misfire_policy: expected one of {list(get_args(MisfirePolicy))}, got {policy!r}"
        raise ValueError(msg)
    if window < 0 or cap < 0:
        msg = f"plan_catch_up: window and cap must be >= 0, got {window} and {cap}"
        raise ValueError(msg)
    if last_slot is None or now <= last_slot:
        return CatchUp()
    missed = schedule.count_between(last_slot, now)
    if missed == 0:
        return CatchUp()
    floor = max(last_slot, now - window)
    eligible = schedule.count_between(floor, now) if floor > last_slot else missed
    latest = next(schedule.slots_through(now))
    wanted = {"skip": 0, "latest": 1, "all": cap}[policy]
    picked = list(islice(schedule.slots_through(now), min(wanted, eligible)))
    return CatchUp(tuple(reversed(picked)), missed, missed - eligible, latest)


def iso_utc(instant: float) -> str:
    """An instant as ISO 8601 in UTC, e.g. `2026-01-01T00:05:00+00:00`."""
    return datetime.fromtimestamp(instant, UTC).isoformat()
