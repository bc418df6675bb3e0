"""`ActorRef`: a pykka `ActorRef` whose tell never raises for a dead actor and whose futures await.

A tell to a stopped actor becomes a dead letter (Akka's rule: sending is fire-and-forget); an ask
to it fails at once with `pykka.ActorDeadError`. Both go through the actor's mailbox, which knows
whether the actor is still there.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import pykka
from pykka.messages import ProxyCall

from greenroom.actors.envelope import Envelope
from greenroom.actors.future import Future

if TYPE_CHECKING:
    from greenroom.actors.actor import Actor

__all__ = ["ActorRef", "StopFlag"]

A = TypeVar("A", bound=pykka.Actor)

_flag_lock = threading.Lock()


class StopFlag(threading.Event):
    """A `threading.Event` that allocates its condition only if somebody waits on it.

    Every actor has one (`actor_stopped`, read by `is_alive()`); most are never waited on, and a
    full Event costs a lock and a condition per actor.
    """

    def __init__(self) -> None:
        self._stopped = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        """Whether the actor has stopped (or begun stopping)."""
        return self._stopped

    isSet = is_set  # threading.Event's old alias

    def set(self) -> None:
        """Mark stopped and wake any waiter."""
        self._stopped = True
        with _flag_lock:
            event = self._event
        if event is not None:
            event.set()

    def clear(self) -> None:
        """Stopping is final."""
        msg = "an actor's stopped flag cannot be cleared"
        raise RuntimeError(msg)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped or `timeout` seconds pass; returns the flag."""
        with _flag_lock:
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        if self._stopped:
            return True
        return event.wait(timeout)


class ActorRef(pykka.ActorRef[A]):
    """Reference to a greenroom actor: `tell`, `ask`, `stop`, `proxy`, plus its `path`."""

    def __init__(self, actor: A) -> None:
        # pykka's fields, set here so that the URN can be made lazily (uuid4 is a third of the
        # cost of a spawn, and most refs never show their URN).
        self._actor_weakref = weakref.ref(actor)
        self.actor_class = type(actor)
        self.actor_inbox = actor.actor_inbox
        self.actor_stopped = actor.actor_stopped
        gr_actor: Actor = actor  # type: ignore[assignment]
        self.path: str = gr_actor._gr_path
        self._urn: str | None = None

    @property
    def actor_urn(self) -> str:
        """The actor's unique URN (a uuid4 URN, made on first use)."""
        if self._urn is None:
            self._urn = uuid.uuid4().urn
        return self._urn

    @actor_urn.setter
    def actor_urn(self, value: str) -> None:
        self._urn = value

    def __repr__(self) -> str:
        return f"<ActorRef {self.path}>"

    def __str__(self) -> str:
        return f"{self.actor_class.__name__} ({self.path})"

    def tell(self, message: Any) -> None:
        """Send without waiting; to a stopped actor it becomes a dead letter.

        Raises `MailboxFull` only when the mailbox is bounded with `overflow="fail"` and full.
        """
        self.actor_inbox.put(Envelope(message))

    @overload
    def ask(
        self, message: Any, *, block: Literal[False], timeout: float | None = None
    ) -> Future[Any]: ...

    @overload
    def ask(
        self, message: Any, *, block: Literal[True] = True, timeout: float | None = None
    ) -> Any: ...

    @overload
    def ask(
        self, message: Any, *, block: bool = True, timeout: float | None = None
    ) -> Any | Future[Any]: ...

    def ask(
        self, message: Any, *, block: bool = True, timeout: float | None = None
    ) -> Any | Future[Any]:
        """Send and get the reply: the value (blocking) or a `Future` (`block=False`).

        A stopped actor fails the ask at once with `pykka.ActorDeadError`; a full bounded
        mailbox fails it with `MailboxFull`.
        """
        future: Future[Any] = Future()
        self.actor_inbox.put(Envelope(message, reply_to=future))
        if block:
            return future.get(timeout=timeout)
        return future

    def call(self, method: str, *args: Any, **kwargs: Any) -> Future[Any]:
        """Call one of the actor's methods in its own turn, as a proxy would, without building
        a proxy (pykka introspects the whole actor for one, about 0.7 ms). The future holds
        the method's return value or exception.
        """
        return self.ask(ProxyCall(attr_path=(method,), args=args, kwargs=kwargs), block=False)
