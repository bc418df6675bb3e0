"""The actor kernel: pykka actors with a system, a tree, death watch, timers and dead letters."""

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
