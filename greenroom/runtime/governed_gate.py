"""`GovernedToolGate`: the budget may veto and the health monitor observes every tool call.

It wraps the run's gate (a `DirectToolGate`, or a `JournaledToolGate` around one) and lives in
the agent's coroutine on the io loop. A tool call goes:

1. **Validated first**, against the offered tools' specs (`validate_tool_call`): an unknown tool
   or bad arguments raise `ToolCallError` before anything is charged, observed or journaled, and
   the inner gate later runs the same check again, which is cheap and runs no tool.
2. **Authorised** by the budget actor (`await budget.ask(AuthorizeTool(...))`, an awaitable
   future: the loop is never blocked). A veto raises `ToolDenied` with the violation's message;
   the tool does not run and is not counted (the budget actor tells the process `tool_denied`
   and `budget_violation`). If the budget actor is gone, the call is refused too: a governed
   tool never runs unchecked. A run the budget never opened is a wiring error: the budget's
   `ValueError` propagates.
3. **Run** through the inner gate.
4. **Observed**: the health actor is told `ToolCalled` (the monitor keeps only a hash of the
   arguments). A vetoed call is observed as well, since the request is the agent's behaviour
   (an agent stuck on a refused tool is stuck); an invalid one is not, as it is not a call of a
   known tool.

LLM turns: `ToolGate.llm_turn()` is synchronous, so it cannot wait for the budget actor. The gate
keeps its own count of this run's turns and refuses the turn past `max_llm_turns_per_run` by
raising `LLMTurnDenied` (a `ToolDenied`), which ends the agent's loop: the model is really not
asked again. Per-run limits only concern this run, so the local count is exact. Every turn is
also told to the budget actor (`LlmTurn`), so its counters, status and notices stay right; the
refused turn too, once, so the budget reports its `budget_violation` with the `on_exceeded`
action. The gate also reads the budget's answers to earlier turns: if one was a veto (the limit
was lowered on the running process), further turns are refused from then on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pykka

from greenroom.actors.ref import ActorRef
from greenroom.agents.invocation import LLMTurnDenied, ToolDenied, validate_tool_call
from greenroom.agents.tools import ToolSpec
from greenroom.governance.messages import AuthorizeTool, LlmTurn, ToolCalled

if TYPE_CHECKING:
    from greenroom.actors.future import Future
    from greenroom.agents.invocation import ToolGate
    from greenroom.governance.budget import BudgetDecision

__all__ = ["GovernedToolGate"]


class GovernedToolGate:
    """A `ToolGate` for one run under governance; see the module docstring.

    `run_id` names the run for the budget and the health monitor (the event id: concurrent runs
    keep separate per-run counters and tool histories). `budget` and `health` are the actors'
    refs, None when that subsystem is off. `specs_known` are the specs of the tools offered to
    the agent (`DirectToolGate.specs`): the validation needs their argument schemas, not only
    their names. `max_llm_turns_per_run` is the budget's limit (None: unlimited).
    """

    def __init__(
        self,
        inner: ToolGate,
        run_id: str,
        *,
        budget: ActorRef[Any] | None,
        health: ActorRef[Any] | None,
        specs_known: Iterable[ToolSpec],
        max_llm_turns_per_run: int | None,
    ) -> None:
        if not isinstance(run_id, str):
            msg = f"run_id: expected a string, got {type(run_id).__name__}"
            raise TypeError(msg)
        for name, ref in (("budget", budget), ("health", health)):
            if ref is not None and not isinstance(ref, ActorRef):  # its futures can be awaited
                msg = f"{name}: expected a greenroom ActorRef or None, got {type(ref).__name__}"
                raise TypeError(msg)
        limit = max_llm_turns_per_run
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            msg = f"max_llm_turns_per_run: expected an int >= 0 or None, got {limit!r}"
            raise ValueError(msg)
        specs: dict[str, ToolSpec] = {}
        for spec in specs_known:
            if not isinstance(spec, ToolSpec):
                msg = (f"specs_known: expected ToolSpecs (DirectToolGate.specs), got "
                       f"{type(spec).__name__}")
                raise TypeError(msg)
            specs[spec.name] = spec
        self.inner = inner
        self.run_id = run_id
        self._budget = budget
        self._health = health
        self._specs = specs
        self._max_turns = limit
        self._turns = 0
        self._answers: list[Future[BudgetDecision]] = []
        self._vetoed: str | None = None
        self._refusal_told = False

    @property
    def llm_turns(self) -> int:
        """Model turns this run has been allowed so far."""
        return self._turns

    async def call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Validate, authorise, run, observe; see the module docstring."""
        validate_tool_call(self._specs, name, arguments)
        budget = self._budget
        if budget is not None:
            try:
                decision: BudgetDecision = await budget.ask(
                    AuthorizeTool(self.run_id or None, name), block=False)
            except pykka.ActorDeadError as exc:
                msg = f"tool {name!r} not run: the budget is unavailable to authorise it"
                raise ToolDenied(msg, tool=name) from exc
            if decision.violation is not None:
                self._observe(name, arguments)
                raise ToolDenied(decision.violation.describe(), tool=name)
        try:
            return await self.inner.call(name, arguments)
        finally:
            self._observe(name, arguments)

    def llm_turn(self) -> None:
        """Allow one more model turn of this run, or raise `LLMTurnDenied`."""
        refusal = self._turn_refusal()
        budget = self._budget
        if budget is not None and (refusal is None or not self._refusal_told):
            self._answers.append(budget.ask(LlmTurn(self.run_id or None), block=False))
            if refusal is not None:
                self._refusal_told = True
        if refusal is not None:
            raise LLMTurnDenied(refusal)
        self._turns += 1
        self.inner.llm_turn()

    def _turn_refusal(self) -> str | None:
        """Why the next turn is refused (the local limit, or a veto the budget already gave)."""
        self._read_answers()
        if self._vetoed is not None:
            return self._vetoed
        limit = self._max_turns
        if limit is not None and self._turns >= limit:
            return (f"LLM turn refused: max_llm_turns_per_run={limit} reached "
                    f"({self._turns} turns made in this run)")
        return None

    def _read_answers(self) -> None:
        """Take the budget's answers to earlier turns that have arrived; keep the first veto."""
        waiting = []
        for answer in self._answers:
            if not answer.done():
                waiting.append(answer)
                continue
            try:
                decision = answer.get()
            except Exception:  # the budget actor is gone: the local count still limits turns
                continue
            if decision.violation is not None and self._vetoed is None:
                self._vetoed = decision.violation.describe()
        self._answers = waiting

    def _observe(self, name: str, arguments: Mapping[str, Any]) -> None:
        if self._health is not None:
            self._health.tell(ToolCalled(self.run_id, name, dict(arguments)))
