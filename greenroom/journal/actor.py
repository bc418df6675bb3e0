"""`JournalActor`: the one writer of a node's journal, with group commit.

Every process of a node appends through this actor, so N appends that arrive together cost one
write and one fsync. How: an `Append` is only buffered; the first `Append` of a batch tells the
actor a private `_Flush`, which lands behind every `Append` already in the mailbox. When the
`_Flush` is handled, the whole buffer goes to the journal in one `append_many` call, and then
every `done` future of the batch is resolved (or failed with `JournalError`, the same for the
whole batch). The next batch is tried afresh: a failed write never stops the actor.

`fsync` policy: `always` (the batch is durable before any `done` resolves), `batch` (`done`
resolves once written; a timer makes everything durable every `sync_interval` seconds, so a
crash may lose the last interval) or `never` (the OS decides). A `Checkpoint` flushes the buffer
first, so it is applied in order with the appends sent before it. On stop, the buffer is
flushed. The actor does not close the journal: its owner does, after stopping the actor.

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


class JournalActor(Actor):
    """Serialises a node's journal writes and commits them in batches (group commit)."""

    def __init__(
        self,
        journal: JournalProvider,
        *,
        fsync: FsyncPolicy = "always",
        sync_interval: float = 0.05,
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
        self._buffer: list[JournalEntry] = []
        self._waiters: list[Future[None]] = []
        self._flush_told = False
        self._unsynced = False
        self._batches = 0
        self._entries = 0
        self._syncs = 0
        self._failed = 0

    def on_start(self) -> None:
        """Start the periodic sync of the `batch` policy."""
        if self.fsync == "batch":
            self.timers.start_periodic_timer("sync", _SyncTick(), self.sync_interval)

    def on_receive(self, message: Any) -> Any:
        """Buffer appends, write batches, apply checkpoints in order, sync on the timer."""
        match message:
            case Append():
                self._buffer.extend(message.entries)
                if message.done is not None:
                    self._waiters.append(message.done)
                if not self._flush_told:
                    self._flush_told = True
                    self.actor_ref.tell(_Flush())
            case _Flush():
                self._flush()
            case Checkpoint():
                self._checkpoint(message)
            case _SyncTick():
                self._sync()
            case GetJournalStats():
                return JournalStats(self._batches, self._entries, self._syncs, self._failed)
            case _:
                msg = f"JournalActor: unexpected message {message!r}"
                raise TypeError(msg)
        return None

    def _flush(self) -> None:
        self._flush_told = False
        if not self._buffer and not self._waiters:
            return
        batch, self._buffer = self._buffer, []
        waiters, self._waiters = self._waiters, []
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
        for done in waiters:
            _settle(done, error)

    def _checkpoint(self, request: Checkpoint) -> None:
        self._flush()
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
        """Write what is buffered (and sync it under the `batch` policy)."""
        self._flush()
        self._sync()

    def on_failure(self, *_exc_info: Any) -> None:
        """Fail the futures of buffered appends: nobody will write them now."""
        error = JournalError(f"{self.path} failed; the entries were not written")
        for done in self._waiters:
            _settle(done, error)
        self._waiters = []
        self._buffer = []


class JournalClient:
    """Appends and checkpoints through a `JournalActor` without blocking the caller.

    Every method returns our awaitable `Future`: `.get()` from a thread, `await` from a
    coroutine, or `add_done_callback` from an actor. If the journal actor is gone (or its
    mailbox refuses the message) the future fails with `JournalError` instead of hanging.
    """

    def __init__(self, ref: ActorRef[Any]) -> None:
        self.ref = ref

    def append(self, *entries: JournalEntry) -> Future[None]:
        """Write `entries`; the future resolves once they are written per the fsync policy."""
        done: Future[None] = Future()
        self._send(Append(tuple(entries), done), done)
        return done

    def append_many(self, entries: Sequence[JournalEntry]) -> Future[None]:
        """`append(*entries)` for a sequence."""
        return self.append(*entries)

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> Future[None]:
        """Store a checkpoint after every append sent before; resolves once stored."""
        done: Future[None] = Future()
        self._send(Checkpoint(process_id, state, done), done)
        return done

    def _send(self, message: Append | Checkpoint, done: Future[None]) -> None:
        # An ask whose reply only says "taken": if the mailbox refuses the message instead (the
        # actor stopped, or its bounded mailbox is full), `done` fails rather than hanging.
        taken: Future[Any] = self.ref.ask(message, block=False)
        taken.add_done_callback(lambda f: _refused(f, done))


def _refused(taken: Future[Any], done: Future[None]) -> None:
    try:
        taken.get()
    except Exception as exc:
        if not done.done():
            _settle(done, _as_journal_error(exc, "sending to the journal actor"))
