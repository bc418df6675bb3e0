"""`FileWatchTriggerActor`: wakes its process when files in a watched directory change.

The actor watches the *directory* `watch_path` (editors save through a temp file and a rename,
which swaps the file's inode) with a watchdog observer: inotify (or the platform's native API),
or polling (`watch_backend`; `auto` falls back to polling when the native observer cannot start,
e.g. at the inotify instance or watch limits). The observer's thread only stats the file and tells
the actor a small message; the actor debounces per path (`greenroom.triggers.debounce`) with one
timer on the system clock and fires each net change that `watch_events` selects. Payload:
`path` (absolute), `filename`, `event_type` (net) and `event_types` (the raw kinds seen).

An inotify queue overflow loses events. watchdog 7.1 only logs it (and re-adds its watches), so
on Linux the native observer here also reports it, and the actor rescans: it keeps the
`(mtime_ns, size)` of every watched file, compares a fresh scan (run off the actor, on the io
loop's executor) with it, and fires the differences. Telling the actor `Rescan()` does the same.
Directory events are not fired; a directory moved out of the tree reports its known files as
deleted, and the removal of `watch_path` itself crashes the actor (its supervisor decides).

Dispatcher: the actor never waits on I/O in its handlers, so the pooled dispatcher is fine; only
`on_start` walks the tree once (its baseline, plus the observer's own walk) before `spawn`
returns, and `on_stop` joins the observer's threads (bounded).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watchdog.events import (
    DirDeletedEvent,
    FileAttribEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import DEFAULT_EMITTER_TIMEOUT, DEFAULT_OBSERVER_TIMEOUT, BaseObserver
from watchdog.observers.polling import PollingObserver

from greenroom.actors.messages import Failure
from greenroom.triggers.actor import TriggerActor
from greenroom.triggers.debounce import (
    Debouncer,
    NetChange,
    Stat,
    diff_snapshots,
    event_wanted,
    name_wanted,
)
from greenroom.triggers.errors import TriggerError

if TYPE_CHECKING:
    from types import TracebackType

    import pykka

    from greenroom.triggers.config import TriggerConfig
    from greenroom.triggers.host import TriggerHost, TriggerStats

__all__ = ["FileWatchTriggerActor", "Rescan", "native_observer"]

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
"""How long `on_stop` waits for the observer's thread."""

_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileDeletedEvent, FileMovedEvent,
    DirDeletedEvent,
]
"""What the observer reports (no opened/closed events, so fewer inotify events to overflow)."""


@dataclass(frozen=True, slots=True)
class Rescan:
    """Told to a `FileWatchTriggerActor`: compare the tree with what it knows, fire differences.

    Sent by the native observer on an inotify queue overflow.
    """

    reason: str = "requested"


@dataclass(frozen=True, slots=True)
class _RawChange:
    kind: str
    path: str
    dest: str | None = None
    stat: Stat | None = None


@dataclass(frozen=True, slots=True)
class _DirGone:
    path: str


@dataclass(frozen=True, slots=True)
class _Scanned:
    found: dict[str, Stat]


@dataclass(frozen=True, slots=True)
class _Flush:
    pass


def _stat(path: str) -> Stat | None:
    try:
        result = os.stat(path)
    except OSError:
        return None
    return (result.st_mtime_ns, result.st_size)


def _scan(root: str, recursive: bool, keep: Callable[[str], bool]) -> dict[str, Stat]:
    """`(mtime_ns, size)` of each watched regular file under `root` (I/O: not on the actor)."""
    found: dict[str, Stat] = {}
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if recursive:
                                stack.append(entry.path)
                        elif entry.is_file() and keep(entry.path):
                            stat = entry.stat()
                            found[entry.path] = (stat.st_mtime_ns, stat.st_size)
                    except OSError:
                        continue
        except OSError:
            if directory == root:
                raise
    return found


