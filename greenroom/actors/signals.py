"""Kernel-internal messages that travel in a mailbox's system lane, ahead of user messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr, _ActorStop

if TYPE_CHECKING:
    from pykka._envelope import Envelope

    from greenroom.actors.ref import ActorRef


class SystemMessage:
    """Base of the messages that jump the queue (stop travels this way too)."""

    __slots__ = ()


SYSTEM_TYPES = (SystemMessage, _ActorStop)
"""What travels in the system lane: kernel signals and pykka's stop request."""

PYKKA_TYPES = frozenset({_ActorStop, ProxyCall, ProxyGetAttr, ProxySetAttr})
"""Messages pykka's own `_handle_receive` interprets (everything else goes to `on_receive`)."""


@dataclass(frozen=True, slots=True)
class ChildTerminated(SystemMessage):
    """Tells a parent that one of its children has stopped, and why (None: normal stop).

    `pending` holds the user messages the child had not handled when it failed: a supervisor
    that restarts the child hands them to the new incarnation; otherwise they are refused.
    """

    ref: ActorRef[Any]
    reason: BaseException | None
    pending: tuple[Envelope[Any], ...] = ()


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A keyed timer's tick; stale ticks (cancelled or restarted timers) are dropped on receipt."""

    key: Any
    generation: int
