"""The journal: a durable, append-only record per process, checkpoints, and crash recovery.

`FileJournal` (framed JSONL segments, atomic checkpoints, incremental processed keys,
compaction, a write-ahead log so a group commit costs one fsync) and `InMemoryJournal`
implement `JournalProvider`; a `JournalActor` batches appends from every process into one
durable write (group commit); `ReplayEngine` rebuilds a process's state from the last
checkpoint and the entries after it.
Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.journal.actor import (
        Append,
        Checkpoint,
        GetJournalStats,
        JournalActor,
        JournalClient,
        JournalIntake,
        JournalStats,
    )
    from greenroom.journal.entry import (
        CHECKPOINT_TYPES,
        FULL_ONLY_TYPES,
        EntryType,
        JournalEntry,
        JournalLevel,
        records,
    )
    from greenroom.journal.file import FileJournal, FsyncPolicy
    from greenroom.journal.memory import InMemoryJournal
    from greenroom.journal.provider import JournalError, JournalProvider
    from greenroom.journal.replay import InDoubtToolCall, RecoveryResult, ReplayEngine

__all__ = [
    "CHECKPOINT_TYPES",
    "FULL_ONLY_TYPES",
    "Append",
    "Checkpoint",
    "EntryType",
    "FileJournal",
    "FsyncPolicy",
    "GetJournalStats",
    "InDoubtToolCall",
    "InMemoryJournal",
    "JournalActor",
    "JournalClient",
    "JournalEntry",
    "JournalError",
    "JournalIntake",
    "JournalLevel",
    "JournalProvider",
    "JournalStats",
    "RecoveryResult",
    "ReplayEngine",
    "records",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