class _Relay(FileSystemEventHandler):
    """Runs in the observer's thread: stats the file and tells the actor; no actor state."""

    def __init__(self, ref: pykka.ActorRef[Any], keep: Callable[[str], bool]) -> None:
        self._ref = ref
        self._keep = keep

    def dispatch(self, event: FileSystemEvent) -> None:
        """Forward a file event (of a watched name) or a directory's removal."""
        src = os.fsdecode(event.src_path)
        kind = event.event_type
        if event.is_directory:
            if kind == "deleted":
                self._ref.tell(_DirGone(src))
            return
        if kind == "moved":
            dest = os.fsdecode(event.dest_path)
            if self._keep(src) or self._keep(dest):
                stat = _stat(dest) if self._keep(dest) else None
                self._ref.tell(_RawChange("moved", src, dest, stat))
        elif self._keep(src):
            self._ref.tell(_RawChange(kind, src, None, None if kind == "deleted" else _stat(src)))


if sys.platform.startswith("linux"):
    from watchdog.events import FileSystemEvent as _Event
    from watchdog.observers.api import EventQueue, ObservedWatch
    from watchdog.observers.inotify import InotifyEmitter, InotifyWatchGroup
    from watchdog.observers.inotify_c import InotifyFD

    @dataclass
    class _OverflowWatchGroup(InotifyWatchGroup):
        """watchdog's inotify watch group, also calling `on_overflow` when the queue overflows."""

        on_overflow: Callable[[], object] = lambda: None

        def on_queue_overflow(self) -> None:
            """Let watchdog re-add its watches, then report the lost events."""
            super().on_queue_overflow()
            self.on_overflow()

    class _OverflowInotifyEmitter(InotifyEmitter):
        """watchdog's inotify emitter with an `_OverflowWatchGroup`."""

        def __init__(
            self,
            event_queue: EventQueue,
            watch: ObservedWatch,
            *,
            timeout: float = DEFAULT_EMITTER_TIMEOUT,
            event_filter: list[type[_Event]] | None = None,
            inotify_fd: InotifyFD | None = None,
            on_overflow: Callable[[], object],
        ) -> None:
            super().__init__(event_queue, watch, timeout=timeout, event_filter=event_filter,
                             inotify_fd=inotify_fd)
            self._on_overflow = on_overflow

        def on_thread_start(self) -> None:
            """Add the watches (as watchdog's emitter does), reporting overflows."""
            self._inotify = _OverflowWatchGroup(
                self._inotify_fd,
                os.fsencode(self.watch.path),
                is_recursive=self.watch.is_recursive,
                event_mask=self.get_event_mask_from_filter(),
                follow_symlink=self.watch.follow_symlink,
                on_overflow=self._on_overflow,
            )

    class _OverflowInotifyObserver(BaseObserver):
        """An inotify observer with its own inotify instance that reports queue overflows."""

        def __init__(self, on_overflow: Callable[[], object]) -> None:
            self.inotify_fd = InotifyFD()
            self.inotify_fd.start()
            super().__init__(_OverflowInotifyEmitter, timeout=DEFAULT_OBSERVER_TIMEOUT,
                             inotify_fd=self.inotify_fd, on_overflow=on_overflow)

        def on_thread_stop(self) -> None:
            """Stop the emitters, then the inotify reader thread."""
            super().on_thread_stop()
            self.inotify_fd.stop()
            self.inotify_fd.join()


def native_observer(on_overflow: Callable[[], object]) -> BaseObserver:
    """The platform's native observer; on Linux, inotify that calls `on_overflow` when the kernel
    queue overflows. Raises `OSError` when inotify is exhausted (instance limit).
    """
    if sys.platform.startswith("linux"):
        return _OverflowInotifyObserver(on_overflow)
    return Observer()


def _halt(observer: BaseObserver, timeout: float) -> bool:
    """Stop an observer (started or not) and wait for its thread; False if it is still alive."""
    observer.stop()
    if observer.is_alive():
        observer.join(timeout)
    return not observer.is_alive()


