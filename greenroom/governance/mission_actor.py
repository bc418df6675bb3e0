"""`MissionActor`: the actor shell around `MissionTracker` (the mission of one process).

The process asks `CheckLimits` before each run, `ContextSummary` for the prompt's `[Mission]`
block, and tells `RunCompleted(evidence)` after each run, succeeded or failed. The actor counts
the run and, when an evaluation is due, evaluates on the io loop: the `success_check` first (in a
worker thread if it is a plain function, awaited if it returns an awaitable), then, when there is
no check or it is undecided, the LLM judge (`MissionJudge`, with its timeout and retry). One
evaluation runs at a time; the actor keeps answering meanwhile, and when runs made another
evaluation due in the meantime, the latest run's evidence is evaluated as soon as the first
evaluation ends. The tracker applies the verdict with its exact rules; the actor reports what
happened to the owner:

| kind | when | action |
|---|---|---|
| `mission_evaluation` | an evaluation was recorded (its `to_dict()`) | None |
| `mission_state` | the mission moved (achieved, unsure, failed on a limit, by hand) | below |
| `escalation` | the outcome of an escalation this actor sent | None |

The `mission_state` action: `on_complete` (`stop`, `suspend` or `continue`) when an evaluation
completed the mission with `auto_complete` (`continue` without it); `pause` when a verdict was
less sure than `confidence_threshold` (the actor escalates); `fail` when `timeout_hours` or
`max_invocations` ran out (the actor escalates; the tracker's response is to suspend the process
and keep the event, never to drop it); None for a move made by hand. After `max_inconclusive`
inconclusive verdicts in a row the actor escalates once and the mission goes on.

Limits are checked after each run once its evaluation (if any) is recorded, when a timer reaches
the `timeout_hours` deadline, and on `CheckLimits`. While a verdict is pending, a `CheckLimits`
that would fail the mission waits for it, so the last run's evaluation can still complete the
mission before the limit fails it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

import pykka

from greenroom.governance.config import MissionConfig
from greenroom.governance.escalation import DEFAULT_TIMEOUT
from greenroom.governance.messages import (
    CheckLimits,
    CompleteMission,
    ContextSummary,
    FailMission,
    PauseMission,
    ResumeMission,
    RunCompleted,
)
from greenroom.governance.mission import (
    MissionDecision,
    MissionEvaluation,
    MissionEvidence,
    MissionState,
    MissionTracker,
)
from greenroom.governance.mission_judge import DEFAULT_JUDGE_RETRIES, MissionJudge
from greenroom.governance.redaction import Redactor
from greenroom.governance.shell import GovernanceActor, Handler

if TYPE_CHECKING:
    import concurrent.futures

    from greenroom.actors.clock import Clock
    from greenroom.actors.reply import Reply
    from greenroom.agents.invocation import Agent

__all__ = ["DEADLINE_CHECK_INTERVAL", "AsyncSuccessCheck", "MissionActor"]

DEADLINE_CHECK_INTERVAL = 3600.0
"""Longest wait, in seconds, between two checks of the `timeout_hours` deadline."""

AsyncSuccessCheck = Callable[[MissionEvidence], bool | Awaitable[bool | None] | None]
"""A success check: True (achieved), False (not yet), None (ask the judge); sync or async."""


@dataclass(frozen=True, slots=True)
class _Checked:
    """The success check's outcome, back from the io loop."""

    evidence: MissionEvidence
    value: object = None
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class _Verdict:
    """The judge's evaluation, back from the io loop."""

    evaluation: MissionEvaluation


@dataclass(frozen=True, slots=True)
class _DeadlineDue:
    """Timer tick: check the `timeout_hours` deadline."""


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


