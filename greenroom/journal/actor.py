"""`JournalActor`: the one writer of a node's journal, with group commit.

Every process of a node appends through this actor, so N appends that arrive together cost one
write and one fsync. How: appends and checkpoints go into the actor's `JournalIntake`, a locked
list beside its mailbox, and only the first item after the actor last emptied it tells the actor
a private `_Flush`. When the `_Flush` is handled, the actor takes everything in the intake: the
appends go to the journal in one `append_many` call (a checkpoint in between splits the batch,
so it is applied after the appends sent before it), then every `done` future of the batch is
resolved (or failed with `JournalError`, the same for the whole batch). The next batch is tried
afresh: a failed write never stops the actor.

Why an intake rather than one message per append: the actor has a thread of its own (it blocks
in fsync), and a message per append would wake that thread per append, and with it hand the GIL
back and forth between the writers and the journal thread twice per append. With the intake the
journal thread wakes once per batch (about a sixth less CPU per journaled run, 50 processes,
`python -m bench.journal`). `Append` and `Checkpoint` told or asked straight to the actor's ref go
through the same intake.

`fsync` policy: `always` (the batch is durable before any `done` resolves), `batch` (`done`
resolves once written; a timer makes everything durable every `sync_interval` seconds, so a
crash may lose the last interval) or `never` (the OS decides). On stop, the intake is closed
(later appends fail with `JournalError`) and what it holds is written. When the actor fails,
what it holds is failed and the intake stays closed until a restarted actor opens it again. The
actor does not close the journal: its owner does, after stopping the actor.

From another actor, never block on a write: use `JournalClient`, whose futures resolve in the
journal actor's thread, and turn the outcome into a message to yourself. A `ProcessActor`
acknowledges an accepted event only once its `trigger_event` entry is durable::

    done = self.journal.append(JournalEntry(name, "trigger_event", {"event": event.to_dict()}))
    me = self.actor_ref
    done.add_done_callback(lambda f: me.tell(EventJournaled(event, f)))

    # in on_receive(EventJournaled(event, f)): if f.get() raises JournalError, refuse the event
    # (a webhook answers 503); otherwise queue it and resolve the sender's acknowledgement.

A coroutine (an aiohttp handler, `inject`) can simply `await client.append(...)`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args

from greenroom.actors import Actor, ActorRef, Future
from greenroom.journal.entry import JournalEntry
from greenroom.journal.file import FsyncPolicy
from greenroom.journal.provider import JournalError, JournalProvider

__all__ = [
    "Append",
    "Checkpoint",
    "GetJournalStats",
    "JournalActor",
    "JournalClient",
    "JournalIntake",
    "JournalStats",
]

logger = logging.getLogger("greenroom.journal")



@dataclass(frozen=True, slots=True)
class Append:
    """Write `entries` (in order); `done` resolves to None once written per the fsync policy."""

    entries: tuple[JournalEntry, ...]
    done: Future[None] | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Store a checkpoint of `process_id`, after every append sent before it."""

    process_id: str
    state: dict[str, Any]
    done: Future[None] | None = None


@dataclass(frozen=True, slots=True)
class GetJournalStats:
    """Ask for the actor's `JournalStats`."""


@dataclass(frozen=True, slots=True)
class JournalStats:
    """Counters since start: batches written, entries in them, syncs, failed batches."""

    batches: int
    entries: int
    syncs: int
    failed_batches: int


@dataclass(frozen=True, slots=True)
class _Flush:
    """Write the buffer (told to itself behind the appends of the batch)."""


@dataclass(frozen=True, slots=True)
class _SyncTick:
    """The `batch` policy's periodic sync."""


def _as_journal_error(exc: BaseException, what: str) -> JournalError:
    if isinstance(exc, JournalError):
        return exc
    error = JournalError(f"{what} failed: {exc!r}")
    error.__cause__ = exc
    return error


def _settle(done: Future[None], error: JournalError | None = None) -> None:
    """Resolve (or fail) `done`; a done-callback that raises is logged, not propagated."""
    try:
        if error is None:
            done.set(None)
        else:
            done.set_exception((JournalError, error, error.__traceback__))
    except Exception:
        logger.exception("a callback of a journal future raised")


def _fail(items: Sequence[Append | Checkpoint], error: JournalError) -> None:
    """Fail the futures of `items` not settled yet."""
    for item in items:
        if item.done is not None and not item.done.done():
            _settle(item.done, error)


