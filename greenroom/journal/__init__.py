"""The journal: a durable, append-only record per process, checkpoints, and crash recovery.

`FileJournal` (framed JSONL segments, atomic checkpoints, incremental processed keys,
compaction, a write-ahead log so a group commit costs one fsync) and `InMemoryJournal`
implement `JournalProvider`; a `JournalActor` batches appends from every process into one
durable write (group commit); `ReplayEngine` rebuilds a process's state from the last
checkpoint and the entries after it.
"""

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
