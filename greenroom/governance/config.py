"""Configs of the governance actors: budget, health, mission, secret scope, escalation target.

They live here, below the runtime, so the pure policies in this package can read them; the
runtime re-exports them (`greenroom.runtime.config`) for `ProcessConfig`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, field_serializer, field_validator, model_validator

from greenroom.configs import StrictConfig, check_provider_model, check_url, rename_aliases
from greenroom.triggers.topics import validate_topic

__all__ = [
    "AutonomyBudget",
    "BudgetConfig",
    "EscalationTarget",
    "HealthConfig",
    "MissionConfig",
    "SecretScopeConfig",
    "ToolCostAnnotation",
]

_ENV_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class EscalationTarget(StrictConfig):
    """Where escalations go: a webhook that receives a JSON POST and/or an event bus topic."""

    webhook_url: str | None = None
    event_type: str | None = None

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value, "webhook_url")

    @field_validator("event_type")
    @classmethod
    def _event(cls, value: str | None) -> str | None:
        return None if value is None else validate_topic(value)


class ToolCostAnnotation(StrictConfig):
    """Budget weight of one tool call (abstract units, not money) and whether it is irreversible."""

    cost_weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    irreversible: bool = False


class BudgetConfig(StrictConfig):
    """Limits on what an agent may do per invocation and per day, and what happens past them.

    `None` means unlimited. Aliases from the overview are accepted on input:
    `max_tool_calls_per_invocation` for `max_tool_calls_per_run`, `max_daily_cost` for
    `max_cost_per_day` and `on_budget_exceeded` for `on_exceeded`. A `tool_costs` value may be a
    bare number, meaning `ToolCostAnnotation(cost_weight=number)`.
    """

    ALIASES: ClassVar[Mapping[str, str]] = {
        "max_tool_calls_per_invocation": "max_tool_calls_per_run",
        "max_daily_cost": "max_cost_per_day",
        "on_budget_exceeded": "on_exceeded",
    }

    enabled: bool = False
    max_tool_calls_per_run: int | None = Field(default=None, ge=0)
    max_llm_turns_per_run: int | None = Field(default=None, ge=0)
    max_cost_per_run: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_irreversible_per_run: int | None = Field(default=None, ge=0)
    max_tool_calls_per_day: int | None = Field(default=None, ge=0)
    max_runs_per_day: int | None = Field(default=None, ge=0)
    max_cost_per_day: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    tool_costs: dict[str, ToolCostAnnotation] = Field(default_factory=dict)
    on_exceeded: Literal["pause", "stop", "escalate"] = "pause"
    escalation: EscalationTarget | None = None
    daily_reset_hour_utc: int = Field(default=0, ge=0, le=23)
    inject_remaining: bool = True
    warning_threshold: float = Field(default=0.8, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        return rename_aliases(data, cls.ALIASES)

    @field_validator("tool_costs", mode="before")
    @classmethod
    def _bare_costs(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {
            name: {"cost_weight": cost}
            if isinstance(cost, int | float) and not isinstance(cost, bool)
            else cost
            for name, cost in value.items()
        }


def AutonomyBudget(**fields: Any) -> BudgetConfig:
    """The overview's spelling of an enabled `BudgetConfig` (`enabled` defaults to True)."""
    return BudgetConfig.model_validate({"enabled": True, **fields})


class HealthConfig(StrictConfig):
    """Thresholds of the behavioural health monitor (stuck, loop, empty reply, error rate)."""

    enabled: bool = False
    stuck_threshold: int = Field(default=3, ge=2)
    loop_window: int = Field(default=20, ge=2)
    loop_min_repeats: int = Field(default=2, ge=2)
    empty_threshold: int = Field(default=3, ge=1)
    empty_max_chars: int = Field(default=10, ge=0)
    error_window: int = Field(default=10, ge=1)
    error_rate_threshold: float = Field(default=0.5, gt=0, le=1)
    on_anomaly: Literal["log", "pause", "escalate", "stop"] = "log"
    cooldown: float = Field(default=300.0, ge=0)
    escalation: EscalationTarget | None = None

    @model_validator(mode="after")
    def _loop_fits(self) -> HealthConfig:
        needed = 2 * (self.loop_min_repeats + 1)
        if self.loop_window < needed:
            msg = (f"loop_window: {self.loop_window} cannot hold a loop of "
                   f"loop_min_repeats={self.loop_min_repeats} (needs at least {needed})")
            raise ValueError(msg)
        return self


