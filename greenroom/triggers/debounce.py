"""File-watch policy without threads or I/O: per-path debouncing, ignored names, snapshot diffs.

Raw kinds are watchdog's `created`, `modified`, `deleted` and `moved`. A move touches two paths:
its source leaves (as if deleted) and its destination arrives. Every raw change of a path within
the debounce window (trailing: the window restarts with each raw change) merges into one net
change, decided by whether the path existed just before its first raw change and whether it
exists after its last one:

- gone, and it existed before: `deleted`;
- gone, and it did not exist before (a temp file created then deleted or renamed away): nothing;
- there, and it existed before: `modified` (in-place writes, a delete and re-create, or an
  editor's rename of a temp file over it);
- there, and it did not: `created`, or `moved` when it arrived by a rename.

A rename onto a new name is new under that name, so a `watch_events` list that asks for
`created` also gets `moved` changes (`event_wanted`); otherwise an atomic writer's
`x.tmp -> x.csv` would pass unseen by default.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch, fnmatchcase

__all__ = [
    "IGNORED_NAMES",
    "MAX_PENDING",
    "RAW_KINDS",
    "Debouncer",
    "NetChange",
    "Stat",
    "diff_snapshots",
    "event_wanted",
    "is_ignored",
    "name_wanted",
]

RAW_KINDS = ("created", "modified", "deleted", "moved")
"""The raw change kinds a `Debouncer` accepts."""

MAX_PENDING = 10_000
"""Default bound on the paths waiting in a `Debouncer`; changes of further paths are dropped."""

IGNORED_NAMES = (
    ".*.swp",             # vim swap file
    ".*.swo",             # vim's second swap file
    ".*.swx",             # vim's probe that the directory is writable
    "4913",               # vim's other writability probe
    "*~",                 # vim / emacs / gedit backup
    ".#*",                # emacs lock link
    "#*#",                # emacs auto-save
    "*.tmp",              # atomic writers' temp files
    ".*.tmp",             # the same, hidden
    ".goutputstream-*",   # GNOME (GIO) atomic save
)
"""Glob patterns (on the file name) of editor temp and backup files a file watch never reports."""

Stat = tuple[int, int]
"""What a snapshot keeps per file: `(st_mtime_ns, st_size)`."""


def is_ignored(name: str) -> bool:
    """Whether `name` (a file name, not a path) is an editor temp or backup file."""
    return any(fnmatchcase(name, pattern) for pattern in IGNORED_NAMES)


def name_wanted(name: str, patterns: Collection[str]) -> bool:
    """Whether a file called `name` is watched: not ignored, and matching a glob of `patterns`."""
    return not is_ignored(name) and any(fnmatch(name, pattern) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class NetChange:
    """One path's merged change once its window has passed: the net type and the raw kinds."""

    path: str
    event_type: str
    raw_types: tuple[str, ...]


def event_wanted(change: NetChange, watch_events: Collection[str]) -> bool:
    """Whether a `watch_events` list selects `change` (`created` also selects `moved`)."""
    if change.event_type in watch_events:
        return True
    return change.event_type == "moved" and "created" in watch_events


class _Pending:
    """What is known about one path within its window."""

    __slots__ = ("arrival", "existed", "exists", "last", "raw")

    def __init__(self, existed: bool, arrival: str, now: float) -> None:
        self.existed = existed
        self.exists = True
        self.arrival = arrival
        self.raw: list[str] = []
        self.last = now

    def net(self) -> str | None:
        if not self.exists:
            return "deleted" if self.existed else None
        return "modified" if self.existed else self.arrival


class Debouncer:
    """Trailing per-path debounce of raw changes into `NetChange`s; times are passed in.

    `keep(path)` selects the paths worth tracking (the others are not counted as pending).
    At most `max_pending` paths wait at once; changes of new paths beyond that are dropped and
    counted in `dropped`. Times must not go backwards (use a monotonic clock).
    """

    def __init__(
        self,
        window: float,
        *,
        max_pending: int = MAX_PENDING,
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        if window < 0:
            msg = f"window: must be >= 0, got {window}"
            raise ValueError(msg)
        if max_pending < 1:
            msg = f"max_pending: must be >= 1, got {max_pending}"
            raise ValueError(msg)
        self.window = window
        self.max_pending = max_pending
        self.dropped = 0
        self._keep = keep
        self._pending: OrderedDict[str, _Pending] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, path: str, kind: str, now: float, dest: str | None = None, *, replaced: bool = False
    ) -> None:
        """Record a raw change at time `now`.

        For `moved`, `path` is the source and `dest` the destination; `replaced` says that
        `dest` existed before and the rename replaced it (an editor's atomic save).
        """
        if kind not in RAW_KINDS:
            msg = f"kind: expected one of {RAW_KINDS}, got {kind!r}"
            raise ValueError(msg)
        if kind == "moved":
            self._record(path, "moved", now, existed=True, exists=False)
            if dest is not None:
                self._record(dest, "moved", now, existed=replaced, exists=True)
            return
        if dest is not None:
            msg = f"dest: only a move has a destination, not {kind!r}"
            raise ValueError(msg)
        self._record(path, kind, now, existed=kind != "created", exists=kind != "deleted")

    def _record(self, path: str, kind: str, now: float, *, existed: bool, exists: bool) -> None:
        if self._keep is not None and not self._keep(path):
            return
        entry = self._pending.get(path)
        if entry is None:
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                return
            entry = _Pending(existed, kind, now)
            self._pending[path] = entry
        else:
            self._pending.move_to_end(path)
            entry.last = now
        entry.exists = exists
        if kind not in entry.raw:
            entry.raw.append(kind)

    def due(self, now: float) -> list[NetChange]:
        """Take the paths whose last raw change is `window` old, as net changes, oldest first."""
        changes: list[NetChange] = []
        while self._pending:
            path, entry = next(iter(self._pending.items()))
            if entry.last + self.window > now:
                break
            del self._pending[path]
            event_type = entry.net()
            if event_type is not None:
                changes.append(NetChange(path, event_type, tuple(entry.raw)))
        return changes

    def next_deadline(self) -> float | None:
        """When the oldest pending path becomes due, or None if nothing is pending."""
        for entry in self._pending.values():
            return entry.last + self.window
        return None


def diff_snapshots(old: Mapping[str, Stat], new: Mapping[str, Stat]) -> list[tuple[str, str]]:
    """`(path, raw kind)` for each file created, deleted or changed from `old` to `new`, sorted."""
    changes = [(path, "deleted") for path in old if path not in new]
    for path, stat in new.items():
        before = old.get(path)
        if before is None:
            changes.append((path, "created"))
        elif before != stat:
            changes.append((path, "modified"))
    changes.sort()
    return changes
