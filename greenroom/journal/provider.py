"""The `JournalProvider` protocol every journal backend implements, and `JournalError`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from greenroom.journal.entry import JournalEntry

__all__ = ["JournalError", "JournalProvider"]


class JournalError(RuntimeError):
    """A journal cannot be read or written: unreadable file, bad entry, closed journal."""


@runtime_checkable
class JournalProvider(Protocol):
    """A durable, append-only log of entries per process, with checkpoints.

    `append_many` is the group-commit primitive: it writes a batch and, with `sync=True`, makes
    it durable (`FileJournal`: one fsync of its write-ahead log) before returning.
    `append(entry)` is `append_many([entry], sync=True)`. `checkpoint` stores a process's state
    atomically and may drop entries older than it (compaction); `read` then starts after the
    checkpoint.
    """

    def append(self, entry: JournalEntry) -> None:
        """Write one entry durably."""
        ...

    def append_many(self, entries: Sequence[JournalEntry], *, sync: bool = True) -> None:
        """Write a batch (entries of any processes, in order); durable on return if `sync`."""
        ...

    def sync(self) -> None:
        """Make everything written so far durable."""
        ...

    def read(
        self,
        process_id: str,
        *,
        since: datetime | None = None,
        entry_type: str | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """A process's entries still in the journal, oldest first (`limit`: the first N)."""
        ...

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> None:
        """Store `state` as the process's latest checkpoint, atomically."""
        ...

    def last_checkpoint(self, process_id: str) -> dict[str, Any] | None:
        """The latest checkpoint state, or None (also when it is unreadable: logged)."""
        ...

    def close(self) -> None:
        """Flush and release files; further use raises `JournalError`."""
        ...
