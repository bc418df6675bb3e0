"""`FileJournal`'s write-ahead log: one fsync per group commit, and what a dead writer's log
holds is written back into segments that lost it (a power loss before they were fsynced)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import greenroom.journal.file as file_module
from greenroom.journal.entry import JournalEntry
from greenroom.journal.file import FileJournal

NAMES = ("a", "b", "c")

WRITER = """
import os, sys
from greenroom.journal.entry import JournalEntry
from greenroom.journal.file import FileJournal
j = FileJournal(sys.argv[1])
for i in range(int(sys.argv[2])):
    j.append_many([JournalEntry(name, "context_update", {"i": i}) for name in "abc"])
os._exit(0)  # dies without closing: its log stays, its lock goes
"""


def die_after_writing(base: Path, batches: int) -> None:
    """A child OS process appends `batches` synced batches to each of a, b, c, then dies."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", WRITER, str(base), str(batches)], check=True,
                   env=env, timeout=120)


def logs(base: Path) -> list[Path]:
    return sorted(base.glob("wal-*.log"))


def numbers(journal: FileJournal, name: str) -> list[int]:
    return [entry.data["i"] for entry in journal.read(name)]


def segment(base: Path, name: str) -> Path:
    """A process's first segment, found without opening a journal (that would replay logs)."""
    return base / file_module._dir_name(name) / "segment-0.jsonl"


def test_a_dead_writers_log_is_replayed_and_deleted(tmp_path: Path) -> None:
    die_after_writing(tmp_path, 20)
    assert len(logs(tmp_path)) == 1
    journal = FileJournal(tmp_path)
    assert logs(tmp_path) == []  # nothing was missing: the OS kept the segments
    assert [numbers(journal, name) for name in NAMES] == [list(range(20))] * 3
    journal.close()


def test_a_dead_writers_log_restores_what_the_segments_lost(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    die_after_writing(tmp_path, 20)
    a, b = segment(tmp_path, "a"), segment(tmp_path, "b")
    whole = a.read_bytes()
    a.write_bytes(whole[:len(whole) // 3])  # a power loss: the unsynced tail is gone
    b.write_bytes(b.read_bytes()[:-40] + b"\0" * 40)  # or left as zeros
    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        journal = FileJournal(tmp_path)
    assert "restoring" in caplog.text
    assert a.read_bytes() == whole
    assert [numbers(journal, name) for name in NAMES] == [list(range(20))] * 3
    assert logs(tmp_path) == []
    journal.close()


def test_a_torn_last_log_record_is_ignored(tmp_path: Path) -> None:
    die_after_writing(tmp_path, 5)
    (log,) = logs(tmp_path)
    with log.open("ab") as f:
        f.write(b"a-0123 0 999 4000 00000000\n{partial")
    journal = FileJournal(tmp_path)
    assert [numbers(journal, name) for name in NAMES] == [list(range(5))] * 3
    journal.close()


def test_a_live_writers_log_is_left_alone(tmp_path: Path) -> None:
    writer = FileJournal(tmp_path)
    writer.append_many([JournalEntry(name, "context_update", {"i": 0}) for name in NAMES])
    (log,) = logs(tmp_path)
    reader = FileJournal(tmp_path)
    assert numbers(reader, "b") == [0]
    reader.close()
    assert logs(tmp_path) == [log]
    writer.append(JournalEntry("b", "context_update", {"i": 1}))
    writer.close()
    assert logs(tmp_path) == []  # closed: every segment is durable, the log is not needed


def test_a_full_log_starts_again_after_the_segments_are_durable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_module, "WAL_LIMIT", 2_000)
    journal = FileJournal(tmp_path)
    for i in range(60):
        journal.append_many([JournalEntry(name, "context_update", {"i": i}) for name in NAMES])
        (log,) = logs(tmp_path)
        assert log.stat().st_size <= 2_000
    assert [numbers(journal, name) for name in NAMES] == [list(range(60))] * 3
    journal.close()


def test_batch_and_never_policies_write_no_log(tmp_path: Path) -> None:
    for policy in ("batch", "never"):
        journal = FileJournal(tmp_path / policy, fsync=policy)
        journal.append(JournalEntry("a", "context_update", {"i": 0}))
        assert logs(tmp_path / policy) == []
        journal.close()
