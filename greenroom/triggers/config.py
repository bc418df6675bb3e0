"""`TriggerConfig`: one trigger of a process, validated per type when it is built.

Built-in types need their own fields (`cron` needs `cron_expression`, `file_watch` needs
`watch_path`, `event` needs `event_type`, `message` needs `topic`), and a field of another type
may not differ from its default. Other types are custom; they keep their settings in
`custom_config`. Cron expressions, time zones, topic patterns and filter expressions are compiled
here, so a bad one is refused with an error naming the field before anything starts.
"""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_serializer,
    field_validator,
    model_validator,
)

from greenroom.triggers.topics import TopicPattern

__all__ = ["BUILTIN_TRIGGER_TYPES", "MAX_CATCH_UP", "TriggerConfig", "trigger_ids"]

_TRIGGER_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_WATCH_EVENTS = frozenset({"created", "modified", "deleted", "moved"})

MAX_CATCH_UP = 100
"""At most this many missed cron slots are fired by the `all` misfire policy."""

BUILTIN_TRIGGER_TYPES: Mapping[str, tuple[str, ...]] = {
    "cron": ("cron_expression", "timezone", "misfire_policy", "catch_up_window"),
    "webhook": (
        "webhook_path", "webhook_port", "webhook_host", "hmac_secret", "verify_hmac",
        "signature_scheme", "signature_tolerance", "max_body_size", "allow_public_bind",
    ),
    "file_watch": (
        "watch_path", "watch_patterns", "watch_events", "watch_recursive",
        "watch_debounce_seconds", "watch_backend", "watch_poll_interval",
    ),
    "event": ("event_type", "event_source", "include_own_events"),
    "message": ("topic", "from_agent"),
}
"""Each built-in trigger type and the fields that belong to it."""

_REQUIRED_TRIGGER_FIELD = {
    "cron": "cron_expression",
    "file_watch": "watch_path",
    "event": "event_type",
    "message": "topic",
}
_SECRET_FIELDS = frozenset({"hmac_secret"})


