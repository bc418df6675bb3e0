"""`InMemoryJournal`: the journal contract without a disk, for tests and development.

It keeps the same rules as the file backend so that code tested against it behaves the same on
disk: data must be JSON (a batch holding anything else is refused whole, with `JournalError`),
what is read back is a fresh copy decoded from JSON (so later mutation of an appended dict does
not change the journal, and tuples come back as lists), checkpoints get sequence numbers and
marker entries, and compaction keeps the last two checkpoints and the entries from the older
one's marker on. `corrupt_checkpoint` simulates an unreadable checkpoint.
Nothing survives the Python process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from greenroom.journal.entry import EntryType, JournalEntry
from greenroom.journal.provider import JournalError

__all__ = ["InMemoryJournal"]

logger = logging.getLogger("greenroom.journal")

_KEPT_CHECKPOINTS = 2


@dataclass(frozen=True, slots=True)
class _Record:
    """One stored entry; `data` is its JSON text. `marker` is the checkpoint seq it marks."""

    entry_id: str
    process_id: str
    entry_type: str
    timestamp: datetime
    data: str
    marker: int | None = None

    def entry(self) -> JournalEntry:
        return JournalEntry(self.process_id, self.entry_type, json.loads(self.data),
                            self.entry_id, self.timestamp)


@dataclass(slots=True)
class _Stored:
    """One kept checkpoint: its seq and its state as JSON text (None once made unreadable)."""

    seq: int
    state: str | None


def _encode(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        msg = f"{what} is not JSON-serialisable: {exc}"
        raise JournalError(msg) from exc


def _record(entry: JournalEntry, marker: int | None = None) -> _Record:
    if not isinstance(entry, JournalEntry):
        msg = f"expected a JournalEntry, got {type(entry).__name__}"
        raise JournalError(msg)
    if not isinstance(entry.data, dict):
        msg = f"entry {entry.entry_id}: data must be a dict, got {type(entry.data).__name__}"
        raise JournalError(msg)
    data = _encode(entry.data, f"entry {entry.entry_id} ({entry.entry_type}) data")
    return _Record(entry.entry_id, str(entry.process_id), str(entry.entry_type),
                   entry.timestamp, data, marker)


class InMemoryJournal:
    """A thread-safe `JournalProvider` that keeps everything in memory (tests, development).

    `sync` is a no-op: there is nothing to make durable. After `close()` every call raises
    `JournalError`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[_Record]] = {}
        self._checkpoints: dict[str, list[_Stored]] = {}
        self._closed = False

    def __repr__(self) -> str:
        with self._lock:
            count = sum(map(len, self._entries.values()))
        return f"<InMemoryJournal processes={len(self._entries)} entries={count}>"

    def _check_open(self) -> None:
        if self._closed:
            msg = "the journal is closed"
            raise JournalError(msg)

    def append(self, entry: JournalEntry) -> None:
        """Store one entry (refused with `JournalError` if its data is not JSON)."""
        self.append_many([entry])

    def append_many(self, entries: Sequence[JournalEntry], *, sync: bool = True) -> None:
        """Store a batch in order; if any entry's data is not JSON, none is stored."""
        del sync  # memory has nothing to make durable
        records = [_record(entry) for entry in entries]
        with self._lock:
            self._check_open()
            for record in records:
                self._entries.setdefault(record.process_id, []).append(record)

    def sync(self) -> None:
        """Nothing to do in memory (raises `JournalError` once closed, like the file backend)."""
        with self._lock:
            self._check_open()

    def read(
        self,
        process_id: str,
        *,
        since: datetime | None = None,
        entry_type: str | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """The retained entries of `process_id`, oldest first, markers included.

        `since` keeps entries stamped at or after it (a naive datetime is taken as UTC),
        `entry_type` keeps one type, `limit` keeps the first N of what is left.
        """
        if limit is not None and limit < 0:
            msg = f"limit must be >= 0, got {limit}"
            raise ValueError(msg)
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        with self._lock:
            self._check_open()
            records = list(self._entries.get(process_id, ()))
        selected = [r for r in records
                    if (since is None or r.timestamp >= since)
                    and (entry_type is None or r.entry_type == entry_type)]
        if limit is not None:
            selected = selected[:limit]
        return [record.entry() for record in selected]

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> None:
        """Store `state` as checkpoint n (the next seq), append its marker, then compact.

        Compaction drops the entries before checkpoint n-1's marker and every checkpoint but
        the last two. A state that is not a JSON object is refused and changes nothing.
        """
        if not isinstance(state, dict):
            msg = f"checkpoint state must be a dict, got {type(state).__name__}"
            raise JournalError(msg)
        encoded = _encode(state, f"checkpoint state of {process_id!r}")
        with self._lock:
            self._check_open()
            kept = self._checkpoints.setdefault(process_id, [])
            seq = kept[-1].seq + 1 if kept else 1
            kept.append(_Stored(seq, encoded))
            del kept[:-_KEPT_CHECKPOINTS]
            marker = JournalEntry(process_id, EntryType.CHECKPOINT, {"seq": seq})
            entries = self._entries.setdefault(process_id, [])
            entries.append(_record(marker, seq))
            self._compact(entries, seq - 1)

    @staticmethod
    def _compact(entries: list[_Record], keep_from: int) -> None:
        """Drop the entries before the marker of checkpoint `keep_from` (searching backwards)."""
        for index in range(len(entries) - 1, -1, -1):
            if entries[index].marker == keep_from:
                del entries[:index]
                return

    def last_checkpoint(self, process_id: str) -> dict[str, Any] | None:
        """The newest readable checkpoint's state plus `checkpoint_seq`, or None.

        An unreadable newest checkpoint is logged as a warning and the previous one is used.
        If none is readable and compaction already dropped the entries before them (from
        checkpoint 2 on), the state cannot be rebuilt: `JournalError`.
        """
        with self._lock:
            self._check_open()
            kept = list(self._checkpoints.get(process_id, ()))
        for stored in reversed(kept):
            if stored.state is None:
                logger.warning("journal of %r: checkpoint %d is unreadable; falling back to "
                               "the previous one", process_id, stored.seq)
                continue
            state: dict[str, Any] = json.loads(stored.state)
            state["checkpoint_seq"] = stored.seq
            return state
        if kept and kept[-1].seq >= 2:
            msg = (f"journal of {process_id!r}: no readable checkpoint (tried "
                   f"{', '.join(str(s.seq) for s in reversed(kept))}) and the entries before "
                   "them were compacted away; cannot rebuild the state")
            raise JournalError(msg)
        return None

    def checkpoint_seqs(self, process_id: str) -> list[int]:
        """The seq numbers of the checkpoints kept for `process_id`, oldest first."""
        with self._lock:
            self._check_open()
            return [stored.seq for stored in self._checkpoints.get(process_id, ())]

    def corrupt_checkpoint(self, process_id: str, seq: int | None = None) -> int:
        """Make a kept checkpoint unreadable (a test aid): `seq`, or the newest; returns its seq.

        Raises `KeyError` if there is no such checkpoint.
        """
        with self._lock:
            for stored in reversed(self._checkpoints.get(process_id, ())):
                if seq is None or stored.seq == seq:
                    stored.state = None
                    return stored.seq
        raise KeyError(f"{process_id!r} has no checkpoint {'kept' if seq is None else seq}")

    def close(self) -> None:
        """Refuse any further use; closing twice is harmless."""
        with self._lock:
            self._closed = True
