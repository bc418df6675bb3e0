"""Dispatchers: what runs an actor's message loop.

- `ThreadDispatcher` ("thread"): one daemon thread per actor, like `pykka.ThreadingActor`. For
  actors whose handlers block (file I/O, a blocking client, CPU work).
- `PooledDispatcher` ("pooled", the default): actors multiplexed on a few worker threads, one
  message at a time per actor, FIFO per sender. An actor with work is queued once on the pool's
  run queue and handles at most `throughput` messages per turn before going to the back of the
  queue, so a busy actor cannot starve the others. Handlers on the pool must not block: put
  blocking work on a "thread" actor or on the io loop (`pipe_to`). If a pooled handler does block
  on a future anyway, the pool lends a spare worker for the duration so that the others progress.
- `LoopDispatcher` ("loop", in `loop_dispatch`): the pooled mailbox and the same `run_turn`, but
  the turns run on the system's io loop thread, for short handlers that only talk to the loop.

All start an actor synchronously, as OTP's `start_link` does: `spawn` returns once `on_start` has
run, and raises if it failed. A pooled or loop actor's `on_start` runs in the spawning thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from greenroom.actors.actor import DEAD
from greenroom.actors.envelope import current_actor_ref, set_current_actor_ref
from greenroom.actors.errors import ActorStartError
from greenroom.actors.future import set_blocking_hook
from greenroom.actors.mailbox import Mailbox, Overflow, PooledMailbox, ThreadMailbox

if TYPE_CHECKING:
    from greenroom.actors.actor import Actor

__all__ = ["Dispatcher", "PooledDispatcher", "ThreadDispatcher", "run_turn", "start_in_caller"]

logger = logging.getLogger("greenroom.actors")


class Dispatcher(Protocol):
    """Makes mailboxes for its actors and runs their message loops."""

    def mailbox(self, capacity: int | None, overflow: Overflow) -> Mailbox:
        """A fresh mailbox for an actor of this dispatcher."""
        ...

    def start(self, actor: Actor) -> None:
        """Run `on_start`, then begin handling messages; raise `ActorStartError` if it failed."""
        ...

    def shutdown(self) -> None:
        """Release the dispatcher's threads once its actors are gone."""
        ...


def _start_error(actor: Actor, exc: BaseException) -> ActorStartError:
    error = ActorStartError(f"{actor.path}: on_start failed: {exc!r}")
    error.__cause__ = exc
    return error


def start_in_caller(actor: Actor) -> None:
    """Run the actor's `on_start` in the calling thread, as that actor; raise if it failed.

    The pooled and loop dispatchers start actors this way, so `spawn` returns with the actor up.
    """
    caller = current_actor_ref()
    set_current_actor_ref(actor._gr_ref)
    try:
        error = actor._gr_run_on_start()
    finally:
        set_current_actor_ref(caller)
    if error is not None:
        raise _start_error(actor, error)


class ThreadDispatcher:
    """One thread per actor."""

    def mailbox(self, capacity: int | None, overflow: Overflow) -> Mailbox:
        """A mailbox with a blocking `get`."""
        return ThreadMailbox(capacity, overflow)

    def start(self, actor: Actor) -> None:
        """Start the actor's thread and wait for its `on_start` to finish."""
        started = threading.Event()
        outcome: list[BaseException | None] = []

        def main() -> None:
            set_current_actor_ref(actor._gr_ref)
            error = actor._gr_run_on_start()
            outcome.append(error)
            started.set()
            if error is None:
                self._loop(actor)

        thread = threading.Thread(target=main, name=f"greenroom{actor.path}", daemon=True)
        thread.start()
        started.wait()
        if outcome[0] is not None:
            raise _start_error(actor, outcome[0])

    @staticmethod
    def _loop(actor: Actor) -> None:
        inbox = actor.actor_inbox
        assert isinstance(inbox, ThreadMailbox)
        while actor._gr_state != DEAD:
            envelope = inbox.get()
            if envelope is not None:
                actor._gr_handle(envelope)

    def shutdown(self) -> None:
        """Thread actors own their threads."""


