"""The protocol of the governance actors: what the process asks and tells them, and what they tell
back.

Every governance actor (`BudgetActor`, `HealthActor`, `MissionActor`, `SecretScopeActor`) answers
the three common messages (`Snapshot`, `GovernanceStatus`, `Reconfigure`) plus its own. Whatever
the process must record or act on comes back to the actor's `owner` as one message type,
`GovernanceNotice`: the actors never journal and never touch the process themselves.

Messages check their fields when they are built, so a malformed message raises in the sender (a
`TypeError` or `ValueError` naming the field) instead of failing the actor that receives it.
Fields that may hold sensitive text (tool arguments, replies, secret values, mission evidence)
are left out of `repr()`, so a dead letter or a log line never shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from greenroom.governance.config import (
    BudgetConfig,
    HealthConfig,
    MissionConfig,
    SecretScopeConfig,
)
from greenroom.governance.mission import MissionEvidence

__all__ = [
    "NOTICE_ACTIONS",
    "NOTICE_SOURCES",
    "AuthorizeTool",
    "CheckLimits",
    "ClearAnomalies",
    "CompleteMission",
    "ContextBlock",
    "ContextSummary",
    "EndRun",
    "FailMission",
    "GetRedactor",
    "GetSecret",
    "GovernanceNotice",
    "GovernanceStatus",
    "LlmTurn",
    "PauseMission",
    "Reconfigure",
    "Responded",
    "ResumeMission",
    "RevokeAll",
    "Rotate",
    "RunCompleted",
    "RunDiscarded",
    "RunFailed",
    "RunSucceeded",
    "Snapshot",
    "StartRun",
    "ToolCalled",
]

NOTICE_SOURCES: Final = frozenset({"budget", "health", "mission", "secrets"})
"""Which actor sent a `GovernanceNotice`."""

NOTICE_ACTIONS: Final = frozenset({"pause", "stop", "escalate", "suspend", "continue", "fail"})
"""What a notice may ask of the process (besides None: nothing to do but record it)."""

GovernanceConfig = BudgetConfig | HealthConfig | MissionConfig | SecretScopeConfig
"""The config of one governance actor, as `Reconfigure` carries it."""


def _text(value: object, name: str) -> str:
    """`value` if it is a non-empty string; else an error naming the field."""
    if not isinstance(value, str):
        msg = f"{name}: expected a string, got {type(value).__name__}"
        raise TypeError(msg)
    if not value:
        msg = f"{name}: must not be empty"
        raise ValueError(msg)
    return value


def _budget_run(value: object) -> None:
    """A budget run id: a non-empty string, or None for the process's single unnamed run."""
    if value is not None:
        _text(value, "run_id")


def _health_run(value: object) -> None:
    """A health run id: any string ("" is the single run of a process running one at a time)."""
    if not isinstance(value, str):
        msg = f"run_id: expected a string, got {type(value).__name__}"
        raise TypeError(msg)


def _reason(value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        msg = "reason: expected a non-empty string"
        raise ValueError(msg)


# What every governance actor answers -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GovernanceNotice:
    """Something the process must record or act on, told by a governance actor to its owner.

    `source` is the actor (`budget`, `health`, `mission`, `secrets`); `kind` names the event
    (`budget_violation`, `tool_denied`, `anomaly`, `secret_access`, ...; see docs/governance.md);
    `data` is a JSON-ready dict that never holds a secret value; `action` is what the process
    should do, from the policy's configured response, or None when there is nothing to do but
    record it.
    """

    source: str
    kind: str
    data: dict[str, Any]
    action: str | None = None

    def __post_init__(self) -> None:
        if self.source not in NOTICE_SOURCES:
            msg = f"source: expected one of {sorted(NOTICE_SOURCES)}, got {self.source!r}"
            raise ValueError(msg)
        _text(self.kind, "kind")
        if not isinstance(self.data, dict):
            msg = f"data: expected a dict, got {type(self.data).__name__}"
            raise TypeError(msg)
        if self.action is not None and self.action not in NOTICE_ACTIONS:
            msg = f"action: expected None or one of {sorted(NOTICE_ACTIONS)}, got {self.action!r}"
            raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for a journal entry or an event)."""
        return {"source": self.source, "kind": self.kind, "data": self.data,
                "action": self.action}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Ask: the policy's `to_dict()`, JSON-ready, for a journal checkpoint."""


@dataclass(frozen=True, slots=True)
class GovernanceStatus:
    """Ask: a JSON-ready status dict for the process status (never a secret value)."""


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """Ask: apply a new config to the running actor (it must be the actor's own config type).

    Replies with the new `GovernanceStatus` dict. Counters, state and history are kept.
    """

    config: GovernanceConfig

    def __post_init__(self) -> None:
        if not isinstance(self.config, BudgetConfig | HealthConfig | MissionConfig
                          | SecretScopeConfig):
            msg = ("config: expected a BudgetConfig, HealthConfig, MissionConfig or "
                   f"SecretScopeConfig, got {type(self.config).__name__}")
            raise TypeError(msg)


# BudgetActor -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartRun:
    """Ask before a run: a `BudgetDecision` (`max_runs_per_day`); if allowed the run is open.

    A refusal's `violation.retry_at` is the next daily reset: keep the event until then.
    """

    run_id: str | None = None

    def __post_init__(self) -> None:
        _budget_run(self.run_id)


