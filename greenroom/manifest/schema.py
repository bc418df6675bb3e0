"""`AgentManifestSchema`: the validated content of one `.agent` manifest.

The sections reuse the process configs (`TriggerConfig`, `JournalConfig`, `BudgetConfig`, ...),
so a manifest accepts exactly what `ProcessConfig` accepts, spelled the same way, and every
model rejects unknown keys at any depth. What is manifest-only:

- `world` is the context's initial state and `memory` its `memory_*` settings, under the names
  of the peer's manifests; giving the same setting in `context` as well is an error.
- `config` holds the remaining `ProcessConfig` fields (`concurrency`, `restart_policy`,
  `inbox`, ...), never one that has its own top-level key.
- A `budget`, `health`, `mission`, `secrets` or `config.inbox` section that is present is on:
  `enabled` defaults to true there (write `enabled: false` to keep one written but off).
- `servers` are described (`ServerSpec`) but not connected by this release, and `entrypoint`
  is reserved: it is never imported (`validate_manifest` warns about both).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, JsonValue, field_validator, model_validator

from greenroom.configs import StrictConfig, check_provider_model, check_url
from greenroom.manifest.shorthand import expand_trigger
from greenroom.runtime.config import (
    BudgetConfig,
    ContextConfig,
    ExecutionMode,
    HealthConfig,
    InboxConfig,
    JournalConfig,
    MissionConfig,
    OpenModeConfig,
    ProcessConfig,
    SecretScopeConfig,
    TriggerConfig,
)

__all__ = [
    "MANIFEST_VERSION",
    "NAME_PATTERN",
    "AgentManifestSchema",
    "MemorySpec",
    "ProcessSettings",
    "ServerSpec",
]

MANIFEST_VERSION: Literal["1.0"] = "1.0"
"""The manifest format version this release reads and writes."""

NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$"
"""Process names: a letter, then at most 63 letters, digits, '_' or '-' (as in the API)."""

_NAME = re.compile(NAME_PATTERN)


def _enabled_when_present(value: Any) -> Any:
    """A section written in a manifest is on unless it says `enabled: false`."""
    if isinstance(value, Mapping) and "enabled" not in value:
        return {"enabled": True, **value}
    return value


def _same_field(model: type[StrictConfig], name: str) -> Any:
    """A copy of `model`'s field `name` (default and constraints), to declare it again here."""
    return copy.copy(model.model_fields[name])


class ServerSpec(StrictConfig):
    """An MCP server the agent may use: `url` for the HTTP kinds, `command` for stdio.

    Described and validated so manifests stay portable, but not connected by this release.
    """

    type: Literal["http", "streamable-http", "sse", "stdio"] = "http"
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth: str | None = Field(default=None, repr=False)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    keep_alive: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value, "url")

    @model_validator(mode="after")
    def _kind(self) -> ServerSpec:
        if self.type == "stdio":
            if not self.command:
                msg = "command: required for a 'stdio' server"
                raise ValueError(msg)
            if self.url is not None:
                msg = "url: a 'stdio' server has a command, not a url"
                raise ValueError(msg)
        else:
            if self.url is None:
                msg = f"url: required for an {self.type!r} server"
                raise ValueError(msg)
            for name in ("command", "args", "env", "cwd"):
                if getattr(self, name):
                    msg = f"{name}: only a 'stdio' server has a {name}"
                    raise ValueError(msg)
        return self


class MemorySpec(StrictConfig):
    """The manifest's `memory` section: the context's `memory_*` settings without the prefix."""

    provider: Literal["in_memory", "chroma", "mem0"] = "in_memory"
    collection: str = _same_field(ContextConfig, "memory_collection")
    persist_directory: str | None = _same_field(ContextConfig, "memory_persist_directory")
    user_id: str = _same_field(ContextConfig, "memory_user_id")
    auto_store: bool = _same_field(ContextConfig, "memory_auto_store")
    max: int = _same_field(ContextConfig, "memory_max")
    min_score: float = _same_field(ContextConfig, "memory_min_score")

    def context_fields(self) -> dict[str, Any]:
        """These settings as `ContextConfig` fields (`memory_<key>`)."""
        return {f"memory_{name}": getattr(self, name) for name in type(self).model_fields}


