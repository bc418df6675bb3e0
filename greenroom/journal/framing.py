"""The on-disk record format of `FileJournal`: one entry per line, with a CRC32 so damage shows.

A record is the entry's compact JSON (`JournalEntry.to_dict()`), a tab, the CRC32 of the JSON's
UTF-8 bytes as 8 lowercase hex digits, and a newline::

    {"entry_id":"…","process_id":"worker","timestamp":"…","entry_type":"error","data":{…}}\t1a2b3c4d

JSON never contains a raw tab or newline (`json.dumps` escapes them inside strings), so
`cut -f1 segment-0.jsonl` is plain JSONL, and the framing is unambiguous.

`scan` reads a file's bytes and returns the entries of its longest valid prefix. The common case
(every line valid) is checked in bulk: each line's CRC, then one `json.loads` of all the records
as one JSON array, and entries built without re-validating what the format guarantees; anything
unexpected falls back to the line-by-line check, which names the problem. What ends that
prefix (a line without its newline, a CRC mismatch, bad JSON, a JSON value that is not an entry)
is classified by what follows it:

- **a torn tail**: no valid record after the first bad line. This is what a crash in the middle
  of a write leaves (a partial last line, or the zero-filled blocks a power loss can leave at the
  end of a file). Cutting the file at `ScanResult.end` loses no readable entry, so recovery does.
- **a corrupt middle**: a valid record follows the bad line. Cutting there would silently drop
  the valid entries after it, and skipping the bad line would replay a history with a hole in it;
  neither is acceptable for a process that must not start with half a state, so the journal
  raises `JournalError` naming the file and line instead (`ScanResult.corrupt_middle`).
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from greenroom.journal.entry import JournalEntry
from greenroom.journal.gcpause import gc_paused
from greenroom.journal.provider import JournalError

__all__ = ["FrameError", "ScanResult", "decode_line", "dumps_json", "encode_entry", "scan"]

_CRC = re.compile(rb"[0-9a-f]{8}")


class FrameError(ValueError):
    """A line that is not a valid record; the message says precisely why."""


def dumps_json(value: Any, what: str) -> bytes:
    """`value` as compact UTF-8 JSON, or `JournalError` naming `what` if it is not JSON.

    JSON as `json.dumps` defines it (tuples become lists, non-string keys become strings), minus
    NaN and infinities, which are not JSON and would break other JSONL readers. Strings with lone
    surrogates fall back to `\\uXXXX` escapes, which represent them losslessly.
    """
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        msg = f"{what} is not JSON-serialisable: {err}"
        raise JournalError(msg) from err
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")


_LINE = "_record_line"
"""Where `encode_entry(entry, keep=True)` leaves the line, in the entry's `__dict__`."""


def encode_entry(entry: JournalEntry, *, keep: bool = False) -> bytes:
    """One record line for `entry` (newline included); `JournalError` if it could not be read back.

    Refused: data that is not JSON, data that is not a dict, a timestamp without a time zone and
    non-string ids, since each would be written fine and then make the file unreadable.
    `keep=True` keeps the line with the entry, and later calls return it: the runtime encodes an
    accepted event's entry once, to refuse it at once if it is not JSON, and the journal writes
    that line (the data as it was when accepted).
    """
    line: bytes | None = getattr(entry, _LINE, None)
    if line is not None:
        return line
    if not isinstance(entry, JournalEntry):
        msg = f"expected a JournalEntry, got {type(entry).__name__}"
        raise JournalError(msg)
    what = f"entry {entry.entry_id!r} of process {entry.process_id!r}"
    for name in ("process_id", "entry_type", "entry_id"):
        if not isinstance(getattr(entry, name), str):
            msg = f"{what}: {name} must be a string"
            raise JournalError(msg)
    if not isinstance(entry.data, dict):
        msg = f"{what}: data must be a dict, got {type(entry.data).__name__}"
        raise JournalError(msg)
    if entry.timestamp.utcoffset() is None:
        msg = f"{what}: timestamp has no time zone"
        raise JournalError(msg)
    body = dumps_json(entry.to_dict(), f"{what}: data")
    line = b"%s\t%08x\n" % (body, zlib.crc32(body))
    if keep:
        entry.__dict__[_LINE] = line  # beside the frozen fields: not one of them
    return line


