"""`ChildHandle`: a ref to a supervised child that survives its restarts.

`Supervisor.child_ref(id)` returns one. While the child runs, messages go straight to the current
incarnation. While it is being restarted (including a backoff delay), they are held, in order,
and delivered to the new incarnation first. While it is down (stopped, not to be restarted) they
are refused: tells become dead letters and asks fail with `ActorDeadError`, each with the reason.
Once the child is gone for good (deleted, or its supervisor stopped) the handle is dead, like a
stopped actor's ref, and watchers of the handle receive `Terminated`.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

import pykka

from greenroom.actors.mailbox import refuse
from greenroom.actors.ref import ActorRef, StopFlag

if TYPE_CHECKING:
    from collections.abc import Callable

    from pykka._envelope import Envelope

    from greenroom.actors.messages import DeadLetter

__all__ = ["ChildHandle"]

_RUNNING, _RESTARTING, _DOWN, _GONE = "running", "restarting", "down", "gone"


class ChildHandle(ActorRef[Any]):
    """A stable ref to whichever incarnation of a supervised child is current."""

    def __init__(
        self, path: str, actor_cls: type[pykka.Actor], publish: Callable[[DeadLetter], None]
    ) -> None:
        self.path = path
        self.actor_class = actor_cls
        self._urn = None  # made on first use, as an actor's own ref does
        self.actor_inbox = self  # type: ignore[assignment]
        self.actor_stopped = StopFlag()
        self._publish = publish
        self._lock = threading.Lock()
        self._current: pykka.ActorRef[Any] | None = None
        self._state = _RESTARTING
        self._why = ""
        self._held: deque[Envelope[Any]] | None = None  # made when something must wait

    def __repr__(self) -> str:
        return f"<ChildHandle {self.path} {self._state}>"

    @property
    def current(self) -> pykka.ActorRef[Any] | None:
        """The running incarnation's own ref, or None."""
        with self._lock:
            return self._current if self._state == _RUNNING else None

    def _actor_weakref(self) -> pykka.Actor | None:  # type: ignore[override]
        current = self.current
        return None if current is None else current._actor_weakref()

    def put(self, envelope: Envelope[Any], /) -> None:
        """Deliver to the current incarnation, hold during a restart, or refuse."""
        with self._lock:
            if self._state == _RUNNING and self._current is not None:
                if self._current.actor_inbox.offer(envelope):  # type: ignore[attr-defined]
                    return
                self._hold(envelope)  # died, and the supervisor does not know yet
                return
            if self._state == _RESTARTING:
                self._hold(envelope)
                return
            why = self._why
        refuse(envelope, self, why, pykka.ActorDeadError, self._publish)

    def empty(self) -> bool:
        """Whether nothing is held."""
        return not self._held

    def _hold(self, envelope: Envelope[Any]) -> None:
        """Keep `envelope` for the next incarnation (called under the lock)."""
        if self._held is None:
            self._held = deque()
        self._held.append(envelope)

    # Called by the supervisor ------------------------------------------------------------------

    def attach(self, ref: pykka.ActorRef[Any]) -> None:
        """A new incarnation runs: deliver what was held, then forward directly."""
        with self._lock:
            self._current = ref
            self._state = _RUNNING
            held, self._held = self._held, None
            while held:
                ref.actor_inbox.put(held.popleft())

    def restarting(self) -> None:
        """The child is about to be restarted: hold messages."""
        with self._lock:
            if self._state != _GONE:
                self._state = _RESTARTING
                self._current = None

    def hold_first(self, envelopes: tuple[Envelope[Any], ...]) -> None:
        """Put what the failed incarnation left unhandled ahead of what is already held."""
        if not envelopes:
            return
        with self._lock:
            if self._held is None:
                self._held = deque()
            self._held.extendleft(reversed(envelopes))

    def down(self, why: str) -> None:
        """The child is not running and will not be restarted by itself: refuse messages."""
        self._close(_DOWN, why)

    def gone(self, why: str) -> None:
        """The child will never run again: the handle is dead."""
        self.actor_stopped.set()
        self._close(_GONE, why)

    def _close(self, state: str, why: str) -> None:
        with self._lock:
            if self._state == _GONE:
                return
            self._state = state
            self._current = None
            self._why = why
            held, self._held = self._held or (), None
        for envelope in held:
            refuse(envelope, self, why, pykka.ActorDeadError, self._publish)
