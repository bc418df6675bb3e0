"""GovernedToolGate with real governance actors: invalid calls refused before any charge, the
budget's veto before a tool runs, every call observed by health, LLM turns that really stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from greenroom.actors import ActorRef, ActorSystem
from greenroom.agents import (
    DirectToolGate,
    Invocation,
    LLMTurnDenied,
    ToolCallError,
    ToolDenied,
)
from greenroom.governance import (
    AutonomyBudget,
    BudgetActor,
    GovernanceNotice,
    GovernanceStatus,
    HealthActor,
    HealthConfig,
    Reconfigure,
    StartRun,
    ToolCalled,
)
from greenroom.runtime.governed_gate import GovernedToolGate
from greenroom.testing import ScriptedAgent, TestProbe, ToolStep

T = TypeVar("T")


class Tools:
    """Two tools that record their calls; `explode` always raises."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def all(self) -> list[Callable[..., Any]]:
        def search(query: str) -> str:
            """Search the catalogue."""
            self.calls.append(query)
            return f"found {query}"

        def explode() -> str:
            """Fail."""
            self.calls.append("explode")
            raise RuntimeError("kaput")

        return [search, explode]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Setup:
    """A budget actor (owner: `owner` probe), a health ref, the inner gate and the governed gate."""

    def __init__(
        self,
        system: ActorSystem,
        *,
        budget: dict[str, Any] | None = None,
        health: ActorRef[Any] | None = None,
        max_turns: int | None = None,
        run_id: str = "e1",
    ) -> None:
        self.owner = TestProbe(system)
        self.tools = Tools()
        self.direct = DirectToolGate(self.tools.all())
        self.budget: ActorRef[Any] | None = None
        if budget is not None:
            self.budget = system.spawn(BudgetActor, AutonomyBudget(**budget), "shop",
                                       owner=self.owner.ref)
            self.budget.ask(StartRun(run_id))
        self.gate = GovernedToolGate(
            self.direct, run_id, budget=self.budget, health=health,
            specs_known=self.direct.specs, max_llm_turns_per_run=max_turns,
        )

    def daily(self) -> dict[str, Any]:
        assert self.budget is not None
        daily: dict[str, Any] = self.budget.ask(GovernanceStatus())["daily"]
        return daily

    def notice(self, kind: str) -> GovernanceNotice:
        message = self.owner.fish_for_message(
            lambda m: isinstance(m, GovernanceNotice) and m.kind == kind)
        assert isinstance(message, GovernanceNotice)
        return message


def test_an_allowed_call_runs_is_charged_and_observed(actor_system: ActorSystem) -> None:
    health = TestProbe(actor_system)
    setup = Setup(actor_system, budget={"max_tool_calls_per_run": 5}, health=health.ref)
    assert run(setup.gate.call("search", {"query": "lamps"})) == "found lamps"
    assert setup.tools.calls == ["lamps"]
    assert setup.daily()["tool_calls"] == 1
    assert health.expect_message(ToolCalled("e1", "search", {"query": "lamps"}))


def test_an_invalid_call_is_refused_before_it_is_charged_or_observed(
    actor_system: ActorSystem,
) -> None:
    health = TestProbe(actor_system)
    setup = Setup(actor_system, budget={"max_tool_calls_per_run": 5}, health=health.ref)
    with pytest.raises(ToolCallError, match="unknown tool 'delete_all'"):
        run(setup.gate.call("delete_all", {}))
    with pytest.raises(ToolCallError, match="missing required arguments"):
        run(setup.gate.call("search", {}))
    with pytest.raises(ToolCallError, match="unknown arguments"):
        run(setup.gate.call("search", {"query": "x", "limit": 3}))
    with pytest.raises(ToolCallError, match="arguments must be a mapping"):
        run(setup.gate.call("search", ["x"]))  # type: ignore[arg-type]
    assert setup.daily()["tool_calls"] == 0
    assert setup.tools.calls == []
    assert setup.direct.tool_calls == 0
    health.expect_no_message(0.05)
    setup.owner.expect_no_message(0.05)


def test_a_veto_raises_tool_denied_the_tool_does_not_run_and_the_request_is_observed(
    actor_system: ActorSystem,
) -> None:
    health = TestProbe(actor_system)
    setup = Setup(actor_system, budget={"max_tool_calls_per_run": 1, "warning_threshold": 1.0},
                  health=health.ref)
    run(setup.gate.call("search", {"query": "a"}))
    with pytest.raises(ToolDenied, match="budget exceeded: calling tool 'search'") as denied:
        run(setup.gate.call("search", {"query": "b"}))
    assert denied.value.tool == "search"
    assert setup.tools.calls == ["a"]
    assert setup.daily()["tool_calls"] == 1
    assert health.receive_messages(2) == [ToolCalled("e1", "search", {"query": "a"}),
                                          ToolCalled("e1", "search", {"query": "b"})]
    assert setup.notice("tool_denied").data["tool"] == "search"
    assert setup.notice("budget_violation").action == "pause"


