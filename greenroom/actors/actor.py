"""`Actor`: pykka's actor with a place in a tree, death watch, timers, pipe_to and no silent deaths.

An actor is created only through `ActorSystem.spawn` or `Actor.spawn` (for a child). Its state
machine is RUNNING -> TERMINATING -> DEAD. Terminating stops the children (youngest first, each
given its shutdown time before being killed), runs `on_stop`, closes the mailbox (what is left is
refused: tells become dead letters, asks fail with `ActorDeadError`), then tells the parent and
the watchers. A failure while handling a `tell` runs `on_failure` and then the same path, with
the exception as the reason; an `ask` that raises only fails that ask, as in pykka.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, ClassVar, Self

import pykka
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from greenroom.actors.errors import ActorKilled
from greenroom.actors.future import Future
from greenroom.actors.mailbox import refuse
from greenroom.actors.messages import Failure
from greenroom.actors.ref import ActorRef, StopFlag
from greenroom.actors.reply import Reply
from greenroom.actors.signals import PYKKA_TYPES, SYSTEM_TYPES, ChildTerminated, TimerFired
from greenroom.actors.timers import STALE, TimerScheduler

if TYPE_CHECKING:
    from pykka._types import OptExcInfo

    from greenroom.actors.dispatch import Dispatcher
    from greenroom.actors.mailbox import Mailbox
    from greenroom.actors.system import ActorSystem

__all__ = ["Actor"]

logger = logging.getLogger("greenroom.actors")

RUNNING, TERMINATING, DEAD = 0, 1, 2


class SpawnContext:
    """What `spawn` hands to the actor being constructed (through a thread-local)."""

    __slots__ = ("dispatcher", "mailbox", "name", "parent", "path", "shutdown", "system")

    def __init__(
        self,
        system: ActorSystem,
        parent: Actor | None,
        name: str,
        path: str,
        dispatcher: Dispatcher,
        mailbox: Mailbox,
        shutdown: float,
    ) -> None:
        self.system = system
        self.parent = parent
        self.name = name
        self.path = path
        self.dispatcher = dispatcher
        self.mailbox = mailbox
        self.shutdown = shutdown


class _Spawning(threading.local):
    ctx: SpawnContext | None = None


_spawning = _Spawning()


def spawn_context(ctx: SpawnContext | None) -> SpawnContext | None:
    """Install `ctx` for the next actor constructed in this thread; returns the previous one."""
    previous = _spawning.ctx
    _spawning.ctx = ctx
    return previous


class Actor(pykka.Actor):
    """Base class of greenroom actors; write `on_receive` and hooks exactly as for pykka.

    Extras over pykka: `spawn` (children), `watch`/`unwatch` (death watch), `timers` (keyed
    timers on the system clock), `pipe_to` (run a coroutine on the io loop and get its result as
    a message), and failures that reach the parent and the watchers instead of vanishing.
    """

    use_daemon_thread: ClassVar[bool] = True

    actor_inbox: Mailbox  # type: ignore[assignment]

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        ctx = _spawning.ctx
        if ctx is None:
            msg = (f"{type(self).__name__} must be created with ActorSystem.spawn() "
                   "or Actor.spawn(), not instantiated directly")
            raise TypeError(msg)
        _spawning.ctx = None
        self.actor_inbox = ctx.mailbox
        self.actor_stopped = StopFlag()
        self._gr_system = ctx.system
        self._gr_parent = ctx.parent
        self._gr_name = ctx.name
        self._gr_path = ctx.path
        self._gr_dispatcher = ctx.dispatcher
        self._gr_shutdown = ctx.shutdown
        self._gr_state = RUNNING
        self._gr_children: dict[str, ActorRef[Any]] | None = None
        self._gr_timers: TimerScheduler | None = None
        self._gr_pipes: set[concurrent.futures.Future[Any]] | None = None
        self._gr_orphans: list[Envelope[Any]] = []
        self._gr_reply_to: pykka.Future[Any] | None = None
        self._gr_replies: set[Reply] | None = None
        self._gr_ref: ActorRef[Any] = ActorRef(self)
        self._actor_ref = self._gr_ref
        ctx.mailbox.bind(self, self._gr_ref, ctx.system.dead_letters.publish)

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef[Self]:
        """Not available: greenroom actors live in an `ActorSystem`; use `system.spawn(cls)`."""
        del args, kwargs
        msg = f"use ActorSystem.spawn({cls.__name__}, ...) instead of {cls.__name__}.start()"
        raise TypeError(msg)

    @property
    def actor_ref(self) -> ActorRef[Self]:
        """This actor's ref."""
        ref: ActorRef[Self] = self._gr_ref
        return ref

    @property
    def actor_urn(self) -> str:
        """The actor's unique URN (its ref's)."""
        return self._gr_ref.actor_urn

    @actor_urn.setter
    def actor_urn(self, value: str) -> None:
        self._gr_ref.actor_urn = value

    @property
    def system(self) -> ActorSystem:
        """The actor system this actor lives in."""
        return self._gr_system

    @property
    def path(self) -> str:
        """The parent's path plus this actor's name, e.g. `/runtime/worker`."""
        return self._gr_path

    @property
    def parent(self) -> ActorRef[Any] | None:
        """The parent's ref, or None for a top-level actor."""
        return None if self._gr_parent is None else self._gr_parent._gr_ref

    @property
    def children(self) -> list[ActorRef[Any]]:
        """Refs of the live children, oldest first."""
        return list((self._gr_children or {}).values())

    @property
    def timers(self) -> TimerScheduler:
        """Keyed timers on the system clock, all cancelled when the actor stops."""
        if self._gr_timers is None:
            self._gr_timers = TimerScheduler(self._gr_ref, self._gr_system.clock)
        return self._gr_timers

    # pykka's runtime seam -------------------------------------------------------------------

    @staticmethod
    def _create_actor_inbox() -> Mailbox:  # type: ignore[override]
        msg = "greenroom creates mailboxes in spawn()"
        raise NotImplementedError(msg)

    @staticmethod
    def _create_future() -> Future[Any]:
        return Future()

    def _start_actor_loop(self) -> None:
        self._gr_dispatcher.start(self)

    # Children, watch, pipe_to ------------------------------------------------------------------

    def spawn(
        self,
        actor_cls: type[pykka.Actor],
        *args: Any,
        name: str | None = None,
        dispatcher: str = "pooled",
        mailbox_size: int | None = None,
        overflow: str = "drop_new",
        shutdown: float = 5.0,
        **kwargs: Any,
    ) -> ActorRef[Any]:
        """Start a child of this actor; it is stopped before this actor stops."""
        return self._gr_system._spawn(
            self, actor_cls, args, kwargs, name=name, dispatcher=dispatcher,
            mailbox_size=mailbox_size, overflow=overflow, shutdown=shutdown,
        )

    def watch(self, ref: pykka.ActorRef[Any]) -> None:
        """Receive `Terminated(ref, reason)` when `ref` stops (at once if it already has)."""
        self._gr_system._watch(self._gr_ref, ref)

    def unwatch(self, ref: pykka.ActorRef[Any]) -> None:
        """Stop watching `ref`; no `Terminated` is sent for it afterwards."""
        self._gr_system._unwatch(self._gr_ref, ref)

    def pipe_to(
        self, awaitable: Awaitable[Any], to: pykka.ActorRef[Any] | None = None
    ) -> concurrent.futures.Future[Any]:
        """Run `awaitable` on the io loop; its result (or `Failure(exc)`) arrives as a message.

        The actor is not blocked meanwhile. Cancel through the returned future; a pipe back to
        this actor is cancelled when the actor stops.
        """
        target = self._gr_ref if to is None else to
        handle = self._gr_system.io.submit(awaitable)
        if target is self._gr_ref:
            if self._gr_pipes is None:
                self._gr_pipes = set()
            self._gr_pipes.add(handle)
        handle.add_done_callback(lambda done: self._gr_piped(done, target))
        return handle

    def defer_reply(self) -> Reply:
        """Answer the message being handled later, through the returned `Reply`.

        Call it from `on_receive`; the return value of `on_receive` is then not sent. If this
        actor stops or fails before answering, the asker gets `pykka.ActorDeadError`.
        """
        future, self._gr_reply_to = self._gr_reply_to, None
        if future is None:
            return Reply(None, _no_release)
        if self._gr_replies is None:
            self._gr_replies = set()
        reply = Reply(future, self._gr_replies.discard)
        self._gr_replies.add(reply)
        return reply

    def _gr_piped(self, done: concurrent.futures.Future[Any], target: pykka.ActorRef[Any]) -> None:
        if self._gr_pipes is not None:
            self._gr_pipes.discard(done)
        if done.cancelled():
            target.tell(Failure(asyncio.CancelledError()))
            return
        exc = done.exception()
        target.tell(Failure(exc) if exc is not None else done.result())

    def on_child_terminated(self, ref: pykka.ActorRef[Any], reason: BaseException | None) -> None:
        """Hook: a child stopped (reason None) or failed. Supervisors decide what to do here."""

    # Message handling, called by the dispatchers in the actor's own turn ----------------------

    def _gr_handle(self, envelope: Envelope[Any]) -> None:
        message = envelope.message
        if isinstance(message, SYSTEM_TYPES):
            self._gr_handle_system(envelope)
            return
        if self._gr_state != RUNNING:
            self.actor_inbox.refuse_all([envelope], "recipient stopped")
            return
        if type(message) is TimerFired:
            message = self.timers.accept(message)
            if message is STALE:
                return
        reply_to = self._gr_reply_to = envelope.reply_to
        try:
            if type(message) in PYKKA_TYPES:
                result = self._handle_receive(message)
            else:
                result = self.on_receive(message)
        except Exception:
            self._gr_receive_failed(reply_to, sys.exc_info())
        except BaseException:  # SystemExit & co: this actor fails, nobody else stops
            self._gr_fail_hard(sys.exc_info(), reply_to if self._gr_reply_to is reply_to else None)
        else:
            if reply_to is not None and self._gr_reply_to is reply_to:
                reply_to.set(result)
        finally:
            self._gr_reply_to = None

    def _gr_receive_failed(self, reply_to: pykka.Future[Any] | None, exc_info: OptExcInfo) -> None:
        """`on_receive` raised: the asker gets the error; a told message fails the actor."""
        if reply_to is None:
            self._gr_fail(exc_info)
        elif self._gr_reply_to is reply_to:
            reply_to.set_exception(exc_info)
        else:  # the reply was deferred, then the handler raised
            self._gr_owed(reply_to).fail(exc_info[1] or RuntimeError("on_receive failed"))

    def _gr_fail_hard(self, exc_info: OptExcInfo, reply_to: pykka.Future[Any] | None) -> None:
        self._gr_fail(exc_info)
        exc = exc_info[1]
        if reply_to is not None and exc is not None:
            dead = pykka.ActorDeadError(f"{self._gr_ref} failed with {exc!r}")
            dead.__cause__ = exc
            reply_to.set_exception((pykka.ActorDeadError, dead, exc.__traceback__))

    def _gr_handle_system(self, envelope: Envelope[Any]) -> None:
        message = envelope.message
        if isinstance(message, _ActorStop):
            self._gr_terminate(None)
            if envelope.reply_to is not None:
                envelope.reply_to.set(None)
        elif isinstance(message, ChildTerminated):
            self._gr_remove_child(message.ref)
            if self._gr_state != RUNNING:
                self._gr_refuse_orphans(message)
                return
            try:
                self._gr_child_terminated(message)
            except Exception:
                self._gr_fail(sys.exc_info())

    def _gr_child_terminated(self, notice: ChildTerminated) -> None:
        """Kernel hook for a child's death notice; supervisors override it to restart."""
        self._gr_refuse_orphans(notice)
        self.on_child_terminated(notice.ref, notice.reason)

    def _gr_refuse_orphans(self, notice: ChildTerminated) -> None:
        """Refuse the messages a failed child left unhandled."""
        for envelope in notice.pending:
            refuse(envelope, notice.ref, "recipient stopped", pykka.ActorDeadError,
                   self._gr_system.dead_letters.publish)

    def _gr_run_on_start(self) -> BaseException | None:
        try:
            self.on_start()
        except BaseException as exc:  # reported to spawn(), which raises it
            logger.error("%s failed to start", self._gr_path, exc_info=exc)
            self._gr_state = TERMINATING
            self.actor_stopped.set()
            self._gr_stop_children()
            self._gr_finalize(exc, notify=False)
            return exc
        return None

    def _gr_fail(self, exc_info: OptExcInfo) -> None:
        exc_type, exc, tb = exc_info
        logger.error("Unhandled exception in %s", self._gr_path, exc_info=exc_info)  # type: ignore[arg-type]
        try:
            self.on_failure(exc_type, exc, tb)
        except Exception:
            logger.exception("on_failure of %s raised", self._gr_path)
        self._gr_terminate(exc if exc is not None else RuntimeError("unknown failure"))

    def _gr_terminate(self, reason: BaseException | None) -> None:
        if self._gr_state != RUNNING:
            return
        self._gr_state = TERMINATING
        self.actor_stopped.set()
        unhandled = self.actor_inbox.close_user()
        if reason is not None and self._gr_parent is not None:
            self._gr_orphans = unhandled
        else:
            self.actor_inbox.refuse_all(unhandled, "recipient stopped")
        if self._gr_timers is not None:
            self._gr_timers.cancel_all()
        for pipe in list(self._gr_pipes or ()):
            pipe.cancel()
        self._gr_stop_children()
        if reason is None:
            try:
                self.on_stop()
            except Exception as exc:
                logger.exception("on_stop of %s raised", self._gr_path)
                reason = exc
        self._gr_finalize(reason)

    def _gr_stop_children(self) -> None:
        for child in reversed(self.children):
            self._gr_system._stop_and_wait(child)

    def _gr_kill(self, reason: BaseException) -> None:
        """Force the actor dead from another thread (it did not stop in time)."""
        self._gr_state = DEAD
        self.actor_stopped.set()
        if self._gr_timers is not None:
            self._gr_timers.cancel_all()
        for child in reversed(self.children):
            actor = child._actor_weakref()
            if isinstance(actor, Actor):
                actor._gr_kill(ActorKilled(f"parent {self._gr_path} was killed"))
        self._gr_finalize(reason)

    def _gr_finalize(self, reason: BaseException | None, *, notify: bool = True) -> None:
        pending = self.actor_inbox.close()
        if pending is None:
            return
        self._gr_state = DEAD
        self._gr_fail_replies(reason)
        try:
            self._gr_on_dead(reason)
        except Exception:
            logger.exception("cleanup of %s failed", self._gr_path)
        self._gr_system._terminated(self, reason, notify=notify)
        self.actor_inbox.refuse_all(pending, "recipient stopped")  # answers waiting stop()s last

    def _gr_owed(self, future: pykka.Future[Any]) -> Reply:
        for reply in self._gr_replies or ():
            if reply.answers(future):
                return reply
        return Reply(None, _no_release)

    def _gr_fail_replies(self, reason: BaseException | None) -> None:
        """Fail the deferred replies this actor still owes: it will never answer them."""
        for reply in list(self._gr_replies or ()):
            dead = pykka.ActorDeadError(f"{self._gr_ref} stopped before replying")
            dead.__cause__ = reason
            reply.fail(dead)

    def _gr_on_dead(self, reason: BaseException | None) -> None:
        """Kernel hook: the actor is dead and its mailbox closed (supervisors retire handles)."""

    def _gr_add_child(self, ref: ActorRef[Any]) -> None:
        if self._gr_children is None:
            self._gr_children = {}
        self._gr_children[ref.path] = ref

    def _gr_remove_child(self, ref: ActorRef[Any]) -> None:
        if self._gr_children is not None and self._gr_children.get(ref.path) is ref:
            del self._gr_children[ref.path]

    def __str__(self) -> str:
        return f"{type(self).__name__} ({self._gr_path})"


def _no_release(_reply: Reply) -> None:
    """A told message's Reply has nothing to release."""
