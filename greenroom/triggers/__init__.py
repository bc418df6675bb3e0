"""Triggers: what wakes a process. One actor per trigger, under the process's TriggerSupervisor.

Built-in types: `cron`, `webhook`, `file_watch`, `event`, `message`; custom types through the
registry. Configs are `TriggerConfig`s (the shorthand constructors build them); the pure rules
(cron schedules, signatures, debouncing, filters, topic patterns) have their own modules.
Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.triggers.actor import TriggerActor
    from greenroom.triggers.config import (
        BUILTIN_TRIGGER_TYPES,
        MAX_CATCH_UP,
        TriggerConfig,
        trigger_ids,
    )
    from greenroom.triggers.custom import ProtocolTriggerActor
    from greenroom.triggers.errors import TriggerError
    from greenroom.triggers.event import TriggerEvent
    from greenroom.triggers.filters import EventFilter, FilterError, compile_filter
    from greenroom.triggers.host import Delivery, TriggerFired, TriggerHost, TriggerStats
    from greenroom.triggers.outlet import TriggerOutlet
    from greenroom.triggers.registry import (
        ActorTrigger,
        TriggerFactory,
        create_trigger,
        register_trigger_type,
        registered_trigger_types,
        trigger_child_spec,
        unregister_trigger_type,
    )
    from greenroom.triggers.shorthand import (
        CronTrigger,
        EventTrigger,
        FileWatchTrigger,
        MessageTrigger,
        WebhookTrigger,
    )
    from greenroom.triggers.supervisor import TriggerSupervisor
    from greenroom.triggers.topics import TopicPattern, topic_matches, validate_topic

__all__ = [
    "BUILTIN_TRIGGER_TYPES",
    "MAX_CATCH_UP",
    "ActorTrigger",
    "CronTrigger",
    "Delivery",
    "EventFilter",
    "EventTrigger",
    "FileWatchTrigger",
    "FilterError",
    "MessageTrigger",
    "ProtocolTriggerActor",
    "TopicPattern",
    "TriggerActor",
    "TriggerConfig",
    "TriggerError",
    "TriggerEvent",
    "TriggerFactory",
    "TriggerFired",
    "TriggerHost",
    "TriggerOutlet",
    "TriggerStats",
    "TriggerSupervisor",
    "WebhookTrigger",
    "compile_filter",
    "create_trigger",
    "register_trigger_type",
    "registered_trigger_types",
    "topic_matches",
    "trigger_child_spec",
    "trigger_ids",
    "unregister_trigger_type",
    "validate_topic",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
