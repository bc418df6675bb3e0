"""`FileWatchTriggerActor` on real files, a real actor system and real watchdog observers.

Absence is proven by order: after the change that must not fire, another file (the marker) is
changed, and the next event must be the marker's. Debounce is trailing and per path, so anything
the first change produced would be delivered before the marker's event.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from trigger_support import RecordingHost
from watchdog.utils import BaseThread

from greenroom.actors.errors import ActorStartError
from greenroom.actors.messages import Terminated
from greenroom.actors.system import ActorSystem
from greenroom.testing import TestProbe
from greenroom.triggers.config import TriggerConfig
from greenroom.triggers.errors import TriggerError
from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.file_watch import FileWatchTriggerActor, Rescan, native_observer
from greenroom.triggers.host import TriggerStats

FAST = 0.05
"""Debounce window where no two raw changes of a test must merge."""

SAFE = 0.5
"""Debounce window where a test's raw changes of one path must merge (robust under load)."""


def _spawn(
    system: ActorSystem, host: RecordingHost, root: Path, dispatcher: str = "pooled",
    **options: Any,
) -> tuple[Any, TriggerStats]:
    options.setdefault("watch_debounce_seconds", FAST)
    config = TriggerConfig(type="file_watch", watch_path=str(root), **options)
    stats = TriggerStats("t1", "file_watch")
    ref = system.spawn(FileWatchTriggerActor, config, "t1", host, stats, dispatcher=dispatcher)
    return ref, stats


def _expect(host: RecordingHost, path: Path, event_type: str) -> TriggerEvent:
    event = host.next_event(10.0)
    assert (event.payload["path"], event.payload["event_type"]) == (str(path), event_type), \
        event.payload
    return event


def _marker(host: RecordingHost, root: Path) -> None:
    """Create a marker file and require that its event is the next one (and the only one)."""
    marker = root / "zz-marker.txt"
    marker.write_text("marker")
    _expect(host, marker, "created")
    assert host.drain() == []


@pytest.fixture
def host() -> RecordingHost:
    """A host that records what the trigger delivers."""
    return RecordingHost()


def test_created_file_fires_once_with_its_payload(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path, dispatcher: str
) -> None:
    _, stats = _spawn(actor_system, host, tmp_path, dispatcher)
    assert stats.info["watch_backend"] == "native"
    assert stats.info["watch_path"] == str(tmp_path)
    target = tmp_path / "a.txt"
    target.write_text("hello")
    event = _expect(host, target, "created")
    assert event.trigger_id == "t1"
    assert event.trigger_type == "file_watch"
    assert event.payload["filename"] == "a.txt"
    assert os.path.isabs(event.payload["path"])
    assert "created" in event.payload["event_types"]
    _marker(host, tmp_path)


