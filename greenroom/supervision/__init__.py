"""Supervision trees, Erlang/OTP style: restart strategies, intensity, backoff, escalation.

Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
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

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