class MissionActor(GovernanceActor[MissionConfig]):
    """The mission of process `process_name`; see the module docstring.

    `judge` is the agent that judges (an `async (Invocation) -> str`, wrapped in a
    `MissionJudge` with `config.eval_timeout` and `judge_retries`) or a ready `MissionJudge`;
    `success_check` runs before it. At least one of them is needed. `state` is a
    `MissionTracker.to_dict()` snapshot (a journal checkpoint) to restore.
    """

    source: ClassVar[str] = "mission"

    def __init__(
        self,
        config: MissionConfig,
        process_name: str,
        *,
        owner: pykka.ActorRef[Any] | None = None,
        state: Mapping[str, Any] | None = None,
        judge: Agent | MissionJudge | None = None,
        success_check: AsyncSuccessCheck | None = None,
        judge_retries: int = DEFAULT_JUDGE_RETRIES,
        event_bus: object | None = None,
        redactor: Redactor | None = None,
        escalation_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(process_name, owner=owner, event_bus=event_bus, redactor=redactor,
                         escalation_timeout=escalation_timeout)
        if judge is None and success_check is None:
            msg = "judge: a mission needs a judge (an agent) or a success_check to evaluate it"
            raise ValueError(msg)
        if success_check is not None and not callable(success_check):
            msg = f"success_check: expected a callable, got {type(success_check).__name__}"
            raise TypeError(msg)
        self._judge_agent = None if isinstance(judge, MissionJudge) else judge
        self._judge_retries = judge_retries
        self.judge = judge if isinstance(judge, MissionJudge) else self._make_judge(config)
        self._success_check = success_check
        replay = self._replay_check if success_check is not None else None
        clock = self.system.clock
        options: dict[str, Any] = {
            "clock": clock, "success_check": replay, "max_inconclusive": config.max_inconclusive,
        }
        if state is None:
            self.tracker = MissionTracker(config, process_name, **options)
        else:
            self.tracker = MissionTracker.from_dict(state, config, **options)
        self._checked: _Checked | None = None
        self._evaluation: concurrent.futures.Future[Any] | None = None
        self._checking = False
        self._latest: MissionEvidence | None = None
        self._runs_while_checking = 0
        self._held: list[Reply] = []

    def _make_judge(self, config: MissionConfig) -> MissionJudge | None:
        if self._judge_agent is None:
            return None
        return MissionJudge(self._judge_agent, timeout=config.eval_timeout,
                            retries=self._judge_retries, clock=self.system.clock)

    def config_type(self) -> type[MissionConfig]:
        """`MissionConfig`."""
        return MissionConfig

    def protocol(self) -> dict[type, Handler]:
        """Mission messages."""
        tracker = self.tracker
        return {
            CheckLimits: lambda _m: self._check_limits(),
            RunCompleted: self._run_completed,
            ContextSummary: lambda _m: tracker.context_summary(),
            PauseMission: lambda m: self._by_hand(tracker.pause(m.reason)),
            ResumeMission: lambda m: self._by_hand(tracker.resume(m.reason)),
            FailMission: lambda m: self._by_hand(tracker.fail(m.reason)),
            CompleteMission: lambda m: self._by_hand(tracker.complete(m.reason)),
            _Checked: self._check_done,
            _Verdict: self._verdict,
            _DeadlineDue: lambda _m: self._deadline_due(),
        }

    def on_start(self) -> None:
        """Arm the timer for the `timeout_hours` deadline."""
        self._arm_deadline()

    # The run cycle ------------------------------------------------------------------------------

    def _check_limits(self) -> MissionDecision | None:
        tracker = self.tracker
        if self._evaluation is not None and (tracker.is_timed_out() or tracker.is_over_limit()):
            self._held.append(self.defer_reply())
            return None
        return self._apply_limits()

    def _run_completed(self, message: RunCompleted) -> None:
        tracker = self.tracker
        active = tracker.state is MissionState.ACTIVE
        count = tracker.increment_invocation()
        evidence = dataclasses.replace(message.evidence, invocation_count=count)
        if self._evaluation is not None:  # one at a time: this run waits for the next turn
            self._latest = evidence
            self._runs_while_checking += 1 if self._checking and active else 0
            return
        if tracker.should_evaluate():
            self._begin(evidence)
        if self._evaluation is None:
            self._apply_limits()

    def _begin(self, evidence: MissionEvidence) -> None:
        """Start an evaluation on the io loop: the success check if any, else the judge."""
        if self._success_check is not None:
            self._checking = True
            self._evaluation = self.pipe_to(_run_check(self._success_check, evidence))
            return
        self.tracker.begin_evaluation(evidence)  # no check: due from now, and None (ask judge)
        self._ask_judge(evidence)

    def _check_done(self, message: _Checked) -> None:
        """The check answered: let the tracker apply it; undecided goes to the judge."""
        self._evaluation = None
        self._checking = False
        if self.tracker.state is not MissionState.ACTIVE:  # paused or ended by hand meanwhile
            self._after_evaluation()
            return
        self._checked = message
        try:
            decision = self.tracker.begin_evaluation(message.evidence)
        finally:
            self._checked = None
        if decision is not None:
            self._apply(decision)
            self._after_evaluation()
            return
        self._ask_judge(message.evidence)

    def _replay_check(self, _evidence: MissionEvidence) -> bool | None:
        """The tracker's success check: the outcome the real check gave on the io loop."""
        checked = self._checked
        if checked is None:  # only _check_done lets the tracker run its check
            msg = "mission: the success check ran outside an evaluation"
            raise RuntimeError(msg)
        if checked.error is not None:
            raise checked.error
        return cast("bool | None", checked.value)  # the tracker judges what it really is

    def _ask_judge(self, evidence: MissionEvidence) -> None:
        judge = self.judge
        if judge is None:
            evaluation = MissionEvaluation.inconclusive_result(
                "success_check was undecided and no judge is configured",
                timestamp=datetime.fromtimestamp(self.system.clock.time(), UTC),
                invocation_number=evidence.invocation_count, source="check",
            )
            self._apply(self.tracker.record_evaluation(evaluation))
            self._after_evaluation()
            return
        self._evaluation = self.pipe_to(
            _run_judge(judge, self.tracker.config, evidence, self.system.clock))

    def _verdict(self, message: _Verdict) -> None:
        self._evaluation = None
        self._apply(self.tracker.record_evaluation(message.evaluation))
        self._after_evaluation()

    def _after_evaluation(self) -> None:
        """Evaluate a run that became due meanwhile; else check the limits the evaluation held
        back, and answer who waited for them.

        A run that finished during the success check is counted by the tracker only in that
        evaluation's interval (the tracker starts the interval when the check's answer is
        applied), so such runs make the next evaluation due here when there are `eval_every`.
        """
        tracker = self.tracker
        latest, self._latest = self._latest, None
        during, self._runs_while_checking = self._runs_while_checking, 0
        due = tracker.should_evaluate() or during >= tracker.config.eval_every
        if latest is not None and due and tracker.state is MissionState.ACTIVE:
            self._begin(latest)
            if self._evaluation is not None:  # the limits wait for this evaluation too
                return
        decision = self._apply_limits()
        held, self._held = self._held, []
        for reply in held:
            reply.set(decision)

    def _deadline_due(self) -> None:
        if self._evaluation is None:
            self._apply_limits()
        self._arm_deadline()

    def _arm_deadline(self) -> None:
        deadline = self.tracker.deadline
        if deadline is None or self.tracker.state not in (MissionState.ACTIVE,
                                                          MissionState.PAUSED):
            self.timers.cancel("deadline")
            return
        delay = deadline - self.system.clock.time()
        self.timers.start_single_timer("deadline", _DeadlineDue(),
                                       min(max(delay, 0.0), DEADLINE_CHECK_INTERVAL))

    # Decisions to notices -----------------------------------------------------------------------

    def _apply_limits(self) -> MissionDecision:
        decision = self.tracker.check_limits()
        if decision.changed:
            self._state_notice(decision, "fail")
        return decision

    def _apply(self, decision: MissionDecision) -> None:
        """Notices (and the escalation) for a decision that recorded an evaluation."""
        if decision.evaluation is not None:
            self.notice("mission_evaluation", decision.evaluation.to_dict())
        if decision.changed:
            action = "pause" if decision.state is MissionState.PAUSED else decision.action.value
            self._state_notice(decision, action)
        elif decision.escalate:
            self.escalate(self.tracker.config.escalation, "mission_inconclusive",
                          decision.to_dict())

    def _state_notice(self, decision: MissionDecision, action: str | None) -> None:
        data = {**decision.to_dict(), "invocation_count": self.tracker.invocation_count}
        self.notice("mission_state", data, action)
        if decision.escalate:
            self.escalate(self.tracker.config.escalation, f"mission_{decision.state.value}",
                          data)
        if decision.state not in (MissionState.ACTIVE, MissionState.PAUSED):
            self.timers.cancel("deadline")

    def _by_hand(self, decision: MissionDecision) -> str:
        """A move made by an operator: reported, no action for the process."""
        self._state_notice(decision, None)
        return decision.state.value

    # Common asks --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """`MissionTracker.to_dict()`."""
        return self.tracker.to_dict()

    def status(self) -> dict[str, Any]:
        """State, progress (the context summary), the last evaluation and whether one runs."""
        tracker = self.tracker
        last = tracker.last_evaluation
        return {
            "enabled": tracker.config.enabled,
            "state": tracker.state.value,
            "reason": tracker.reason,
            "invocation_count": tracker.invocation_count,
            "deadline": _iso(tracker.deadline),
            "evaluating": self._evaluation is not None,
            "inconclusive_streak": tracker.inconclusive_streak,
            "progress": tracker.context_summary(),
            "last_evaluation": None if last is None else last.to_dict(),
        }

    def reconfigure(self, config: MissionConfig) -> None:
        """A new config (say, a higher `max_invocations`); counters, state and history stay."""
        self.tracker.update_config(config)
        if self._judge_agent is not None:
            self.judge = self._make_judge(config)
        self._arm_deadline()


async def _run_check(check: AsyncSuccessCheck, evidence: MissionEvidence) -> _Checked:
    """Run the success check off the actor: a plain function in a worker thread, an awaitable
    result awaited. Its exception is carried back, for the tracker to record as inconclusive."""
    try:
        if inspect.iscoroutinefunction(check):
            result: object = await check(evidence)
        else:
            result = await asyncio.to_thread(check, evidence)
            if inspect.isawaitable(result):
                result = await result
    except Exception as exc:
        return _Checked(evidence, error=exc)
    return _Checked(evidence, value=result)


async def _run_judge(
    judge: MissionJudge, config: MissionConfig, evidence: MissionEvidence, clock: Clock
) -> _Verdict:
    """Ask the judge; it never raises (but cancellation), yet a broken one must not leave the
    mission evaluating for ever, so anything it raises becomes an inconclusive evaluation."""
    try:
        evaluation = await judge.evaluate(config, evidence)
    except Exception as exc:
        evaluation = MissionEvaluation.inconclusive_result(
            f"the judge failed: {type(exc).__name__}",
            timestamp=datetime.fromtimestamp(clock.time(), UTC),
            invocation_number=evidence.invocation_count,
            source="judge",
        )
    return _Verdict(evaluation)
