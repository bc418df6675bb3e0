"""`FileJournal`: a durable, human-readable journal on the local file system.

Layout under `base_path`, one directory per process::

    <base_path>/<process dir>/segment-0.jsonl     entries up to checkpoint 1
                              segment-1.jsonl     starts with the marker of checkpoint 1
                              checkpoint-1.json   {"seq": 1, "state": {...}}
                              ...

The process directory is the process name with every character outside `[A-Za-z0-9._-]`
replaced by `_` (no leading dot or dash, at most 64 characters, so `ls` stays readable) plus a
SHA-256 digest of the exact name, so any two names (`/`, `..`, unicode, very long, differing only
in case on a case-insensitive file system) get distinct, safe directories. The records say which
process they belong to, so the name itself is never needed from the directory.

Records are framed by `greenroom.journal.framing` (JSON, tab, CRC32). Segment `n` is started by
checkpoint `n`; checkpoint files are written atomically (temp file in the same directory, write,
fsync, `os.replace`, fsync of the directory). After checkpoint `n` the journal keeps the two newest
checkpoint files and the segments from the older one's marker on, and deletes the rest, so a
process that runs forever uses bounded space and a corrupt newest checkpoint can still fall back
to the previous one plus replay.

Durability (`fsync=`):

- `always` (default): `append_many(..., sync=True)` fsyncs each file it wrote once per batch before
  returning, so a returned append survives a power loss.
- `batch`: appends reach the OS (they survive the process being killed) but are fsynced only by
  `sync()`, which a caller runs periodically; a power loss can lose what came after the last one.
- `never`: no fsync at all, not even for checkpoints: safe against a killed process, but a power
  loss or kernel crash can lose recent entries and checkpoints, or tear a file anywhere.

Recovery happens on the first use of a process's directory by this instance: the last segment is
scanned, and a torn tail (a partial last record) is truncated with a warning, so the next append
starts on a clean line. Damage followed by valid records (a corrupt middle) is not repaired: the
journal raises `JournalError` naming the file and line rather than drop or skip entries. A
checkpoint file whose marker is missing (a crash between the two) gets its marker then.

One writer per directory: two `FileJournal` instances (or OS processes) must not write the same
process's files. An instance keeps one file descriptor open per process it has used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from greenroom.journal.entry import EntryType, JournalEntry
from greenroom.journal.framing import dumps_json, encode_entry, scan
from greenroom.journal.provider import JournalError

__all__ = ["FileJournal", "FsyncPolicy"]

logger = logging.getLogger("greenroom.journal")

FsyncPolicy = Literal["always", "batch", "never"]
"""When `FileJournal` fsyncs: every synced batch, only in `sync()`, or never."""

_SEGMENT = re.compile(r"segment-(0|[1-9][0-9]*)\.jsonl")
_CHECKPOINT = re.compile(r"checkpoint-(0|[1-9][0-9]*)\.json")
_CHECKPOINT_TMP = re.compile(r"checkpoint-(0|[1-9][0-9]*)\.json\.tmp")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_PREFIX_CHARS = 64
_DIGEST_CHARS = 24


def _dir_name(process_id: str) -> str:
    """A safe directory name, distinct for every process name (readable prefix + digest)."""
    digest = hashlib.sha256(process_id.encode("utf-8", "surrogatepass")).hexdigest()
    prefix = _UNSAFE.sub("_", process_id).lstrip(".-")[:_PREFIX_CHARS]
    return f"{prefix}-{digest[:_DIGEST_CHARS]}" if prefix else digest[:_DIGEST_CHARS]


@dataclass
class _ProcessLog:
    """The open state of one process's directory: its files and the segment being appended to."""

    process_id: str
    directory: Path
    segments: list[int] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)
    fd: int | None = None
    size: int = 0
    dirty: bool = False
    unread: list[JournalEntry] | None = None
    """The current segment's entries as recovery decoded them, until the first write or read."""

    def segment_path(self, seq: int) -> Path:
        return self.directory / f"segment-{seq}.jsonl"

    def checkpoint_path(self, seq: int) -> Path:
        return self.directory / f"checkpoint-{seq}.json"

    @property
    def current(self) -> Path:
        return self.segment_path(self.segments[-1])


