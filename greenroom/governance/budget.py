"""The autonomy budget: counters, limits, warnings and the daily reset, as a pure policy.

`BudgetState` holds the counters and applies the limits of a `BudgetConfig`; `BudgetEnforcer` wraps
it for the budget actor: every method returns a `BudgetDecision` (allowed, or a `BudgetViolation`;
the `BudgetWarning`s to emit; whether the daily counters were just reset) instead of acting on a
process. Neither has threads, locks or I/O: one actor owns them and serialises every call, and the
time comes from an injected `Clock`, so tests run several simulated days in milliseconds.

Each action is checked *before* it happens and counted only if it is allowed: a vetoed tool call
never runs and costs nothing, a vetoed LLM turn is never made, a refused run never starts. Per-run
counters are kept per run id, so concurrent runs of one process do not share them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

from greenroom.actors.clock import Clock, SystemClock
from greenroom.governance.config import BudgetConfig, EscalationTarget, ToolCostAnnotation

__all__ = [
    "LIMIT_NAMES",
    "BudgetDecision",
    "BudgetEnforcer",
    "BudgetResponse",
    "BudgetState",
    "BudgetUsage",
    "BudgetViolation",
    "BudgetWarning",
]

_DAY_SECONDS = 86_400.0
_FORMAT_VERSION = 1
_DEFAULT_RUN = ""
"""The key of the run a caller leaves unnamed (`run_id=None`); explicit run ids are non-empty."""

Period = Literal["run", "day"]
OnExceeded = Literal["pause", "stop", "escalate"]
_ACTIONS: tuple[str, ...] = get_args(OnExceeded)


@dataclass(frozen=True)
class _Limit:
    """One limit of `BudgetConfig`: its field, its period, the counter it bounds and a label."""

    name: str
    period: Period
    counter: str
    label: str


_LIMITS = (
    _Limit("max_tool_calls_per_run", "run", "tool_calls", "tool calls this run"),
    _Limit("max_llm_turns_per_run", "run", "llm_turns", "LLM turns this run"),
    _Limit("max_cost_per_run", "run", "cost", "cost units this run"),
    _Limit("max_irreversible_per_run", "run", "irreversible", "irreversible actions this run"),
    _Limit("max_tool_calls_per_day", "day", "tool_calls", "tool calls today"),
    _Limit("max_runs_per_day", "day", "runs", "runs today"),
    _Limit("max_cost_per_day", "day", "cost", "cost units today"),
)
_BY_NAME = {limit.name: limit for limit in _LIMITS}

LIMIT_NAMES: tuple[str, ...] = tuple(limit.name for limit in _LIMITS)
"""Every limit, in the order a charge is checked against them (the order of `BudgetConfig`)."""


# Small helpers --------------------------------------------------------------------------------


def _slack(limit: float) -> float:
    """Float noise tolerated when comparing against `limit` (0.1 + 0.2 must fit in 0.3)."""
    return 1e-9 * max(1.0, abs(limit))


def _exceeds(value: float, limit: float) -> bool:
    """Whether `value` is over `limit`: exactly for counts, within float noise for costs."""
    if isinstance(value, int) and isinstance(limit, int):
        return value > limit
    return value > limit + _slack(limit)


def _period_start(now: float, hour: int) -> float:
    """The latest `hour`:00 UTC at or before `now` (POSIX days are exactly 86,400 s)."""
    offset = hour * 3600.0
    return math.floor((now - offset) / _DAY_SECONDS) * _DAY_SECONDS + offset


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number_text(value: float) -> str:
    """A count or cost for people: `3`, `2.5`, `0.125` (no float noise, no exponent)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _need_number(data: Mapping[str, Any], key: str, where: str, *, minimum: float = 0.0) -> float:
    value = data.get(key)
    if not isinstance(value, int | float) or not _is_number(value) or value < minimum:
        msg = f"{where}.{key}: expected a finite number >= {_number_text(minimum)}, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _need_count(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"{where}.{key}: expected an integer >= 0, got {value!r}"
        raise ValueError(msg)
    return value