class ProcessSettings(StrictConfig):
    """The manifest's `config` section: the `ProcessConfig` fields without a top-level key of
    their own, with the same defaults and limits."""

    concurrency: int = _same_field(ProcessConfig, "concurrency")
    heartbeat_interval: float = _same_field(ProcessConfig, "heartbeat_interval")
    idle_timeout: float = _same_field(ProcessConfig, "idle_timeout")
    max_lifetime: float = _same_field(ProcessConfig, "max_lifetime")
    max_consecutive_failures: int = _same_field(ProcessConfig, "max_consecutive_failures")
    restart_policy: Literal["always", "on_failure", "never"] = \
        _same_field(ProcessConfig, "restart_policy")
    max_restarts: int = _same_field(ProcessConfig, "max_restarts")
    max_queue_size: int = _same_field(ProcessConfig, "max_queue_size")
    drain_timeout: float = _same_field(ProcessConfig, "drain_timeout")
    inbox: Annotated[InboxConfig, BeforeValidator(_enabled_when_present)] = \
        _same_field(ProcessConfig, "inbox")

    def process_fields(self) -> dict[str, Any]:
        """These settings as `ProcessConfig` keyword arguments."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class AgentManifestSchema(StrictConfig):
    """One agent process described as data (see the module doc and docs/manifests.md).

    Build one with `load_manifest(path)` or `manifest_from_dict(data)`, which also resolve
    `${VAR}` references and report errors with their paths; `AgentManifestSchema(...)` itself
    validates but resolves nothing. `manifest_to_process_config` turns it into a `ProcessConfig`.
    """

    version: Literal["1.0"] = MANIFEST_VERSION
    name: str
    model: str
    instructions: str | None = None
    servers: dict[str, ServerSpec] = Field(default_factory=dict)
    triggers: list[Annotated[TriggerConfig, BeforeValidator(expand_trigger)]] = \
        Field(default_factory=list)
    world: dict[str, JsonValue] = Field(default_factory=dict)
    memory: MemorySpec | None = None
    journal: JournalConfig | None = None
    config: ProcessSettings = Field(default_factory=ProcessSettings)
    budget: Annotated[BudgetConfig | None, BeforeValidator(_enabled_when_present)] = None
    health: Annotated[HealthConfig | None, BeforeValidator(_enabled_when_present)] = None
    mission: Annotated[MissionConfig | None, BeforeValidator(_enabled_when_present)] = None
    secrets: Annotated[SecretScopeConfig | None, BeforeValidator(_enabled_when_present)] = None
    context: ContextConfig | None = None
    execution_mode: ExecutionMode = ExecutionMode.STRICT
    open_mode: OpenModeConfig | None = None
    entrypoint: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if not isinstance(value, str):
            msg = f'expected the string "{MANIFEST_VERSION}" (quote it in YAML: ' \
                  f'version: "{MANIFEST_VERSION}")'
            raise ValueError(msg)
        if value != MANIFEST_VERSION:
            msg = f"unsupported version {value!r}; this release reads version " \
                  f"{MANIFEST_VERSION!r}"
            raise ValueError(msg)
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            msg = "expected a letter, then at most 63 letters, digits, '_' or '-'"
            raise ValueError(msg)
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return check_provider_model(value, "model")

    @field_validator("triggers")
    @classmethod
    def _unique_ids(cls, value: list[TriggerConfig]) -> list[TriggerConfig]:
        first: dict[str, int] = {}
        for index, trigger in enumerate(value):
            if trigger.trigger_id is None:
                continue
            if trigger.trigger_id in first:
                msg = f"triggers[{index}].trigger_id: {trigger.trigger_id!r} is already used " \
                      f"by triggers[{first[trigger.trigger_id]}]"
                raise ValueError(msg)
            first[trigger.trigger_id] = index
        return value

    @model_validator(mode="after")
    def _no_setting_twice(self) -> AgentManifestSchema:
        if self.context is None:
            return self
        if self.world and self.context.initial_state:
            msg = "world: is the manifest's name for context.initial_state; give only one of them"
            raise ValueError(msg)
        if self.memory is not None:
            for name in self.memory.context_fields():
                if name in self.context.model_fields_set:
                    key = name.removeprefix("memory_")
                    msg = f"memory: memory.{key} is also given as context.{name}; give only one"
                    raise ValueError(msg)
        return self

    def context_config(self) -> ContextConfig:
        """The process's `ContextConfig`: `context` with `world` and `memory` folded in."""
        context = self.context if self.context is not None else ContextConfig()
        updates: dict[str, Any] = {}
        if self.world:
            updates["initial_state"] = self.world
        if self.memory is not None:
            updates.update(self.memory.context_fields())
        if not updates:
            return context
        return ContextConfig.model_validate({**context.model_dump(), **updates})
