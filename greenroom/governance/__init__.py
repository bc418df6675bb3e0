"""Governance: autonomy budget, behavioural health, mission, secret scopes and escalation.

Each subsystem is a pure policy class (no threads, no I/O, time from a `Clock`) that returns
decisions for the process to act on; the actor shells around them (`BudgetActor`, `HealthActor`,
`MissionActor`, `SecretScopeActor`) join the process's supervisor and speak the protocol of
`greenroom.governance.messages`. The configs are in `greenroom.governance.config`.
Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.governance.budget import (
        BudgetDecision,
        BudgetEnforcer,
        BudgetState,
        BudgetUsage,
        BudgetViolation,
        BudgetWarning,
    )
    from greenroom.governance.budget_actor import BudgetActor
    from greenroom.governance.config import (
        AutonomyBudget,
        BudgetConfig,
        EscalationTarget,
        HealthConfig,
        MissionConfig,
        SecretScopeConfig,
        ToolCostAnnotation,
    )
    from greenroom.governance.escalation import ChannelResult, EscalationResult, Escalator
    from greenroom.governance.health import (
        Anomaly,
        AnomalyType,
        HealthEvent,
        HealthMonitor,
        Recovery,
    )
    from greenroom.governance.health_actor import HealthActor
    from greenroom.governance.messages import (
        AuthorizeTool,
        CheckLimits,
        ClearAnomalies,
        CompleteMission,
        ContextBlock,
        ContextSummary,
        EndRun,
        FailMission,
        GetRedactor,
        GetSecret,
        GovernanceNotice,
        GovernanceStatus,
        LlmTurn,
        PauseMission,
        Reconfigure,
        Responded,
        ResumeMission,
        RevokeAll,
        Rotate,
        RunCompleted,
        RunDiscarded,
        RunFailed,
        RunSucceeded,
        Snapshot,
        StartRun,
        ToolCalled,
    )
    from greenroom.governance.mission import (
        MissionAction,
        MissionDecision,
        MissionEvaluation,
        MissionEvidence,
        MissionState,
        MissionStateError,
        MissionTracker,
    )
    from greenroom.governance.mission_actor import MissionActor
    from greenroom.governance.mission_judge import MissionJudge
    from greenroom.governance.redaction import RedactingFilter, Redactor
    from greenroom.governance.secret_actor import SecretScopeActor
    from greenroom.governance.secrets import (
        SecretEvent,
        SecretResolutionError,
        SecretScope,
        SecretState,
        UnknownSecretError,
    )

__all__ = [
    "Anomaly",
    "AnomalyType",
    "AuthorizeTool",
    "AutonomyBudget",
    "BudgetActor",
    "BudgetConfig",
    "BudgetDecision",
    "BudgetEnforcer",
    "BudgetState",
    "BudgetUsage",
    "BudgetViolation",
    "BudgetWarning",
    "ChannelResult",
    "CheckLimits",
    "ClearAnomalies",
    "CompleteMission",
    "ContextBlock",
    "ContextSummary",
    "EndRun",
    "EscalationResult",
    "EscalationTarget",
    "Escalator",
    "FailMission",
    "GetRedactor",
    "GetSecret",
    "GovernanceNotice",
    "GovernanceStatus",
    "HealthActor",
    "HealthConfig",
    "HealthEvent",
    "HealthMonitor",
    "LlmTurn",
    "MissionAction",
    "MissionActor",
    "MissionConfig",
    "MissionDecision",
    "MissionEvaluation",
    "MissionEvidence",
    "MissionJudge",
    "MissionState",
    "MissionStateError",
    "MissionTracker",
    "PauseMission",
    "Reconfigure",
    "Recovery",
    "RedactingFilter",
    "Redactor",
    "Responded",
    "ResumeMission",
    "RevokeAll",
    "Rotate",
    "RunCompleted",
    "RunDiscarded",
    "RunFailed",
    "RunSucceeded",
    "SecretEvent",
    "SecretResolutionError",
    "SecretScope",
    "SecretScopeActor",
    "SecretScopeConfig",
    "SecretState",
    "Snapshot",
    "StartRun",
    "ToolCalled",
    "ToolCostAnnotation",
    "UnknownSecretError",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
