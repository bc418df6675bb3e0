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

A state's `processed_keys` list (the idempotency keys a process remembers, up to 10,000) is not
copied into every checkpoint: it only slides (new keys at the end, the oldest dropped), so
checkpoint `n` stores it as `keys-n.json`, `{"seq": n, "base": b, "length": L, "add": [...]}`:
the keys added since checkpoint `b` (the previous one this instance wrote or read), and the
list's length. The list is the last `L` keys of the `add`s along the chain `n`, `b`, ... back
until they hold `L` keys (or to a link with `"base": null`, which holds the whole list), so each
key is written once. A list that did not just slide is stored whole (`"base": null`), and so is
one whose chain would need more than `MAX_KEY_LINKS` links (a process checkpointing often with
few new keys). The keys file is written (and fsynced) before its checkpoint file; compaction
keeps the keys files the two kept checkpoints' chains use. A checkpoint whose chain cannot be
read is unreadable like a damaged checkpoint file (warning, fallback to the previous one).

Durability (`fsync=`):

- `always` (default): `append_many(..., sync=True)` writes each process's part of the batch to
  its segment, then the whole batch once more to this instance's write-ahead log
  (`<base_path>/wal-<id>.log`), and fsyncs that one file before returning: a returned append
  survives a power loss, and a group commit of 50 processes costs one fsync, not 50. The
  segments become durable later: when a checkpoint closes one, when the log reaches
  `WAL_LIMIT` bytes (every segment written since is fsynced, then the log starts again), and
  on `close` (which deletes the log). A log record is `<process dir> <segment> <offset>
  <length> <crc32>\n` followed by the bytes written there. A new instance replays the logs
  their writers left (a log's writer holds an `flock` on it while it lives, so a live one is
  left alone): it writes back any of those bytes a segment lacks (a power loss can lose
  unsynced segment writes, never the fsynced log), fsyncs, and deletes the log, before it
  reads or writes anything. A torn last log record was never acknowledged and is ignored.
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
process's files. An instance keeps one file descriptor open per process it has used, and one for
its write-ahead log once it has written a synced batch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import zlib
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
_KEYS = re.compile(r"keys-(0|[1-9][0-9]*)\.json")
_WAL = re.compile(r"wal-[0-9a-f]+\.log")
_DIR = re.compile(r"[A-Za-z0-9._-]+")
WAL_LIMIT = 4 * 1024 * 1024
"""Bytes after which the write-ahead log is emptied (every segment fsynced first)."""
_KEYS_FIELD = "processed_keys"
MAX_KEY_LINKS = 256
"""The most keys files one checkpoint's `processed_keys` may need; more: stored whole."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_PREFIX_CHARS = 64
_DIGEST_CHARS = 24


def _dir_name(process_id: str) -> str:
    """A safe directory name, distinct for every process name (readable prefix + digest)."""
    digest = hashlib.sha256(process_id.encode("utf-8", "surrogatepass")).hexdigest()
    prefix = _UNSAFE.sub("_", process_id).lstrip(".-")[:_PREFIX_CHARS]
    return f"{prefix}-{digest[:_DIGEST_CHARS]}" if prefix else digest[:_DIGEST_CHARS]


@dataclass(frozen=True, slots=True)
class _KeyLink:
    """One keys file: the checkpoint it extends (None: it holds the whole list), how many keys
    it adds, and the length of the list it completes."""

    base: int | None
    added: int
    length: int


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
    key_files: set[int] = field(default_factory=set)
    links: dict[int, _KeyLink] = field(default_factory=dict)
    """What this instance knows of the keys files (written or read): seq -> link."""
    keys: list[Any] | None = None
    """The `processed_keys` of checkpoint `keys_seq` (the newest written or read), if known."""
    keys_seq: int = 0

    def segment_path(self, seq: int) -> Path:
        return self.directory / f"segment-{seq}.jsonl"

    def keys_path(self, seq: int) -> Path:
        return self.directory / f"keys-{seq}.json"

    def chain(self, seq: int, link: _KeyLink | None = None) -> list[int] | None:
        """The keys files checkpoint `seq`'s list needs (`link`: its own, if not written yet),
        newest first; None if one is not known or there would be more than `MAX_KEY_LINKS`."""
        link = link if link is not None else self.links.get(seq)
        if link is None:
            return None
        needed, covered, length = [seq], 0, link.length
        while len(needed) <= MAX_KEY_LINKS:
            covered += link.added
            if link.base is None or covered >= length:
                return needed
            needed.append(link.base)
            link = self.links.get(link.base)
            if link is None:
                return None
        return None

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
        self._wal: int | None = None
        self._wal_path = self._base / f"wal-{os.urandom(8).hex()}.log"
        self._wal_size = 0
        try:
            self._base.mkdir(parents=True, exist_ok=True)
            for name in sorted(os.listdir(self._base)):
                if _WAL.fullmatch(name):
                    self._replay_wal(self._base / name)
        except OSError as err:
            msg = f"cannot open journal directory {self._base}: {err}"
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
        """Write a batch with one write per process file, then (`always` and `sync`) one write
        and one fsync of the write-ahead log.

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
            logged: list[bytes] = []
            for log, data in batch:
                logged.append(b"%s %d %d %d %08x\n" % (
                    log.directory.name.encode(), log.segments[-1], log.size, len(data),
                    zlib.crc32(data)))
                self._write(log, data)
                logged.append(data)
            if sync and self._fsync == "always":
                self._log_ahead(b"".join(logged))

    def sync(self) -> None:
        """Fsync every file written since its last fsync (a no-op with `fsync="never"`)."""
        with self._lock:
            self._check_open()
            if self._fsync != "never":
                for log in list(self._logs.values()):
                    self._sync_log(log)

    def checkpoint(self, process_id: str, state: dict[str, Any]) -> None:
        """Store `state` as checkpoint `n` (atomically), start segment `n` with its marker, compact.

        `n` is one more than any checkpoint, segment or keys file number in the directory. A
        `processed_keys` list goes to `keys-n.json` (see the module docstring). Nothing is
        written if `state` is not a JSON object.
        """
        with self._lock:
            self._check_open()
            if not isinstance(state, dict):
                msg = f"checkpoint of {process_id!r}: state must be a dict"
                raise JournalError(msg)
            raw_keys = state.get(_KEYS_FIELD)
            keys = raw_keys if isinstance(raw_keys, list) else None
            if keys is not None:
                state = {name: value for name, value in state.items() if name != _KEYS_FIELD}
            encoded = dumps_json(state, f"checkpoint state of {process_id!r}")
            log = self._log(process_id)
            seq = max([*log.segments[-1:], *log.checkpoints[-1:], *log.key_files], default=0) + 1
            if keys is None:
                payload = b'{"seq":%d,"state":%s}\n' % (seq, encoded)
            else:
                link, keys_data = self._key_link(log, seq, keys)
                payload = b'{"seq":%d,"state":%s,"keys_file":"keys-%d.json"}\n' % (
                    seq, encoded, seq)
            marker = encode_entry(JournalEntry(process_id, EntryType.CHECKPOINT.value,
                                               {"seq": seq}))
            try:
                if keys is not None:
                    self._write_keys(log, seq, keys_data)
                    log.links[seq] = link
                    log.keys, log.keys_seq = list(keys), seq
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
            if self._wal is not None:
                if not errors:  # every segment is durable: the log is not needed any more
                    _unlink(self._wal_path)
                os.close(self._wal)  # releases its lock
                self._wal = None
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
                state = self._load_checkpoint(log, seq)
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
            elif match := _KEYS.fullmatch(name):
                log.key_files.add(int(match[1]))
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

    def _log_ahead(self, data: bytes) -> None:
        """Append `data` to the write-ahead log and fsync it; empty the log first if it is
        full (after making every segment durable)."""
        try:
            if self._wal is None:
                self._wal = os.open(self._wal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                fcntl.flock(self._wal, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._sync_dir(self._base)
            elif self._wal_size + len(data) > WAL_LIMIT:
                for log in list(self._logs.values()):
                    self._sync_log(log)
                os.ftruncate(self._wal, 0)
                self._wal_size = 0
            view, done = memoryview(data), 0
            while done < len(data):
                done += os.write(self._wal, view[done:])
            self._wal_size += len(data)
            os.fsync(self._wal)
        except OSError as err:
            msg = f"cannot write the journal's write-ahead log {self._wal_path}: {err}"
            raise JournalError(msg) from err

    def _replay_wal(self, path: Path) -> None:
        """Write back what a dead writer's log holds and its segments lack, then delete it."""
        fd = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # its writer is alive (and its segments are whole in the OS's cache)
            data = os.read(fd, os.fstat(fd).st_size)
            segments: dict[Path, int] = {}
            try:
                for name, seq, offset, body in _wal_records(data):
                    segment = self._base / name / f"segment-{seq}.jsonl"
                    if segment not in segments:
                        if not segment.exists():
                            continue  # compacted away: it was fsynced before that
                        segments[segment] = os.open(segment, os.O_RDWR)
                    target = segments[segment]
                    if os.pread(target, len(body), offset) != body:
                        logger.warning("journal: restoring %d bytes of %s at %d from %s",
                                       len(body), segment, offset, path)
                        os.pwrite(target, body, offset)
                for target in segments.values():
                    os.fsync(target)
            finally:
                for target in segments.values():
                    os.close(target)
            path.unlink()
            self._sync_dir(self._base)
        finally:
            os.close(fd)

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
        self._write_file(tmp, payload)
        os.replace(tmp, path)
        self._sync_dir(path.parent)

    def _compact(self, log: _ProcessLog) -> None:
        """Delete checkpoints older than the second newest, segments before its marker, and the
        keys files neither kept checkpoint needs (none while a chain is not fully known)."""
        self._compact_keys(log)
        if len(log.checkpoints) < 2:
            return
        floor = log.checkpoints[-2]
        for seqs, path_of in ((log.checkpoints, log.checkpoint_path),
                              (log.segments, log.segment_path)):
            for seq in [s for s in seqs if s < floor]:
                if _unlink(path_of(seq)):
                    seqs.remove(seq)

    def _compact_keys(self, log: _ProcessLog) -> None:
        needed: set[int] = set()
        for seq in log.checkpoints[-2:]:
            if seq in log.key_files:
                chain = log.chain(seq)
                if chain is None:
                    return
                needed.update(chain)
        for seq in sorted(log.key_files - needed):
            if _unlink(log.keys_path(seq)):
                log.key_files.discard(seq)
                log.links.pop(seq, None)

    def _key_link(self, log: _ProcessLog, seq: int, keys: list[Any]) -> tuple[_KeyLink, bytes]:
        """Checkpoint `seq`'s keys file and its JSON: the keys added since the newest checkpoint
        whose list is known, or the whole list if it did not slide or the chain gets too long."""
        base, added = None, keys
        slid = None if log.keys is None else _slide(log.keys, keys)
        if slid is not None and log.chain(seq, _KeyLink(log.keys_seq, len(slid), len(keys))):
            base, added = log.keys_seq, slid
        link = _KeyLink(base, len(added), len(keys))
        record = {"seq": seq, "base": base, "length": len(keys), "add": added}
        return link, dumps_json(record, f"processed keys of {log.process_id!r}") + b"\n"

    def _write_keys(self, log: _ProcessLog, seq: int, data: bytes) -> None:
        """Write keys file `seq` (fsynced unless `never`); the checkpoint file's rename and
        directory fsync that follow make its name durable too."""
        path = log.keys_path(seq)
        log.key_files.add(seq)
        self._write_file(path, data)

    def _write_file(self, path: Path, data: bytes) -> None:
        """Create or replace `path` with `data`, fsynced unless the policy is `never`."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view, done = memoryview(data), 0
            while done < len(data):
                done += os.write(fd, view[done:])
            if self._fsync != "never":
                os.fsync(fd)
        finally:
            os.close(fd)

    def _load_checkpoint(self, log: _ProcessLog, seq: int) -> dict[str, Any] | None:
        """Checkpoint `seq`'s state with its `processed_keys` rebuilt, or None (with a warning)
        if the file or a keys file of its chain is unreadable. Remembers the list, so the next
        checkpoint's keys file extends this one."""
        path = log.checkpoint_path(seq)
        raw = _load_json(path, "checkpoint")
        if (not isinstance(raw, dict) or raw.get("seq") != seq
                or not isinstance(raw.get("state"), dict)):
            if raw is not None:
                logger.warning("journal: checkpoint %s is not a {seq: %d, state: {...}} object; "
                               "falling back to an older checkpoint and replay", path, seq)
            return None
        state: dict[str, Any] = raw["state"]
        if "keys_file" in raw:
            keys = self._load_keys(log, seq)
            if keys is None:
                logger.warning("journal: checkpoint %s: its processed keys cannot be rebuilt "
                               "from the keys files; falling back to an older checkpoint and "
                               "replay", path)
                return None
            state[_KEYS_FIELD] = keys
            log.keys, log.keys_seq = list(keys), seq
        return state

    def _load_keys(self, log: _ProcessLog, seq: int) -> list[Any] | None:
        """The list checkpoint `seq`'s keys files add up to; None if one is missing or bad."""
        parts: list[list[Any]] = []
        covered, length, current = 0, None, seq
        while len(parts) <= MAX_KEY_LINKS:
            raw = _load_json(log.keys_path(current), "keys file")
            link = _key_link_of(raw, current)
            if link is None:
                return None
            log.links[current] = link
            parts.append(raw["add"])
            length = link.length if length is None else length
            covered += link.added
            if covered >= length or link.base is None:
                keys = [key for part in reversed(parts) for key in part]
                keys = keys[len(keys) - length:]
                return keys if len(keys) == length else None
            current = link.base
        return None

    def _forget(self, log: _ProcessLog) -> None:
        """Drop the process's cached state and close its file (errors ignored: nothing to save;
        what it holds is fsynced first if it can be, since the write-ahead log may count on it).
        """
        if self._logs.get(log.process_id) is log:
            del self._logs[log.process_id]
        if log.fd is not None:
            if log.dirty and self._fsync != "never":
                try:
                    os.fsync(log.fd)
                except OSError:
                    logger.debug("journal: fsync of %s failed", log.current, exc_info=True)
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


def _wal_records(data: bytes) -> list[tuple[str, int, int, bytes]]:
    """The complete records of a write-ahead log (process dir, segment, offset, bytes), up to
    the first torn or damaged one."""
    records: list[tuple[str, int, int, bytes]] = []
    pos = 0
    while (newline := data.find(b"\n", pos)) >= 0:
        fields = data[pos:newline].split(b" ")
        if len(fields) != 5:
            break
        try:
            name = fields[0].decode("ascii")
            seq, offset, length = int(fields[1]), int(fields[2]), int(fields[3])
        except ValueError:
            break
        body = data[newline + 1:newline + 1 + length]
        if (not _DIR.fullmatch(name) or name.startswith(".") or len(body) != length
                or b"%08x" % zlib.crc32(body) != fields[4]):
            break
        records.append((name, seq, offset, body))
        pos = newline + 1 + length
    return records


def _load_json(path: Path, what: str) -> Any:
    """The JSON in `path`, or None with a warning if it cannot be read or parsed."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as err:
        logger.warning("journal: %s %s is unreadable (%s); falling back to an older "
                       "checkpoint and replay", what, path, err)
        return None


def _key_link_of(raw: Any, seq: int) -> _KeyLink | None:
    """The link a keys file describes, or None if it is not a valid one for `seq`."""
    if not isinstance(raw, dict) or raw.get("seq") != seq or not isinstance(raw.get("add"), list):
        return None
    base, length = raw.get("base"), raw.get("length")
    if not isinstance(length, int) or length < 0 or not (
            base is None or (isinstance(base, int) and base < seq)):
        return None
    return _KeyLink(base, len(raw["add"]), length)


def _slide(before: list[Any], after: list[Any]) -> list[Any] | None:
    """The items added at the end if `after` is `before` less some oldest items plus them,
    else None (the list changed some other way)."""
    if not after:
        return []
    try:
        start = before.index(after[0])
    except ValueError:
        return None
    kept = len(before) - start
    if before[start:] != after[:kept]:
        return None
    return after[kept:]


def _unlink(path: Path) -> bool:
    """Delete `path` (already gone is fine); False, with a warning, if it cannot be."""
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        logger.warning("journal: cannot delete %s during compaction: %s", path, err)
        return False
    return True
