"""The actor kernel: pykka actors with a system, a tree, death watch, timers and dead letters.

Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.actors.actor import Actor
    from greenroom.actors.clock import Clock, ManualClock, SystemClock, TimerHandle
    from greenroom.actors.errors import ActorKilled, ActorStartError, MailboxFull
    from greenroom.actors.events import EventStream
    from greenroom.actors.future import Future
    from greenroom.actors.messages import ActorFailed, DeadLetter, Failure, Terminated
    from greenroom.actors.ref import ActorRef
    from greenroom.actors.reply import Reply
    from greenroom.actors.system import ActorSystem

__all__ = [
    "Actor",
    "ActorFailed",
    "ActorKilled",
    "ActorRef",
    "ActorStartError",
    "ActorSystem",
    "Clock",
    "DeadLetter",
    "EventStream",
    "Failure",
    "Future",
    "MailboxFull",
    "ManualClock",
    "Reply",
    "SystemClock",
    "Terminated",
    "TimerHandle",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
