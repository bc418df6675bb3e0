"""The mission policy: a goal a process works towards, its schedule of evaluations and its limits.

`MissionTracker` is the pure core of the mission actor: no threads, no I/O, time from an injected
`Clock`. Its methods return a `MissionDecision` (what the process must do: keep going, suspend or
stop, whether to escalate, whether the next run may start) instead of calling back into the
process. The only slow part of a mission, asking an LLM judge, lives in
`greenroom.governance.mission_judge`; its verdict comes back through `record_evaluation`.

One invocation, as the actor drives it:

1. `check_limits()` before the run (and from a timer at `deadline`): a mission past
   `timeout_hours` or `max_invocations` fails, and the decision refuses the run.
2. `context_summary()` is the `[Mission]` block of the prompt.
3. `increment_invocation()` after the run; when `should_evaluate()`, `begin_evaluation(evidence)`
   runs the programmatic check. It returns the decision when the check decided, or None when the
   judge must be asked; the judge's `MissionEvaluation` then goes to `record_evaluation`.

Every evaluation is kept in a bounded history and carried on its decision, so the caller can
journal it (`mission_evaluation`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

from greenroom.actors.clock import Clock, SystemClock
from greenroom.governance.config import MissionConfig
from greenroom.timestamps import parse_timestamp

__all__ = [
    "DEFAULT_HISTORY_LIMIT",
    "DEFAULT_MAX_INCONCLUSIVE",
    "EVALUATION_SOURCES",
    "MissionAction",
    "MissionDecision",
    "MissionEvaluation",
    "MissionEvidence",
    "MissionState",
    "MissionStateError",
    "MissionTracker",
    "SuccessCheck",
]

DEFAULT_HISTORY_LIMIT = 100
"""How many evaluations a tracker keeps (the journal holds all of them)."""

DEFAULT_MAX_INCONCLUSIVE = 3
"""Consecutive inconclusive evaluations after which the decision asks for an escalation."""

EVALUATION_SOURCES = frozenset({"check", "judge"})
"""Who produced an evaluation: the programmatic `success_check` or the LLM judge."""

_MAX_ERROR_CHARS = 300
_MAX_CONTEXT_PROGRESS_CHARS = 300


class MissionState(StrEnum):
    """Where a mission is: active, paused (awaiting a human), completed or failed (both final)."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"


_OPEN_STATES = frozenset({MissionState.ACTIVE, MissionState.PAUSED})
_ACTIVE_ONLY = frozenset({MissionState.ACTIVE})
_PAUSED_ONLY = frozenset({MissionState.PAUSED})


class MissionAction(StrEnum):
    """What the process must do after a mission decision; the values match `on_complete`."""

    CONTINUE = "continue"
    SUSPEND = "suspend"
    STOP = "stop"


class MissionStateError(ValueError):
    """An operation that the mission's current state does not allow (such as resuming a failed
    mission); the message names the process, the state and the operation.
    """

    def __init__(self, process_id: str, state: MissionState, operation: str) -> None:
        self.process_id = process_id
        self.state = state
        self.operation = operation
        super().__init__(
            f"mission of process {process_id!r}: cannot {operation} while {state.value}"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


@dataclass(frozen=True)
class MissionEvidence:
    """What an evaluation looks at: recent conversation, context state, recent tool calls (name
    and a short rendering of the arguments), the trigger event (as a dict) and the invocation count.
    """

    conversation: Sequence[Mapping[str, Any]] = field(default_factory=list)
    state: Mapping[str, Any] = field(default_factory=dict)
    tool_calls: Sequence[tuple[str, str]] = field(default_factory=list)
    trigger_event: Mapping[str, Any] = field(default_factory=dict)
    invocation_count: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.conversation, str | bytes) or not isinstance(
            self.conversation, Sequence
        ):
            msg = "conversation: expected a list of message dicts"
            raise TypeError(msg)
        for name in ("state", "trigger_event"):
            if not isinstance(getattr(self, name), Mapping):
                msg = f"{name}: expected a mapping, got {type(getattr(self, name)).__name__}"
                raise TypeError(msg)
        if isinstance(self.tool_calls, str | bytes) or not isinstance(self.tool_calls, Sequence):
            msg = "tool_calls: expected a list of (name, arguments) pairs"
            raise TypeError(msg)
        count = self.invocation_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            msg = f"invocation_count: expected an int >= 0, got {count!r}"
            raise ValueError(msg)


