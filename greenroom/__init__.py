"""greenroom: AI agents as long-lived, supervised, governed processes on the actor model."""

from greenroom.actors import (
    Actor,
    ActorRef,
    ActorSystem,
    Clock,
    DeadLetter,
    ManualClock,
    SystemClock,
    Terminated,
)

__all__ = [
    "Actor",
    "ActorRef",
    "ActorSystem",
    "Clock",
    "DeadLetter",
    "ManualClock",
    "SystemClock",
    "Terminated",
]

__version__ = "0.1.0"