class TriggerConfig(BaseModel):
    """One trigger of a process. Which fields apply depends on `type` (see the module doc).

    `filter_expression` is a string in the safe filter language of `greenroom.triggers.filters`
    or a synchronous callable `f(event) -> bool`; a callable does not survive JSON (it is left
    out). `trigger_id` pins the id; by default it is derived from the config (`trigger_ids`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    type: str
    trigger_id: str | None = Field(default=None, min_length=1, max_length=128)
    cron_expression: str | None = None
    timezone: str = "UTC"
    misfire_policy: Literal["skip", "latest", "all"] = "latest"
    catch_up_window: float = Field(default=86400.0, ge=0)
    webhook_path: str = "/webhook"
    webhook_port: int = Field(default=9090, ge=0, le=65535)
    webhook_host: str = Field(default="127.0.0.1", min_length=1)
    hmac_secret: str | None = Field(default=None, min_length=1, repr=False)
    verify_hmac: bool = False
    signature_scheme: Literal["generic", "github", "stripe", "slack", "standard"] = "generic"
    signature_tolerance: float = Field(default=300.0, gt=0)
    max_body_size: int = Field(default=1024 * 1024, ge=1, le=25 * 1024 * 1024)
    allow_public_bind: bool = False
    watch_path: str | None = None
    watch_patterns: list[str] = Field(default_factory=lambda: ["*"])
    watch_events: list[str] = Field(default_factory=lambda: ["created", "modified"])
    watch_recursive: bool = True
    watch_debounce_seconds: float = Field(default=0.5, ge=0)
    watch_backend: Literal["auto", "watchdog", "polling"] = "auto"
    watch_poll_interval: float = Field(default=1.0, gt=0)
    event_type: str | None = None
    event_source: str | None = None
    include_own_events: bool = False
    topic: str | None = None
    from_agent: str | None = None
    custom_config: dict[str, JsonValue] = Field(default_factory=dict)
    filter_expression: str | Callable[..., Any] | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not _TRIGGER_TYPE.match(value):
            msg = "type: expected a name such as 'cron', 'webhook' or a custom type"
            raise ValueError(msg)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from greenroom.triggers.schedule import zone_of  # noqa: PLC0415 (keeps config light)

        zone_of(value)
        return value

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(char.isspace() for char in value):
            msg = "webhook_path: must start with '/' and contain no whitespace"
            raise ValueError(msg)
        return value

    @field_validator("webhook_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if 0 < value <= 1024:
            msg = "webhook_port: must be above 1024 (or 0 for any free port)"
            raise ValueError(msg)
        return value

    @field_validator("watch_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        if not value or any(not pattern for pattern in value):
            msg = "watch_patterns: needs at least one non-empty glob pattern"
            raise ValueError(msg)
        return value

    @field_validator("watch_events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - _WATCH_EVENTS)
        if not value or unknown:
            msg = f"watch_events: expected some of {sorted(_WATCH_EVENTS)}, got unknown {unknown}"
            raise ValueError(msg)
        return value

    @field_validator("event_type", "topic")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            TopicPattern(value)
        return value

    @field_validator("filter_expression")
    @classmethod
    def _filter(cls, value: str | Callable[..., Any] | None) -> str | Callable[..., Any] | None:
        if value is not None:
            from greenroom.triggers.filters import compile_filter  # noqa: PLC0415

            compile_filter(value)
        return value

    @model_validator(mode="after")
    def _fields_for_type(self) -> TriggerConfig:
        for kind, names in BUILTIN_TRIGGER_TYPES.items():
            for name in names:
                if kind != self.type and getattr(self, name) != _default(name):
                    msg = f"{name}: belongs to {kind!r} triggers, not {self.type!r}"
                    raise ValueError(msg)
        needed = _REQUIRED_TRIGGER_FIELD.get(self.type)
        if needed is not None:
            value = getattr(self, needed)
            if value is None or not value.strip():
                msg = f"{needed}: required for {self.type!r} triggers"
                raise ValueError(msg)
        if self.type == "cron" and self.cron_expression is not None:
            from greenroom.triggers.schedule import CronSchedule  # noqa: PLC0415

            CronSchedule(self.cron_expression, self.timezone)
        return self

    @field_serializer("filter_expression", when_used="json")
    def _filter_json(self, value: str | Callable[..., Any] | None) -> str | None:
        return value if isinstance(value, str) else None

    def masked(self) -> dict[str, Any]:
        """The config as JSON-ready data with secrets masked and a callable filter named."""
        data = self.model_dump(mode="json")
        for name in _SECRET_FIELDS:
            if data.get(name) is not None:
                data[name] = "***"
        if callable(self.filter_expression):
            func = self.filter_expression
            data["filter_expression"] = f"callable:{func.__module__}.{func.__qualname__}"
        return data

    def fingerprint(self) -> str:
        """A JSON text of `masked()` without the id: equal for two identical triggers.

        Computed once per config object (a config is frozen; about 30 us, paid by every
        process that derives its trigger ids from it).
        """
        key = id(self)
        text = _FINGERPRINTS.get(key)
        if text is None:
            data = self.masked()
            data.pop("trigger_id", None)
            text = json.dumps(data, sort_keys=True, separators=(",", ":"))
            _FINGERPRINTS[key] = text
            weakref.finalize(self, _FINGERPRINTS.pop, key, None)
        return text


_FINGERPRINTS: dict[int, str] = {}
"""id of a live `TriggerConfig` -> its fingerprint; an entry goes with its config."""


def _default(name: str) -> Any:
    return TriggerConfig.model_fields[name].get_default(call_default_factory=True)


def trigger_ids(configs: list[TriggerConfig]) -> list[str]:
    """Stable ids: `trigger_id` when given, else `<type>-<10 hex of sha256(fingerprint)>`,
    with `-2`, `-3`, ... for identical configs. Raises `ValueError` on a duplicate given id.
    """
    ids: list[str] = []
    for config in configs:
        if config.trigger_id is not None:
            base = config.trigger_id
            if base in ids:
                msg = f"trigger_id: {base!r} is used by two triggers"
                raise ValueError(msg)
        else:
            digest = hashlib.sha256(config.fingerprint().encode()).hexdigest()[:10]
            base = f"{config.type}-{digest}"
        candidate, n = base, 1
        while candidate in ids:
            n += 1
            candidate = f"{base}-{n}"
        ids.append(candidate)
    return ids
