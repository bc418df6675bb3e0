"""How a process is governed: its governance actors, the run wrapper, and what notices mean.

The budget, health, mission and secret-scope actors are children of the process's supervisor,
started before the `ProcessActor` (a secret that cannot be resolved fails the start, naming the
variable). They and the process address each other through `SiblingRef` handles, which follow
restarts. Per run, the checks that need an answer from an actor happen inside the run's
coroutine on the io loop, never in the process actor's turn: the daily run limit and the mission's
limits before the agent is called, the `[Budget Remaining]` and `[Mission]` blocks added to the
prompt, and the run's end told to the budget afterwards. Tool calls go through the
`GovernedToolGate`. What the actors report comes back to the process as `GovernanceNotice`s;
`notice_entry` says which journal entry records one and `NOTICE_STATES` what its action does to
the process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pykka

from greenroom.agents.framing import context_blocks
from greenroom.agents.openai import resolve_model
from greenroom.governance.budget_actor import BudgetActor
from greenroom.governance.health_actor import HealthActor
from greenroom.governance.messages import (
    CheckLimits,
    ContextBlock,
    ContextSummary,
    EndRun,
    GetSecret,
    StartRun,
)
from greenroom.governance.mission_actor import MissionActor
from greenroom.governance.secret_actor import SecretScopeActor
from greenroom.journal.entry import EntryType
from greenroom.runtime.recovery import BUDGET_REPLAY
from greenroom.supervision.spec import ChildSpec, SiblingRef

if TYPE_CHECKING:
    from greenroom.actors.ref import ActorRef
    from greenroom.agents.invocation import Invocation
    from greenroom.governance.budget import BudgetDecision, BudgetUsage
    from greenroom.governance.messages import GovernanceNotice
    from greenroom.governance.mission import MissionDecision
    from greenroom.runtime.invoke import AgentCallable
    from greenroom.runtime.record import ProcessRecord

__all__ = [
    "GOVERNANCE_IDS",
    "NOTICE_STATES",
    "Governance",
    "RunOutcome",
    "RunRefused",
    "governance_children",
    "governed_run",
    "notice_entry",
    "read_secret",
]

GOVERNANCE_IDS = ("secrets", "budget", "health", "mission")
"""The child ids of the governance actors, in start order (secrets first: others may need it)."""

NOTICE_STATES = {"pause": "suspend", "escalate": "suspend", "suspend": "suspend",
                 "fail": "suspend", "stop": "stop", "continue": None}
"""What a notice's action does to the process. A paused budget, an escalation (the actor has
already notified), a suspended or a failed mission suspend the process; `stop` stops it."""

_ENTRY_OF_KIND = {
    "tool_denied": EntryType.TOOL_DENIED,
    "budget_violation": EntryType.BUDGET_VIOLATION,
    "secret_access": EntryType.SECRET_ACCESS,
    "mission_evaluation": EntryType.MISSION_EVALUATION,
}


class RunRefused(Exception):
    """A run governance did not let start (a daily run limit, a failed or paused mission);
    its event is kept for later, not counted as a failed run."""

    def __init__(self, reason: str, *, retry_at: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_at = retry_at


@dataclass(frozen=True, slots=True)
class Governance:
    """The handles of a process's governance actors (None: that part is off)."""

    budget: ActorRef[Any] | None = None
    health: ActorRef[Any] | None = None
    mission: ActorRef[Any] | None = None
    secrets: ActorRef[Any] | None = None

    @property
    def enabled(self) -> bool:
        """Whether any governance actor runs for the process (asked on every run: no dict)."""
        return (self.budget is not None or self.health is not None or self.mission is not None
                or self.secrets is not None)

    def refs(self) -> dict[str, ActorRef[Any]]:
        """The running parts by name."""
        parts = {"budget": self.budget, "health": self.health, "mission": self.mission,
                 "secrets": self.secrets}
        return {name: ref for name, ref in parts.items() if ref is not None}


