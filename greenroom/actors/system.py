"""`ActorSystem`: owns the actors of one node, their dispatchers, the clock and the io loop.

Every actor has a path: its parent's path plus its name (`/runtime/worker`); top-level actors are
children of the system itself. `shutdown()` stops the top-level actors, each of which stops its
children first, and returns only when every actor has stopped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Self

import pykka

from greenroom.actors.actor import Actor, SpawnContext, spawn_context
from greenroom.actors.clock import Clock, SystemClock
from greenroom.actors.compat import adapt, is_greenroom_actor
from greenroom.actors.dispatch import Dispatcher, PooledDispatcher, ThreadDispatcher
from greenroom.actors.envelope import Envelope
from greenroom.actors.errors import ActorKilled, ActorStartError
from greenroom.actors.events import EventStream
from greenroom.actors.ioloop import IoLoop
from greenroom.actors.loop_dispatch import LoopDispatcher
from greenroom.actors.mailbox import OVERFLOW_POLICIES
from greenroom.actors.messages import ActorFailed, Terminated
from greenroom.actors.ref import ActorRef
from greenroom.actors.signals import ChildTerminated

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["ActorSystem"]

logger = logging.getLogger("greenroom.actors")

DISPATCHERS = ("pooled", "thread", "loop")


class ActorSystem:
    """A tree of actors with a shared clock, worker pool, io loop and event streams."""

    def __init__(
        self, name: str = "greenroom", clock: Clock | None = None, pool_size: int | None = None
    ) -> None:
        self.name = name
        self._owns_clock = clock is None
        self.clock: Clock = SystemClock() if clock is None else clock
        self.pool_size = pool_size if pool_size is not None else max(2, os.cpu_count() or 2)
        self.io = IoLoop(name)
        pool = PooledDispatcher(self.pool_size, name=name)
        self._loop_dispatcher = LoopDispatcher(self.io, pool)
        self._dispatchers: dict[str, Dispatcher] = {
            "pooled": pool,
            "thread": ThreadDispatcher(),
            "loop": self._loop_dispatcher,
        }
        self.dead_letters = EventStream("dead_letters")
        self.event_stream = EventStream("event_stream")
        self._lock = threading.RLock()
        self._all_stopped = threading.Condition(self._lock)
        self._actors: dict[str, ActorRef[Any] | None] = {}
        self._top: dict[str, ActorRef[Any]] = {}
        self._watchers: dict[pykka.ActorRef[Any], set[pykka.ActorRef[Any]]] = {}
        self._watching: dict[pykka.ActorRef[Any], set[pykka.ActorRef[Any]]] = {}
        self._names = itertools.count(1)
        self._closing = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<ActorSystem {self.name!r} actors={len(self._actors)}>"

    # Spawning and looking up ----------------------------------------------------------------

    def spawn(
        self,
        actor_cls: type[pykka.Actor],
        *args: Any,
        name: str | None = None,
        dispatcher: str = "pooled",
        mailbox_size: int | None = None,
        overflow: str = "drop_new",
        **kwargs: Any,
    ) -> ActorRef[Any]:
        """Start a top-level actor and return its ref once its `on_start` has run.

        `actor_cls` is a greenroom `Actor` or a plain `pykka.ThreadingActor` subclass (always on
        the "thread" dispatcher). Raises `ActorStartError` if `on_start` fails, `ValueError`
        for a bad argument or a name already taken.
        """
        return self._spawn(
            None, actor_cls, args, kwargs, name=name, dispatcher=dispatcher,
            mailbox_size=mailbox_size, overflow=overflow, shutdown=5.0,
        )

    def _spawn(
        self,
        parent: Actor | None,
        actor_cls: type[pykka.Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        name: str | None,
        dispatcher: str,
        mailbox_size: int | None,
        overflow: str,
        shutdown: float,
    ) -> ActorRef[Any]:
        if not is_greenroom_actor(actor_cls):
            actor_cls = adapt(actor_cls)
            dispatcher = "thread"
        _check_spawn_args(name, dispatcher, mailbox_size, overflow)
        name = name if name is not None else f"{actor_cls.__name__}-{next(self._names)}"
        path = f"{parent.path if parent is not None else ''}/{name}"
        with self._lock:
            if self._closing:
                msg = f"actor system {self.name!r} is shut down; cannot spawn {path}"
                raise RuntimeError(msg)
            if path in self._actors:
                msg = f"name: an actor already lives at {path}"
                raise ValueError(msg)
            self._actors[path] = None
        disp = self._dispatchers[dispatcher]
        mailbox = disp.mailbox(mailbox_size, overflow)  # type: ignore[arg-type]
        ctx = SpawnContext(self, parent, name, path, disp, mailbox, shutdown)
        previous = spawn_context(ctx)
        try:
            actor: Actor = actor_cls(*args, **kwargs)  # type: ignore[assignment]
        except BaseException:
            with self._lock:
                del self._actors[path]
            raise
        finally:
            spawn_context(previous)
        ref = actor._gr_ref
        with self._lock:
            self._actors[path] = ref
            if parent is None:
                self._top[path] = ref
        if parent is not None:
            parent._gr_add_child(ref)
        try:
            actor._start_actor_loop()
        except ActorStartError:
            if parent is not None:
                parent._gr_remove_child(ref)
            raise
        return ref

    def lookup(self, path: str) -> ActorRef[Any] | None:
        """The live actor at `path`, or None."""
        with self._lock:
            return self._actors.get(path)

    def actor_count(self) -> int:
        """How many actors are alive (or still stopping)."""
        with self._lock:
            return sum(1 for ref in self._actors.values() if ref is not None)

    # Death watch ------------------------------------------------------------------------------

    def _watch(self, watcher: pykka.ActorRef[Any], target: pykka.ActorRef[Any]) -> None:
        if not isinstance(target, ActorRef):
            msg = f"can only watch actors of an ActorSystem, not {target!r}"
            raise TypeError(msg)
        with self._lock:
            if getattr(target, "_gr_terminated", False):
                reason = target._gr_reason  # type: ignore[attr-defined]
            else:
                self._watchers.setdefault(target, set()).add(watcher)
                self._watching.setdefault(watcher, set()).add(target)
                return
        watcher.tell(Terminated(target, reason))

    def _unwatch(self, watcher: pykka.ActorRef[Any], target: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._watchers.get(target, set()).discard(watcher)
            self._watching.get(watcher, set()).discard(target)

    def _terminated(self, actor: Actor, reason: BaseException | None, *, notify: bool) -> None:
        """Bookkeeping once an actor is dead: unregister, then tell its parent and watchers."""
        ref = actor._gr_ref
        with self._lock:
            if self._actors.get(actor.path) is ref:
                del self._actors[actor.path]
            self._top.pop(actor.path, None)
            self._all_stopped.notify_all()
        watchers = self._mark_dead(ref, reason)
        if not notify:
            return
        if reason is not None:
            self.event_stream.publish(ActorFailed(ref, actor.path, reason))
        parent = actor._gr_parent
        if parent is not None:
            notice = ChildTerminated(ref, reason, tuple(actor._gr_orphans))
            if not parent.actor_inbox.offer(Envelope(notice)):
                parent._gr_refuse_orphans(notice)
        for watcher in watchers:
            watcher.tell(Terminated(ref, reason))

    def _mark_dead(
        self, ref: pykka.ActorRef[Any], reason: BaseException | None
    ) -> set[pykka.ActorRef[Any]]:
        """Record that `ref` is dead (late watchers are told at once); returns its watchers."""
        with self._lock:
            ref._gr_terminated = True  # type: ignore[attr-defined]
            ref._gr_reason = reason  # type: ignore[attr-defined]
            watchers = self._watchers.pop(ref, set())
            for target in self._watching.pop(ref, set()):
                self._watchers.get(target, set()).discard(ref)
        return watchers

    def notify_terminated(self, ref: pykka.ActorRef[Any], reason: BaseException | None) -> None:
        """Tell the watchers of a ref that is not an actor (a stable child handle) it is dead."""
        for watcher in self._mark_dead(ref, reason):
            watcher.tell(Terminated(ref, reason))

    # Stopping ---------------------------------------------------------------------------------

    def stop(self, ref: pykka.ActorRef[Any], timeout: float = 10.0) -> bool:
        """Stop an actor and wait for it (and its children); kill it after `timeout` seconds.

        Returns False if it had already stopped.
        """
        return self._stop_and_wait(ref, timeout)

    def _stop_and_wait(self, ref: pykka.ActorRef[Any], timeout: float | None = None) -> bool:
        actor = ref._actor_weakref()
        if timeout is None:
            timeout = actor._gr_shutdown if isinstance(actor, Actor) else 5.0
        stopping = ref.stop(block=False)
        try:
            was_alive = bool(stopping.get(timeout=timeout))
        except pykka.Timeout:
            if isinstance(actor, Actor):
                logger.error("%s did not stop within %.1f s: killed", actor.path, timeout)
                actor._gr_kill(ActorKilled(f"{actor.path} did not stop within {timeout} s"))
            return True
        if isinstance(actor, Actor):  # a stop that raced with a failure: wait for the path
            with self._lock:
                self._all_stopped.wait_for(
                    lambda: self._actors.get(actor.path) is not ref, timeout
                )
        return was_alive

    def shutdown(self, timeout: float = 10.0) -> list[str]:
        """Stop every actor, children before parents, then the system's threads.

        Returns the paths of actors that had to be killed because they did not stop in time
        (empty after a clean shutdown). Calling it again does nothing.
        """
        with self._lock:
            if self._closing:
                return []
            self._closing = True
            top = list(self._top.values())
        deadline = time.monotonic() + timeout  # real time: a manual clock must not stall this
        self._loop_dispatcher.hand_over_if_on_loop()  # the wait below runs no loop turns
        for ref in reversed(top):
            ref.stop(block=False)
        with self._lock:
            self._all_stopped.wait_for(
                lambda: not any(self._actors.values()), max(0.0, deadline - time.monotonic())
            )
            leftovers = [path for path, ref in self._actors.items() if ref is not None]
        killed: list[str] = []
        for path in leftovers:  # oldest first: killing a parent takes its children along
            ref = self.lookup(path)
            actor = ref._actor_weakref() if ref is not None else None
            if isinstance(actor, Actor):
                killed.append(path)
                actor._gr_kill(ActorKilled(f"{path} did not stop at shutdown"))
        for dispatcher in self._dispatchers.values():
            dispatcher.shutdown()
        self.io.close()
        if self._owns_clock and isinstance(self.clock, SystemClock):
            self.clock.close()
        self._closed = True
        return killed

    # Context managers -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.shutdown)


def _check_spawn_args(
    name: str | None, dispatcher: str, mailbox_size: int | None, overflow: str
) -> None:
    if name is not None and (not name or "/" in name):
        msg = f"name: must be non-empty and contain no '/', got {name!r}"
        raise ValueError(msg)
    if dispatcher not in DISPATCHERS:
        msg = f"dispatcher: must be one of {DISPATCHERS}, got {dispatcher!r}"
        raise ValueError(msg)
    if mailbox_size is not None and (not isinstance(mailbox_size, int) or mailbox_size < 1):
        msg = f"mailbox_size: must be a positive int or None, got {mailbox_size!r}"
        raise ValueError(msg)
    if overflow not in OVERFLOW_POLICIES:
        msg = f"overflow: must be one of {OVERFLOW_POLICIES}, got {overflow!r}"
        raise ValueError(msg)
