"""`BudgetActor`: the actor shell around `BudgetEnforcer` (the autonomy budget of one process).

It turns `StartRun`, `AuthorizeTool`, `LlmTurn`, `EndRun` and `ContextBlock` into enforcer calls
and answers with their result; whatever the process must record or act on goes to the owner as a
`GovernanceNotice` from source `budget`:

| kind | when | action |
|---|---|---|
| `tool_denied` | a tool call was vetoed (it does not run and is not counted) | None |
| `budget_violation` | any action was refused (run, tool call, LLM turn) | `on_exceeded` |
| `budget_warning` | a counter reached `warning_threshold` (once per limit per period) | None |
| `budget_reset` | the daily counters were reset | None |
| `escalation` | the outcome of an escalation this actor sent | None |

With `on_exceeded="escalate"` the actor sends the escalation itself (to `config.escalation`, on
the io loop), once per limit per period: an agent that keeps retrying a vetoed tool does not
flood the webhook, while every refusal is still noticed. The process suspends on `escalate`
as on `pause`.

A timer fires at the next daily reset (re-checked at least hourly, so a wall clock that was set
while waiting cannot make it miss the boundary by much); the `budget_reset` notice lets a process
paused by a daily limit, or holding runs refused by `max_runs_per_day`, go on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pykka

from greenroom.governance.budget import BudgetDecision, BudgetEnforcer, BudgetUsage
from greenroom.governance.config import BudgetConfig
from greenroom.governance.escalation import DEFAULT_TIMEOUT
from greenroom.governance.messages import (
    AuthorizeTool,
    ContextBlock,
    EndRun,
    LlmTurn,
    StartRun,
)
from greenroom.governance.redaction import Redactor
from greenroom.governance.shell import GovernanceActor, Handler

__all__ = ["RESET_CHECK_INTERVAL", "BudgetActor"]

RESET_CHECK_INTERVAL = 3600.0
"""Longest wait, in seconds, between two checks for the daily reset."""

_DAY = "day"


@dataclass(frozen=True, slots=True)
class _ResetDue:
    """Timer tick: check whether the daily reset is due."""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class BudgetActor(GovernanceActor[BudgetConfig]):
    """The budget of process `process_name`; see the module docstring.

    `state` is a `BudgetEnforcer.to_dict()` snapshot (a journal checkpoint) to restore: the
    daily counters, the open runs and the warnings already sent survive a restart. `replay`
    lists the runs journaled after that checkpoint (`{"usage", "finished_at"}`), counted again
    if they finished in the current day.
    """

    source: ClassVar[str] = "budget"

    def __init__(
        self,
        config: BudgetConfig,
        process_name: str,
        *,
        owner: pykka.ActorRef[Any] | None = None,
        state: Mapping[str, Any] | None = None,
        replay: Sequence[Mapping[str, Any]] = (),
        event_bus: object | None = None,
        redactor: Redactor | None = None,
        escalation_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(process_name, owner=owner, event_bus=event_bus, redactor=redactor,
                         escalation_timeout=escalation_timeout)
        clock = self.system.clock
        if state is None:
            self.enforcer = BudgetEnforcer(config, clock=clock)
        else:
            self.enforcer = BudgetEnforcer.from_dict(state, config, clock=clock)
        for run in replay:
            usage = BudgetUsage.from_dict(run["usage"], "replay.usage")
            self.enforcer.state.replay_run(usage, finished_at=run["finished_at"])
        self._escalated_for: set[tuple[str, str]] = set()

    def config_type(self) -> type[BudgetConfig]:
        """`BudgetConfig`."""
        return BudgetConfig

    def protocol(self) -> dict[type, Handler]:
        """Budget messages."""
        return {
            StartRun: self._start_run,
            AuthorizeTool: self._authorize_tool,
            LlmTurn: self._llm_turn,
            EndRun: self._end_run,
            ContextBlock: self._context_block,
            _ResetDue: lambda _m: self._reset_due(),
        }

    def on_start(self) -> None:
        """Report a reset that passed while the process was down, then arm the reset timer."""
        self._reset_due()

    # Handlers -----------------------------------------------------------------------------------

    def _start_run(self, message: StartRun) -> BudgetDecision:
        self._check_reset()
        decision = self.enforcer.start_run(message.run_id)
        self._report(decision, message.run_id)
        return decision

    def _authorize_tool(self, message: AuthorizeTool) -> BudgetDecision:
        self._check_reset()
        decision = self.enforcer.authorize_tool_call(message.tool_name, run_id=message.run_id)
        violation = decision.violation
        if violation is not None:
            self.notice("tool_denied", {
                "run_id": message.run_id, "tool": message.tool_name,
                "message": violation.describe(), "violation": violation.to_dict(),
            })
        self._report(decision, message.run_id)
        return decision

    def _llm_turn(self, message: LlmTurn) -> BudgetDecision:
        self._check_reset()
        decision = self.enforcer.authorize_llm_turn(run_id=message.run_id)
        self._report(decision, message.run_id)
        return decision

    def _end_run(self, message: EndRun) -> BudgetUsage | None:
        self._check_reset()
        key = message.run_id or ""
        self._escalated_for = {item for item in self._escalated_for if item[1] != key}
        return self.enforcer.end_run(message.run_id)

    def _context_block(self, message: ContextBlock) -> str | None:
        self._check_reset()
        return self.enforcer.context_block(message.run_id)

    # Decisions to notices -----------------------------------------------------------------------

    def _report(self, decision: BudgetDecision, run_id: str | None) -> None:
        """The notices one decision calls for, and the escalation its violation may need."""
        if decision.daily_reset:
            self._notice_reset()
        for warning in decision.warnings:
            self.notice("budget_warning", {"run_id": run_id, **warning.to_dict()})
        violation = decision.violation
        if violation is None:
            return
        data = {"run_id": run_id, "message": violation.describe(), **violation.to_dict()}
        self.notice("budget_violation", data, violation.action)
        if violation.action != "escalate":
            return
        period = _DAY if violation.period == "day" else run_id or ""
        if (violation.limit_name, period) in self._escalated_for:
            return
        self._escalated_for.add((violation.limit_name, period))
        response = self.enforcer.handle_violation(violation)
        self.escalate(response.escalation, "budget_violation", data)

    # The daily reset ----------------------------------------------------------------------------

    def _check_reset(self) -> None:
        if self.enforcer.check_daily_reset():
            self._notice_reset()

    def _reset_due(self) -> None:
        self._check_reset()
        delay = self.enforcer.next_reset_at() - self.system.clock.time()
        self.timers.start_single_timer("daily_reset", _ResetDue(),
                                       min(max(delay, 0.0), RESET_CHECK_INTERVAL))

    def _notice_reset(self) -> None:
        self._escalated_for = {item for item in self._escalated_for if item[1] != _DAY}
        state = self.enforcer.state
        self.notice("budget_reset", {
            "period_start": _iso(state.period_start),
            "next_reset_at": _iso(self.enforcer.next_reset_at()),
        })

    # Common asks --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """`BudgetEnforcer.to_dict()`."""
        return self.enforcer.to_dict()

    def status(self) -> dict[str, Any]:
        """Enabled, what is left (per-run values for a new run), today's usage, the open runs'
        usage and the next reset."""
        self._check_reset()
        enforcer = self.enforcer
        state = enforcer.state
        config = enforcer.config
        return {
            "enabled": config.enabled,
            "on_exceeded": config.on_exceeded,
            "remaining": state.remaining(),
            "daily": {**state.daily.to_dict(), "runs": state.daily_runs},
            "runs": state.to_dict()["runs"],
            "period_start": _iso(state.period_start),
            "next_reset_at": _iso(enforcer.next_reset_at()),
        }

    def reconfigure(self, config: BudgetConfig) -> None:
        """New limits from the next action on; a new reset hour re-arms the timer."""
        self.enforcer.reconfigure(config)
        self._reset_due()

