"""Validated, JSON round-trippable configuration for processes and the runtime.

Every model is frozen and rejects unknown fields, so a bad value raises a `ValidationError` that
names the field and nothing changes. To change a setting, validate a new model (for example
`BudgetConfig.model_validate({**old.model_dump(), "max_runs_per_day": 10})`).

Error messages never echo the rejected input, because some inputs (secrets, HMAC keys) must not
reach a log. Sections whose behaviour arrives later (budget, health, mission, secrets, journal,
distributed) are already validated here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    Field,
    JsonValue,
    field_serializer,
    field_validator,
    model_validator,
)

from greenroom.agents.tools import ToolSpec, tool_spec
from greenroom.configs import StrictConfig, check_provider_model, check_url
from greenroom.governance.config import (
    AutonomyBudget,
    BudgetConfig,
    EscalationTarget,
    HealthConfig,
    MissionConfig,
    SecretScopeConfig,
    ToolCostAnnotation,
)
from greenroom.triggers.config import BUILTIN_TRIGGER_TYPES, TriggerConfig, trigger_ids

__all__ = [
    "BUILTIN_TRIGGER_TYPES",
    "AutonomyBudget",
    "BudgetConfig",
    "ContextConfig",
    "DistributedConfig",
    "EscalationTarget",
    "ExecutionMode",
    "HealthConfig",
    "InboxConfig",
    "JournalConfig",
    "MissionConfig",
    "OpenModeConfig",
    "ProcessConfig",
    "RuntimeConfig",
    "SecretScopeConfig",
    "ToolCostAnnotation",
    "ToolSpec",
    "TriggerConfig",
    "tool_spec",
]

_PROVIDER_MODEL = re.compile(r"^[A-Za-z0-9_.-]+:\S+$")
_PROCESS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_ENV_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class InboxConfig(StrictConfig):
    """Limits of the human-to-agent inbox; a TTL of 0 means messages never expire."""

    enabled: bool = False
    max_messages: int = Field(default=50, ge=1)
    max_message_length: int = Field(default=2000, ge=1)
    default_ttl: float = Field(default=3600.0, ge=0)
    max_ttl: float = Field(default=86400.0, gt=0)
    rate_limit_per_sender: int = Field(default=20, ge=0)
    scan_with_guardrails: bool = True

    @model_validator(mode="after")
    def _ttl_order(self) -> InboxConfig:
        if self.default_ttl > self.max_ttl:
            msg = f"default_ttl: {self.default_ttl:g} exceeds max_ttl {self.max_ttl:g}"
            raise ValueError(msg)
        return self


class JournalConfig(StrictConfig):
    """Durable journal settings: level, backend, the file backend's directory, when appends are
    fsync'd (`always`: before they are acknowledged; `batch`: every `sync_interval` s; `never`),
    how many runs pass between checkpoints, and how many settled event keys a process remembers
    to recognise a redelivered event.
    """

    level: Literal["none", "checkpoint", "full"] = "checkpoint"
    backend: Literal["file", "memory"] = "file"
    path: str = Field(default=".greenroom/journal", min_length=1)
    fsync: Literal["always", "batch", "never"] = "always"
    sync_interval: float = Field(default=0.05, gt=0)
    checkpoint_every: int = Field(default=100, ge=1)
    max_processed_keys: int = Field(default=10_000, ge=1)


class ContextConfig(StrictConfig):
    """Settings of a process's `AgentContext`, memory and conversation buffer.

    An empty `writable_keys` makes every key writable; `conversation_max_messages=0` keeps the
    whole conversation. `initial_state` must be JSON so it can be checkpointed.
    """

    writable_keys: list[str] = Field(default_factory=list)
    memory_provider: Literal["in_memory", "chroma", "mem0"] | None = None
    memory_max: int = Field(default=5, ge=0)
    memory_min_score: float = Field(default=0.0, ge=0, le=1)
    memory_auto_store: bool = False
    memory_collection: str = Field(default="agent_memory", min_length=1)
    memory_persist_directory: str | None = None
    memory_user_id: str = Field(default="default", min_length=1)
    conversation_max_messages: int = Field(default=100, ge=0)
    file_mounts: dict[str, str] = Field(default_factory=dict)
    env_prefix: str = Field(default="AGENT_", min_length=1)
    initial_state: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("writable_keys")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        if any(not key for key in value):
            msg = "writable_keys: keys must be non-empty strings"
            raise ValueError(msg)
        return value

    @field_validator("initial_state")
    @classmethod
    def _state_keys(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if "" in value:
            msg = "initial_state: keys must be non-empty strings (an empty key cannot be written)"
            raise ValueError(msg)
        return value

    @field_validator("file_mounts")
    @classmethod
    def _mounts(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            if not name or not path:
                msg = f"file_mounts[{name!r}]: names and paths must be non-empty"
                raise ValueError(msg)
        return value


class ExecutionMode(StrEnum):
    """`strict`: the agent cannot change itself. `open`: it may, within `OpenModeConfig`."""

    STRICT = "strict"
    OPEN = "open"


class OpenModeConfig(StrictConfig):
    """What an agent in open mode may change about itself, and how far."""

    allow_identity_change: bool = True
    allow_tool_creation: bool = True
    allow_mcp_connect: bool = True
    allow_trigger_management: bool = True
    allow_memory_management: bool = True
    max_custom_tools: int = Field(default=20, ge=0)
    max_dynamic_triggers: int = Field(default=10, ge=0)
    max_instruction_length: int = Field(default=10_000, ge=1)
    max_rebuilds: int | None = Field(default=None, ge=0)
    allowed_mcp_urls: list[str] = Field(default_factory=list)
    sandbox_custom_tools: bool = True
    allow_process_spawn: bool = False
    max_spawned_processes: int = Field(default=3, ge=0)

    @field_validator("allowed_mcp_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for index, url in enumerate(value):
            check_url(url, f"allowed_mcp_urls[{index}]")
        return value


class DistributedConfig(StrictConfig):
    """Multi-node settings; off by default."""

    enabled: bool = False
    coordinator_url: str | None = None
    transport_port: int = Field(default=9100, ge=0, le=65535)
    discovery_method: Literal["registry", "static"] = "registry"
    heartbeat_interval: float = Field(default=15.0, gt=0)

    @field_validator("coordinator_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value, "coordinator_url")


def _no_journal() -> JournalConfig:
    return JournalConfig(level="none")


MAX_SECONDS = 366 * 86400.0
"""The longest interval a process setting may take (a year): timers past it cannot be armed."""

MAX_DRAIN_SECONDS = 3600.0
"""The longest drain a stop may wait for runs in flight (as the API's stop body allows)."""


class ProcessConfig(StrictConfig):
    """Everything one agent process needs: its agent, triggers, limits and governance.

    `model` is a provider string such as `"openai:gpt-4o-mini"` or a Python callable that acts
    as the agent. `tools` are Python callables offered to the agent; each needs type hints so a
    `ToolSpec` can describe it. Callables do not survive JSON: `tools` is left out and a callable
    `model` is written as null, so a reloaded config keeps every other field. The journal is off
    (`level="none"`) unless configured.
    """

    model: str | Callable[..., Any] | None = None
    instructions: str | None = None
    servers: dict[str, dict[str, JsonValue]] = Field(default_factory=dict)
    tools: list[Callable[..., Any]] = Field(default_factory=list, exclude=True)
    triggers: list[TriggerConfig] = Field(default_factory=list)
    journal: JournalConfig = Field(default_factory=_no_journal)
    context: ContextConfig = Field(default_factory=ContextConfig)
    concurrency: int = Field(default=1, ge=1, le=100)
    heartbeat_interval: float = Field(default=10.0, gt=0, le=MAX_SECONDS)
    idle_timeout: float = Field(default=0.0, ge=0, le=MAX_SECONDS)
    max_lifetime: float = Field(default=0.0, ge=0, le=MAX_SECONDS)
    max_consecutive_failures: int = Field(default=3, ge=1)
    restart_policy: Literal["always", "on_failure", "never"] = "never"
    max_restarts: int = Field(default=3, ge=0)
    max_queue_size: int = Field(default=1000, ge=1)
    drain_timeout: float = Field(default=5.0, ge=0, le=MAX_DRAIN_SECONDS)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    mission: MissionConfig = Field(default_factory=MissionConfig)
    secrets: SecretScopeConfig = Field(default_factory=SecretScopeConfig)
    inbox: InboxConfig = Field(default_factory=InboxConfig)
    execution_mode: ExecutionMode = ExecutionMode.STRICT
    open_mode: OpenModeConfig = Field(default_factory=OpenModeConfig)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str | Callable[..., Any] | None) -> str | Callable[..., Any] | None:
        if isinstance(value, str):
            return check_provider_model(value, "model")
        return value

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: list[Callable[..., Any]]) -> list[Callable[..., Any]]:
        seen: set[str] = set()
        for index, tool in enumerate(value):
            try:
                name = tool_spec(tool).name
            except (TypeError, ValueError) as exc:
                msg = f"tools[{index}]: {exc}"
                raise ValueError(msg) from None
            if name in seen:
                msg = f"tools[{index}]: another tool is already named {name!r}"
                raise ValueError(msg)
            seen.add(name)
        return value

    @field_validator("triggers")
    @classmethod
    def _trigger_ids(cls, value: list[TriggerConfig]) -> list[TriggerConfig]:
        trigger_ids(value)
        return value

    @field_serializer("model", when_used="json")
    def _model_json(self, value: str | Callable[..., Any] | None) -> str | None:
        return value if isinstance(value, str) else None

    def tool_specs(self) -> list[ToolSpec]:
        """A `ToolSpec` for each entry of `tools`, in order."""
        return [tool_spec(tool) for tool in self.tools]


class RuntimeConfig(StrictConfig):
    """A whole runtime: named process configs plus distributed settings.

    Process names start with a letter and use letters, digits, `_` and `-` (at most 64).
    """

    processes: dict[str, ProcessConfig] = Field(default_factory=dict)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)

    @field_validator("processes")
    @classmethod
    def _names(cls, value: dict[str, ProcessConfig]) -> dict[str, ProcessConfig]:
        for name in value:
            if not _PROCESS_NAME.match(name):
                msg = (
                    f"processes[{name!r}]: a name starts with a letter and has at most 64 "
                    "letters, digits, '_' or '-'"
                )
                raise ValueError(msg)
        return value
