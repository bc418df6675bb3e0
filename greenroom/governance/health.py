"""Behavioural health: the pure policy that notices a stuck, looping, mute or failing agent.

`HealthMonitor` is the functional core of the health actor. The process feeds it what it sees
(each tool call, each final reply, each run's outcome) and every `record_*` method returns the
`Anomaly` and `Recovery` objects that observation raised, for the caller to log, journal, emit and
act on (the configured `on_anomaly` action travels on the `Anomaly`). It has no threads, no I/O and
makes no LLM calls; time comes from an injected `Clock`, so tests drive cooldowns by hand.

The four detectors (the full rules are in docs/governance-health.md):

- **stuck**: the same tool with the same arguments `stuck_threshold` times in a row in one run;
- **loop**: the run's last calls are one block of 2 or more calls (not all alike) occurring
  `loop_min_repeats + 1` times back to back inside the last `loop_window` calls, that is the block
  and then `loop_min_repeats` repeats of it, so `A, B, A, B` alone is not a loop with the defaults;
- **empty response**: `empty_threshold` consecutive final replies shorter than `empty_max_chars`
  characters once stripped;
- **high error rate**: once the last `error_window` run outcomes fill the window, the share of
  failed runs is at least `error_rate_threshold`.

An *incident* is the stretch during which one detector's condition holds with the same evidence.
An anomaly is reported when a condition is seen to hold, unless the same kind with the same
evidence was reported less than `cooldown` seconds ago (wall clock). When a condition stops
holding, its incident closes, with one `Recovery` if the incident was reported.

Tool arguments and reply texts are never stored or reported: calls are identified by the tool
name and a hash of the arguments, replies by their length, so nothing secret can leak through an
anomaly, the status dict or a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

from greenroom.actors.clock import Clock, SystemClock
from greenroom.governance.config import HealthConfig

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_ANOMALY_HISTORY",
    "OPEN_RUN_LIMIT",
    "Anomaly",
    "AnomalyType",
    "HealthEvent",
    "HealthMonitor",
    "Recovery",
]

DEFAULT_ANOMALY_HISTORY = 1000
"""How many reported anomalies `HealthMonitor.anomalies` keeps (the counts keep counting)."""

OPEN_RUN_LIMIT = 1024
"""Most runs whose tool history is kept at once; past it the oldest open run is forgotten.

