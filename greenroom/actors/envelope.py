"""Envelopes that remember their sender, so a receiver (a `TestProbe`) can tell who wrote."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pykka
from pykka._envelope import Envelope as PykkaEnvelope

if TYPE_CHECKING:
    from greenroom.actors.future import Future

__all__ = ["Envelope", "current_actor_ref", "set_current_actor_ref"]

class _Current(threading.local):
    # A class-level default: a missing attribute on a threading.local costs ~20x a present one.
    ref: pykka.ActorRef[Any] | None = None


_current = _Current()


def set_current_actor_ref(ref: pykka.ActorRef[Any] | None) -> None:
    """Dispatchers: the actor whose messages this thread is handling now (None: none)."""
    _current.ref = ref


def current_actor_ref() -> pykka.ActorRef[Any] | None:
    """The actor this thread is handling a message for, if any."""
    return _current.ref


class Envelope(PykkaEnvelope[Any]):
    """pykka's envelope plus the sending actor's ref (None when sent from outside any actor)."""

    __slots__ = ("sender",)

    def __init__(self, message: Any, reply_to: Future[Any] | None = None) -> None:
        self.message = message
        self.reply_to = reply_to
        self.sender = _current.ref