class FileJournal:
    """A `JournalProvider` writing CRC-framed JSONL segments and atomic checkpoint files.

    Thread-safe (one lock). See the module docstring for the layout, the `fsync` policies and
    what recovery does with torn and corrupt files.
    """

    def __init__(self, base_path: str | os.PathLike[str], *,
                 fsync: FsyncPolicy = "always") -> None:
        if fsync not in get_args(FsyncPolicy):
            msg = f"fsync must be one of {get_args(FsyncPolicy)}, got {fsync!r}"
            raise ValueError(msg)
        self._base = Path(base_path)
        self._fsync: FsyncPolicy = fsync
        self._lock = threading.Lock()
        self._logs: dict[str, _ProcessLog] = {}
        self._closed = False
        try:
            self._base.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            msg = f"cannot create journal directory {self._base}: {err}"
            raise JournalError(msg) from err

    @property
    def base_path(self) -> Path:
        """The directory holding one subdirectory per process."""
        return self._base

    @property
    def fsync_policy(self) -> FsyncPolicy:
        """The `fsync` policy this journal was opened with."""
        return self._fsync

    def process_dir(self, process_id: str) -> Path:
        """The directory holding `process_id`'s segments and checkpoints (may not exist yet)."""
        return self._base / _dir_name(process_id)

    # -- writing -------------------------------------------------------------------------------

    def append(self, entry: JournalEntry) -> None:
        """Write one entry durably (per the `fsync` policy)."""
        self.append_many([entry], sync=True)

    def append_many(self, entries: Sequence[JournalEntry], *, sync: bool = True) -> None:
        """Write a batch with one write per process file, then (`always` and `sync`) one fsync each.

        Nothing of the batch is written if any entry is not JSON. An I/O error while writing one
        process's file undoes that file's part and raises `JournalError`; files already written
        for other processes of the batch keep their entries.
        """
        with self._lock:
            self._check_open()
            groups: dict[str, list[bytes]] = {}
            for entry in entries:
                line = encode_entry(entry)
                groups.setdefault(entry.process_id, []).append(line)
            batch = [(self._log(pid), b"".join(lines)) for pid, lines in groups.items()]
            for log, data in batch:
                self._write(log, data)
            if sync and self._fsync == "always":
                for log, _ in batch:
                    self._sync_log(log)

    def sync(self) -> None:
        """Fsync every file written since its last fsync (a no-op with `fsync="never"`)."""
        with self._lock:
            self._check_open()
            if self._fsync != "never":
                for log in list(self._logs.values()):
                    self._sync_log(log)

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> None:
        """Store `state` as checkpoint `n` (atomically), start segment `n` with its marker, compact.

        `n` is one more than any checkpoint or segment number in the directory. Nothing is written
        if `state` is not a JSON object.
        """
        with self._lock:
            self._check_open()
            if not isinstance(state, dict):
                msg = f"checkpoint of {process_id!r}: state must be a dict"
                raise JournalError(msg)
            encoded = dumps_json(state, f"checkpoint state of {process_id!r}")
            log = self._log(process_id)
            seq = max(log.segments[-1:] + log.checkpoints[-1:], default=0) + 1
            payload = b'{"seq":%d,"state":%s}\n' % (seq, encoded)
            marker = encode_entry(JournalEntry(process_id, EntryType.CHECKPOINT.value,
                                               {"seq": seq}))
            try:
                self._write_atomic(log.checkpoint_path(seq), payload)
                log.checkpoints.append(seq)
                self._start_segment(log, seq, marker)
            except (OSError, JournalError) as err:
                self._forget(log)  # the next use recovers the directory from what is on disk
                if isinstance(err, JournalError):
                    raise
                msg = f"cannot write checkpoint {seq} in {log.directory}: {err}"
                raise JournalError(msg) from err
            self._compact(log)

    def close(self) -> None:
        """Fsync what is pending (unless `fsync="never"`) and close the files; idempotent.

        Any further use of the journal raises `JournalError`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            errors: list[str] = []
            for log in list(self._logs.values()):
                try:
                    if self._fsync != "never":
                        self._sync_log(log)
                except JournalError as err:
                    errors.append(str(err))
                self._forget(log)
            if errors:
                raise JournalError("; ".join(errors))

    # -- reading -------------------------------------------------------------------------------

    def read(
        self,
        process_id: str,
        *,
        since: datetime | None = None,
        entry_type: str | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """The retained entries of `process_id`, oldest first, markers included.

        `since` keeps entries with a timestamp at or after it (a naive `since` is taken as UTC),
        `entry_type` keeps one type, and `limit` keeps the first N of what remains. Any damaged
        record raises `JournalError` naming the file and line.
        """
        if limit is not None and limit < 0:
            msg = f"limit must be >= 0, got {limit}"
            raise ValueError(msg)
        if since is not None and since.utcoffset() is None:
            since = since.replace(tzinfo=UTC)
        with self._lock:
            self._check_open()
            log = self._existing_log(process_id)
            if log is None:
                return []
            found: list[JournalEntry] = []
            for seq in log.segments:
                if limit is not None and len(found) >= limit:
                    break
                segment_entries = self._segment_entries(log, seq)
                found.extend(e for e in segment_entries
                             if (since is None or e.timestamp >= since)
                             and (entry_type is None or e.entry_type == entry_type))
            return found if limit is None else found[:limit]

    def last_checkpoint(self, process_id: str) -> dict[str, Any] | None:
        """The newest readable checkpoint's state plus `"checkpoint_seq": n`, or None.

        An unreadable checkpoint is logged as a warning and the previous one is tried (replaying
        from its marker gives the same state). If every checkpoint is unreadable and the entries
        before them were compacted away, the state cannot be rebuilt: `JournalError`.
        """
        with self._lock:
            self._check_open()
            log = self._existing_log(process_id)
            if log is None:
                return None
            for seq in reversed(log.checkpoints):
                state = _load_checkpoint(log.checkpoint_path(seq), seq)
                if state is not None:
                    state["checkpoint_seq"] = seq
                    return state
            if log.checkpoints and 0 not in log.segments:
                msg = (f"journal {log.directory}: no readable checkpoint "
                       f"(tried {', '.join(str(s) for s in reversed(log.checkpoints))}) and the "
                       "entries before them were compacted away; cannot rebuild the state")
                raise JournalError(msg)
            return None

    def checkpoint_seqs(self, process_id: str) -> list[int]:
        """The seq numbers of the checkpoint files kept for `process_id`, oldest first."""
        with self._lock:
            self._check_open()
            log = self._existing_log(process_id)
            return [] if log is None else list(log.checkpoints)

    # -- internals -----------------------------------------------------------------------------

    def _segment_entries(self, log: _ProcessLog, seq: int) -> list[JournalEntry]:
        """The entries of segment `seq`; any damage raises `JournalError` naming file and line."""
        if seq == log.segments[-1] and log.unread is not None:
            entries, log.unread = log.unread, None  # recovery just decoded this file
            return entries
        path = log.segment_path(seq)
        result = scan(_read_bytes(path))
        if result.error is not None:
            msg = (f"journal file {path}: line {result.error_line}: {result.error}; "
                   "the history is damaged, refusing to return part of it")
            raise JournalError(msg)
        return result.entries

    def _check_open(self) -> None:
        if self._closed:
            msg = f"journal at {self._base} is closed"
            raise JournalError(msg)

    def _existing_log(self, process_id: str) -> _ProcessLog | None:
        """The process's log if it has a directory (reading must not create one)."""
        if process_id in self._logs or self.process_dir(process_id).exists():
            return self._log(process_id)
        return None

    def _log(self, process_id: str) -> _ProcessLog:
        """The process's open log, recovering (or creating) its directory on first use."""
        log = self._logs.get(process_id)
        if log is not None:
            return log
        directory = self.process_dir(process_id)
        log = _ProcessLog(process_id, directory)
        try:
            self._recover(log)
        except OSError as err:
            self._forget(log)
            path = err.filename if err.filename is not None else directory
            msg = f"cannot open journal files in {directory} ({path}): {err.strerror or err}"
            raise JournalError(msg) from err
        except JournalError:
            self._forget(log)
            raise
        self._logs[process_id] = log
        return log

    def _recover(self, log: _ProcessLog) -> None:
        """Read the directory's files, cut a torn tail, and open the last segment for appending."""
        if not log.directory.is_dir():
            log.directory.mkdir()
            self._sync_dir(self._base)
        for name in sorted(os.listdir(log.directory)):
            if match := _SEGMENT.fullmatch(name):
                log.segments.append(int(match[1]))
            elif match := _CHECKPOINT.fullmatch(name):
                log.checkpoints.append(int(match[1]))
            elif _CHECKPOINT_TMP.fullmatch(name):
                logger.info("journal: removing %s left by an interrupted checkpoint",
                            log.directory / name)
                (log.directory / name).unlink(missing_ok=True)
        log.segments.sort()
        log.checkpoints.sort()
        if log.segments:
            self._open_last_segment(log)
        newest = log.checkpoints[-1] if log.checkpoints else 0
        if not log.segments or newest > log.segments[-1]:
            marker = b""
            if newest:
                logger.warning("journal %s: checkpoint %d has no marker (interrupted checkpoint); "
                               "writing it", log.directory, newest)
                marker = encode_entry(JournalEntry(log.process_id, EntryType.CHECKPOINT.value,
                                                   {"seq": newest}))
            self._start_segment(log, newest, marker)

    def _open_last_segment(self, log: _ProcessLog) -> None:
        path = log.current
        result = scan(_read_bytes(path))
        if result.corrupt_middle:
            msg = (f"journal file {path}: line {result.error_line}: {result.error}, and "
                   f"{result.valid_after} valid entries follow it; refusing to drop or skip "
                   "them: repair or remove the damaged line")
            raise JournalError(msg)
        log.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        log.size = result.end
        log.unread = result.entries
        if result.error is not None:
            os.ftruncate(log.fd, result.end)
            if self._fsync != "never":
                os.fsync(log.fd)
            logger.warning("journal file %s: torn tail at line %d (%s): dropped %d bytes",
                           path, result.error_line, result.error, result.dropped_bytes)

    def _start_segment(self, log: _ProcessLog, seq: int, first: bytes) -> None:
        """Close the current segment (fsynced if it has pending writes) and append to `seq`'s."""
        if log.fd is not None:
            if self._fsync != "never":
                self._sync_log(log)
            os.close(log.fd)
            log.fd = None
        path = log.segment_path(seq)
        log.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)
        log.size = 0
        log.unread = None
        log.segments.append(seq)
        self._sync_dir(log.directory)
        if first:
            self._write(log, first)
            if self._fsync == "always":
                self._sync_log(log)

    def _write(self, log: _ProcessLog, data: bytes) -> None:
        """Append `data` to the current segment; on failure cut it back and raise `JournalError`."""
        assert log.fd is not None
        log.unread = None
        start, view, done = log.size, memoryview(data), 0
        try:
            while done < len(data):
                done += os.write(log.fd, view[done:])
        except OSError as err:
            try:
                os.ftruncate(log.fd, start)
            except OSError:
                self._forget(log)  # the next use truncates the torn tail during recovery
            msg = f"cannot write journal file {log.current}: {err}"
            raise JournalError(msg) from err
        log.size = start + len(data)
        log.dirty = True

    def _sync_log(self, log: _ProcessLog) -> None:
        if not log.dirty or log.fd is None:
            return
        try:
            os.fsync(log.fd)
        except OSError as err:
            msg = f"cannot fsync journal file {log.current}: {err}"
            raise JournalError(msg) from err
        log.dirty = False

    def _sync_dir(self, directory: Path) -> None:
        if self._fsync == "never":
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_atomic(self, path: Path, payload: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view, done = memoryview(payload), 0
            while done < len(payload):
                done += os.write(fd, view[done:])
            if self._fsync != "never":
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._sync_dir(path.parent)

    def _compact(self, log: _ProcessLog) -> None:
        """Delete checkpoints older than the second newest and segments before its marker."""
        if len(log.checkpoints) < 2:
            return
        floor = log.checkpoints[-2]
        for seqs, path_of in ((log.checkpoints, log.checkpoint_path),
                              (log.segments, log.segment_path)):
            for seq in [s for s in seqs if s < floor]:
                try:
                    path_of(seq).unlink(missing_ok=True)
                except OSError as err:
                    logger.warning("journal: cannot delete %s during compaction: %s",
                                   path_of(seq), err)
                    continue
                seqs.remove(seq)

    def _forget(self, log: _ProcessLog) -> None:
        """Drop the process's cached state and close its file (errors ignored: nothing to save)."""
        if self._logs.get(log.process_id) is log:
            del self._logs[log.process_id]
        if log.fd is not None:
            try:
                os.close(log.fd)
            except OSError:
                logger.debug("journal: closing %s failed", log.current, exc_info=True)
            log.fd = None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        msg = f"cannot read journal file {path}: {err.strerror or err}"
        raise JournalError(msg) from err


def _load_checkpoint(path: Path, seq: int) -> dict[str, Any] | None:
    """The state stored in checkpoint file `path`, or None (with a warning) if it is unreadable."""
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as err:
        logger.warning("journal: checkpoint %s is unreadable (%s); falling back to an older "
                       "checkpoint and replay", path, err)
        return None
    if not isinstance(raw, dict) or raw.get("seq") != seq or not isinstance(raw.get("state"),
                                                                             dict):
        logger.warning("journal: checkpoint %s is not a {seq: %d, state: {...}} object; "
                       "falling back to an older checkpoint and replay", path, seq)
        return None
    state: dict[str, Any] = raw["state"]
    return state