def test_a_tool_that_fails_is_charged_and_observed(actor_system: ActorSystem) -> None:
    health = TestProbe(actor_system)
    setup = Setup(actor_system, budget={"max_tool_calls_per_run": 5}, health=health.ref)
    with pytest.raises(ToolCallError, match="tool 'explode' failed: RuntimeError: kaput"):
        run(setup.gate.call("explode", {}))
    assert setup.daily()["tool_calls"] == 1
    assert health.expect_message(ToolCalled("e1", "explode", {}))


def test_no_tool_runs_unchecked_when_the_budget_is_gone(actor_system: ActorSystem) -> None:
    setup = Setup(actor_system, budget={"max_tool_calls_per_run": 5})
    assert setup.budget is not None
    actor_system.stop(setup.budget)
    with pytest.raises(ToolDenied, match="the budget is unavailable"):
        run(setup.gate.call("search", {"query": "a"}))
    assert setup.tools.calls == []


def test_llm_turns_stop_at_the_per_run_limit_and_the_budget_hears_of_it_once(
    actor_system: ActorSystem,
) -> None:
    setup = Setup(actor_system, budget={"max_llm_turns_per_run": 2, "on_exceeded": "stop",
                                        "warning_threshold": 1.0}, max_turns=2)
    setup.gate.llm_turn()
    setup.gate.llm_turn()
    with pytest.raises(LLMTurnDenied, match="max_llm_turns_per_run=2 reached") as denied:
        setup.gate.llm_turn()
    assert isinstance(denied.value, ToolDenied)
    with pytest.raises(LLMTurnDenied):
        setup.gate.llm_turn()
    assert setup.direct.llm_turns == 2
    assert setup.gate.llm_turns == 2
    assert setup.daily()["llm_turns"] == 2
    violation = setup.notice("budget_violation")
    assert violation.action == "stop"
    assert violation.data["limit_name"] == "max_llm_turns_per_run"
    setup.owner.expect_no_message(0.05)  # the second refusal was not told again


def test_a_limit_lowered_on_the_running_budget_stops_the_next_turns(
    actor_system: ActorSystem,
) -> None:
    setup = Setup(actor_system, budget={"max_llm_turns_per_run": 10}, max_turns=10)
    assert setup.budget is not None
    setup.budget.ask(Reconfigure(AutonomyBudget(max_llm_turns_per_run=1)))
    setup.gate.llm_turn()
    setup.gate.llm_turn()  # allowed here, refused by the budget: the gate learns it next time
    setup.daily()  # the budget has answered both turns
    with pytest.raises(LLMTurnDenied, match="would bring LLM turns this run to 2"):
        setup.gate.llm_turn()
    assert setup.direct.llm_turns == 2


def test_an_agent_loop_really_ends_at_the_turn_limit(actor_system: ActorSystem) -> None:
    setup = Setup(actor_system, budget={"max_llm_turns_per_run": 1}, max_turns=1)
    agent = ScriptedAgent([ToolStep("search", {"query": "a"}), ToolStep("search", {"query": "b"}),
                           "done"])
    invocation = Invocation(messages=[{"role": "user", "content": "go"}], gate=setup.gate,
                            tools=setup.direct.specs)
    with pytest.raises(LLMTurnDenied):
        run(agent(invocation))
    assert setup.tools.calls == ["a"]
    assert agent.replies == []


def test_a_stuck_agent_is_seen_by_the_real_health_actor(actor_system: ActorSystem) -> None:
    owner = TestProbe(actor_system)
    health = actor_system.spawn(HealthActor, HealthConfig(enabled=True, on_anomaly="pause"),
                                "shop", owner=owner.ref)
    setup = Setup(actor_system, health=health)
    for _ in range(3):
        run(setup.gate.call("search", {"query": "user-4711-secret"}))
    anomaly = owner.expect_message_type(GovernanceNotice)
    assert anomaly.kind == "anomaly"
    assert anomaly.action == "pause"
    assert anomaly.data["details"]["tool"] == "search"
    assert "user-4711-secret" not in str(anomaly.data)


def test_without_governance_actors_it_validates_and_limits_turns_alone(
    actor_system: ActorSystem,
) -> None:
    setup = Setup(actor_system, max_turns=0)
    assert run(setup.gate.call("search", {"query": "a"})) == "found a"
    with pytest.raises(LLMTurnDenied, match="max_llm_turns_per_run=0 reached"):
        setup.gate.llm_turn()


def test_bad_arguments_are_refused(actor_system: ActorSystem) -> None:
    direct = DirectToolGate(Tools().all())
    with pytest.raises(TypeError, match=r"specs_known: expected ToolSpecs"):
        GovernedToolGate(direct, "e1", budget=None, health=None, specs_known={"search"},
                         max_llm_turns_per_run=None)
    with pytest.raises(ValueError, match="max_llm_turns_per_run: expected an int >= 0"):
        GovernedToolGate(direct, "e1", budget=None, health=None, specs_known=direct.specs,
                         max_llm_turns_per_run=-1)
    with pytest.raises(TypeError, match="budget: expected a greenroom ActorRef"):
        GovernedToolGate(direct, "e1", budget="budget", health=None,  # type: ignore[arg-type]
                         specs_known=direct.specs, max_llm_turns_per_run=None)
    with pytest.raises(TypeError, match="run_id: expected a string"):
        GovernedToolGate(direct, None, budget=None, health=None,  # type: ignore[arg-type]
                         specs_known=direct.specs, max_llm_turns_per_run=None)