def governance_children(record: ProcessRecord, event_bus: object | None = None,
                        ) -> tuple[list[ChildSpec], dict[str, SiblingRef]]:
    """The governance actors' child specs (secrets, budget, health, mission, those enabled) and
    the `SiblingRef`s the `ProcessActor` gets for them. Each restores the state a recovery
    left in `record.governance_state`; `event_bus` is where an escalation to an event type goes.
    """
    config = record.config
    owner = SiblingRef("process")
    saved = record.governance_state
    specs: list[ChildSpec] = []
    parts: list[tuple[str, type[Any], Any, dict[str, Any]]] = []
    if config.secrets.enabled:
        parts.append(("secrets", SecretScopeActor, config.secrets, {}))
    if config.budget.enabled:
        parts.append(("budget", BudgetActor, config.budget,
                      {"replay": saved.pop(BUDGET_REPLAY, []), "event_bus": event_bus}))
    if config.health.enabled:
        parts.append(("health", HealthActor, config.health, {"event_bus": event_bus}))
    if config.mission.enabled:
        judge_model = config.mission.eval_model or config.model
        parts.append(("mission", MissionActor, config.mission,
                      {"judge": resolve_model(judge_model) if judge_model else None,
                       "success_check": config.mission.success_check, "event_bus": event_bus}))
    for child_id, actor_cls, part_config, extra in parts:
        specs.append(ChildSpec(
            child_id, actor_cls, args=(part_config, record.name),
            kwargs={"owner": owner, "state": saved.get(child_id), **extra},
        ))
    return specs, {child_id: SiblingRef(child_id) for child_id, *_ in parts}


async def read_secret(scope: ActorRef[Any], name: str) -> str | None:
    """The agent's audited read of one secret (journaled by the scope as `secret_access`)."""
    value: str | None = await scope.ask(GetSecret(name, accessor="agent"), block=False)
    return value


async def governed_run(agent: AgentCallable, invocation: Invocation, governance: Governance,
                       run_id: str, blocks_at: int, outcome: RunOutcome | None = None) -> str:
    """Run the agent under governance (on the io loop); the final reply as text.

    Before the agent: the budget may refuse the run (`max_runs_per_day`) and the mission may
    refuse it (failed, paused): `RunRefused`. The budget's remaining allowance and the mission
    summary go into the prompt at `blocks_at` (after the other context blocks). After the
    agent, however it ended, the budget closes the run, and what the run used goes into
    `outcome` (for its journal entry) unless the run was cancelled.
    """
    budget, mission = governance.budget, governance.mission
    if mission is not None:
        limits: MissionDecision = await mission.ask(CheckLimits(), block=False)
        if not limits.run:
            raise RunRefused(f"mission {limits.state.value}: {limits.reason}")
    if budget is not None:
        decision: BudgetDecision = await budget.ask(StartRun(run_id), block=False)
        if decision.violation is not None:
            raise RunRefused(f"budget: {decision.violation.describe()}",
                             retry_at=decision.violation.retry_at)
    try:
        remaining = None if budget is None else await budget.ask(ContextBlock(run_id),
                                                                 block=False)
        summary = None if mission is None else await mission.ask(ContextSummary(), block=False)
        invocation.messages[blocks_at:blocks_at] = context_blocks(
            budget_remaining=remaining, mission=summary)
        reply = await agent(invocation)
    except asyncio.CancelledError:
        if budget is not None:
            budget.tell(EndRun(run_id))
        raise
    except BaseException:
        await _close_budget(budget, run_id, outcome)
        raise
    await _close_budget(budget, run_id, outcome)
    return reply if isinstance(reply, str) else str(reply)


@dataclass(slots=True)
class RunOutcome:
    """What a governed run leaves for its journal entry: the budget it used (JSON-ready)."""

    budget_usage: dict[str, Any] | None = None


async def _close_budget(budget: ActorRef[Any] | None, run_id: str,
                        outcome: RunOutcome | None) -> None:
    """End the run at the budget and keep what it used (a dead budget actor is skipped)."""
    if budget is None:
        return
    try:
        usage: BudgetUsage | None = await budget.ask(EndRun(run_id), block=False)
    except pykka.ActorDeadError:
        return
    if outcome is not None and usage is not None:
        outcome.budget_usage = usage.to_dict()


def notice_entry(notice: GovernanceNotice) -> tuple[str, dict[str, Any]] | None:
    """The journal entry (type, data) that records `notice`, or None if none does."""
    entry_type = _ENTRY_OF_KIND.get(notice.kind)
    if entry_type is None:
        return None
    data = {"source": notice.source, "action": notice.action}
    data.update(notice.data)  # an event's own fields win: a secret's action, a verdict's source
    return entry_type, data