def test_modified_file_fires(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    target = tmp_path / "a.txt"
    target.write_text("one")
    _spawn(actor_system, host, tmp_path)
    with target.open("a") as handle:
        handle.write(" two")
    _expect(host, target, "modified")


def test_deleted_file_fires_when_asked_for(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    target = tmp_path / "a.txt"
    target.write_text("one")
    _spawn(actor_system, host, tmp_path, watch_events=["deleted", "created"])
    target.unlink()
    _expect(host, target, "deleted")


def test_atomic_save_fires_once_for_the_target_only(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    target = tmp_path / "report.csv"
    target.write_text("v1")
    _spawn(actor_system, host, tmp_path, watch_debounce_seconds=SAFE)
    temp = tmp_path / "report.csv.new"  # a name the ignore list does not know
    temp.write_text("v2")
    os.replace(temp, target)
    event = _expect(host, target, "modified")
    assert "moved" in event.payload["event_types"]
    _marker(host, tmp_path)


def test_atomic_write_of_a_new_file_is_seen_by_default(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    _spawn(actor_system, host, tmp_path, watch_patterns=["*.csv"])
    temp = tmp_path / "fresh.csv.part"
    temp.write_text("rows")
    os.replace(temp, tmp_path / "fresh.csv")
    _expect(host, tmp_path / "fresh.csv", "moved")


def test_editor_backup_save_fires_once(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("v1")
    _spawn(actor_system, host, tmp_path, watch_debounce_seconds=SAFE)
    swap = tmp_path / ".notes.txt.swp"
    swap.write_text("swap")
    backup = tmp_path / "notes.txt~"
    os.rename(target, backup)
    target.write_text("v2")
    backup.unlink()
    swap.unlink()
    event = _expect(host, target, "modified")
    assert event.payload["filename"] == "notes.txt"
    _marker(host, tmp_path)


def test_rapid_writes_fire_once(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    target = tmp_path / "log.txt"
    target.write_text("")
    _spawn(actor_system, host, tmp_path, watch_debounce_seconds=SAFE)
    with target.open("a") as handle:
        for i in range(20):
            handle.write(f"line {i}\n")
            handle.flush()
    _expect(host, target, "modified")
    _marker(host, tmp_path)


def test_create_then_delete_within_the_window_fires_nothing(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    _spawn(actor_system, host, tmp_path, watch_debounce_seconds=SAFE,
           watch_events=["created", "modified", "deleted", "moved"])
    fleeting = tmp_path / "fleeting.txt"
    fleeting.write_text("here")
    fleeting.unlink()
    _marker(host, tmp_path)


def test_patterns_filter_file_names(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    _spawn(actor_system, host, tmp_path, watch_patterns=["*.csv", "zz-*"])
    (tmp_path / "skip.txt").write_text("no")
    (tmp_path / "take.csv").write_text("yes")
    _expect(host, tmp_path / "take.csv", "created")
    _marker(host, tmp_path)


def test_watch_events_filter_net_types(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    old = tmp_path / "old.txt"
    old.write_text("x")
    _spawn(actor_system, host, tmp_path, watch_events=["deleted"])
    (tmp_path / "new.txt").write_text("not wanted")
    old.unlink()
    _expect(host, old, "deleted")
    assert host.drain() == []


def test_recursive_watch_sees_subdirectories(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    (tmp_path / "sub").mkdir()
    _spawn(actor_system, host, tmp_path)
    (tmp_path / "sub" / "deep.txt").write_text("x")
    _expect(host, tmp_path / "sub" / "deep.txt", "created")
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "new.txt").write_text("x")
    _expect(host, tmp_path / "later" / "new.txt", "created")


def test_non_recursive_watch_ignores_subdirectories(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    (tmp_path / "sub").mkdir()
    _spawn(actor_system, host, tmp_path, watch_recursive=False)
    (tmp_path / "sub" / "deep.txt").write_text("x")
    _marker(host, tmp_path)


def test_polling_backend_sees_changes(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    _, stats = _spawn(actor_system, host, tmp_path, watch_backend="polling",
                      watch_poll_interval=0.05)
    assert stats.info["watch_backend"] == "polling"
    target = tmp_path / "polled.txt"
    target.write_text("x")
    _expect(host, target, "created")
    target.write_text("longer content")
    _expect(host, target, "modified")


def _watch_limit_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make adding an inotify watch fail as it does at `max_user_watches` (ENOSPC)."""
    from watchdog.observers.inotify_c import InotifyFD  # noqa: PLC0415

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(InotifyFD, "add_callback", refuse)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")
def test_auto_falls_back_to_polling_when_inotify_is_exhausted(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _watch_limit_reached(monkeypatch)
    before = set(threading.enumerate())
    ref, stats = _spawn(actor_system, host, tmp_path, watch_poll_interval=0.05)
    assert stats.info["watch_backend"] == "polling"
    (tmp_path / "a.txt").write_text("x")
    _expect(host, tmp_path / "a.txt", "created")
    actor_system.stop(ref)
    leftover = set(threading.enumerate()) - before
    assert not [t for t in leftover if isinstance(t, BaseThread)], leftover


def test_native_backend_failure_is_an_error_naming_watch_path(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _watch_limit_reached(monkeypatch)
    with pytest.raises(ActorStartError) as info:
        _spawn(actor_system, host, tmp_path, watch_backend="watchdog")
    assert isinstance(info.value.__cause__, TriggerError)
    assert "watch_path" in str(info.value.__cause__)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_watch_path_must_be_an_existing_directory(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "nowhere"
    if kind == "file":
        root.write_text("a file, not a directory")
    with pytest.raises(ActorStartError) as info:
        _spawn(actor_system, host, root)
    cause = info.value.__cause__
    assert isinstance(cause, TriggerError)
    assert "watch_path" in str(cause)
    assert str(root) in str(cause)


def test_stop_releases_the_observer_threads(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    def watchdog_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if isinstance(t, BaseThread)}

    before = watchdog_threads()
    for backend in ("watchdog", "polling"):
        ref, _ = _spawn(actor_system, host, tmp_path, watch_backend=backend,
                        watch_poll_interval=0.05)
        started = watchdog_threads() - before
        assert started, "the observer runs threads of its own"
        (tmp_path / f"{backend}.txt").write_text("x")
        _expect(host, tmp_path / f"{backend}.txt", "created")
        assert actor_system.stop(ref)
        assert not [t for t in started if t.is_alive()]
    assert watchdog_threads() <= before


def test_chmod_does_not_fire_but_touch_does(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    target = tmp_path / "a.txt"
    target.write_text("x")
    _spawn(actor_system, host, tmp_path)
    target.chmod(0o600)
    _marker(host, tmp_path)
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    _expect(host, target, "modified")


def test_rescan_fires_what_the_observer_missed(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    changed, gone = tmp_path / "changed.txt", tmp_path / "gone.txt"
    changed.write_text("v1")
    gone.write_text("x")
    ref, _ = _spawn(actor_system, host, tmp_path, watch_backend="polling",
                    watch_poll_interval=3600.0,
                    watch_events=["created", "modified", "deleted", "moved"])
    changed.write_text("version two")
    gone.unlink()
    (tmp_path / "born.txt").write_text("x")
    ref.tell(Rescan())
    seen = {}
    for _ in range(3):
        payload = host.next_event(10.0).payload
        seen[payload["filename"]] = payload["event_type"]
    assert seen == {"born.txt": "created", "changed.txt": "modified", "gone.txt": "deleted"}
    # Nothing changed since: no events. Two requests at once: the second waits for the first.
    ref.tell(Rescan())
    (tmp_path / "after.txt").write_text("x")
    ref.tell(Rescan())
    event = host.next_event(10.0)
    assert (event.payload["filename"], event.payload["event_type"]) == ("after.txt", "created")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")
def test_native_observer_reports_an_inotify_queue_overflow(tmp_path: Path) -> None:
    from watchdog.events import FileSystemEventHandler  # noqa: PLC0415
    from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent  # noqa: PLC0415

    overflowed = threading.Event()
    observer = native_observer(overflowed.set)
    observer.schedule(FileSystemEventHandler(), str(tmp_path), recursive=True)
    observer.start()
    try:
        # What the kernel queues when its inotify queue overflows: wd -1, IN_Q_OVERFLOW.
        fd = observer.inotify_fd  # type: ignore[attr-defined]
        fd.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
        assert overflowed.wait(10.0)
    finally:
        observer.stop()
        observer.join(10.0)
    assert not observer.is_alive()


def test_moving_a_directory_out_reports_its_files_deleted(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "inner.txt").write_text("x")
    _spawn(actor_system, host, root, watch_events=["deleted"])
    shutil.move(str(root / "sub"), str(tmp_path_factory.mktemp("elsewhere") / "sub"))
    _expect(host, root / "sub" / "inner.txt", "deleted")


def test_removing_the_watched_directory_crashes_the_trigger(
    actor_system: ActorSystem, host: RecordingHost, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    ref, _ = _spawn(actor_system, host, root)
    probe = TestProbe(actor_system)
    probe.watch(ref)
    root.rmdir()
    terminated = probe.expect_terminated(ref, timeout=10.0)
    assert isinstance(terminated, Terminated)
    assert isinstance(terminated.reason, TriggerError)
    assert "watch_path" in str(terminated.reason)