class PooledDispatcher:
    """Many actors on `size` worker threads, fair batches of `throughput` messages."""

    def __init__(self, size: int, throughput: int = 64, name: str = "greenroom") -> None:
        if size < 1:
            msg = f"pool_size must be >= 1, got {size}"
            raise ValueError(msg)
        self.size = size
        self.throughput = throughput
        self._name = name
        self._runq: queue.SimpleQueue[Actor | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._live = 0
        self._wanted = size
        self._started = False
        self._closed = False

    def mailbox(self, capacity: int | None, overflow: Overflow) -> Mailbox:
        """A mailbox that puts its actor on this pool's run queue when work arrives."""
        return PooledMailbox(self._runq, capacity, overflow)

    def start(self, actor: Actor) -> None:
        """Run `on_start` here, then release the actor to the pool."""
        if not self._started:
            self._start_workers()
        start_in_caller(actor)
        inbox = actor.actor_inbox
        assert isinstance(inbox, PooledMailbox)
        if inbox.release():
            self._runq.put(actor)

    def schedule(self, actor: Actor) -> None:
        """Queue an actor that its mailbox has marked scheduled, starting the workers if needed.

        The loop dispatcher's fallback: its actors' turns come here once its loop is gone.
        """
        if not self._started and not self._closed:
            self._start_workers()
        self._runq.put(actor)

    def shutdown(self) -> None:
        """Stop the workers (after the actors are gone)."""
        with self._lock:
            self._closed = True
            live = self._live
        for _ in range(live):
            self._runq.put(None)

    def _start_workers(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            for _ in range(self.size):
                self._add_worker()

    def _add_worker(self) -> None:
        self._live += 1
        threading.Thread(
            target=self._work, name=f"{self._name}-pool-{self._live}", daemon=True
        ).start()

    def _blocking(self) -> Callable[[], None]:
        """A worker is about to block: lend a spare worker until it is back."""
        with self._lock:
            self._wanted += 1
            if self._live < self._wanted and not self._closed:
                self._add_worker()

        def back() -> None:
            with self._lock:
                self._wanted -= 1

        return back

    def _retire(self) -> bool:
        if self._live <= self._wanted:  # unlocked read: the common case needs no pool lock
            return False
        with self._lock:
            if self._live > self._wanted:
                self._live -= 1
                return True
            return False

    def _work(self) -> None:
        set_blocking_hook(self._blocking)
        runq = self._runq
        throughput = self.throughput
        while True:
            actor = runq.get()
            if actor is None:
                return
            set_current_actor_ref(actor._gr_ref)
            try:
                if run_turn(actor, throughput):
                    runq.put(actor)
            except BaseException:
                logger.exception("pool worker: unexpected error running %s", actor.path)
            if self._retire():
                return


def run_turn(actor: Actor, throughput: int) -> bool:
    """One turn of a scheduled actor with a `PooledMailbox`, on whatever thread runs it.

    Handles up to `throughput` user messages, each preceded by whatever waits in the system
    lane (a stop jumps the rest of the batch). Returns True when the actor still has work and
    must be queued again by the caller, False when its mailbox went idle or it died. Shared by
    the pooled and the loop dispatchers so that both run an actor's messages the same way.
    """
    inbox = actor.actor_inbox
    assert isinstance(inbox, PooledMailbox)
    if not inbox.fill(throughput):
        return False
    while True:
        urgent = inbox.take_system()
        while urgent is not None:
            actor._gr_handle(urgent)
            urgent = inbox.take_system()
        if actor._gr_state == DEAD:
            return False
        envelope = inbox.next_inflight()
        if envelope is None:
            break
        actor._gr_handle(envelope)
    return inbox.release()