@dataclass(frozen=True)
class MissionEvaluation:
    """One verdict on the mission: from the `check` or the `judge`, conclusive or not.

    An inconclusive evaluation (the judge timed out, failed or answered something unparseable,
    or the check raised) is never `achieved`; `reasoning` then says what went wrong. `attempts`
    is how many judge calls it took.
    """

    achieved: bool
    confidence: float
    reasoning: str
    timestamp: datetime
    invocation_number: int
    source: str
    progress_summary: str = ""
    inconclusive: bool = False
    attempts: int = 1

    def __post_init__(self) -> None:
        for name in ("achieved", "inconclusive"):
            if not isinstance(getattr(self, name), bool):
                msg = f"{name}: expected a bool, got {type(getattr(self, name)).__name__}"
                raise ValueError(msg)
        confidence = self.confidence
        if not _is_number(confidence) or not math.isfinite(confidence):
            msg = f"confidence: expected a number in [0, 1], got {confidence!r}"
            raise ValueError(msg)
        if not 0.0 <= confidence <= 1.0:
            msg = f"confidence: expected a number in [0, 1], got {confidence!r}"
            raise ValueError(msg)
        object.__setattr__(self, "confidence", float(confidence))
        for name in ("reasoning", "progress_summary"):
            if not isinstance(getattr(self, name), str):
                msg = f"{name}: expected a string, got {type(getattr(self, name)).__name__}"
                raise ValueError(msg)
        if not isinstance(self.timestamp, datetime):
            msg = f"timestamp: expected a datetime, got {type(self.timestamp).__name__}"
            raise ValueError(msg)
        for name, minimum in (("invocation_number", 0), ("attempts", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                msg = f"{name}: expected an int >= {minimum}, got {value!r}"
                raise ValueError(msg)
        if self.source not in EVALUATION_SOURCES:
            allowed = ", ".join(sorted(EVALUATION_SOURCES))
            msg = f"source: expected one of {allowed}, got {self.source!r}"
            raise ValueError(msg)
        if self.inconclusive and self.achieved:
            msg = "achieved: an inconclusive evaluation cannot be achieved"
            raise ValueError(msg)

    @classmethod
    def inconclusive_result(
        cls,
        reason: str,
        *,
        timestamp: datetime,
        invocation_number: int,
        source: str,
        attempts: int = 1,
    ) -> MissionEvaluation:
        """An evaluation that decided nothing, with `reason` saying why."""
        return cls(
            achieved=False,
            confidence=0.0,
            reasoning=reason,
            timestamp=timestamp,
            invocation_number=invocation_number,
            source=source,
            inconclusive=True,
            attempts=attempts,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the `mission_evaluation` journal entry); timestamp in ISO 8601."""
        return {
            "achieved": self.achieved,
            "confidence": self.confidence,
            "reasoning": self.reasoning,
            "progress_summary": self.progress_summary,
            "timestamp": self.timestamp.isoformat(),
            "invocation_number": self.invocation_number,
            "source": self.source,
            "inconclusive": self.inconclusive,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MissionEvaluation:
        """Rebuild an evaluation from `to_dict()` output; a bad field raises `ValueError`."""
        if not isinstance(data, Mapping):
            msg = f"evaluation: expected a mapping, got {type(data).__name__}"
            raise ValueError(msg)
        timestamp = parse_timestamp(data.get("timestamp"))
        for name in ("achieved", "confidence", "reasoning", "invocation_number", "source"):
            if name not in data:
                msg = f"{name}: missing from the evaluation"
                raise ValueError(msg)
        return cls(
            achieved=data["achieved"],
            confidence=data["confidence"],
            reasoning=data["reasoning"],
            timestamp=timestamp,
            invocation_number=data["invocation_number"],
            source=data["source"],
            progress_summary=data.get("progress_summary", ""),
            inconclusive=data.get("inconclusive", False),
            attempts=data.get("attempts", 1),
        )


@dataclass(frozen=True)
class MissionDecision:
    """What a tracker call means for the process.

    `action` is for the process (keep going, suspend, stop); `escalate` asks the caller to notify
    the escalation target; `run` is False only when `check_limits` refuses the coming run (the
    caller keeps its event). `evaluation` is the evaluation this decision recorded, if any, for
    the journal.
    """

    state: MissionState
    previous_state: MissionState
    action: MissionAction = MissionAction.CONTINUE
    escalate: bool = False
    run: bool = True
    reason: str = ""
    evaluation: MissionEvaluation | None = None

    @property
    def changed(self) -> bool:
        """Whether the mission's state moved."""
        return self.state is not self.previous_state

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for an escalation payload or a journal entry."""
        return {
            "state": self.state.value,
            "previous_state": self.previous_state.value,
            "action": self.action.value,
            "escalate": self.escalate,
            "run": self.run,
            "reason": self.reason,
            "evaluation": None if self.evaluation is None else self.evaluation.to_dict(),
        }


SuccessCheck: TypeAlias = Callable[[MissionEvidence], bool | None]
"""A programmatic check: True (achieved), False (not yet) or None (undecided: ask the judge)."""

def _check_config(config: object) -> MissionConfig:
    if not isinstance(config, MissionConfig):
        msg = f"config: expected a MissionConfig, got {type(config).__name__}"
        raise TypeError(msg)
    if not config.enabled:
        msg = "config.enabled: the mission is disabled; a tracker needs an enabled MissionConfig"
        raise ValueError(msg)
    return config


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{name}: expected an int, got {type(value).__name__}"
        raise TypeError(msg)
    if value < 1:
        msg = f"{name}: must be >= 1, got {value}"
        raise ValueError(msg)
    return value


class MissionTracker:
    """The mission of one process: state, invocation count, evaluation schedule, limits, history.

    Not thread-safe on purpose: one actor owns it and serialises every call. `clock` gives the
    wall time the timeout is measured on (from the mission's start, pauses included, so it
    survives restarts through `to_dict`); it defaults to the system clock. `success_check` runs
    before any judge. `history_limit` bounds the evaluations kept; after `max_inconclusive`
    inconclusive evaluations in a row the decision asks for one escalation.
    """

    def __init__(
        self,
        config: MissionConfig,
        process_id: str,
        *,
        clock: Clock | None = None,
        success_check: SuccessCheck | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        max_inconclusive: int | None = None,
    ) -> None:
        self._config = _check_config(config)
        if not isinstance(process_id, str) or not process_id:
            msg = "process_id: expected a non-empty string"
            raise ValueError(msg)
        if success_check is not None and not callable(success_check):
            msg = f"success_check: expected a callable, got {type(success_check).__name__}"
            raise TypeError(msg)
        self._process_id = process_id
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._success_check = success_check
        self._history: deque[MissionEvaluation] = deque(
            maxlen=_check_positive_int(history_limit, "history_limit")
        )
        self._max_inconclusive = _check_positive_int(
            config.max_inconclusive if max_inconclusive is None else max_inconclusive,
            "max_inconclusive",
        )
        self._state = MissionState.ACTIVE
        self._reason = ""
        self._started_at = self._clock.time()
        self._ended_at: float | None = None
        self._invocation_count = 0
        self._since_evaluation = 0
        self._inconclusive_streak = 0

    # -- queries ---------------------------------------------------------------------------

    @property
    def config(self) -> MissionConfig:
        """The mission's configuration."""
        return self._config

    @property
    def process_id(self) -> str:
        """The owning process."""
        return self._process_id

    @property
    def state(self) -> MissionState:
        """The current state."""
        return self._state

    @property
    def reason(self) -> str:
        """Why the mission is in its current state (empty while it was never paused or ended)."""
        return self._reason

    @property
    def invocation_count(self) -> int:
        """Runs counted since the mission started (only while it was active or paused)."""
        return self._invocation_count

    @property
    def started_at(self) -> float:
        """When the mission started, in epoch seconds."""
        return self._started_at

    @property
    def deadline(self) -> float | None:
        """When `timeout_hours` runs out (epoch seconds), or None without a timeout.

        The actor can set a timer for it and call `check_limits`, so an idle mission fails too.
        """
        hours = self._config.timeout_hours
        return None if hours <= 0 else self._started_at + hours * 3600.0

    @property
    def evaluations(self) -> list[MissionEvaluation]:
        """The evaluations kept, oldest first (a copy)."""
        return list(self._history)

    @property
    def last_evaluation(self) -> MissionEvaluation | None:
        """The most recent evaluation, conclusive or not."""
        return self._history[-1] if self._history else None

    @property
    def inconclusive_streak(self) -> int:
        """Inconclusive evaluations since the last conclusive one (or the last resume)."""
        return self._inconclusive_streak

    def is_timed_out(self) -> bool:
        """Whether `timeout_hours` (0 = none) have passed on the clock since the mission started."""
        deadline = self.deadline
        return deadline is not None and self._clock.time() >= deadline

    def is_over_limit(self) -> bool:
        """Whether `max_invocations` (0 = unlimited) runs have been counted already."""
        limit = self._config.max_invocations
        return limit > 0 and self._invocation_count >= limit

    def should_evaluate(self) -> bool:
        """Whether an evaluation is due: the mission is active and `eval_every` runs have been
        counted since the last evaluation began (or since the start or the last resume).
        """
        return (
            self._state is MissionState.ACTIVE
            and self._since_evaluation >= self._config.eval_every
        )

    def context_summary(self) -> dict[str, Any]:
        """The `[Mission]` context block for the agent's prompt: objective, criteria, status,
        progress (invocations, hours) and the last conclusive evaluation. JSON-ready.
        """
        config = self._config
        end = self._ended_at if self._ended_at is not None else self._clock.time()
        summary: dict[str, Any] = {
            "objective": config.objective,
            "success_criteria": config.success_criteria,
            "status": self._state.value,
            "invocations": self._invocation_count,
            "max_invocations": config.max_invocations or None,
            "hours_elapsed": round(max(0.0, end - self._started_at) / 3600.0, 2),
            "timeout_hours": config.timeout_hours or None,
            "last_evaluation": None,
        }
        if self._reason and self._state is not MissionState.ACTIVE:
            summary["status_reason"] = self._reason
        conclusive = [e for e in self._history if not e.inconclusive]
        if conclusive:
            last = conclusive[-1]
            summary["last_evaluation"] = {
                "invocation": last.invocation_number,
                "achieved": last.achieved,
                "confidence": last.confidence,
                "progress": _cut(
                    last.progress_summary or last.reasoning, _MAX_CONTEXT_PROGRESS_CHARS
                ),
            }
        return summary

    # -- the run cycle ---------------------------------------------------------------------

    def check_limits(self) -> MissionDecision:
        """Fail an open mission that is past `timeout_hours` or `max_invocations`.

        Call it before each run: a failing decision has `run=False` (keep the event), action
        `suspend` and `escalate=True`, because nobody is watching a mission that ran out. Runs
        are otherwise never refused, even after the mission ended: a finished mission no longer
        holds the process back (the peer silently skips them).
        """
        previous = self._state
        if previous not in _OPEN_STATES:
            return MissionDecision(state=previous, previous_state=previous)
        if self.is_timed_out():
            hours = self._config.timeout_hours
            reason = f"timed out: timeout_hours={hours:g} passed since the mission started"
        elif self.is_over_limit():
            limit = self._config.max_invocations
            reason = f"over limit: max_invocations={limit} runs counted"
        else:
            return MissionDecision(state=previous, previous_state=previous)
        self._move(MissionState.FAILED, reason)
        return MissionDecision(
            state=self._state,
            previous_state=previous,
            action=MissionAction.SUSPEND,
            escalate=True,
            run=False,
            reason=reason,
        )

    def increment_invocation(self) -> int:
        """Count one finished run (succeeded or failed) while the mission is open; returns the
        count. Runs while paused count towards `max_invocations` but not towards the next
        evaluation.
        """
        if self._state in _OPEN_STATES:
            self._invocation_count += 1
        if self._state is MissionState.ACTIVE:
            self._since_evaluation += 1
        return self._invocation_count

    def begin_evaluation(self, evidence: MissionEvidence) -> MissionDecision | None:
        """Start an evaluation (normally when `should_evaluate()`; an operator may force one).

        Runs the `success_check`: True or False decides (confidence 1.0), and the decision of
        that evaluation is returned. Without a check, or when it returns None, the result is
        None: ask the judge and pass its evaluation to `record_evaluation`. A check that raises
        or returns anything else gives an inconclusive evaluation (the judge is not asked: the
        check is the authority the operator chose). The next evaluation is due `eval_every`
        runs from now.
        """
        if not isinstance(evidence, MissionEvidence):
            msg = f"evidence: expected a MissionEvidence, got {type(evidence).__name__}"
            raise TypeError(msg)
        if self._state is not MissionState.ACTIVE:
            raise MissionStateError(self._process_id, self._state, "evaluate")
        self._since_evaluation = 0
        if self._success_check is None:
            return None
        now = self._now()
        number = self._invocation_count
        try:
            result = self._success_check(evidence)
        except Exception as exc:
            problem = _cut(f"success_check raised {type(exc).__name__}: {exc}", _MAX_ERROR_CHARS)
            evaluation = MissionEvaluation.inconclusive_result(
                problem, timestamp=now, invocation_number=number, source="check"
            )
            return self.record_evaluation(evaluation)
        if result is None:
            return None
        if not isinstance(result, bool):
            problem = (
                f"success_check returned {type(result).__name__}; expected True, False or None"
            )
            evaluation = MissionEvaluation.inconclusive_result(
                problem, timestamp=now, invocation_number=number, source="check"
            )
        else:
            evaluation = MissionEvaluation(
                achieved=result,
                confidence=1.0,
                reasoning=f"success_check returned {result}",
                timestamp=now,
                invocation_number=number,
                source="check",
            )
        return self.record_evaluation(evaluation)

    def record_evaluation(self, evaluation: MissionEvaluation) -> MissionDecision:
        """Record an evaluation and apply it while the mission is active.

        - inconclusive: nothing changes; it is retried at the next evaluation. After
          `max_inconclusive` in a row the decision asks for one escalation (the mission goes on).
        - confidence below `confidence_threshold` (achieved or not): the mission pauses, the
          process suspends, escalate.
        - achieved: the mission completes; with `auto_complete` the action is `on_complete`
          (stop / suspend / continue), else continue.
        - not achieved: continue.

        An evaluation arriving when the mission is not active (paused by hand, ended meanwhile)
        is recorded and changes nothing.
        """
        if not isinstance(evaluation, MissionEvaluation):
            msg = f"evaluation: expected a MissionEvaluation, got {type(evaluation).__name__}"
            raise TypeError(msg)
        self._history.append(evaluation)
        previous = self._state
        if previous is not MissionState.ACTIVE:
            return MissionDecision(
                state=previous,
                previous_state=previous,
                reason=f"mission is {previous.value}: evaluation recorded only",
                evaluation=evaluation,
            )
        if evaluation.inconclusive:
            self._inconclusive_streak += 1
            streak = self._inconclusive_streak
            return MissionDecision(
                state=previous,
                previous_state=previous,
                escalate=streak == self._max_inconclusive,
                reason=f"inconclusive evaluation ({streak} in a row): {evaluation.reasoning}",
                evaluation=evaluation,
            )
        self._inconclusive_streak = 0
        threshold = self._config.confidence_threshold
        if evaluation.confidence < threshold:
            reason = (
                f"confidence {evaluation.confidence:.2f} is below confidence_threshold "
                f"{threshold:.2f}: paused for review"
            )
            self._move(MissionState.PAUSED, reason)
            return MissionDecision(
                state=self._state,
                previous_state=previous,
                action=MissionAction.SUSPEND,
                escalate=True,
                reason=reason,
                evaluation=evaluation,
            )
        if evaluation.achieved:
            reason = f"achieved (confidence {evaluation.confidence:.2f}, {evaluation.source})"
            self._move(MissionState.COMPLETED, reason)
            action = (
                MissionAction(self._config.on_complete)
                if self._config.auto_complete
                else MissionAction.CONTINUE
            )
            return MissionDecision(
                state=self._state,
                previous_state=previous,
                action=action,
                reason=reason,
                evaluation=evaluation,
            )
        return MissionDecision(
            state=previous,
            previous_state=previous,
            reason=f"not achieved yet (confidence {evaluation.confidence:.2f})",
            evaluation=evaluation,
        )

    # -- by hand ---------------------------------------------------------------------------

    def pause(self, reason: str = "paused by operator") -> MissionDecision:
        """Stop evaluating until `resume()` (awaiting a human); runs go on and still count."""
        return self._by_hand(MissionState.PAUSED, reason, "pause", _ACTIVE_ONLY)

    def resume(self, reason: str = "resumed by operator") -> MissionDecision:
        """Back from paused to active; the next evaluation is due `eval_every` runs from now."""
        decision = self._by_hand(MissionState.ACTIVE, reason, "resume", _PAUSED_ONLY)
        self._since_evaluation = 0
        self._inconclusive_streak = 0
        return decision

    def fail(self, reason: str = "failed by operator") -> MissionDecision:
        """End an open mission as failed; the process itself is left as it is."""
        return self._by_hand(MissionState.FAILED, reason, "fail", _OPEN_STATES)

    def complete(self, reason: str = "completed by operator") -> MissionDecision:
        """End an open mission as completed; the process itself is left as it is."""
        return self._by_hand(MissionState.COMPLETED, reason, "complete", _OPEN_STATES)

    def update_config(self, config: MissionConfig) -> None:
        """Swap in a new configuration (say, a higher `max_invocations`); counters, state and
        history stay. A new timeout still counts from the mission's start.
        """
        self._config = _check_config(config)
        self._max_inconclusive = config.max_inconclusive

    # -- checkpoints -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The tracker's state, JSON-ready, for a journal checkpoint (the config is not in it)."""
        return {
            "process_id": self._process_id,
            "state": self._state.value,
            "reason": self._reason,
            "started_at": self._started_at,
            "ended_at": self._ended_at,
            "invocation_count": self._invocation_count,
            "runs_since_evaluation": self._since_evaluation,
            "inconclusive_streak": self._inconclusive_streak,
            "evaluations": [evaluation.to_dict() for evaluation in self._history],
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        config: MissionConfig,
        *,
        clock: Clock | None = None,
        success_check: SuccessCheck | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        max_inconclusive: int | None = None,
    ) -> MissionTracker:
        """Rebuild a tracker from `to_dict()` output and the (current) config.

        A bad field raises `ValueError` naming it; only the newest `history_limit` evaluations
        are kept.
        """
        if not isinstance(data, Mapping):
            msg = f"mission checkpoint: expected a mapping, got {type(data).__name__}"
            raise ValueError(msg)
        raw_state = data.get("state")
        if raw_state not in {state.value for state in MissionState}:
            allowed = ", ".join(state.value for state in MissionState)
            msg = f"state: {raw_state!r} is not a mission state (one of: {allowed})"
            raise ValueError(msg)
        raw_evaluations = data.get("evaluations", [])
        if not isinstance(raw_evaluations, list):
            msg = "evaluations: expected a list"
            raise ValueError(msg)
        tracker = cls(
            config,
            _str_field(data, "process_id"),
            clock=clock,
            success_check=success_check,
            history_limit=history_limit,
            max_inconclusive=max_inconclusive,
        )
        tracker._state = MissionState(raw_state)
        tracker._reason = _str_field(data, "reason")
        tracker._started_at = _number_field(data, "started_at")
        ended_at = data.get("ended_at")
        tracker._ended_at = None if ended_at is None else _number_field(data, "ended_at")
        tracker._invocation_count = _count_field(data, "invocation_count")
        tracker._since_evaluation = _count_field(data, "runs_since_evaluation")
        tracker._inconclusive_streak = _count_field(data, "inconclusive_streak")
        for index, raw in enumerate(raw_evaluations):
            try:
                tracker._history.append(MissionEvaluation.from_dict(raw))
            except ValueError as exc:
                msg = f"evaluations[{index}].{exc}"
                raise ValueError(msg) from exc
        return tracker

    # -- internals -------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), UTC)

    def _move(self, target: MissionState, reason: str) -> None:
        self._state = target
        self._reason = reason
        if target not in _OPEN_STATES:
            self._ended_at = self._clock.time()

    def _by_hand(
        self,
        target: MissionState,
        reason: str,
        operation: str,
        sources: frozenset[MissionState],
    ) -> MissionDecision:
        """Move to `target` from one of `sources` by an operator's call; the process is left
        as it is (action continue, no escalation).
        """
        if not isinstance(reason, str) or not reason.strip():
            msg = "reason: expected a non-empty string"
            raise ValueError(msg)
        previous = self._state
        if previous not in sources:
            raise MissionStateError(self._process_id, previous, operation)
        self._move(target, reason)
        return MissionDecision(state=target, previous_state=previous, reason=reason)


def _str_field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        msg = f"{name}: expected a string, got {type(value).__name__}"
        raise ValueError(msg)
    return value


def _number_field(data: Mapping[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{name}: expected a finite number, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _count_field(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"{name}: expected an int >= 0, got {value!r}"
        raise ValueError(msg)
    return value