def _duration_hours(value: Any) -> Any:
    """Hours from a duration: '4h', '30m', '90s', '1d', a timedelta, or a number of seconds."""
    if isinstance(value, timedelta):
        return value.total_seconds() / 3600.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value / 3600.0
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match.group(1)) * _DURATION_UNITS[match.group(2)] / 3600.0
    msg = "max_duration: expected a duration such as '4h', '30m', '90s', '1d' or seconds"
    raise ValueError(msg)


class MissionConfig(StrictConfig):
    """A goal the process works towards, judged every `eval_every` invocations.

    Aliases from the overview are accepted on input: `check_interval` for `eval_every`, and
    `max_duration` (such as `"4h"`, `"30m"`, a `timedelta`, or seconds) for `timeout_hours`.
    An enabled mission needs an `objective` and `success_criteria`. The LLM judge gets
    `eval_timeout` seconds per attempt; after `max_inconclusive` inconclusive evaluations in a
    row the mission escalates once (and keeps running).
    """

    ALIASES: ClassVar[Mapping[str, str]] = {"check_interval": "eval_every",
                                            "max_duration": "timeout_hours"}

    enabled: bool = False
    objective: str = ""
    success_criteria: str = ""
    eval_model: str | None = None
    eval_every: int = Field(default=5, ge=1)
    confidence_threshold: float = Field(default=0.7, ge=0, le=1)
    timeout_hours: float = Field(default=0.0, ge=0)
    max_invocations: int = Field(default=0, ge=0)
    auto_complete: bool = True
    on_complete: Literal["stop", "continue", "suspend"] = "stop"
    escalation: EscalationTarget | None = None
    eval_timeout: float = Field(default=60.0, gt=0)
    max_inconclusive: int = Field(default=3, ge=1)
    success_check: Callable[..., Any] | None = Field(default=None, repr=False)
    """A programmatic check run before the judge: `check(evidence)` returns True (achieved),
    False (not yet) or None (ask the judge); sync or async. Written as null in JSON, like a
    callable `ProcessConfig.model`."""

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "max_duration" in data:  # a duration: into hours
            data = {**data, "max_duration": _duration_hours(data["max_duration"])}
        return rename_aliases(data, cls.ALIASES)

    @field_validator("eval_model")
    @classmethod
    def _model(cls, value: str | None) -> str | None:
        return None if value is None else check_provider_model(value, "eval_model")

    @field_serializer("success_check", when_used="json")
    def _check_json(self, value: Callable[..., Any] | None) -> None:
        del value

    @model_validator(mode="after")
    def _needs_goal(self) -> MissionConfig:
        if self.enabled:
            for name in ("objective", "success_criteria"):
                if not getattr(self, name).strip():
                    msg = f"{name}: required when the mission is enabled"
                    raise ValueError(msg)
        return self


class SecretScopeConfig(StrictConfig):
    """Per-process secrets: literal values or `${VAR}` / `${VAR:-default}` references.

    References are resolved from the environment when the process starts, not here. Values are
    left out of `repr()`; `ttls` may only name declared secrets.
    """

    enabled: bool = False
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    default_ttl: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    ttls: dict[str, float] = Field(default_factory=dict)
    revoke_on_stop: bool = True

    @field_validator("secrets")
    @classmethod
    def _references(cls, value: dict[str, str]) -> dict[str, str]:
        for name, secret in value.items():
            if not name:
                msg = "secrets: secret names must be non-empty"
                raise ValueError(msg)
            if secret.startswith("${") and not _ENV_REFERENCE.match(secret):
                msg = f"secrets[{name!r}]: malformed reference; use ${{VAR}} or ${{VAR:-default}}"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _ttls_known(self) -> SecretScopeConfig:
        for name, ttl in self.ttls.items():
            if name not in self.secrets:
                msg = f"ttls[{name!r}]: no secret with that name"
                raise ValueError(msg)
            if not math.isfinite(ttl) or ttl <= 0:
                msg = f"ttls[{name!r}]: must be a finite number of seconds > 0"
                raise ValueError(msg)
        return self
