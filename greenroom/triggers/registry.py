"""The trigger registry: type name -> factory, built-in types included.

A factory is called as `factory(config, *, event_bus=None, broker=None)` and returns either an
`ActorTrigger` (a `TriggerActor` subclass to spawn, as the built-ins do) or any object with the
seed's `start()` / `stop()` / `wait_for_next()` protocol, which greenroom runs inside a
`ProtocolTriggerActor`. `trigger_child_spec` turns a config into the `ChildSpec` a process's
`TriggerSupervisor` starts.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenroom.supervision.spec import ChildSpec
from greenroom.triggers.custom import ProtocolTriggerActor, is_trigger_object
from greenroom.triggers.errors import TriggerError

if TYPE_CHECKING:
    from greenroom.triggers.actor import TriggerActor
    from greenroom.triggers.config import TriggerConfig
    from greenroom.triggers.host import TriggerHost, TriggerStats

__all__ = [
    "ActorTrigger",
    "TriggerFactory",
    "check_trigger_type",
    "create_trigger",
    "register_trigger_type",
    "registered_trigger_types",
    "trigger_child_spec",
    "unregister_trigger_type",
]

TriggerFactory = Callable[..., Any]
"""`factory(config, *, event_bus=None, broker=None)` -> an `ActorTrigger` or a trigger object."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ActorTrigger:
    """A trigger implemented as a `TriggerActor` subclass (how the built-ins are made)."""

    actor_class: type[TriggerActor]
    config: TriggerConfig
    dispatcher: str | None = None


@functools.cache
def _actor_class(module: str, class_name: str) -> type[TriggerActor]:
    """A built-in trigger's actor class, imported once."""
    actor_class: type[TriggerActor] = getattr(
        importlib.import_module(f"greenroom.triggers.{module}"), class_name)
    return actor_class


def _builtin(module: str, class_name: str) -> TriggerFactory:
    """A built-in type's factory; its module is imported on first use (watchdog, aiohttp)."""

    def factory(config: TriggerConfig, **_: Any) -> ActorTrigger:
        return ActorTrigger(_actor_class(module, class_name), config)

    factory.__qualname__ = f"builtin_{module}"
    return factory


_REGISTRY: dict[str, TriggerFactory] = {
    "cron": _builtin("cron", "CronTriggerActor"),
    "webhook": _builtin("webhook", "WebhookTriggerActor"),
    "file_watch": _builtin("file_watch", "FileWatchTriggerActor"),
    "event": _builtin("event_trigger", "EventTriggerActor"),
    "message": _builtin("message_trigger", "MessageTriggerActor"),
}


def register_trigger_type(type_name: str, factory: TriggerFactory, *,
                          overwrite: bool = False) -> None:
    """Register `factory` for `type_name`; `ValueError` if taken (unless `overwrite`)."""
    if not isinstance(type_name, str) or not _NAME.match(type_name):
        msg = f"type_name: expected a name such as 'sqs', got {type_name!r}"
        raise ValueError(msg)
    if not callable(factory):
        msg = f"factory: expected a callable, got {type(factory).__name__}"
        raise TypeError(msg)
    if type_name in _REGISTRY and not overwrite:
        msg = f"trigger type {type_name!r} is already registered (pass overwrite=True)"
        raise ValueError(msg)
    _REGISTRY[type_name] = factory


def unregister_trigger_type(type_name: str) -> bool:
    """Remove a trigger type; True if it was registered."""
    return _REGISTRY.pop(type_name, None) is not None


def registered_trigger_types() -> list[str]:
    """The registered type names, sorted (built-in and custom)."""
    return sorted(_REGISTRY)


def check_trigger_type(type_name: str) -> TriggerFactory:
    """The factory registered for `type_name`; `TriggerError` listing the known types if none."""
    factory = _REGISTRY.get(type_name)
    if factory is None:
        msg = f"unknown trigger type {type_name!r}; registered: {registered_trigger_types()}"
        raise TriggerError(msg)
    return factory


def create_trigger(config: TriggerConfig, *, event_bus: Any = None, broker: Any = None) -> Any:
    """Build the trigger for `config`; `TriggerError` for an unknown type or a bad factory."""
    factory = check_trigger_type(config.type)
    trigger = factory(config, event_bus=event_bus, broker=broker)
    if not isinstance(trigger, ActorTrigger) and not is_trigger_object(trigger):
        msg = f"the factory for {config.type!r} returned {type(trigger).__name__}, which is " \
              "neither an ActorTrigger nor an object with start/stop/wait_for_next"
        raise TriggerError(msg)
    return trigger


def trigger_child_spec(
    config: TriggerConfig, trigger_id: str, host: TriggerHost, stats: TriggerStats
) -> ChildSpec:
    """The supervisor child that runs one trigger of a process."""
    trigger = create_trigger(config, event_bus=host.event_bus, broker=host.broker)
    if isinstance(trigger, ActorTrigger):
        return ChildSpec(trigger_id, trigger.actor_class, args=(config, trigger_id, host, stats),
                         dispatcher=trigger.dispatcher)
    return ChildSpec(trigger_id, ProtocolTriggerActor,
                     args=(trigger, config, trigger_id, host, stats))