@dataclass(frozen=True, slots=True)
class AuthorizeTool:
    """Ask before a tool call: a `BudgetDecision`; if allowed the call is counted."""

    run_id: str | None
    tool_name: str

    def __post_init__(self) -> None:
        _budget_run(self.run_id)
        _text(self.tool_name, "tool_name")


@dataclass(frozen=True, slots=True)
class LlmTurn:
    """Ask (or tell) before a model request: a `BudgetDecision`; if allowed the turn counts."""

    run_id: str | None = None

    def __post_init__(self) -> None:
        _budget_run(self.run_id)


@dataclass(frozen=True, slots=True)
class EndRun:
    """Ask after a run: its `BudgetUsage` (journal it with the result), None if not open."""

    run_id: str | None = None

    def __post_init__(self) -> None:
        _budget_run(self.run_id)


@dataclass(frozen=True, slots=True)
class ContextBlock:
    """Ask: the `[Budget Remaining]` text for the run's prompt, or None (nothing to show)."""

    run_id: str | None = None

    def __post_init__(self) -> None:
        _budget_run(self.run_id)


# HealthActor -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """Tell: the agent asked for a tool call. The policy keeps only a hash of the arguments."""

    run_id: str
    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        _health_run(self.run_id)
        _text(self.tool, "tool")
        if not isinstance(self.arguments, Mapping) or not all(
            isinstance(key, str) for key in self.arguments
        ):
            msg = "arguments: expected a mapping of argument names (strings) to values"
            raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class Responded:
    """Tell: a run's final reply (only its length is kept)."""

    run_id: str
    content: str = field(repr=False)

    def __post_init__(self) -> None:
        _health_run(self.run_id)
        if not isinstance(self.content, str):
            msg = f"content: expected a string, got {type(self.content).__name__}"
            raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class RunSucceeded:
    """Tell: a run finished well."""

    run_id: str = ""

    def __post_init__(self) -> None:
        _health_run(self.run_id)


@dataclass(frozen=True, slots=True)
class RunFailed:
    """Tell: a run failed for good (no retry left)."""

    run_id: str = ""

    def __post_init__(self) -> None:
        _health_run(self.run_id)


@dataclass(frozen=True, slots=True)
class RunDiscarded:
    """Tell: a run ended without an outcome (an attempt that will be retried, a cancelled run)."""

    run_id: str = ""

    def __post_init__(self) -> None:
        _health_run(self.run_id)


@dataclass(frozen=True, slots=True)
class ClearAnomalies:
    """Ask: forget anomalies and evidence after an operator fixed the problem; replies how many
    anomalies were cleared."""


# MissionActor ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckLimits:
    """Ask before a run: a `MissionDecision`; `run=False` means the mission just failed on
    `timeout_hours` or `max_invocations` (keep the event)."""


@dataclass(frozen=True, slots=True)
class RunCompleted:
    """Tell after every run (succeeded or failed): count it and evaluate when due."""

    evidence: MissionEvidence = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.evidence, MissionEvidence):
            msg = f"evidence: expected a MissionEvidence, got {type(self.evidence).__name__}"
            raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class ContextSummary:
    """Ask: the `[Mission]` block for the agent's prompt (a JSON-ready dict)."""


@dataclass(frozen=True, slots=True)
class PauseMission:
    """Ask: active -> paused by hand; replies with the new state's value."""

    reason: str = "paused by operator"

    def __post_init__(self) -> None:
        _reason(self.reason)


@dataclass(frozen=True, slots=True)
class ResumeMission:
    """Ask: paused -> active by hand; replies with the new state's value."""

    reason: str = "resumed by operator"

    def __post_init__(self) -> None:
        _reason(self.reason)


@dataclass(frozen=True, slots=True)
class FailMission:
    """Ask: end an open mission as failed by hand; replies with the new state's value."""

    reason: str = "failed by operator"

    def __post_init__(self) -> None:
        _reason(self.reason)


@dataclass(frozen=True, slots=True)
class CompleteMission:
    """Ask: end an open mission as completed by hand; replies with the new state's value."""

    reason: str = "completed by operator"

    def __post_init__(self) -> None:
        _reason(self.reason)


# SecretScopeActor ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetSecret:
    """Ask: the value of secret `name`, or None (unknown, not resolved, expired). Audited."""

    name: str
    accessor: str | None = None

    def __post_init__(self) -> None:
        _text(self.name, "name")
        if self.accessor is not None:
            _text(self.accessor, "accessor")


@dataclass(frozen=True, slots=True)
class Rotate:
    """Ask: give secret `name` a new value now (its TTL restarts; `ttl` overrides it once)."""

    name: str
    value: str = field(repr=False)
    ttl: float | None = None

    def __post_init__(self) -> None:
        _text(self.name, "name")
        if not isinstance(self.value, str):
            msg = f"value: expected a string, got {type(self.value).__name__}"
            raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class RevokeAll:
    """Ask: zero-fill and forget every value now; replies how many secrets had one."""


@dataclass(frozen=True, slots=True)
class GetRedactor:
    """Ask: the scope's live `Redactor`, shared by reference (see `SecretScopeActor`)."""