class FileWatchTriggerActor(TriggerActor):
    """Watches `config.watch_path` and fires one event per debounced net change of a file."""

    def __init__(
        self, config: TriggerConfig, trigger_id: str, host: TriggerHost, stats: TriggerStats
    ) -> None:
        super().__init__(config, trigger_id, host, stats)
        self._root = os.path.abspath(config.watch_path or ".")
        patterns = tuple(config.watch_patterns)

        def keep(path: str) -> bool:
            return name_wanted(os.path.basename(path), patterns)

        self._keep = keep
        self._debouncer = Debouncer(config.watch_debounce_seconds, keep=keep)
        self._observer: BaseObserver | None = None
        self._known: dict[str, Stat] = {}
        self._touched: dict[str, Stat | None] | None = None
        self._rescan_again = False
        self._armed: float | None = None
        self._dropped_reported = 0

    # Lifecycle --------------------------------------------------------------------------------

    def on_start(self) -> None:
        """Check `watch_path`, take the baseline snapshot and start the observer."""
        root = self._root
        if not os.path.exists(root):
            msg = f"watch_path: {root!r} does not exist"
            raise TriggerError(msg)
        if not os.path.isdir(root):
            msg = f"watch_path: {root!r} is not a directory (watch the directory of a file)"
            raise TriggerError(msg)
        try:
            self._known = _scan(root, self.config.watch_recursive, self._keep)
        except OSError as exc:
            msg = f"watch_path: cannot read {root!r}: {exc}"
            raise TriggerError(msg) from exc
        self._observer, backend = self._start_observer()
        self.stats.info.update(watch_path=root, watch_backend=backend)

    def on_stop(self) -> None:
        """Stop the observer and join its threads (bounded)."""
        self._halt_observer()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """A failed actor does not run `on_stop`: release the observer here too."""
        del exception_type, exception_value, traceback
        self._halt_observer()

    def _halt_observer(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None and not _halt(observer, STOP_TIMEOUT):
            logger.warning("trigger %s: the file observer did not stop within %s s",
                           self.trigger_id, STOP_TIMEOUT)

    def _start_observer(self) -> tuple[BaseObserver, str]:
        backend = self.config.watch_backend
        if backend != "polling":
            me = self.actor_ref

            def overflowed() -> None:
                me.tell(Rescan("inotify queue overflow"))

            try:
                return self._launch(native_observer(overflowed)), "native"
            except OSError as exc:
                if backend == "watchdog":
                    msg = f"watch_path: cannot watch {self._root!r} natively: {exc}"
                    raise TriggerError(msg) from exc
                logger.warning("trigger %s: native file watching failed (%s); polling every "
                               "%s s instead", self.trigger_id, exc,
                               self.config.watch_poll_interval)
        try:
            observer = PollingObserver(timeout=self.config.watch_poll_interval)
            return self._launch(observer), "polling"
        except OSError as exc:
            msg = f"watch_path: cannot watch {self._root!r}: {exc}"
            raise TriggerError(msg) from exc

    def _launch(self, observer: BaseObserver) -> BaseObserver:
        try:
            observer.schedule(_Relay(self.actor_ref, self._keep), self._root,
                              recursive=self.config.watch_recursive, event_filter=_EVENT_FILTER)
            observer.start()
        except BaseException:
            _halt(observer, STOP_TIMEOUT)
            raise
        return observer

    # Messages -----------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        """Raw changes, the debounce timer, rescans and their results."""
        if isinstance(message, _RawChange):
            self._raw_change(message)
        elif isinstance(message, _Flush):
            self._flush()
        elif isinstance(message, _DirGone):
            self._dir_gone(message.path)
        elif isinstance(message, Rescan):
            self._rescan(message.reason)
        elif isinstance(message, _Scanned):
            self._scanned(message.found)
        elif isinstance(message, Failure):
            self._touched = None
            self._rescan_again = False
            self.stats.errors += 1
            logger.warning("trigger %s: rescan of %s failed: %r", self.trigger_id, self._root,
                           message.exception)
        else:
            return super().on_receive(message)
        return None

    def _raw_change(self, change: _RawChange) -> None:
        now = self.system.clock.monotonic()
        kind = change.kind
        if kind == "attrib":
            # chmod and chown change no content; `touch` changes the mtime and counts.
            if change.stat is None or self._known.get(change.path) == change.stat:
                return
            kind = "modified"
        if kind == "moved" and change.dest is not None:
            replaced = change.dest in self._known
            self._debouncer.add(change.path, "moved", now, change.dest, replaced=replaced)
            self._note(change.path, None)
            self._note(change.dest, change.stat)
        elif kind in ("created", "modified", "deleted"):
            self._debouncer.add(change.path, kind, now)
            self._note(change.path, None if kind == "deleted" else change.stat)
        self._arm(now)

    def _dir_gone(self, path: str) -> None:
        if path == self._root:
            msg = f"watch_path: {self._root!r} was removed"
            raise TriggerError(msg)
        now = self.system.clock.monotonic()
        prefix = path + os.sep
        for known in [p for p in self._known if p.startswith(prefix)]:
            self._debouncer.add(known, "deleted", now)
            self._note(known, None)
        self._arm(now)

    def _note(self, path: str, stat: Stat | None) -> None:
        """Keep the snapshot current: `stat` of a watched file, None when it is gone."""
        if not self._keep(path):
            return
        if stat is None:
            self._known.pop(path, None)
        else:
            self._known[path] = stat
        if self._touched is not None:
            self._touched[path] = stat

    # Debounce timer ---------------------------------------------------------------------------

    def _arm(self, now: float) -> None:
        deadline = self._debouncer.next_deadline()
        if deadline is None or (self._armed is not None and self._armed <= deadline):
            return
        self._armed = deadline
        self.timers.start_single_timer("debounce", _Flush(), max(0.0, deadline - now))

    def _flush(self) -> None:
        self._armed = None
        now = self.system.clock.monotonic()
        for change in self._debouncer.due(now):
            if event_wanted(change, self.config.watch_events):
                self.fire(self._payload(change))
        dropped = self._debouncer.dropped
        if dropped > self._dropped_reported:
            logger.warning("trigger %s: %d file changes dropped (more than %d files pending)",
                           self.trigger_id, dropped - self._dropped_reported,
                           self._debouncer.max_pending)
            self._dropped_reported = dropped
            self.stats.info["dropped_changes"] = dropped
        self._arm(now)

    @staticmethod
    def _payload(change: NetChange) -> dict[str, Any]:
        return {
            "path": change.path,
            "filename": os.path.basename(change.path),
            "event_type": change.event_type,
            "event_types": list(change.raw_types),
        }

    # Rescans ----------------------------------------------------------------------------------

    def _rescan(self, reason: str) -> None:
        if self._touched is not None:
            self._rescan_again = True
            return
        logger.info("trigger %s: rescanning %s (%s)", self.trigger_id, self._root, reason)
        self._touched = {}
        root, recursive, keep = self._root, self.config.watch_recursive, self._keep

        async def scan() -> _Scanned:
            return _Scanned(await asyncio.to_thread(_scan, root, recursive, keep))

        self.pipe_to(scan())

    def _scanned(self, found: dict[str, Stat]) -> None:
        touched = self._touched or {}
        now = self.system.clock.monotonic()
        for path, kind in diff_snapshots(self._known, found):
            if path not in touched:
                self._debouncer.add(path, kind, now)
        known = dict(found)
        for path, stat in touched.items():
            if stat is None:
                known.pop(path, None)
            else:
                known[path] = stat
        self._known = known
        self._touched = None
        self._arm(now)
        if self._rescan_again:
            self._rescan_again = False
            self._rescan("changes during the previous rescan")
