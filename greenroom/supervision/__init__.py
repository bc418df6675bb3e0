"""Supervision trees, Erlang/OTP style: restart strategies, intensity, backoff, escalation."""

from greenroom.supervision.events import (
    ChildFailed,
    ChildRestarted,
    ChildStarted,
    ChildStopped,
    IntensityExceeded,
    SupervisionEvent,
)
from greenroom.supervision.handle import ChildHandle
from greenroom.supervision.spec import Backoff, ChildSpec, Restart, RestartStrategy, SiblingRef
from greenroom.supervision.supervisor import RestartIntensityExceeded, Supervisor

__all__ = [
    "Backoff",
    "ChildFailed",
    "ChildHandle",
    "ChildRestarted",
    "ChildSpec",
    "ChildStarted",
    "ChildStopped",
    "IntensityExceeded",
    "Restart",
    "RestartIntensityExceeded",
    "RestartStrategy",
    "SiblingRef",
    "SupervisionEvent",
    "Supervisor",
]
