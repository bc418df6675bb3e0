"""Governance: autonomy budget, behavioural health, mission, secret scopes and escalation.

Each subsystem is a pure policy class (no threads, no I/O, time from a `Clock`) that returns
decisions for the process to act on; the actor shells around them join the process's supervisor.
The configs are in `greenroom.governance.config`.
"""

from greenroom.governance.budget import (
    BudgetDecision,
    BudgetEnforcer,
    BudgetState,
    BudgetUsage,
    BudgetViolation,
    BudgetWarning,
)
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
from greenroom.governance.health import Anomaly, AnomalyType, HealthEvent, HealthMonitor, Recovery
from greenroom.governance.mission import (
    MissionAction,
    MissionDecision,
    MissionEvaluation,
    MissionEvidence,
    MissionState,
    MissionStateError,
    MissionTracker,
)
from greenroom.governance.mission_judge import MissionJudge
from greenroom.governance.redaction import RedactingFilter, Redactor
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
    "AutonomyBudget",
    "BudgetConfig",
    "BudgetDecision",
    "BudgetEnforcer",
    "BudgetState",
    "BudgetUsage",
    "BudgetViolation",
    "BudgetWarning",
    "ChannelResult",
    "EscalationResult",
    "EscalationTarget",
    "Escalator",
    "HealthConfig",
    "HealthEvent",
    "HealthMonitor",
    "MissionAction",
    "MissionConfig",
    "MissionDecision",
    "MissionEvaluation",
    "MissionEvidence",
    "MissionJudge",
    "MissionState",
    "MissionStateError",
    "MissionTracker",
    "Recovery",
    "RedactingFilter",
    "Redactor",
    "SecretEvent",
    "SecretResolutionError",
    "SecretScope",
    "SecretScopeConfig",
    "SecretState",
    "ToolCostAnnotation",
    "UnknownSecretError",
]
