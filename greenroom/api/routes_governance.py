"""Governance routes: live budget, health and mission limits; secrets; the mission; anomalies.

`PATCH .../budget|health|mission` takes a partial section. It is validated strictly (JSON types,
unknown fields refused, ranges) merged over the current section, so a change that breaks a rule
across fields (a health `loop_window` too small for `loop_min_repeats`) is refused too; a 422
names the field and nothing changes. The runtime then applies it to the running governance
actor and keeps it in the process's config. Secret values are never logged or journaled: the
audit entry of `PATCH .../secrets/{secret_name}` holds the method, path and status only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from greenroom.api.errors import ApiError, from_exception
from greenroom.api.routing import Body, Call, OpenOut, Out, P, Route, Text, validate_body
from greenroom.configs import StrictConfig
from greenroom.governance.config import BudgetConfig, HealthConfig, MissionConfig
from greenroom.runtime.lifecycle import ProcessState
from greenroom.runtime.process import AgentProcess

__all__ = ["ROUTES"]

_TAG = "governance"
_LIVE = (ProcessState.RUNNING, ProcessState.SUSPENDED)

class Reason(Body):
    """Why (kept in the mission's history)."""

    reason: Text | None = Field(default=None, max_length=1000)


class SecretValue(Body):
    """A secret's new value and, optionally, a new TTL in seconds."""

    value: str = Field(min_length=1)
    ttl: float | None = Field(default=None, gt=0)


class BudgetUpdated(Out):
    """The budget's new limits apply from the next budget check."""

    name: str
    budget_updated: Literal[True] = True
    effective_from: Literal["next_budget_check"] = "next_budget_check"
    live: bool
    budget: BudgetConfig


class HealthUpdated(Out):
    """The health monitor's new thresholds apply at once."""

    name: str
    health_updated: Literal[True] = True
    effective_from: Literal["immediate"] = "immediate"
    live: bool
    health: HealthConfig


class MissionUpdated(Out):
    """The mission's new settings apply at once (its counters, state and history stay)."""

    name: str
    mission_updated: Literal[True] = True
    effective_from: Literal["immediate"] = "immediate"
    live: bool
    mission: MissionConfig


class SecretView(OpenOut):
    """A secret's metadata (never its value)."""

    name: str
    active: bool


class SecretList(Out):
    """The process's secrets."""

    name: str
    enabled: bool
    secrets: list[SecretView]


class SecretRotated(Out):
    """The secret has its new value (and its TTL restarted)."""

    name: str
    secret_rotated: str
    secret: SecretView


class SecretsRevoked(Out):
    """Every secret was revoked; the agent can read none."""

    name: str
    secrets_revoked: Literal[True] = True


class MissionView(OpenOut):
    """The mission's state, objective, progress and evaluations."""

    objective: str
    evaluations: list[dict[str, Any]]


class MissionStatus(Out):
    """The mission of a process."""

    name: str
    mission_enabled: bool
    mission: MissionView


class MissionFailed(Out):
    """The mission ended as failed."""

    name: str
    mission_failed: Literal[True] = True
    reason: str
    state: str


class MissionPaused(Out):
    """The mission is no longer evaluated (runs go on)."""

    name: str
    mission_paused: Literal[True] = True
    state: str


class MissionResumed(Out):
    """The mission is evaluated again."""

    name: str
    mission_resumed: Literal[True] = True
    state: str


class AnomalyView(OpenOut):
    """One anomaly the health monitor reported (with its details and evidence)."""

    type: str
    description: str
    timestamp: str


class Anomalies(Out):
    """The anomalies reported so far, oldest first."""

    name: str
    health_enabled: bool
    is_healthy: bool | None = None
    anomalies: list[AnomalyView]
    count: int


class AnomaliesCleared(Out):
    """How many anomalies were forgotten."""

    name: str
    anomalies_cleared: int


def _checked(section: type[StrictConfig], current: BaseModel, changes: dict[str, Any]
             ) -> dict[str, Any]:
    """Validate `changes` strictly over `current` (422 naming the field, nothing changed);
    the changes under their field names (an alias such as `max_daily_cost`, or `max_duration`
    in hours, becomes the field it stands for)."""
    fields = {section.ALIASES.get(key, key) for key in changes}
    merged = {key: value for key, value in current.model_dump(mode="json").items()
              if key not in fields}
    validated = validate_body(section, {**merged, **changes}).model_dump(mode="json")
    return {name: validated[name] for name in fields}


def _live(process: AgentProcess) -> bool:
    return process.state in _LIVE


async def update_budget(call: Call) -> BudgetUpdated:
    """Change budget limits (overview aliases such as `max_daily_cost` accepted)."""
    process = call.process()
    changes = _checked(BudgetConfig, process.config.budget, call.raw)
    new = await process.update_budget(changes)
    return BudgetUpdated(name=call.name, live=_live(process),
                         budget=BudgetConfig.model_validate(new))


async def update_health(call: Call) -> HealthUpdated:
    """Change health thresholds."""
    process = call.process()
    changes = _checked(HealthConfig, process.config.health, call.raw)
    new = await process.update_health(changes)
    return HealthUpdated(name=call.name, live=_live(process),
                         health=HealthConfig.model_validate(new))


async def update_mission(call: Call) -> MissionUpdated:
    """Change the mission's settings (`check_interval`, `max_duration` accepted)."""
    process = call.process()
    changes = _checked(MissionConfig, process.config.mission, call.raw)
    new = await process.update_mission(changes)
    return MissionUpdated(name=call.name, live=_live(process),
                          mission=MissionConfig.model_validate(new))


async def list_secrets(call: Call) -> SecretList:
    """Every declared secret's metadata (never a value)."""
    listing = await call.process().list_secrets()
    return SecretList(name=call.name, enabled=listing["enabled"],
                      secrets=[SecretView.model_validate(s) for s in listing["secrets"]])


async def rotate_secret(call: Call) -> SecretRotated:
    """Replace a secret's value now (its TTL restarts)."""
    body = call.body_as(SecretValue)
    process = call.process()
    secret_name = call.request.match_info["secret_name"]
    try:
        info = await process.rotate_secret(secret_name, body.value, body.ttl)
    except ValueError as exc:
        if from_exception(exc) is not None:
            raise
        raise ApiError("INVALID_REQUEST", str(exc), field="value") from None
    return SecretRotated(name=call.name, secret_rotated=secret_name,
                         secret=SecretView.model_validate(info))


async def revoke_secrets(call: Call) -> SecretsRevoked:
    """Revoke every secret now."""
    await call.process().revoke_secrets()
    return SecretsRevoked(name=call.name)


async def mission_status(call: Call) -> MissionStatus:
    """The mission's state, objective and evaluations."""
    status = await call.process().mission_status()
    return MissionStatus(name=call.name, mission_enabled=status["enabled"],
                         mission=MissionView.model_validate(status))


async def fail_mission(call: Call) -> MissionFailed:
    """End the mission as failed."""
    reason = call.body_as(Reason).reason or "failed by operator"
    result = await call.process().fail_mission(reason)
    return MissionFailed(name=call.name, reason=reason, state=result["state"])


async def pause_mission(call: Call) -> MissionPaused:
    """Stop evaluating the mission."""
    result = await call.process().pause_mission(call.body_as(Reason).reason or "paused by operator")
    return MissionPaused(name=call.name, state=result["state"])


async def resume_mission(call: Call) -> MissionResumed:
    """Evaluate the mission again."""
    reason = call.body_as(Reason).reason or "resumed by operator"
    result = await call.process().resume_mission(reason)
    return MissionResumed(name=call.name, state=result["state"])


async def health_anomalies(call: Call) -> Anomalies:
    """The anomalies the health monitor reported."""
    report = await call.process().health_anomalies()
    anomalies = [AnomalyView.model_validate(a) for a in report["anomalies"]]
    return Anomalies(name=call.name, health_enabled=report["enabled"],
                     is_healthy=report.get("is_healthy"), anomalies=anomalies,
                     count=len(anomalies))


async def clear_anomalies(call: Call) -> AnomaliesCleared:
    """Forget the anomalies (after the cause was fixed)."""
    cleared = await call.process().clear_anomalies()
    return AnomaliesCleared(name=call.name, anomalies_cleared=cleared)


ROUTES = (
    Route("PATCH", f"{P}/budget", update_budget, "Change budget limits", _TAG,
          response=BudgetUpdated, body=BudgetConfig, partial=True, errors=(409,)),
    Route("PATCH", f"{P}/health", update_health, "Change health thresholds", _TAG,
          response=HealthUpdated, body=HealthConfig, partial=True, errors=(409,)),
    Route("PATCH", f"{P}/mission", update_mission, "Change the mission", _TAG,
          response=MissionUpdated, body=MissionConfig, partial=True, errors=(409,)),
    Route("GET", f"{P}/secrets", list_secrets, "List secrets (metadata only)", _TAG,
          response=SecretList),
    Route("PATCH", f"{P}/secrets/{{secret_name}}", rotate_secret, "Rotate a secret", _TAG,
          response=SecretRotated, body=SecretValue, errors=(409,)),
    Route("DELETE", f"{P}/secrets", revoke_secrets, "Revoke every secret", _TAG,
          response=SecretsRevoked, errors=(409,)),
    Route("GET", f"{P}/mission", mission_status, "Mission status", _TAG,
          response=MissionStatus),
    Route("POST", f"{P}/mission/fail", fail_mission, "Fail the mission", _TAG,
          response=MissionFailed, body=Reason, errors=(409,)),
    Route("POST", f"{P}/mission/pause", pause_mission, "Pause the mission", _TAG,
          response=MissionPaused, body=Reason, errors=(409,)),
    Route("POST", f"{P}/mission/resume", resume_mission, "Resume the mission", _TAG,
          response=MissionResumed, body=Reason, errors=(409,)),
    Route("GET", f"{P}/health/anomalies", health_anomalies, "Health anomalies", _TAG,
          response=Anomalies),
    Route("DELETE", f"{P}/health/anomalies", clear_anomalies, "Clear health anomalies", _TAG,
          response=AnomaliesCleared, errors=(409,)),
)
