"""Messages the kernel itself delivers to actors: death notices, dead letters, piped failures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pykka import ActorRef

__all__ = ["ActorFailed", "DeadLetter", "Failure", "Terminated"]


@dataclass(frozen=True, slots=True)
class Terminated:
    """A watched actor has stopped. `reason` is None for a normal stop, else the exception."""

    ref: ActorRef[Any]
    reason: BaseException | None = None

    @property
    def failed(self) -> bool:
        """True when the actor stopped because of a failure (or was killed), not a normal stop."""
        return self.reason is not None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be delivered, with the intended recipient and why."""

    message: Any
    recipient: ActorRef[Any] | None
    reason: str


@dataclass(frozen=True, slots=True)
class Failure:
    """The exception of a piped coroutine (see `Actor.pipe_to`), delivered as a message."""

    exception: BaseException


@dataclass(frozen=True, slots=True)
class ActorFailed:
    """Published on `system.event_stream` whenever an actor stops because of a failure."""

    ref: ActorRef[Any]
    path: str
    reason: BaseException