def decode_line(line: bytes) -> JournalEntry:
    """The entry in one record line (newline optional); `FrameError` says what is wrong."""
    if line.endswith(b"\n"):
        line = line[:-1]
    body, tab, crc_field = line.rpartition(b"\t")
    if not tab:
        msg = "no tab-separated CRC field"
        raise FrameError(msg)
    if not _CRC.fullmatch(crc_field):
        msg = f"malformed CRC field {crc_field[:16]!r} (expected 8 lowercase hex digits)"
        raise FrameError(msg)
    stored, computed = int(crc_field, 16), zlib.crc32(body)
    if stored != computed:
        msg = f"CRC mismatch (stored {stored:08x}, computed {computed:08x})"
        raise FrameError(msg)
    try:
        raw = json.loads(body.decode("utf-8"))
    except ValueError as err:
        msg = f"bad JSON: {err}"
        raise FrameError(msg) from err
    if not isinstance(raw, dict):
        msg = f"JSON {type(raw).__name__} is not an entry object"
        raise FrameError(msg)
    try:
        return JournalEntry.from_dict(raw)
    except (KeyError, ValueError, TypeError) as err:
        msg = f"not a journal entry: {type(err).__name__}: {err}"
        raise FrameError(msg) from err


@dataclass(frozen=True)
class ScanResult:
    """What `scan` found: the valid prefix's entries and end, and what (if anything) ended it."""

    entries: list[JournalEntry]
    end: int
    """Byte offset where the valid prefix ends (the file's size if everything is valid)."""
    size: int
    error: str | None = None
    """Why the prefix ended, or None if the whole input is valid."""
    error_line: int | None = None
    """1-based line number of the first bad line."""
    valid_after: int = 0
    """How many valid records follow the first bad line (more than 0: a corrupt middle)."""

    @property
    def corrupt_middle(self) -> bool:
        """Whether valid records follow the damage, so cutting at `end` would lose entries."""
        return self.valid_after > 0

    @property
    def dropped_bytes(self) -> int:
        """Bytes after the valid prefix (what truncating a torn tail removes)."""
        return self.size - self.end


def _bulk_json(data: bytes) -> list[Any] | None:
    """The JSON of every record in `data` if every line has its newline and a matching CRC
    and holds one JSON value, else None."""
    lines = data.split(b"\n")
    if lines.pop():  # the last line has no newline
        return None
    crc = zlib.crc32
    bodies = [line[:-9] for line in lines]
    for line, body in zip(lines, bodies, strict=True):
        if line[-9:-8] != b"\t" or b"%08x" % crc(body) != line[-8:]:
            return None
    try:
        raws: list[Any] = json.loads(b"[%s]" % b",".join(bodies))
    except ValueError:
        return None
    return raws if len(raws) == len(bodies) else None  # else a body held several values


def _bulk(data: bytes) -> list[JournalEntry] | None:
    """Every record of `data` if all its lines are valid (the common case, checked quickly),
    else None."""
    raws = _bulk_json(data)
    if raws is None:
        return None
    entries: list[JournalEntry] = []
    append, trusted, parse = entries.append, JournalEntry.trusted, datetime.fromisoformat
    try:
        for raw in raws:
            timestamp = parse(raw["timestamp"])
            entry_id, process_id = raw["entry_id"], raw["process_id"]
            entry_type, entry_data = raw["entry_type"], raw["data"]
            if (timestamp.tzinfo is None or type(entry_data) is not dict or len(raw) != 5
                    or type(entry_id) is not str or type(process_id) is not str
                    or type(entry_type) is not str):
                return None
            append(trusted(process_id, entry_type, entry_data, entry_id, timestamp))
    except (KeyError, TypeError, ValueError):
        return None
    return entries


def scan(data: bytes) -> ScanResult:
    """Decode the records in `data` up to the first bad line, and classify what follows it."""
    with gc_paused():
        bulk = _bulk(data)
    if bulk is not None:
        return ScanResult(bulk, len(data), len(data))
    entries: list[JournalEntry] = []
    size, pos, line_no = len(data), 0, 0
    while pos < size:
        line_no += 1
        newline = data.find(b"\n", pos)
        if newline < 0:
            error = "last line has no newline (torn write)"
            return ScanResult(entries, pos, size, error, line_no)
        try:
            entries.append(decode_line(data[pos:newline]))
        except FrameError as err:
            return ScanResult(entries, pos, size, str(err), line_no,
                              _count_valid(data, newline + 1))
        pos = newline + 1
    return ScanResult(entries, pos, size)


def _count_valid(data: bytes, pos: int) -> int:
    """The number of complete, valid records in `data[pos:]` (bad lines in between skipped)."""
    count = 0
    for line in data[pos:].split(b"\n")[:-1]:
        try:
            decode_line(line)
        except FrameError:
            continue
        count += 1
    return count
