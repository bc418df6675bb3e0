"""Supervision events, published on `system.event_stream` (the journal and dashboard read them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka

__all__ = ["ChildFailed", "ChildRestarted", "ChildStarted", "ChildStopped", "IntensityExceeded",
           "SupervisionEvent"]


@dataclass(frozen=True, slots=True)
class SupervisionEvent:
    """Base: `supervisor` is the supervisor's path, `child_id` the child's id."""

    supervisor: str
    child_id: str


@dataclass(frozen=True, slots=True)
class ChildStarted(SupervisionEvent):
    """A child (re)started; `ref` is the new incarnation."""

    ref: pykka.ActorRef[Any]


@dataclass(frozen=True, slots=True)
class ChildFailed(SupervisionEvent):
    """A child stopped because of `reason`."""

    reason: BaseException


@dataclass(frozen=True, slots=True)
class ChildRestarted(SupervisionEvent):
    """A child is being restarted: restart number `attempt` (1-based), after `delay` seconds."""

    attempt: int
    delay: float


@dataclass(frozen=True, slots=True)
class ChildStopped(SupervisionEvent):
    """A child stopped normally or was terminated by its supervisor."""


@dataclass(frozen=True, slots=True)
class IntensityExceeded(SupervisionEvent):
    """More than `max_restarts` restarts within `within` s: the supervisor gives up and fails.

    `child_id` is the child whose failure tipped it over.
    """

    max_restarts: int
    within: float
