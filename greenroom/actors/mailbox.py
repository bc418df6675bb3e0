"""Mailboxes: a system lane ahead of a (possibly bounded) user lane; never blocks a sender.

A message the mailbox cannot take (the actor stopped, or the user lane is full) is refused:
a `tell` becomes a `DeadLetter`, an `ask` fails at once (`ActorDeadError` or `MailboxFull`).
`ThreadMailbox` wakes a dedicated thread per message; `PooledMailbox` schedules its actor on a
worker pool when it goes from idle to having work.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pykka
from pykka.messages import _ActorStop

from greenroom.actors.errors import MailboxFull
from greenroom.actors.messages import DeadLetter
from greenroom.actors.signals import SYSTEM_TYPES, SystemMessage

if TYPE_CHECKING:
    from collections.abc import Callable

    from pykka._envelope import Envelope

__all__ = ["Mailbox", "Overflow", "PooledMailbox", "RunQueue", "ThreadMailbox"]

Overflow = Literal["drop_new", "drop_oldest", "fail"]
OVERFLOW_POLICIES: tuple[Overflow, ...] = ("drop_new", "drop_oldest", "fail")

_OPEN, _TERMINATING, _CLOSED = 0, 1, 2


class RunQueue(Protocol):
    """Where a `PooledMailbox` puts its actor when work arrives for it while it was idle.

    A pool's run queue (a `queue.SimpleQueue`) or the loop dispatcher, which schedules the turn
    on the io loop instead.
    """

    def put(self, item: Any, /) -> None:
        """Schedule one turn of the actor `item`."""
        ...


def refuse(
    envelope: Envelope[Any],
    recipient: pykka.ActorRef[Any] | None,
    reason: str,
    error: type[Exception],
    publish: Callable[[DeadLetter], None] | None,
) -> None:
    """Answer an undeliverable envelope: an ask fails with `error`, a tell becomes a dead letter.

    An ask dropped by a full mailbox is also dead-lettered (someone may want to see it); an ask
    to a stopped actor is not (its sender already knows).
    """
    if envelope.reply_to is not None:
        exc = error(f"{recipient}: {reason}")
        envelope.reply_to.set_exception((error, exc, None))
        if error is pykka.ActorDeadError:
            return
    if publish is not None and not isinstance(envelope.message, SYSTEM_TYPES):
        publish(DeadLetter(envelope.message, recipient, reason))


def _drain(lane: deque[Envelope[Any]] | None) -> list[Envelope[Any]]:
    """Empty a lane with popleft, so an envelope popped concurrently is taken exactly once."""
    taken: list[Envelope[Any]] = []
    while lane:
        try:
            taken.append(lane.popleft())
        except IndexError:
            break
    return taken


def is_system(message: object) -> bool:
    """Whether a message travels in the system lane."""
    return isinstance(message, SYSTEM_TYPES)


class Mailbox:
    """The shared logic of both mailbox kinds: lanes, bounds, overflow, close and refusal."""

    __slots__ = ("_inflight", "_lock", "_owner", "_publish", "_recipient", "_state", "_system",
                 "_user", "capacity", "overflow")

    def __init__(self, capacity: int | None = None, overflow: Overflow = "drop_new") -> None:
        self.capacity = capacity
        self.overflow: Overflow = overflow
        self._user: deque[Envelope[Any]] | None = None
        self._system: deque[Envelope[Any]] | None = None
        self._inflight: deque[Envelope[Any]] | None = None  # taken for a turn, not yet handled
        self._lock = threading.Lock()
        self._state = _OPEN
        self._recipient: pykka.ActorRef[Any] | None = None
        self._publish: Callable[[DeadLetter], None] | None = None
        self._owner: Any = None

    def bind(
        self, owner: Any, recipient: pykka.ActorRef[Any], publish: Callable[[DeadLetter], None]
    ) -> None:
        """Attach the owning actor, its ref (named in dead letters) and the dead-letter sink."""
        self._owner = owner
        self._recipient = recipient
        self._publish = publish

    def put(self, envelope: Envelope[Any], /) -> None:
        """Enqueue, or refuse at once; raises `MailboxFull` only for a `tell` under `fail`."""
        if isinstance(envelope.message, SYSTEM_TYPES):
            self._put_system(envelope, hand_back=False)
        else:
            self._put_user(envelope, hand_back=False)

    def offer(self, envelope: Envelope[Any]) -> bool:
        """Like `put`, but hand the envelope back (False) instead of refusing it if stopped."""
        if is_system(envelope.message):
            return self._put_system(envelope, hand_back=True)
        return self._put_user(envelope, hand_back=True)

    def _put_system(self, envelope: Envelope[Any], *, hand_back: bool) -> bool:
        with self._lock:
            if self._state == _CLOSED:
                wake = None
            else:
                if self._system is None:
                    self._system = deque()
                self._system.append(envelope)
                wake = self._mark()
        if wake is None:
            if hand_back:
                return False
            self._refuse_dead(envelope)
        elif wake:
            self._wake()
        return True

    def _put_user(self, envelope: Envelope[Any], *, hand_back: bool) -> bool:
        # Hot path: explicit acquire/release costs half of a `with` block on CPython 3.11.
        evicted: Envelope[Any] | None = None
        lock = self._lock
        lock.acquire()
        try:
            user = self._user
            if self._state != _OPEN:
                outcome = "dead"
            elif user is not None and self.capacity is not None and len(user) >= self.capacity:
                outcome = "full"
                if self.overflow == "drop_oldest":
                    evicted = user.popleft()
                    user.append(envelope)
            else:
                if user is None:
                    user = self._user = deque()
                user.append(envelope)
                outcome = "wake" if self._mark() else "queued"
        finally:
            lock.release()
        if outcome == "wake":
            self._wake()
        elif outcome == "dead":
            if hand_back:
                return False
            self._refuse_dead(envelope)
        elif outcome == "full":
            self._refuse_full(evicted if evicted is not None else envelope)
        return True

    def take(self) -> Envelope[Any] | None:
        """Next envelope, system lane first, or None (and the mailbox goes idle)."""
        lock = self._lock
        lock.acquire()
        try:
            if self._system:
                return self._system.popleft()
            if self._user and self._state == _OPEN:
                return self._user.popleft()
            self._idle()
            return None
        finally:
            lock.release()

    def empty(self) -> bool:
        """Whether no message waits."""
        return not self._system and not self._user and not self._inflight

    def __len__(self) -> int:
        return len(self._system or ()) + len(self._inflight or ()) + len(self._user or ())

    @property
    def closed(self) -> bool:
        """True once the actor has stopped and the mailbox takes nothing more."""
        return self._state == _CLOSED

    def close_user(self) -> list[Envelope[Any]]:
        """Refuse user messages from now on (the actor is terminating); returns those queued."""
        with self._lock:
            if self._state != _OPEN:
                return []
            self._state = _TERMINATING
            pending = _drain(self._inflight) + _drain(self._user)
            self._user = None
        return pending

    def close(self) -> list[Envelope[Any]] | None:
        """Refuse everything from now on; returns what was queued, or None if already closed."""
        with self._lock:
            if self._state == _CLOSED:
                return None
            self._state = _CLOSED
            pending = _drain(self._system) + _drain(self._inflight) + _drain(self._user)
            self._system = self._user = None
        self._wake()
        self._owner = None
        return pending

    def refuse_all(self, envelopes: list[Envelope[Any]], reason: str) -> None:
        """Answer envelopes the actor will never handle (at stop): stop requests succeed."""
        for envelope in envelopes:
            if isinstance(envelope.message, _ActorStop) and envelope.reply_to is not None:
                envelope.reply_to.set(None)
            elif not isinstance(envelope.message, SystemMessage):
                self._refuse(envelope, reason, pykka.ActorDeadError)

    def _refuse_dead(self, envelope: Envelope[Any]) -> None:
        self._refuse(envelope, "recipient stopped", pykka.ActorDeadError)

    def _refuse_full(self, envelope: Envelope[Any]) -> None:
        if self.overflow == "fail" and envelope.reply_to is None:
            msg = f"mailbox of {self._recipient} is full ({self.capacity} messages)"
            raise MailboxFull(msg)
        self._refuse(envelope, f"mailbox full ({self.overflow})", MailboxFull)

    def _refuse(self, envelope: Envelope[Any], reason: str, error: type[Exception]) -> None:
        refuse(envelope, self._recipient, reason, error, self._publish)

    def _mark(self) -> bool:
        """Called under the lock after an append; True when the consumer must be woken."""
        raise NotImplementedError

    def _idle(self) -> None:
        """Called under the lock when `take` finds nothing."""

    def _wake(self) -> None:
        raise NotImplementedError


class ThreadMailbox(Mailbox):
    """Mailbox of a thread-dispatched actor: one wake-up token per message, blocking `get`."""

    __slots__ = ("_tokens",)

    def __init__(self, capacity: int | None = None, overflow: Overflow = "drop_new") -> None:
        super().__init__(capacity, overflow)
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()

    def get(self) -> Envelope[Any] | None:
        """Block until something happens; returns the next envelope or None (woken to check)."""
        self._tokens.get()
        return self.take()

    def _mark(self) -> bool:
        return True

    def _wake(self) -> None:
        self._tokens.put(None)


class PooledMailbox(Mailbox):
    """Mailbox of a pooled actor: schedules the actor once when work arrives for an idle one."""

    __slots__ = ("_runq", "_scheduled")

    def __init__(
        self,
        runq: RunQueue,
        capacity: int | None = None,
        overflow: Overflow = "drop_new",
    ) -> None:
        super().__init__(capacity, overflow)
        self._runq = runq
        self._scheduled = True  # busy until the actor's on_start has run

    def get(self) -> Envelope[Any] | None:
        """Non-blocking: the next envelope or None."""
        return self.take()

    def fill(self, limit: int) -> bool:
        """Start a turn: move up to `limit` user envelopes, under one lock, to the in-flight
        batch (still part of the mailbox, so a failing actor sees them as unhandled).

        Returns False, and the mailbox goes idle, when there is nothing to do.
        """
        lock = self._lock
        lock.acquire()
        try:
            user = self._user
            if user and self._state == _OPEN:
                inflight = self._inflight
                if inflight is None:
                    inflight = self._inflight = deque()
                popleft = user.popleft
                for _ in range(min(limit, len(user))):
                    inflight.append(popleft())
            if self._system or self._inflight:
                return True
            self._scheduled = False
            return False
        finally:
            lock.release()

    def next_inflight(self) -> Envelope[Any] | None:
        """The next envelope of the current turn (only the turn's own thread pops it)."""
        inflight = self._inflight
        if not inflight:
            return None
        try:
            return inflight.popleft()
        except IndexError:  # drained by a kill from another thread
            return None

    def take_system(self) -> Envelope[Any] | None:
        """The next system-lane envelope, if one is waiting (stop jumps a taken batch too)."""
        if not self._system:  # unlocked peek: an append is atomic, and a miss is caught later
            return None
        with self._lock:
            return self._system.popleft() if self._system else None

    def release(self) -> bool:
        """End a turn: True (still scheduled) if work remains, else go idle."""
        lock = self._lock
        lock.acquire()
        try:
            if self._system or self._inflight or (self._user and self._state == _OPEN):
                return True
            self._scheduled = False
            return False
        finally:
            lock.release()

    def _mark(self) -> bool:
        if self._scheduled:
            return False
        self._scheduled = True
        return True

    def _idle(self) -> None:
        self._scheduled = False

    def _wake(self) -> None:
        owner = self._owner
        if owner is not None and self._state != _CLOSED:
            self._runq.put(owner)
