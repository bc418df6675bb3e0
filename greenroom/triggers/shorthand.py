"""The overview's shorthand constructors: each returns a validated `TriggerConfig`.

`CronTrigger("*/5 * * * *")`, `WebhookTrigger("/alert", verify_hmac=True)`,
`FileWatchTrigger("/data/*.csv")`, `EventTrigger("pipeline.*")` and
`MessageTrigger(topic="analysis.done", from_agent="analyst")` can be used wherever a
`TriggerConfig` is (they are one). Extra keyword arguments are `TriggerConfig` fields.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from greenroom.triggers.config import TriggerConfig

__all__ = ["CronTrigger", "EventTrigger", "FileWatchTrigger", "MessageTrigger", "WebhookTrigger"]


def CronTrigger(cron_expression: str, **options: Any) -> TriggerConfig:
    """A cron trigger (`timezone`, `misfire_policy`, `catch_up_window` as options)."""
    return TriggerConfig(type="cron", cron_expression=cron_expression, **options)


def WebhookTrigger(path: str = "/webhook", **options: Any) -> TriggerConfig:
    """A webhook trigger on `path` (`webhook_port`, `verify_hmac`, `signature_scheme`, ...)."""
    return TriggerConfig(type="webhook", webhook_path=path, **options)


def FileWatchTrigger(path: str, **options: Any) -> TriggerConfig:
    """Watch a directory, or `dir/<glob>` (the glob becomes `watch_patterns`)."""
    directory, name = os.path.split(path)
    if glob.has_magic(name) and "watch_patterns" not in options:
        return TriggerConfig(type="file_watch", watch_path=directory or ".",
                             watch_patterns=[name], **options)
    return TriggerConfig(type="file_watch", watch_path=path, **options)


def EventTrigger(event_type: str, source: str | None = None,
                 **options: Any) -> TriggerConfig:
    """Fire on bus events matching `event_type` (NATS wildcards), optionally from `source`."""
    return TriggerConfig(type="event", event_type=event_type, event_source=source, **options)


def MessageTrigger(topic: str, from_agent: str | None = None,
                   **options: Any) -> TriggerConfig:
    """Fire on broker messages on `topic` (NATS wildcards), optionally from one sender."""
    return TriggerConfig(type="message", topic=topic, from_agent=from_agent, **options)
