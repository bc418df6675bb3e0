"""`FileJournal` on real files: layout, fsync policies, torn and corrupt files, checkpoints."""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenroom.journal.entry import JournalEntry
from greenroom.journal.file import FileJournal
from greenroom.journal.framing import encode_entry
from greenroom.journal.provider import JournalError, JournalProvider

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def entry(process: str, i: int, kind: str = "context_update", **data: object) -> JournalEntry:
    return JournalEntry(process, kind, {"i": i, **data})


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[FileJournal]:
    j = FileJournal(tmp_path / "journal")
    yield j
    j.close()


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The file descriptors `os.fsync` is called with (the real fsync still runs)."""
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def segment(j: FileJournal, process: str, seq: int = 0) -> Path:
    return j.process_dir(process) / f"segment-{seq}.jsonl"


def files_of(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_implements_the_protocol(journal: FileJournal) -> None:
    assert isinstance(journal, JournalProvider)


def test_round_trip(journal: FileJournal) -> None:
    written = [entry("worker", i, text="é\t\n") for i in range(10)]
    for e in written[:5]:
        journal.append(e)
    journal.append_many(written[5:])
    assert journal.read("worker") == written
    assert files_of(journal.process_dir("worker")) == ["segment-0.jsonl"]


def test_a_new_instance_reads_everything_back(tmp_path: Path) -> None:
    first = FileJournal(tmp_path)
    before = [entry("a", i) for i in range(3)]
    first.append_many(before)
    first.checkpoint("a", {"count": 3})
    after = [entry("a", i) for i in range(3, 6)]
    first.append_many(after)
    first.close()

    second = FileJournal(tmp_path)
    read = second.read("a")
    assert read[:3] == before
    assert (read[3].entry_type, read[3].data) == ("checkpoint", {"seq": 1})
    assert read[4:] == after
    assert second.last_checkpoint("a") == {"count": 3, "checkpoint_seq": 1}
    assert second.read("a") == read  # the second read decodes the files again
    second.checkpoint("a", {"count": 6})
    assert second.last_checkpoint("a") == {"count": 6, "checkpoint_seq": 2}
    second.close()

    third = FileJournal(tmp_path)
    assert third.last_checkpoint("a") == {"count": 6, "checkpoint_seq": 2}  # opens, recovers
    last = entry("a", 6)
    third.append(last)
    assert [e.data for e in third.read("a")] == [
        {"seq": 1}, *(e.data for e in after), {"seq": 2}, last.data]
    third.close()


def test_many_processes_stay_separate_and_ordered(journal: FileJournal) -> None:
    names = [f"proc-{n}" for n in range(20)]
    batch = [entry(name, i) for i in range(5) for name in names]
    journal.append_many(batch)
    for name in names:
        assert journal.read(name) == [e for e in batch if e.process_id == name]
    dirs = {journal.process_dir(name) for name in names}
    assert len(dirs) == 20
    assert {path for path in journal.base_path.iterdir() if path.is_dir()} == dirs


def test_append_many_fsyncs_only_the_write_ahead_log_once_per_batch(
        journal: FileJournal, fsyncs: list[int]) -> None:
    names = ["a", "b", "c"]
    journal.append_many([entry(n, -1) for n in names])  # first use creates the files
    fsyncs.clear()
    journal.append_many([entry(n, i) for i in range(30) for n in names])
    assert len(fsyncs) == 1  # one group commit, one fsync, however many processes

    fsyncs.clear()
    journal.append_many([entry("a", 99), entry("b", 99)], sync=False)
    assert fsyncs == []
    journal.sync()
    assert len(fsyncs) == 3  # the segments the log stood in for, now durable themselves
    fsyncs.clear()
    journal.sync()
    assert fsyncs == []  # nothing pending
    assert [e.data["i"] for e in journal.read("a")] == [-1, *range(30), 99]


def test_batch_policy_fsyncs_only_in_sync(tmp_path: Path, fsyncs: list[int]) -> None:
    j = FileJournal(tmp_path, fsync="batch")
    j.append_many([entry("a", 0), entry("b", 0)])
    fsyncs.clear()
    j.append_many([entry("a", 1), entry("b", 1), entry("a", 2)], sync=True)
    j.append(entry("b", 2))
    assert fsyncs == []
    j.sync()
    assert len(fsyncs) == 2
    fsyncs.clear()
    j.append(entry("a", 3))
    j.close()
    assert len(fsyncs) == 1  # close makes pending writes durable
    assert [e.data["i"] for e in FileJournal(tmp_path).read("a")] == [0, 1, 2, 3]


def test_batch_policy_checkpoints_are_still_durable(tmp_path: Path, fsyncs: list[int]) -> None:
    j = FileJournal(tmp_path, fsync="batch")
    j.append(entry("a", 0))
    fsyncs.clear()
    j.checkpoint("a", {"n": 1})
    assert fsyncs  # temp file, directory, and the segment it closes
    j.close()


def test_never_policy_does_not_fsync_at_all(tmp_path: Path, fsyncs: list[int]) -> None:
    j = FileJournal(tmp_path, fsync="never")
    j.append_many([entry("a", i) for i in range(3)])
    j.append(entry("b", 0))
    j.checkpoint("a", {"n": 3})
    j.checkpoint("a", {"n": 3})
    j.sync()
    j.close()
    assert fsyncs == []
    reopened = FileJournal(tmp_path, fsync="never")
    assert [e.data for e in reopened.read("a")] == [{"seq": 1}, {"seq": 2}]
    assert [e.data for e in reopened.read("b")] == [{"i": 0}]
    assert reopened.last_checkpoint("a") == {"n": 3, "checkpoint_seq": 2}


def test_always_policy_checkpoint_fsyncs_file_directory_and_marker(
        tmp_path: Path, fsyncs: list[int]) -> None:
    j = FileJournal(tmp_path)
    j.append(entry("a", 0))
    j.append(entry("a", 1))
    fsyncs.clear()
    j.checkpoint("a", {"n": 2})
    # the segment it closes (the write-ahead log stood in for it) + temp file + directory after
    # rename + directory after creating segment-1 + the marker
    assert len(fsyncs) == 5
    j.close()


def test_unknown_fsync_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync must be one of"):
        FileJournal(tmp_path, fsync="sometimes")  # type: ignore[arg-type]


def write_three(tmp_path: Path) -> tuple[list[JournalEntry], Path]:
    j = FileJournal(tmp_path)
    written = [entry("w", i, text="x" * 40) for i in range(3)]
    j.append_many(written)
    path = segment(j, "w")
    j.close()
    return written, path


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, "all-but-newline"])
def test_torn_write_is_truncated_and_nothing_valid_is_lost(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, keep: float | str) -> None:
    written, path = write_three(tmp_path)
    data = path.read_bytes()
    last = len(encode_entry(written[2]))
    start = len(data) - last
    cut = start + (last - 1 if keep == "all-but-newline" else max(1, int(last * float(keep))))
    path.write_bytes(data[:cut])

    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        j = FileJournal(tmp_path)
        assert j.read("w") == written[:2]
    assert f"dropped {cut - start} bytes" in caplog.text
    assert str(path) in caplog.text

    new = entry("w", 3)
    j.append(new)
    assert j.read("w") == [*written[:2], new]
    j.close()
    assert path.read_bytes() == data[:start] + encode_entry(new)
    assert FileJournal(tmp_path).read("w") == [*written[:2], new]


def test_torn_write_inside_an_earlier_record(tmp_path: Path) -> None:
    written, path = write_three(tmp_path)
    first = len(encode_entry(written[0]))
    path.write_bytes(path.read_bytes()[:first + 7])
    j = FileJournal(tmp_path)
    new = entry("w", 9)
    j.append(new)
    assert FileJournal(tmp_path).read("w") == [written[0], new]
    j.close()


def test_zero_filled_tail_after_power_loss_is_truncated(tmp_path: Path) -> None:
    _, path = write_three(tmp_path)
    with path.open("ab") as f:
        f.write(b"\x00" * 4096)
    j = FileJournal(tmp_path)
    j.append(entry("w", 3))
    assert [e.data["i"] for e in j.read("w")] == [0, 1, 2, 3]
    j.close()


def test_a_failed_write_is_undone_so_the_next_append_starts_clean(
        journal: FileJournal, monkeypatch: pytest.MonkeyPatch) -> None:
    first = entry("w", 0)
    journal.append(first)
    real_write = os.write

    def half_then_full_disk(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full_disk)
    with pytest.raises(JournalError, match="No space left"):
        journal.append(entry("w", 1, text="y" * 100))
    monkeypatch.setattr(os, "write", real_write)
    last = entry("w", 2)
    journal.append(last)
    assert journal.read("w") == [first, last]


def test_corrupt_middle_record_raises_naming_file_and_line(tmp_path: Path) -> None:
    j = FileJournal(tmp_path)
    j.append_many([entry("w", i) for i in range(4)])
    path = segment(j, "w")
    j.close()
    data = bytearray(path.read_bytes())
    second_line = data.index(b"\n") + 1
    data[second_line + 10] ^= 0x01
    path.write_bytes(bytes(data))

    j = FileJournal(tmp_path)
    for use in (lambda: j.read("w"), lambda: j.append(entry("w", 9)),
                lambda: j.last_checkpoint("w")):
        with pytest.raises(JournalError, match="line 2") as info:
            use()
        assert str(path) in str(info.value)
        assert "2 valid entries follow" in str(info.value)
    assert path.read_bytes() == bytes(data)  # nothing truncated or rewritten
    j.close()


def test_damage_in_an_older_segment_is_refused_on_read(tmp_path: Path) -> None:
    j = FileJournal(tmp_path)
    j.append_many([entry("w", i) for i in range(3)])
    j.checkpoint("w", {"n": 3})
    j.append(entry("w", 3))
    old = segment(j, "w", 0)
    j.close()
    old.write_bytes(old.read_bytes()[:-5])  # a torn record, with segment-1 after it

    with pytest.raises(JournalError, match="line 3") as info:
        FileJournal(tmp_path).read("w")
    assert str(old) in str(info.value)


def test_leftover_checkpoint_temp_file_is_ignored(tmp_path: Path) -> None:
    j = FileJournal(tmp_path)
    j.checkpoint("w", {"n": 1})
    directory = j.process_dir("w")
    j.close()
    (directory / "checkpoint-2.json.tmp").write_bytes(b'{"seq": 2, "sta')

    j = FileJournal(tmp_path)
    assert j.last_checkpoint("w") == {"n": 1, "checkpoint_seq": 1}
    assert "checkpoint-2.json.tmp" not in files_of(directory)
    j.checkpoint("w", {"n": 2})
    assert j.last_checkpoint("w") == {"n": 2, "checkpoint_seq": 2}
    j.close()


def test_a_failed_rename_leaves_the_previous_checkpoint(
        journal: FileJournal, monkeypatch: pytest.MonkeyPatch) -> None:
    journal.checkpoint("w", {"n": 1})
    journal.append(entry("w", 1))

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(JournalError, match="checkpoint 2"):
        journal.checkpoint("w", {"n": 2})
    monkeypatch.undo()
    assert journal.last_checkpoint("w") == {"n": 1, "checkpoint_seq": 1}
    assert [e.data for e in journal.read("w", entry_type="checkpoint")] == [{"seq": 1}]


def test_a_crash_between_checkpoint_file_and_marker_is_completed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    j = FileJournal(tmp_path)
    j.append(entry("w", 0))
    j.checkpoint("w", {"n": 1})
    j.append(entry("w", 1))

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "simulated crash")

    monkeypatch.setattr(FileJournal, "_start_segment", crash)
    with pytest.raises(JournalError):
        j.checkpoint("w", {"n": 2})
    monkeypatch.undo()
    j.close()

    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        reopened = FileJournal(tmp_path)
        assert reopened.last_checkpoint("w") == {"n": 2, "checkpoint_seq": 2}
    assert "checkpoint 2 has no marker" in caplog.text
    entries = reopened.read("w")
    assert [(e.entry_type, e.data) for e in entries][-2:] == [
        ("context_update", {"i": 1}), ("checkpoint", {"seq": 2})]
    reopened.append(entry("w", 2))
    assert reopened.read("w")[-1].data == {"i": 2}
    reopened.close()


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"seq": 7, "state": {}}',
                                    b'{"seq": 2, "state": [1]}', b"\xff\xfe"])
def test_corrupted_latest_checkpoint_falls_back_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: bytes) -> None:
    j = FileJournal(tmp_path)
    j.checkpoint("w", {"n": 1})
    j.append(entry("w", 1))
    j.checkpoint("w", {"n": 2})
    j.append(entry("w", 2))
    latest = j.process_dir("w") / "checkpoint-2.json"
    j.close()
    latest.write_bytes(damage)

    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        reopened = FileJournal(tmp_path)
        assert reopened.last_checkpoint("w") == {"n": 1, "checkpoint_seq": 1}
    assert str(latest) in caplog.text
    # replay from marker 1 still has everything after it
    entries = reopened.read("w")
    assert [(e.entry_type, e.data) for e in entries] == [
        ("checkpoint", {"seq": 1}), ("context_update", {"i": 1}),
        ("checkpoint", {"seq": 2}), ("context_update", {"i": 2})]
    reopened.close()


def test_no_readable_checkpoint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    j = FileJournal(tmp_path)
    j.append(entry("w", 0))
    j.checkpoint("w", {"n": 1})
    directory = j.process_dir("w")
    j.close()
    (directory / "checkpoint-1.json").write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        # the whole history is still there: replay everything
        assert FileJournal(tmp_path).last_checkpoint("w") is None
    assert "checkpoint-1.json" in caplog.text

    j = FileJournal(tmp_path)
    j.checkpoint("w", {"n": 2})
    j.checkpoint("w", {"n": 3})  # compacts segment 0 and checkpoint 1 away
    j.close()
    for seq in (2, 3):
        (directory / f"checkpoint-{seq}.json").write_bytes(b"garbage")
    with pytest.raises(JournalError, match="no readable checkpoint") as info:
        FileJournal(tmp_path).last_checkpoint("w")
    assert str(directory) in str(info.value)


def test_compaction_keeps_size_bounded(tmp_path: Path) -> None:
    j = FileJournal(tmp_path, fsync="never")
    directory = j.process_dir("forever")
    most_files, most_bytes = 0, 0
    for n in range(1, 1001):
        j.append_many([entry("forever", i, text="z" * 50) for i in range(10)])
        j.checkpoint("forever", {"n": n, "conversation": ["m" * 50] * 3})
        names = files_of(directory)
        most_files = max(most_files, len(names))
        most_bytes = max(most_bytes, sum((directory / name).stat().st_size for name in names))
    assert most_files <= 4
    assert most_bytes < 8 * 1024
    assert files_of(directory) == ["checkpoint-1000.json", "checkpoint-999.json",
                                   "segment-1000.jsonl", "segment-999.jsonl"]
    assert j.checkpoint_seqs("forever") == [999, 1000]
    entries = j.read("forever")
    assert len(entries) == 12  # marker 999, its 10 entries, marker 1000
    assert entries[0].data == {"seq": 999}
    assert entries[-1].data == {"seq": 1000}
    assert j.last_checkpoint("forever") == {
        "n": 1000, "conversation": ["m" * 50] * 3, "checkpoint_seq": 1000}
    j.close()


def test_first_checkpoint_keeps_the_full_history(journal: FileJournal) -> None:
    journal.append(entry("w", 0))
    journal.checkpoint("w", {"n": 1})
    assert files_of(journal.process_dir("w")) == [
        "checkpoint-1.json", "segment-0.jsonl", "segment-1.jsonl"]
    assert journal.read("w")[0].data == {"i": 0}


NAMES = ["/", "a/b", "..", ".", "../../escape", "", "x" * 5000, "日本語 🚀", "A", "a",
         "a\x00b", "a\\b", "-rf", "\ud800lone", ".hidden", "con", "tab\there\nnewline"]


def test_process_names_map_to_distinct_safe_directories(tmp_path: Path) -> None:
    base = tmp_path / "journal"
    j = FileJournal(base)
    for i, name in enumerate(NAMES):
        j.append(entry(name, i))
        j.checkpoint(name, {"i": i})
    dirs = [j.process_dir(name) for name in NAMES]
    assert len({d.name.lower() for d in dirs}) == len(NAMES)
    for d in dirs:
        assert d.parent == base
        assert d.is_dir()
        assert len(d.name.encode()) <= 100
    assert set(tmp_path.iterdir()) == {base}
    j.close()

    reopened = FileJournal(base)
    for i, name in enumerate(NAMES):
        entries = reopened.read(name)
        assert [e.process_id for e in entries] == [name, name]
        assert entries[0].data == {"i": i}
        assert reopened.last_checkpoint(name) == {"i": i, "checkpoint_seq": 1}
    reopened.close()


def test_read_filters(journal: FileJournal) -> None:
    stamped = [JournalEntry("w", kind, {"i": i}, timestamp=T0 + timedelta(minutes=i))
               for i, kind in enumerate(["a", "b", "a", "b", "a"])]
    journal.append_many(stamped)
    assert journal.read("w", since=T0 + timedelta(minutes=2)) == stamped[2:]
    assert journal.read("w", since=(T0 + timedelta(minutes=3)).replace(tzinfo=None)) \
        == stamped[3:]
    assert journal.read("w", entry_type="b") == [stamped[1], stamped[3]]
    assert journal.read("w", limit=2) == stamped[:2]
    assert journal.read("w", limit=0) == []
    assert journal.read("w", entry_type="a", since=T0 + timedelta(minutes=1), limit=1) \
        == [stamped[2]]
    assert journal.read("w", entry_type="missing") == []
    with pytest.raises(ValueError, match="limit"):
        journal.read("w", limit=-1)


def test_read_of_an_unknown_process_creates_nothing(journal: FileJournal) -> None:
    assert journal.read("nobody") == []
    assert journal.last_checkpoint("nobody") is None
    assert journal.checkpoint_seqs("nobody") == []
    assert not journal.process_dir("nobody").exists()


def test_read_spans_segments_with_limit(journal: FileJournal) -> None:
    journal.append_many([entry("w", i) for i in range(3)])
    journal.checkpoint("w", {})
    journal.append_many([entry("w", i) for i in range(3, 6)])
    assert [e.data for e in journal.read("w", limit=4)] == [
        {"i": 0}, {"i": 1}, {"i": 2}, {"seq": 1}]
    assert [e.data["i"] for e in journal.read("w", entry_type="context_update")] == list(range(6))


def test_non_json_data_is_refused_and_nothing_of_the_batch_is_written(
        journal: FileJournal) -> None:
    journal.append(entry("kept", 0))
    batch = [entry("kept", 1), entry("fresh", 0), entry("kept", 2, bad=object())]
    with pytest.raises(JournalError, match="not JSON-serialisable"):
        journal.append_many(batch)
    assert [e.data["i"] for e in journal.read("kept")] == [0]
    assert not journal.process_dir("fresh").exists()
    with pytest.raises(JournalError, match="not JSON"):
        journal.checkpoint("fresh", {"x": {1, 2}})
    assert not journal.process_dir("fresh").exists()
    with pytest.raises(JournalError, match="not JSON"):
        journal.append(entry("kept", 3, nan=float("nan")))
    with pytest.raises(JournalError, match="not JSON"):
        journal.checkpoint("kept", {"when": datetime.now(UTC)})
    with pytest.raises(JournalError, match="must be a dict"):
        journal.checkpoint("kept", ["not", "a", "dict"])  # type: ignore[arg-type]
    assert [e.data["i"] for e in journal.read("kept")] == [0]
    assert journal.last_checkpoint("kept") is None
    assert files_of(journal.process_dir("kept")) == ["segment-0.jsonl"]


def test_a_closed_journal_refuses_everything(tmp_path: Path) -> None:
    j = FileJournal(tmp_path)
    j.append(entry("w", 0))
    j.close()
    j.close()  # harmless
    uses: list[Callable[[], object]] = [
        lambda: j.append(entry("w", 1)), lambda: j.append_many([entry("w", 1)]),
        j.sync, lambda: j.read("w"), lambda: j.checkpoint("w", {}),
        lambda: j.last_checkpoint("w"), lambda: j.checkpoint_seqs("w")]
    for use in uses:
        with pytest.raises(JournalError, match="closed"):
            use()


def test_unusable_paths_raise_journal_error_with_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(JournalError) as info:
        FileJournal(blocker)
    assert str(blocker) in str(info.value)

    j = FileJournal(tmp_path / "journal")
    occupied = j.process_dir("w")
    occupied.write_text("a file where a directory should be")
    with pytest.raises(JournalError) as info:
        j.append(entry("w", 0))
    assert str(occupied) in str(info.value)

    other = j.process_dir("v")
    (other / "segment-0.jsonl").mkdir(parents=True)  # unreadable as a file
    with pytest.raises(JournalError) as info:
        j.read("v")
    assert str(other / "segment-0.jsonl") in str(info.value)
    j.close()


def test_concurrent_appends_from_threads(journal: FileJournal) -> None:
    per_thread = 200
    barrier = threading.Barrier(8)

    def writer(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            journal.append_many([entry(f"p{t % 2}", i, thread=t)], sync=i % 10 == 0)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for p in (0, 1):
        entries = journal.read(f"p{p}")
        assert len(entries) == 4 * per_thread
        for t in range(p, 8, 2):
            mine = [e.data["i"] for e in entries if e.data["thread"] == t]
            assert mine == list(range(per_thread))