A bound for a caller that loses track of a run; a process's `concurrency` is at most 100.
"""

CHECKPOINT_FORMAT = 1
"""Version of the `HealthMonitor.to_dict()` layout, checked by `from_dict()`."""

_ARGS_HASH_CHARS = 16

Call: TypeAlias = tuple[str, str]
"""A tool call as the monitor remembers it: (tool name, hash of the arguments)."""


class AnomalyType(StrEnum):
    """Kinds of behavioural anomaly; values are the lowercase names."""

    STUCK = "stuck"
    LOOP = "loop"
    EMPTY_RESPONSE = "empty_response"
    HIGH_ERROR_RATE = "high_error_rate"


def _utc(epoch: float) -> datetime:
    """An aware UTC datetime from epoch seconds (anomalies and status show ISO times)."""
    return datetime.fromtimestamp(epoch, tz=UTC)


def _expect_mapping(data: object, what: str) -> Mapping[str, Any]:
    """`data` if it is a mapping; else a ValueError naming `what` (checkpoints are untrusted)."""
    if not isinstance(data, Mapping):
        msg = f"{what}: expected a mapping, got {type(data).__name__}"
        raise ValueError(msg)
    return data


def _get(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    """`data[name]` if present and of `kind` (bool is never a number); else a ValueError."""
    if name not in data:
        msg = f"{what}.{name}: missing"
        raise ValueError(msg)
    value = data[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        msg = f"{what}.{name}: expected {expected}, got {type(value).__name__}"
        raise ValueError(msg)
    return value


def _get_count(data: Mapping[str, Any], name: str, what: str) -> int:
    """`data[name]` if it is an int >= 0; else a ValueError naming the field."""
    value: int = _get(data, name, int, what)
    if value < 0:
        msg = f"{what}.{name}: must be >= 0, got {value}"
        raise ValueError(msg)
    return value


def _get_time(data: Mapping[str, Any], name: str, what: str) -> datetime:
    """`data[name]` parsed as an ISO 8601 date-time; else a ValueError naming the field."""
    raw = _get(data, name, str, what)
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        msg = f"{what}.{name}: {raw!r} is not an ISO 8601 date-time"
        raise ValueError(msg) from None


def _get_type(data: Mapping[str, Any], what: str) -> AnomalyType:
    """`data["anomaly_type"]` as an `AnomalyType`; else a ValueError listing the kinds."""
    raw = _get(data, "anomaly_type", str, what)
    try:
        return AnomalyType(raw)
    except ValueError:
        allowed = ", ".join(kind.value for kind in AnomalyType)
        msg = f"{what}.anomaly_type: {raw!r} is not an anomaly type (one of: {allowed})"
        raise ValueError(msg) from None


@dataclass(frozen=True)
class Anomaly:
    """A reported anomaly: what was seen, when, the evidence, and the action to take.

    `evidence` identifies the anomaly for the cooldown (the stuck call, the loop's block up to
    rotation; empty for the two process-wide kinds). `details` is JSON-ready evidence (counts,
    tool names, argument hashes, run id). `action` is `HealthConfig.on_anomaly` when it was
    reported; the caller carries it out.
    """

    anomaly_type: AnomalyType
    description: str
    timestamp: datetime
    details: dict[str, Any] = field(default_factory=dict)
    action: str = "log"
    evidence: str = ""
    process_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the timestamp is an ISO 8601 string."""
        return {
            "anomaly_type": self.anomaly_type.value,
            "description": self.description,
            "timestamp": self.timestamp.isoformat(),
            "details": dict(self.details),
            "action": self.action,
            "evidence": self.evidence,
            "process_id": self.process_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Anomaly:
        """Rebuild an anomaly from `to_dict()` output; a bad field raises `ValueError`."""
        what = "anomaly"
        data = _expect_mapping(data, what)
        return cls(
            anomaly_type=_get_type(data, what),
            description=_get(data, "description", str, what),
            timestamp=_get_time(data, "timestamp", what),
            details=dict(_get(data, "details", Mapping, what)),
            action=_get(data, "action", str, what),
            evidence=_get(data, "evidence", str, what),
            process_id=_get(data, "process_id", str, what),
        )


@dataclass(frozen=True)
class Recovery:
    """The end of a reported incident: its condition no longer holds.

    Emitted once per incident, by the observation that cleared it. `since` is when the incident
    began; `details` says how it ended (for example the run ended, with its outcome).
    """

    anomaly_type: AnomalyType
    description: str
    timestamp: datetime
    since: datetime
    details: dict[str, Any] = field(default_factory=dict)
    evidence: str = ""
    process_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the times are ISO 8601 strings."""
        return {
            "anomaly_type": self.anomaly_type.value,
            "description": self.description,
            "timestamp": self.timestamp.isoformat(),
            "since": self.since.isoformat(),
            "details": dict(self.details),
            "evidence": self.evidence,
            "process_id": self.process_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recovery:
        """Rebuild a recovery from `to_dict()` output; a bad field raises `ValueError`."""
        what = "recovery"
        data = _expect_mapping(data, what)
        return cls(
            anomaly_type=_get_type(data, what),
            description=_get(data, "description", str, what),
            timestamp=_get_time(data, "timestamp", what),
            since=_get_time(data, "since", what),
            details=dict(_get(data, "details", Mapping, what)),
            evidence=_get(data, "evidence", str, what),
            process_id=_get(data, "process_id", str, what),
        )


HealthEvent: TypeAlias = Anomaly | Recovery
"""What a `record_*` call returns a list of, in the order they happened."""


@dataclass(frozen=True)
class _Finding:
    """A detector's verdict that its condition holds, with the evidence."""

    evidence: str
    description: str
    details: dict[str, Any]


@dataclass
class _Incident:
    """One detector's condition holding with one piece of evidence."""

    kind: AnomalyType
    evidence: str
    since: float
    run_id: str | None = None
    reported: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint form; `since` stays epoch seconds."""
        return {"evidence": self.evidence, "since": self.since, "reported": self.reported}

    @classmethod
    def from_dict(cls, kind: AnomalyType, data: object) -> _Incident:
        """Rebuild a process-wide incident of `kind` from `to_dict()` output."""
        what = f"incidents.{kind.value}"
        raw = _expect_mapping(data, what)
        return cls(
            kind=kind,
            evidence=_get(raw, "evidence", str, what),
            since=float(_get(raw, "since", (int, float), what)),
            reported=_get(raw, "reported", bool, what),
        )


@dataclass
class _Run:
    """The tool calls of one open run and its stuck / loop incidents."""

    calls: deque[Call]
    same_streak: int = 0
    stuck: _Incident | None = None
    loop: _Incident | None = None


def _args_hash(args: Mapping[str, Any]) -> str:
    """A stable short hash of the arguments (canonical JSON; `repr` for what JSON cannot hold)."""
    try:
        text = json.dumps(args, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):  # keys that cannot be sorted, circular references
        text = repr(sorted(args.items(), key=lambda item: item[0]))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_ARGS_HASH_CHARS]


def _describe_call(call: Call) -> dict[str, str]:
    """A call as anomaly details show it: the tool name and the arguments' hash, never values."""
    return {"tool": call[0], "args_hash": call[1]}


def _find_loop(calls: Sequence[Call], window: int, min_repeats: int) -> tuple[list[Call], int]:
    """The shortest block that ends the recent calls `min_repeats + 1` times in a row, and how
    many times in a row it occurs; `([], 0)` when there is none.

    Only the last `window` calls count. A block has at least 2 calls and they are not all alike
    (a single call repeated is the stuck detector's business). The shortest such block is never
    itself a repetition of a shorter one.
    """
    recent = list(calls)[-window:]
    copies = min_repeats + 1
    for length in range(2, len(recent) // copies + 1):
        block = recent[-length:]
        if len(set(block)) == 1:
            continue
        span = recent[-copies * length:]
        if all(span[i] == span[i + length] for i in range(len(span) - length)):
            start = len(recent) - copies * length
            while start > 0 and recent[start - 1] == recent[start - 1 + length]:
                start -= 1
            return block, (len(recent) - start) // length
    return [], 0


def _canonical_loop(block: Sequence[Call]) -> str:
    """The loop's evidence: its block's smallest rotation, so `A,B` and `B,A` are one loop."""
    rotation = min(tuple(block[i:]) + tuple(block[:i]) for i in range(len(block)))
    return json.dumps([list(call) for call in rotation], separators=(",", ":"))


def _check_config(config: object) -> HealthConfig:
    """`config` if it is a `HealthConfig` whose loop window can hold a loop at all.

    The smallest loop is a 2-call block and `loop_min_repeats` repeats of it; a shorter window
    would switch loop detection off silently, so it is refused instead.
    """
    if not isinstance(config, HealthConfig):
        msg = f"config: expected a HealthConfig, got {type(config).__name__}"
        raise TypeError(msg)
    needed = 2 * (config.loop_min_repeats + 1)
    if config.loop_window < needed:
        msg = (f"loop_window: {config.loop_window} cannot hold a 2-call block and its "
               f"loop_min_repeats={config.loop_min_repeats} repeats; it must be >= {needed}")
        raise ValueError(msg)
    return config


def _check_run_id(run_id: object) -> str:
    """`run_id` if it is a string; else a TypeError naming the argument."""
    if not isinstance(run_id, str):
        msg = f"run_id: expected a string, got {type(run_id).__name__}"
        raise TypeError(msg)
    return run_id


class HealthMonitor:
    """Behavioural health of one process; see the module docstring for the rules.

    Call `record_tool_call` for every tool call the agent asks for (before or after it runs; it
    is the request that counts), `record_response` with every final reply, and exactly one of
    `record_success`, `record_error` or `discard_run` when a run ends. Tool calls are grouped by
    `run_id` (use the event id, so concurrent runs never mix; the default `""` suits one run at a
    time). While `config.enabled` is false every observation is ignored.
    """

    def __init__(
        self,
        config: HealthConfig,
        process_id: str,
        *,
        clock: Clock | None = None,
        history_limit: int = DEFAULT_ANOMALY_HISTORY,
    ) -> None:
        if not isinstance(process_id, str) or not process_id:
            msg = "process_id: expected a non-empty string"
            raise ValueError(msg)
        if isinstance(history_limit, bool) or not isinstance(history_limit, int) \
                or history_limit < 1:
            msg = f"history_limit: expected an int >= 1, got {history_limit!r}"
            raise ValueError(msg)
        self._config = _check_config(config)
        self._process_id = process_id
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._anomalies: deque[Anomaly] = deque(maxlen=history_limit)
        self._counts: dict[AnomalyType, int] = dict.fromkeys(AnomalyType, 0)
        self._recoveries = 0
        self._cooldowns: dict[str, float] = {}
        self._runs: dict[str, _Run] = {}
        self._reply_lengths: deque[int] = deque(maxlen=config.empty_threshold)
        self._short_streak = 0
        self._outcomes: deque[bool] = deque(maxlen=config.error_window)
        self._empty: _Incident | None = None
        self._errors: _Incident | None = None

    # -- configuration and views ----------------------------------------------------------------

    @property
    def config(self) -> HealthConfig:
        """The thresholds in force."""
        return self._config

    @property
    def process_id(self) -> str:
        """The process this monitor watches (put on every anomaly and recovery)."""
        return self._process_id

    @property
    def anomalies(self) -> list[Anomaly]:
        """Reported anomalies, oldest first (the last `history_limit` since `clear_anomalies`)."""
        return list(self._anomalies)

    @property
    def latest_anomaly(self) -> Anomaly | None:
        """The most recently reported anomaly, or None."""
        return self._anomalies[-1] if self._anomalies else None

    @property
    def tool_history(self) -> dict[str, list[Call]]:
        """The remembered `(tool, args_hash)` calls of each open run, by run id, oldest first."""
        return {run_id: list(run.calls) for run_id, run in self._runs.items()}

    def update_config(self, config: HealthConfig) -> None:
        """Apply new thresholds to a live monitor.

        The evidence gathered so far is kept, trimmed to the new window sizes; each condition is
        checked against the new thresholds at the next observation of its kind. Disabling the
        monitor drops the evidence and the open incidents (without recoveries), since nothing
        would ever be observed to close them; the reported anomalies and counts stay.
        """
        self._config = _check_config(config)
        if not config.enabled:
            self._forget_evidence()
        for run in self._runs.values():
            run.calls = deque(run.calls, maxlen=config.loop_window)
        self._reply_lengths = deque(self._reply_lengths, maxlen=config.empty_threshold)
        self._outcomes = deque(self._outcomes, maxlen=config.error_window)

    def health_status(self) -> dict[str, Any]:
        """A JSON-ready summary for the process status.

        `is_healthy` is false while any detector's condition holds (reported or held back by the
        cooldown); `active_anomalies` lists those incidents.
        """
        active = self._active()
        latest = self.latest_anomaly
        return {
            "enabled": self._config.enabled,
            "is_healthy": not active,
            "anomaly_count": sum(self._counts.values()),
            "anomalies_by_type": {kind.value: count for kind, count in self._counts.items()},
            "recovery_count": self._recoveries,
            "active_anomalies": [
                {
                    "anomaly_type": incident.kind.value,
                    "evidence": incident.evidence,
                    "since": _utc(incident.since).isoformat(),
                    "reported": incident.reported,
                    "run_id": incident.run_id,
                }
                for incident in active
            ],
            "latest_anomaly": None if latest is None else latest.to_dict(),
            "on_anomaly": self._config.on_anomaly,
        }

    def clear_anomalies(self) -> int:
        """Start afresh after an operator resolved the problem; returns how many were cleared.

        Forgets the reported anomalies, the counts, the cooldowns, the open incidents (no
        recovery is emitted for them) and the evidence (tool histories, reply streak, run
        outcomes), so an old window cannot raise the same anomaly again at the next observation.
        """
        cleared = len(self._anomalies)
        self._anomalies.clear()
        self._counts = dict.fromkeys(AnomalyType, 0)
        self._recoveries = 0
        self._cooldowns.clear()
        self._forget_evidence()
        return cleared

    def _forget_evidence(self) -> None:
        """Drop what the detectors have seen and their open incidents."""
        self._runs.clear()
        self._reply_lengths.clear()
        self._short_streak = 0
        self._outcomes.clear()
        self._empty = None
        self._errors = None

    # -- observations ---------------------------------------------------------------------------

    def record_tool_call(
        self, tool_name: str, args: Mapping[str, Any] | None = None, *, run_id: str = ""
    ) -> list[HealthEvent]:
        """Note that the agent asked for a tool call; check the run for stuck and loop."""
        if not isinstance(tool_name, str) or not tool_name:
            msg = "tool_name: expected a non-empty string"
            raise ValueError(msg)
        arguments: Mapping[str, Any] = {} if args is None else args
        if not isinstance(arguments, Mapping) or not all(isinstance(k, str) for k in arguments):
            msg = "args: expected a mapping of argument names (strings) to values, or None"
            raise TypeError(msg)
        _check_run_id(run_id)
        if not self._config.enabled:
            return []
        call: Call = (tool_name, _args_hash(arguments))
        events: list[HealthEvent] = []
        run = self._open_run(run_id, events)
        run.same_streak = run.same_streak + 1 if run.calls and run.calls[-1] == call else 1
        run.calls.append(call)
        broken = {"run_id": run_id, "reason": "pattern_broken"}
        run.stuck = self._track(
            AnomalyType.STUCK, run.stuck, self._stuck_finding(run, call, run_id),
            run_id=run_id, cleared="the run made a different call", details=broken,
            events=events,
        )
        run.loop = self._track(
            AnomalyType.LOOP, run.loop, self._loop_finding(run, run_id),
            run_id=run_id, cleared="the run left the loop", details=broken, events=events,
        )
        return events

    def record_response(self, content: str) -> list[HealthEvent]:
        """Note a run's final reply; check for consecutive empty (too short) replies."""
        if not isinstance(content, str):
            msg = f"content: expected a string, got {type(content).__name__}"
            raise TypeError(msg)
        if not self._config.enabled:
            return []
        config = self._config
        length = len(content.strip())
        self._reply_lengths.append(length)
        self._short_streak = self._short_streak + 1 if length < config.empty_max_chars else 0
        finding = None
        if self._short_streak >= config.empty_threshold:
            finding = _Finding(
                evidence="",
                description=(f"empty responses: {self._short_streak} consecutive replies "
                             f"shorter than {config.empty_max_chars} characters"),
                details={"consecutive": self._short_streak, "lengths": list(self._reply_lengths),
                         "max_chars": config.empty_max_chars},
            )
        events: list[HealthEvent] = []
        self._empty = self._track(
            AnomalyType.EMPTY_RESPONSE, self._empty, finding, run_id=None,
            cleared=f"a reply of {length} characters",
            details={"reason": "reply", "length": length}, events=events,
        )
        return events

    def record_success(self, *, run_id: str = "") -> list[HealthEvent]:
        """Note that a run finished well: it ends the run and adds an ok to the error window."""
        return self._record_outcome(_check_run_id(run_id), error=False)

    def record_error(self, *, run_id: str = "") -> list[HealthEvent]:
        """Note that a run failed for good (no retry left): it ends the run and adds an error."""
        return self._record_outcome(_check_run_id(run_id), error=True)

    def discard_run(self, *, run_id: str = "") -> list[HealthEvent]:
        """End a run without an outcome: an attempt that will be retried, or a cancelled run.

        Its tool history is dropped (a retry starts a fresh one) and nothing is added to the error
        window; stuck or loop incidents of the run close, with their recoveries.
        """
        _check_run_id(run_id)
        if not self._config.enabled:
            return []
        events: list[HealthEvent] = []
        self._close_run(run_id, "discarded", events)
        return events

    # -- detectors ------------------------------------------------------------------------------

    def _stuck_finding(self, run: _Run, call: Call, run_id: str) -> _Finding | None:
        """Stuck holds when the run's last `stuck_threshold` calls are this very call."""
        threshold = self._config.stuck_threshold
        if run.same_streak < threshold:
            return None
        return _Finding(
            evidence=json.dumps(list(call), separators=(",", ":")),
            description=(f"stuck: {call[0]} called {run.same_streak} times in a row with the "
                         f"same arguments"),
            details={**_describe_call(call), "run_id": run_id, "count": run.same_streak,
                     "threshold": threshold},
        )

    def _loop_finding(self, run: _Run, run_id: str) -> _Finding | None:
        """Loop holds when `_find_loop` finds a block ending the run's recent calls."""
        config = self._config
        block, occurrences = _find_loop(run.calls, config.loop_window, config.loop_min_repeats)
        if not block:
            return None
        names = " -> ".join(name for name, _ in block)
        return _Finding(
            evidence=_canonical_loop(block),
            description=(f"loop: the {len(block)}-call sequence {names} ran {occurrences} "
                         f"times in a row"),
            details={"run_id": run_id, "pattern": [_describe_call(call) for call in block],
                     "occurrences": occurrences, "repeats": occurrences - 1,
                     "min_repeats": config.loop_min_repeats, "window": config.loop_window},
        )

    def _record_outcome(self, run_id: str, *, error: bool) -> list[HealthEvent]:
        """End the run, add its outcome to the window and check the error rate on a full one."""
        if not self._config.enabled:
            return []
        events: list[HealthEvent] = []
        outcome = "error" if error else "ok"
        self._close_run(run_id, outcome, events)
        self._outcomes.append(error)
        window = self._config.error_window
        errors = sum(self._outcomes)
        rate = errors / len(self._outcomes)
        threshold = self._config.error_rate_threshold
        finding = None
        if len(self._outcomes) == window and rate >= threshold:
            finding = _Finding(
                evidence="",
                description=(f"high error rate: {errors} of the last {window} runs failed "
                             f"({rate:.0%}, threshold {threshold:.0%})"),
                details={"errors": errors, "window": window, "rate": rate,
                         "threshold": threshold},
            )
        self._errors = self._track(
            AnomalyType.HIGH_ERROR_RATE, self._errors, finding, run_id=None,
            cleared=f"{errors} of the last {len(self._outcomes)} runs failed ({rate:.0%})",
            details={"reason": "rate_below_threshold", "errors": errors,
                     "window": len(self._outcomes), "rate": rate},
            events=events,
        )
        return events

    # -- incidents ------------------------------------------------------------------------------

    def _open_run(self, run_id: str, events: list[HealthEvent]) -> _Run:
        """The run's state, made on its first call (forgetting the oldest run past the limit)."""
        run = self._runs.get(run_id)
        if run is None:
            if len(self._runs) >= OPEN_RUN_LIMIT:
                self._close_run(next(iter(self._runs)), "forgotten", events)
            run = _Run(calls=deque(maxlen=self._config.loop_window))
            self._runs[run_id] = run
        return run

    def _close_run(self, run_id: str, outcome: str, events: list[HealthEvent]) -> None:
        """Drop a run's tool history; its open incidents end with it."""
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        details = {"run_id": run_id, "reason": "run_ended", "outcome": outcome}
        cleared = f"run {run_id!r} ended ({outcome})" if run_id else f"the run ended ({outcome})"
        for incident in (run.stuck, run.loop):
            if incident is not None:
                self._close(incident, cleared, details, events)

    def _track(
        self,
        kind: AnomalyType,
        current: _Incident | None,
        finding: _Finding | None,
        *,
        run_id: str | None,
        cleared: str,
        details: dict[str, Any],
        events: list[HealthEvent],
    ) -> _Incident | None:
        """Move one detector's incident along after an observation; returns the open incident.

        A finding with other evidence ends the current incident and starts a new one. A holding
        condition is reported unless the cooldown for its kind and evidence is running.
        """
        now = self._clock.time()
        if current is not None and (finding is None or finding.evidence != current.evidence):
            self._close(current, cleared, details, events)
            current = None
        if finding is None:
            return None
        if current is None:
            current = _Incident(kind, finding.evidence, now, run_id=run_id)
        key = f"{kind.value}:{finding.evidence}"
        last = self._cooldowns.get(key)
        if last is not None and last <= now < last + self._config.cooldown:
            return current
        self._cooldowns = {
            k: t for k, t in self._cooldowns.items() if t <= now < t + self._config.cooldown
        }
        self._cooldowns[key] = now
        current.reported = True
        anomaly = Anomaly(
            anomaly_type=kind,
            description=finding.description,
            timestamp=_utc(now),
            details=finding.details,
            action=self._config.on_anomaly,
            evidence=finding.evidence,
            process_id=self._process_id,
        )
        self._anomalies.append(anomaly)
        self._counts[kind] += 1
        events.append(anomaly)
        return current

    def _close(
        self, incident: _Incident, cleared: str, details: dict[str, Any],
        events: list[HealthEvent],
    ) -> None:
        """End an incident: one `Recovery` if it was reported, nothing if the cooldown hid it."""
        if not incident.reported:
            return
        self._recoveries += 1
        events.append(Recovery(
            anomaly_type=incident.kind,
            description=f"{incident.kind.value} ended: {cleared}",
            timestamp=_utc(self._clock.time()),
            since=_utc(incident.since),
            details=dict(details),
            evidence=incident.evidence,
            process_id=self._process_id,
        ))

    def _active(self) -> list[_Incident]:
        """The open incidents: each run's stuck and loop, then empty replies and error rate."""
        found = [incident for run in self._runs.values()
                 for incident in (run.stuck, run.loop) if incident is not None]
        return found + [incident for incident in (self._empty, self._errors)
                        if incident is not None]

    # -- checkpoints ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the monitor's state for a journal checkpoint.

        The tool histories of open runs are left out on purpose: a run still in flight at a
        crash is run again from scratch after recovery, so restoring its calls would count them
        twice and could report a stuck agent that is not.
        """
        now = self._clock.time()
        return {
            "format": CHECKPOINT_FORMAT,
            "process_id": self._process_id,
            "anomalies": [anomaly.to_dict() for anomaly in self._anomalies],
            "counts": {kind.value: count for kind, count in self._counts.items()},
            "recovery_count": self._recoveries,
            "cooldowns": {
                key: t for key, t in self._cooldowns.items()
                if t <= now < t + self._config.cooldown
            },
            "reply_lengths": list(self._reply_lengths),
            "short_streak": self._short_streak,
            "outcomes": ["error" if error else "ok" for error in self._outcomes],
            "incidents": {
                kind.value: incident.to_dict()
                for kind, incident in ((AnomalyType.EMPTY_RESPONSE, self._empty),
                                       (AnomalyType.HIGH_ERROR_RATE, self._errors))
                if incident is not None
            },
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        config: HealthConfig,
        *,
        clock: Clock | None = None,
        history_limit: int = DEFAULT_ANOMALY_HISTORY,
    ) -> HealthMonitor:
        """Rebuild a monitor from `to_dict()` output under `config` (which may have changed).

        A malformed checkpoint raises `ValueError` naming the field.
        """
        what = "health"
        data = _expect_mapping(data, what)
        if _get(data, "format", int, what) != CHECKPOINT_FORMAT:
            msg = f"{what}.format: {data['format']!r} is not {CHECKPOINT_FORMAT}"
            raise ValueError(msg)
        monitor = cls(config, _get(data, "process_id", str, what), clock=clock,
                      history_limit=history_limit)
        monitor._anomalies.extend(
            Anomaly.from_dict(raw) for raw in _get(data, "anomalies", list, what))
        counts = _get(data, "counts", Mapping, what)
        for kind in AnomalyType:
            if kind.value in counts:
                monitor._counts[kind] = _get_count(counts, kind.value, f"{what}.counts")
        monitor._recoveries = _get_count(data, "recovery_count", what)
        for key, stamp in _get(data, "cooldowns", Mapping, what).items():
            if isinstance(stamp, bool) or not isinstance(stamp, int | float):
                msg = f"{what}.cooldowns[{key!r}]: expected a number, got {type(stamp).__name__}"
                raise ValueError(msg)
            monitor._cooldowns[str(key)] = float(stamp)
        for length in _get(data, "reply_lengths", list, what):
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                msg = f"{what}.reply_lengths: expected lengths (ints >= 0), got {length!r}"
                raise ValueError(msg)
            monitor._reply_lengths.append(length)
        monitor._short_streak = _get_count(data, "short_streak", what)
        for outcome in _get(data, "outcomes", list, what):
            if outcome not in ("ok", "error"):
                msg = f"{what}.outcomes: expected 'ok' or 'error', got {outcome!r}"
                raise ValueError(msg)
            monitor._outcomes.append(outcome == "error")
        incidents = _get(data, "incidents", Mapping, what)
        unknown = set(incidents) - {AnomalyType.EMPTY_RESPONSE.value,
                                    AnomalyType.HIGH_ERROR_RATE.value}
        if unknown:
            msg = f"{what}.incidents: unexpected kinds {sorted(unknown)}"
            raise ValueError(msg)
        if AnomalyType.EMPTY_RESPONSE.value in incidents:
            monitor._empty = _Incident.from_dict(
                AnomalyType.EMPTY_RESPONSE, incidents[AnomalyType.EMPTY_RESPONSE.value])
        if AnomalyType.HIGH_ERROR_RATE.value in incidents:
            monitor._errors = _Incident.from_dict(
                AnomalyType.HIGH_ERROR_RATE, incidents[AnomalyType.HIGH_ERROR_RATE.value])
        return monitor