class JournalIntake:
    """The appends and checkpoints handed to a journal actor and not taken yet, in order.

    Shared by the actor (every instance a supervisor restarts) and its clients. `offer` tells
    the actor `_Flush` only for the first item after the actor last took the lot.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Append | Checkpoint] = []
        self._told = False
        self._closed: str | None = None

    def offer(self, item: Append | Checkpoint, actor: ActorRef[Any]) -> None:
        """Queue `item` for `actor`; its `done` fails at once if the actor is not running."""
        with self._lock:
            closed = self._closed
            if closed is None:
                self._items.append(item)
                tell, self._told = not self._told, True
        if closed is not None:
            if item.done is not None:
                _settle(item.done, JournalError(f"{closed}; the entries were not written"))
            return
        if tell:
            actor.tell(_Flush())

    def take(self) -> list[Append | Checkpoint]:
        """Everything offered so far (the next offer tells the actor again)."""
        with self._lock:
            items, self._items = self._items, []
            self._told = False
        return items

    def open(self) -> None:
        """Accept offers again (a restarted actor)."""
        with self._lock:
            self._closed = None

    def close(self, reason: str) -> list[Append | Checkpoint]:
        """Refuse further offers (naming `reason`); returns what was not taken."""
        with self._lock:
            self._closed = reason
            items, self._items = self._items, []
            self._told = False
        return items


class JournalActor(Actor):
    """Serialises a node's journal writes and commits them in batches (group commit).

    `intake` is shared with the actor's `JournalClient`s (and with the instances a supervisor
    restarts); by default the actor makes its own, as `self.intake`.
    """

    def __init__(
        self,
        journal: JournalProvider,
        *,
        fsync: FsyncPolicy = "always",
        sync_interval: float = 0.05,
        intake: JournalIntake | None = None,
    ) -> None:
        super().__init__()
        if fsync not in get_args(FsyncPolicy):
            msg = f"fsync must be one of {get_args(FsyncPolicy)}, got {fsync!r}"
            raise ValueError(msg)
        if sync_interval <= 0:
            msg = f"sync_interval must be > 0, got {sync_interval}"
            raise ValueError(msg)
        self.journal = journal
        self.fsync = fsync
        self.sync_interval = sync_interval
        self.intake = intake if intake is not None else JournalIntake()
        self._taken: list[Append | Checkpoint] = []
        self._unsynced = False
        self._batches = 0
        self._entries = 0
        self._syncs = 0
        self._failed = 0

    def on_start(self) -> None:
        """Open the intake (closed if a previous instance failed); start the periodic sync of
        the `batch` policy."""
        self.intake.open()
        if self.fsync == "batch":
            self.timers.start_periodic_timer("sync", _SyncTick(), self.sync_interval)

    def on_receive(self, message: Any) -> Any:
        """Write what the intake holds, take appends told directly, sync on the timer."""
        match message:
            case _Flush():
                self._write(self.intake.take())
            case Append() | Checkpoint():
                self.intake.offer(message, self.actor_ref)
            case _SyncTick():
                self._sync()
            case GetJournalStats():
                return JournalStats(self._batches, self._entries, self._syncs, self._failed)
            case _:
                msg = f"JournalActor: unexpected message {message!r}"
                raise TypeError(msg)
        return None

    def _write(self, items: list[Append | Checkpoint]) -> None:
        """Write `items` in order: appends in batches, split by the checkpoints between them."""
        self._taken = items
        appends: list[Append] = []
        for item in items:
            if isinstance(item, Append):
                appends.append(item)
            else:
                self._append(appends)
                appends = []
                self._checkpoint(item)
        self._append(appends)
        self._taken = []

    def _append(self, appends: list[Append]) -> None:
        if not appends:
            return
        batch = [entry for item in appends for entry in item.entries]
        error: JournalError | None = None
        if batch:
            try:
                self.journal.append_many(batch, sync=self.fsync == "always")
            except Exception as exc:
                error = _as_journal_error(exc, f"writing a batch of {len(batch)} journal entries")
                self._failed += 1
                logger.error("%s: %s", self.path, error, exc_info=exc)
            else:
                self._batches += 1
                self._entries += len(batch)
                self._unsynced = self._unsynced or self.fsync == "batch"
        for item in appends:
            if item.done is not None:
                _settle(item.done, error)

    def _checkpoint(self, request: Checkpoint) -> None:
        try:
            self.journal.checkpoint(request.process_id, request.state)
        except Exception as exc:
            error = _as_journal_error(exc, f"checkpoint of {request.process_id!r}")
            logger.error("%s: %s", self.path, error, exc_info=exc)
            if request.done is not None:
                _settle(request.done, error)
            return
        if request.done is not None:
            _settle(request.done)

    def _sync(self) -> None:
        if not self._unsynced:
            return
        try:
            self.journal.sync()
        except Exception as exc:  # retried on the next tick; the writes are not lost yet
            logger.error("%s: journal sync failed: %r", self.path, exc, exc_info=exc)
            return
        self._unsynced = False
        self._syncs += 1

    def on_stop(self) -> None:
        """Refuse further appends, write what the intake holds (and sync it under `batch`)."""
        self._write(self.intake.close(f"the journal actor {self.path} stopped"))
        self._sync()

    def on_failure(self, *_exc_info: Any) -> None:
        """Fail what was taken and not settled and what the intake holds: nobody writes them
        now (a restarted actor opens the intake again)."""
        error = JournalError(f"{self.path} failed; the entries were not written")
        taken, self._taken = self._taken, []
        _fail(taken, error)
        _fail(self.intake.close(f"the journal actor {self.path} failed"), error)


class JournalClient:
    """Appends and checkpoints through a `JournalActor` without blocking the caller.

    Every method returns our awaitable `Future`: `.get()` from a thread, `await` from a
    coroutine, or `add_done_callback` from an actor. If the journal actor is not running, the
    future fails with `JournalError` instead of hanging. `intake` is the actor's (the one given
    to it, or its `intake` attribute).
    """

    def __init__(self, ref: ActorRef[Any], intake: JournalIntake) -> None:
        self.ref = ref
        self.intake = intake

    def append(self, *entries: JournalEntry) -> Future[None]:
        """Write `entries`; the future resolves once they are written per the fsync policy."""
        done: Future[None] = Future()
        self.intake.offer(Append(entries, done), self.ref)
        return done

    def append_many(self, entries: Sequence[JournalEntry]) -> Future[None]:
        """`append(*entries)` for a sequence."""
        return self.append(*entries)

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> Future[None]:
        """Store a checkpoint after every append sent before; resolves once stored."""
        done: Future[None] = Future()
        self.intake.offer(Checkpoint(process_id, state, done), self.ref)
        return done
