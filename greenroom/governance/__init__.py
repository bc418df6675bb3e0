"""Governance: autonomy budget, behavioural health, mission, secret scopes and escalation.

Each is a pure policy class (no threads, no I/O) and an actor around it in the process's
supervisor. The configs are in `greenroom.governance.config`.
"""

from greenroom.governance.config import (
    AutonomyBudget,
    BudgetConfig,
    EscalationTarget,
    HealthConfig,
    MissionConfig,
    SecretScopeConfig,
    ToolCostAnnotation,
)

__all__ = [
    "AutonomyBudget",
    "BudgetConfig",
    "EscalationTarget",
    "HealthConfig",
    "MissionConfig",
    "SecretScopeConfig",
    "ToolCostAnnotation",
]