def _need_mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"{where}: expected a mapping, got {type(value).__name__}"
        raise ValueError(msg)
    return value


def _need_literal(value: object, allowed: tuple[str, ...], where: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        msg = f"{where}: expected one of {', '.join(allowed)}, got {value!r}"
        raise ValueError(msg)
    return value


def _check_version(data: Mapping[str, Any], where: str) -> None:
    version = data.get("version")
    if version != _FORMAT_VERSION:
        msg = f"{where}.version: expected {_FORMAT_VERSION}, got {version!r}"
        raise ValueError(msg)


def _run_key(run_id: str | None) -> str:
    """The counters key of `run_id`; None is the unnamed run, an explicit id must be non-empty."""
    if run_id is None:
        return _DEFAULT_RUN
    if not isinstance(run_id, str) or not run_id:
        msg = f"run_id: expected a non-empty string or None, got {run_id!r}"
        raise ValueError(msg)
    return run_id


def _run_text(key: str) -> str:
    return "the unnamed run (run_id=None)" if key == _DEFAULT_RUN else f"run {key!r}"


def _check_config(config: object) -> BudgetConfig:
    if not isinstance(config, BudgetConfig):
        msg = f"config: expected a BudgetConfig, got {type(config).__name__}"
        raise TypeError(msg)
    return config


# Value objects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetUsage:
    """What one run, or one day, has used: tool calls, LLM turns, cost units, irreversible calls.

    A charge (what one action would add) has the same shape, so checking an action is adding two
    usages and comparing the sum with the limits.
    """

    tool_calls: int = 0
    llm_turns: int = 0
    cost: float = 0.0
    irreversible: int = 0

    def plus(self, other: BudgetUsage) -> BudgetUsage:
        """The sum of two usages."""
        return BudgetUsage(
            tool_calls=self.tool_calls + other.tool_calls,
            llm_turns=self.llm_turns + other.llm_turns,
            cost=self.cost + other.cost,
            irreversible=self.irreversible + other.irreversible,
        )

    def value(self, counter: str) -> float:
        """One counter by name (`tool_calls`, `llm_turns`, `cost` or `irreversible`)."""
        result: float = getattr(self, counter)
        return result

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the four counters."""
        return {
            "tool_calls": self.tool_calls,
            "llm_turns": self.llm_turns,
            "cost": self.cost,
            "irreversible": self.irreversible,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "usage") -> BudgetUsage:
        """Rebuild a usage from `to_dict()` output; a bad field raises `ValueError` naming it."""
        data = _need_mapping(data, where)
        return cls(
            tool_calls=_need_count(data, "tool_calls", where),
            llm_turns=_need_count(data, "llm_turns", where),
            cost=_need_number(data, "cost", where),
            irreversible=_need_count(data, "irreversible", where),
        )


_NO_USAGE = BudgetUsage()
_LLM_TURN = BudgetUsage(llm_turns=1)


@dataclass(frozen=True)
class BudgetViolation:
    """An action the budget refused, because it would take a counter past its limit.

    `current_value` is the value the counter would have reached had the action been allowed (so
    it is above `limit_value`); the counter itself was not changed. `action` is the configured
    `on_exceeded` at the time of the refusal. `retry_at` (epoch seconds) is the next daily reset
    for a daily limit, None for a per-run limit: a refused run can be retried then.
    """

    limit_name: str
    limit_value: float
    current_value: float
    tool_name: str | None = None
    action: OnExceeded = "pause"
    retry_at: float | None = None

    def __post_init__(self) -> None:
        _need_literal(self.limit_name, LIMIT_NAMES, "limit_name")
        _need_literal(self.action, _ACTIONS, "action")

    @property
    def period(self) -> Period:
        """`"run"` for a per-run limit, `"day"` for a daily one."""
        return _BY_NAME[self.limit_name].period

    def describe(self) -> str:
        """One sentence for the agent's error result and the logs (tool names only, no args)."""
        limit = _BY_NAME[self.limit_name]
        if self.tool_name is not None:
            what = f"calling tool {self.tool_name!r}"
        elif limit.counter == "runs":
            what = "starting this run"
        else:
            what = "another LLM turn"
        text = (
            f"budget exceeded: {what} would bring {limit.label} to "
            f"{_number_text(self.current_value)}, over the limit {self.limit_name}="
            f"{_number_text(self.limit_value)}"
        )
        if self.retry_at is not None:
            text += f"; daily limits reset at {_iso(self.retry_at)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for `tool_denied` / `budget_violation` journal entries and events."""
        return {
            "limit_name": self.limit_name,
            "limit_value": self.limit_value,
            "current_value": self.current_value,
            "tool_name": self.tool_name,
            "period": self.period,
            "action": self.action,
            "retry_at": self.retry_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetViolation:
        """Rebuild a violation from `to_dict()` output; a bad field raises `ValueError`."""
        data = _need_mapping(data, "violation")
        name = _need_literal(data.get("limit_name"), LIMIT_NAMES, "violation.limit_name")
        tool = data.get("tool_name")
        if tool is not None and (not isinstance(tool, str) or not tool):
            msg = f"violation.tool_name: expected a non-empty string or None, got {tool!r}"
            raise ValueError(msg)
        retry_at = data.get("retry_at")
        if retry_at is not None and not _is_number(retry_at):
            msg = f"violation.retry_at: expected epoch seconds or None, got {retry_at!r}"
            raise ValueError(msg)
        action = _need_literal(data.get("action"), _ACTIONS, "violation.action")
        return cls(
            limit_name=name,
            limit_value=_need_number(data, "limit_value", "violation"),
            current_value=_need_number(data, "current_value", "violation"),
            tool_name=tool,
            action=cast(OnExceeded, action),
            retry_at=None if retry_at is None else float(retry_at),
        )


@dataclass(frozen=True)
class BudgetWarning:
    """A limit reached its `warning_threshold`; emitted once per limit per period.

    `percentage` is `current_value / limit_value` (0.0-1.0); the period is the run for per-run
    limits and the day for daily ones.
    """

    limit_name: str
    limit_value: float
    current_value: float
    percentage: float

    def __post_init__(self) -> None:
        _need_literal(self.limit_name, LIMIT_NAMES, "limit_name")

    @property
    def period(self) -> Period:
        """`"run"` for a per-run limit, `"day"` for a daily one."""
        return _BY_NAME[self.limit_name].period

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for a `budget.warning` event."""
        return {
            "limit_name": self.limit_name,
            "limit_value": self.limit_value,
            "current_value": self.current_value,
            "percentage": self.percentage,
            "period": self.period,
        }


@dataclass(frozen=True)
class BudgetDecision:
    """What the enforcer decided about one action, and what the caller should emit.

    `violation` is None when the action is allowed (and was counted). `warnings` lists thresholds
    crossed by this action. `daily_reset` says the daily counters were reset just before it (emit
    `budget.daily_reset`).
    """

    violation: BudgetViolation | None = None
    warnings: tuple[BudgetWarning, ...] = ()
    daily_reset: bool = False

    @property
    def allowed(self) -> bool:
        """Whether the action may go ahead."""
        return self.violation is None


@dataclass(frozen=True)
class BudgetResponse:
    """What to do about a violation, per `on_exceeded`, for the caller to carry out.

    `pause`: suspend. `stop`: stop the process. `escalate`: notify `escalation` (when configured)
    with the violation, then suspend. `reason` is the suspend or stop reason to record.
    """

    violation: BudgetViolation
    action: OnExceeded
    suspend: bool
    stop: bool
    escalate: bool
    escalation: EscalationTarget | None
    reason: str = "budget"


# The counters ----------------------------------------------------------------------------------


class BudgetState:
    """Per-run and daily counters checked against a `BudgetConfig`.

    The daily period starts at `daily_reset_hour_utc`:00 UTC on the clock's wall time. It is reset
    lazily, by any call that reads or changes the counters (and by `check_daily_reset()`), so a
    boundary crossed while idle, or while the process was down, still resets. Each `record_*`
    method checks before it counts: it returns the first `BudgetViolation` in `LIMIT_NAMES` order
    and changes nothing, or None and counts the action. A disabled config allows everything and
    counts nothing; counters already made are kept.

    Runs are named by `run_id` so concurrent runs keep separate per-run counters; `None` names
    the single unnamed run of a process that runs one event at a time. A run is opened by
    `record_run_start` (or `reset_run`) and forgotten by `end_run`.

    Not thread-safe on purpose: exactly one actor owns it and serialises every call.
    """

    def __init__(self, config: BudgetConfig, *, clock: Clock | None = None) -> None:
        self._config = _check_config(config)
        if clock is not None and not callable(getattr(clock, "time", None)):
            msg = f"clock: expected a Clock with time(), got {type(clock).__name__}"
            raise TypeError(msg)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._period_start = _period_start(self._clock.time(), config.daily_reset_hour_utc)
        self._daily = _NO_USAGE
        self._daily_runs = 0
        self._runs: dict[str, BudgetUsage] = {}

    # Reading ----------------------------------------------------------------------------------

    @property
    def config(self) -> BudgetConfig:
        """The limits in force."""
        return self._config

    @property
    def period_start(self) -> float:
        """Epoch seconds at which the current daily period began."""
        return self._period_start

    @property
    def daily(self) -> BudgetUsage:
        """What the current day has used (as of the last reset check)."""
        return self._daily

    @property
    def daily_runs(self) -> int:
        """Runs started in the current day (as of the last reset check)."""
        return self._daily_runs

    def run_usage(self, run_id: str | None = None) -> BudgetUsage | None:
        """What an open run has used, or None when no such run is open."""
        return self._runs.get(_run_key(run_id))

    def tool_cost(self, tool_name: str) -> ToolCostAnnotation:
        """The cost weight and irreversibility of a tool; an unlisted tool costs 1.0, reversible."""
        _check_tool_name(tool_name)
        return self._config.tool_costs.get(tool_name) or ToolCostAnnotation()

    def next_reset_at(self) -> float:
        """Epoch seconds of the next daily reset: the first reset-hour boundary after the period
        start. A value at or before now means a reset is due and happens at the next check."""
        hour = self._config.daily_reset_hour_utc
        return _period_start(self._period_start, hour) + _DAY_SECONDS

    def limit_value(self, limit_name: str) -> float | None:
        """The maximum in force for `limit_name`; None if unlimited or the budget is disabled."""
        return self._maximum(_limit(limit_name))

    def used(self, limit_name: str, run_id: str | None = None) -> float:
        """The counter `limit_name` bounds: the run's for a per-run limit, else the day's.

        A run that is not open has used nothing.
        """
        return self._used(_limit(limit_name), self._runs.get(_run_key(run_id), _NO_USAGE))

    def remaining(self, run_id: str | None = None) -> dict[str, float | None]:
        """What is left of each limit, keyed by the limit's name without `max_`.

        None means unlimited (or a disabled budget); a negative value means usage is above a
        limit that was lowered while running. Per-run values are for `run_id`; a run that is not
        open has its whole per-run budget left.
        """
        self.check_daily_reset()
        run = self._runs.get(_run_key(run_id), _NO_USAGE)
        result: dict[str, float | None] = {}
        for limit in _LIMITS:
            maximum = self._maximum(limit)
            key = limit.name.removeprefix("max_")
            if maximum is None:
                result[key] = None
            elif limit.counter == "cost":
                result[key] = round(maximum - self._used(limit, run), 9)
            else:
                result[key] = int(maximum - self._used(limit, run))
        return result

    def budget_context(self, run_id: str | None = None) -> str:
        """The remaining budget as short text for the agent's context ("" when nothing is limited).

        One line per configured limit, then the tool costs when a cost or irreversible limit is
        set, then when the daily limits reset. The caller labels the block.
        """
        remaining = self.remaining(run_id)
        lines = []
        daily_limits = False
        for limit in _LIMITS:
            maximum = self._maximum(limit)
            left = remaining[limit.name.removeprefix("max_")]
            if maximum is None or left is None:
                continue
            daily_limits = daily_limits or limit.period == "day"
            lines.append(
                f"{limit.label}: {_number_text(max(left, 0))} of {_number_text(maximum)} left"
            )
        if not lines:
            return ""
        costs = self._costs_line()
        if costs:
            lines.append(costs)
        if daily_limits:
            lines.append(f"daily limits reset at {_iso(self.next_reset_at())}")
        return "\n".join(lines)

    def _costs_line(self) -> str | None:
        config = self._config
        priced = (config.max_cost_per_run, config.max_cost_per_day, config.max_irreversible_per_run)
        if not config.tool_costs or all(maximum is None for maximum in priced):
            return None
        parts = []
        for name, cost in sorted(config.tool_costs.items()):
            mark = ", irreversible" if cost.irreversible else ""
            parts.append(f"{name} {_number_text(cost.cost_weight)}{mark}")
        return f"cost per call: {'; '.join(parts)}; any other tool 1"

    # Changing ---------------------------------------------------------------------------------

    def update_config(self, config: BudgetConfig) -> None:
        """Apply new limits from the next check on; counters and open runs are kept.

        A new `daily_reset_hour_utc` takes effect at its next boundary after the current period's
        start, so that day is shorter or longer, never counted twice.
        """
        self._config = _check_config(config)

    def check_daily_reset(self) -> bool:
        """Reset the daily counters if a reset boundary has passed since the period began.

        Returns whether it reset. However many boundaries passed, it resets once, to the latest.
        A wall clock that moved backwards never resets (and never restores an older day).
        """
        now = self._clock.time()
        if now < self.next_reset_at():
            return False
        self._period_start = _period_start(now, self._config.daily_reset_hour_utc)
        self._daily = _NO_USAGE
        self._daily_runs = 0
        return True

    def reset_run(self, run_id: str | None = None) -> None:
        """Open `run_id` with zero per-run counters (reopening an open run zeroes it)."""
        self._runs[_run_key(run_id)] = _NO_USAGE

    def record_run_start(self, run_id: str | None = None) -> BudgetViolation | None:
        """Start a run: refused if it would exceed `max_runs_per_day`, else counted and opened.

        A refused run is not opened and not counted; its violation's `retry_at` is the next
        daily reset, when the caller can try again.
        """
        _run_key(run_id)  # a bad run id raises before anything changes
        self.check_daily_reset()
        if self._config.enabled:
            violation = self._violation(_NO_USAGE, _NO_USAGE, runs=1, tool_name=None)
            if violation is not None:
                return violation
            self._daily_runs += 1
        self.reset_run(run_id)
        return None

    def end_run(self, run_id: str | None = None) -> BudgetUsage | None:
        """Forget a run's counters and return what it used (None if it was not open)."""
        return self._runs.pop(_run_key(run_id), None)

    def record_tool_call(
        self, tool_name: str, *, run_id: str | None = None
    ) -> BudgetViolation | None:
        """Check a tool call before it runs; count it (calls, cost, irreversible) if allowed."""
        cost = self.tool_cost(tool_name)
        charge = BudgetUsage(
            tool_calls=1, cost=cost.cost_weight, irreversible=1 if cost.irreversible else 0
        )
        return self._charge(charge, run_id, tool_name)

    def record_llm_turn(self, *, run_id: str | None = None) -> BudgetViolation | None:
        """Check an LLM turn before it is made; count it if allowed."""
        return self._charge(_LLM_TURN, run_id, None)

    def replay_run(self, usage: BudgetUsage, *, finished_at: float) -> bool:
        """Add a finished run's usage (from the journal, after the last checkpoint) to the day.

        Counted, as one run plus its usage, only if it finished in the current daily period and
        the budget is enabled. Returns whether it was counted.
        """
        if not isinstance(usage, BudgetUsage):
            msg = f"usage: expected a BudgetUsage, got {type(usage).__name__}"
            raise TypeError(msg)
        if not _is_number(finished_at):
            msg = f"finished_at: expected epoch seconds, got {finished_at!r}"
            raise TypeError(msg)
        self.check_daily_reset()
        if not self._config.enabled or finished_at < self._period_start:
            return False
        self._daily = self._daily.plus(usage)
        self._daily_runs += 1
        return True

    def _charge(
        self, charge: BudgetUsage, run_id: str | None, tool_name: str | None
    ) -> BudgetViolation | None:
        key = _run_key(run_id)
        run = self._runs.get(key)
        if run is None:
            msg = f"run_id: {_run_text(key)} is not open; call record_run_start() first"
            raise ValueError(msg)
        self.check_daily_reset()
        if not self._config.enabled:
            return None
        violation = self._violation(charge, run, runs=0, tool_name=tool_name)
        if violation is None:
            self._runs[key] = run.plus(charge)
            self._daily = self._daily.plus(charge)
        return violation

    def _violation(
        self, charge: BudgetUsage, run: BudgetUsage, *, runs: int, tool_name: str | None
    ) -> BudgetViolation | None:
        """The first limit `charge` (plus `runs` runs) would take past its maximum, or None."""
        for limit in _LIMITS:
            maximum = self._maximum(limit)
            increment = runs if limit.counter == "runs" else charge.value(limit.counter)
            if maximum is None or increment <= 0:
                continue
            would_be = self._used(limit, run) + increment
            if _exceeds(would_be, maximum):
                return BudgetViolation(
                    limit_name=limit.name,
                    limit_value=maximum,
                    current_value=would_be,
                    tool_name=tool_name,
                    action=self._config.on_exceeded,
                    retry_at=self.next_reset_at() if limit.period == "day" else None,
                )
        return None

    def _maximum(self, limit: _Limit) -> float | None:
        if not self._config.enabled:
            return None
        maximum: float | None = getattr(self._config, limit.name)
        return maximum

    def _used(self, limit: _Limit, run: BudgetUsage) -> float:
        if limit.period == "run":
            return run.value(limit.counter)
        if limit.counter == "runs":
            return self._daily_runs
        return self._daily.value(limit.counter)

    # Checkpoints ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the counters and the period start, for journal checkpoints."""
        return {
            "version": _FORMAT_VERSION,
            "period_start": self._period_start,
            "daily": self._daily.to_dict(),
            "daily_runs": self._daily_runs,
            "runs": {key: usage.to_dict() for key, usage in self._runs.items()},
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], config: BudgetConfig, *, clock: Clock | None = None
    ) -> BudgetState:
        """Rebuild counters from `to_dict()` output under `config` (which may differ from the
        one they were counted under). A boundary passed since then resets at the next check.
        A bad field raises `ValueError` naming it."""
        data = _need_mapping(data, "budget")
        _check_version(data, "budget")
        runs = _need_mapping(data.get("runs"), "budget.runs")
        state = cls(config, clock=clock)
        state._period_start = _need_number(data, "period_start", "budget")
        daily = _need_mapping(data.get("daily"), "budget.daily")
        state._daily = BudgetUsage.from_dict(daily, "budget.daily")
        state._daily_runs = _need_count(data, "daily_runs", "budget")
        for key, usage in runs.items():
            if not isinstance(key, str):
                msg = f"budget.runs: run ids must be strings, got {key!r}"
                raise ValueError(msg)
            state._runs[key] = BudgetUsage.from_dict(usage, f"budget.runs[{key!r}]")
        return state


def _limit(limit_name: str) -> _Limit:
    limit = _BY_NAME.get(limit_name)
    if limit is None:
        msg = f"limit_name: unknown limit {limit_name!r} (one of: {', '.join(LIMIT_NAMES)})"
        raise ValueError(msg)
    return limit


def _check_tool_name(tool_name: object) -> None:
    if not isinstance(tool_name, str) or not tool_name:
        msg = f"tool_name: expected a non-empty string, got {tool_name!r}"
        raise ValueError(msg)


# The enforcer ----------------------------------------------------------------------------------


class BudgetEnforcer:
    """The budget policy a budget actor drives: decisions, warnings, responses, live limits.

    Call `start_run` before a run, `authorize_llm_turn` before each model request,
    `authorize_tool_call` before each tool call and `end_run` after the run. Each returns a
    `BudgetDecision`; a refused action must not happen (a refused tool call becomes an error
    result for the agent and a `tool_denied` entry). Warnings come once per limit per period:
    per run for per-run limits, per day for daily ones. `reconfigure` swaps the limits in place
    and keeps every counter.

    Not thread-safe on purpose: exactly one actor owns it and serialises every call.
    """

    def __init__(
        self,
        config: BudgetConfig,
        *,
        clock: Clock | None = None,
        state: BudgetState | None = None,
    ) -> None:
        _check_config(config)
        if state is not None and clock is not None:
            msg = "clock: give either clock or state (which has its own clock), not both"
            raise ValueError(msg)
        if state is not None and not isinstance(state, BudgetState):
            msg = f"state: expected a BudgetState, got {type(state).__name__}"
            raise TypeError(msg)
        self._state = state if state is not None else BudgetState(config, clock=clock)
        self._state.update_config(config)
        self._period_seen = self._state.period_start
        self._warned_day: set[str] = set()
        self._warned_runs: dict[str, set[str]] = {}

    @property
    def config(self) -> BudgetConfig:
        """The limits in force."""
        return self._state.config

    @property
    def state(self) -> BudgetState:
        """The counters (read them; change them only through the enforcer)."""
        return self._state

    def reconfigure(self, config: BudgetConfig) -> None:
        """Use new limits from the next action on, keeping every counter and open run.

        A limit whose value changed (or every limit, if `warning_threshold` changed) may warn
        again in the current period.
        """
        old = self._state.config
        self._state.update_config(config)
        if old.warning_threshold != config.warning_threshold:
            changed = set(LIMIT_NAMES)
        else:
            changed = {name for name in LIMIT_NAMES
                       if getattr(old, name) != getattr(config, name)}
        self._warned_day -= changed
        for warned in self._warned_runs.values():
            warned.difference_update(changed)

    def check_daily_reset(self) -> bool:
        """Reset the daily counters if a boundary has passed (for a timer at `next_reset_at`).

        Returns whether a reset happened that was not reported yet; a reset is reported once,
        here or as `daily_reset` on the next decision, whichever comes first.
        """
        self._state.check_daily_reset()
        return self._new_period()

    def _new_period(self) -> bool:
        """Whether the state began a new day since last seen (reads may reset lazily)."""
        if self._state.period_start == self._period_seen:
            return False
        self._period_seen = self._state.period_start
        self._warned_day.clear()
        return True

    def next_reset_at(self) -> float:
        """Epoch seconds of the next daily reset: when a refused run can be retried."""
        return self._state.next_reset_at()

    def start_run(self, run_id: str | None = None) -> BudgetDecision:
        """Check `max_runs_per_day` before a run; if allowed the run is counted and opened.

        A refused run did not start: the caller keeps its event and retries at
        `violation.retry_at`.
        """
        key = _run_key(run_id)
        violation = self._state.record_run_start(run_id)
        if violation is None:
            self._warned_runs[key] = set()
        return self._decide(violation, key)

    def authorize_tool_call(self, tool_name: str, *, run_id: str | None = None) -> BudgetDecision:
        """Check a tool call before it runs; if allowed it is counted (the tool may then run)."""
        violation = self._state.record_tool_call(tool_name, run_id=run_id)
        return self._decide(violation, _run_key(run_id))

    def authorize_llm_turn(self, *, run_id: str | None = None) -> BudgetDecision:
        """Check an LLM turn before it is made (`max_llm_turns_per_run`); counted if allowed."""
        violation = self._state.record_llm_turn(run_id=run_id)
        return self._decide(violation, _run_key(run_id))

    def end_run(self, run_id: str | None = None) -> BudgetUsage | None:
        """Close a run; returns what it used (for its journal entry), None if it was not open."""
        key = _run_key(run_id)
        self._warned_runs.pop(key, None)
        return self._state.end_run(run_id)

    def context_block(self, run_id: str | None = None) -> str | None:
        """The remaining budget for the agent's context, or None when the budget is disabled,
        `inject_remaining` is off, or nothing is limited."""
        config = self._state.config
        if not (config.enabled and config.inject_remaining):
            return None
        return self._state.budget_context(run_id) or None

    def handle_violation(self, violation: BudgetViolation) -> BudgetResponse:
        """What to do about `violation`, per the `on_exceeded` it carries (see `BudgetResponse`)."""
        if not isinstance(violation, BudgetViolation):
            msg = f"violation: expected a BudgetViolation, got {type(violation).__name__}"
            raise TypeError(msg)
        action = violation.action
        return BudgetResponse(
            violation=violation,
            action=action,
            suspend=action in ("pause", "escalate"),
            stop=action == "stop",
            escalate=action == "escalate",
            escalation=self._state.config.escalation if action == "escalate" else None,
        )

    def _decide(self, violation: BudgetViolation | None, key: str) -> BudgetDecision:
        reset = self._new_period()
        if not self._state.config.enabled:
            return BudgetDecision()
        if violation is not None:
            return BudgetDecision(violation=violation, daily_reset=reset)
        return BudgetDecision(warnings=self._new_warnings(key), daily_reset=reset)

    def _new_warnings(self, key: str) -> tuple[BudgetWarning, ...]:
        """Warnings for limits that reached the threshold and have not warned this period."""
        state = self._state
        threshold = state.config.warning_threshold
        run_id = key or None
        warned_run = self._warned_runs.setdefault(key, set())
        found = []
        for limit in _LIMITS:
            maximum = state.limit_value(limit.name)
            warned = warned_run if limit.period == "run" else self._warned_day
            if not maximum or limit.name in warned:
                continue
            used = state.used(limit.name, run_id)
            if used + _slack(maximum) >= threshold * maximum and not _exceeds(used, maximum):
                warned.add(limit.name)
                found.append(BudgetWarning(limit.name, maximum, used, min(used / maximum, 1.0)))
        return tuple(found)

    # Checkpoints ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The counters plus which limits already warned this period, for journal checkpoints."""
        return {
            "version": _FORMAT_VERSION,
            "state": self._state.to_dict(),
            "warned_day": sorted(self._warned_day),
            "warned_runs": {key: sorted(names) for key, names in self._warned_runs.items()},
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], config: BudgetConfig, *, clock: Clock | None = None
    ) -> BudgetEnforcer:
        """Rebuild an enforcer from `to_dict()` output under `config`; a bad field raises
        `ValueError` naming it. Warnings already sent are not sent again in the same period."""
        data = _need_mapping(data, "budget_enforcer")
        _check_version(data, "budget_enforcer")
        counters = _need_mapping(data.get("state"), "budget_enforcer.state")
        state = BudgetState.from_dict(counters, config, clock=clock)
        enforcer = cls(config, state=state)
        enforcer._warned_day = _limit_names(data.get("warned_day"), "budget_enforcer.warned_day")
        runs = _need_mapping(data.get("warned_runs"), "budget_enforcer.warned_runs")
        for key, names in runs.items():
            where = f"budget_enforcer.warned_runs[{key!r}]"
            if not isinstance(key, str):
                msg = f"budget_enforcer.warned_runs: run ids must be strings, got {key!r}"
                raise ValueError(msg)
            enforcer._warned_runs[key] = _limit_names(names, where)
        return enforcer


def _limit_names(value: object, where: str) -> set[str]:
    if not isinstance(value, list):
        msg = f"{where}: expected a list of limit names, got {type(value).__name__}"
        raise ValueError(msg)
    for name in value:
        _need_literal(name, LIMIT_NAMES, where)
    return set(value)

