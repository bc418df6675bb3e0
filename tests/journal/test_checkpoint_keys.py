"""`FileJournal` stores a checkpoint's `processed_keys` incrementally (keys files), and rebuilds
the same list: across reopening, compaction, damage and lists that do not slide."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from greenroom.journal.file import MAX_KEY_LINKS, FileJournal
from greenroom.journal.provider import JournalError

PID = "keys"


def keys_files(journal: FileJournal) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in journal.process_dir(PID).glob("keys-*.json"))


def keys_record(journal: FileJournal, seq: int) -> dict[str, object]:
    record: dict[str, object] = json.loads((journal.process_dir(PID) / f"keys-{seq}.json")
                                           .read_text())
    return record


def window(count: int, limit: int) -> list[str]:
    """The last `limit` of keys k0 .. k<count-1>."""
    return [f"k{n}" for n in range(max(0, count - limit), count)]


def test_a_sliding_list_is_rebuilt_exactly_and_each_key_is_written_once(tmp_path: Path) -> None:
    limit, per_checkpoint = 50, 7
    j = FileJournal(tmp_path, fsync="never")
    written = 0
    for n in range(1, 201):
        j.checkpoint(PID, {"n": n, "processed_keys": window(n * per_checkpoint, limit)})
        record = keys_record(j, n)
        written += len(record["add"])  # type: ignore[arg-type]
        if n % 37 == 0:  # a restarted process: a new instance reads it, then extends it
            j.close()
            j = FileJournal(tmp_path, fsync="never")
            assert j.last_checkpoint(PID) == {
                "n": n, "processed_keys": window(n * per_checkpoint, limit), "checkpoint_seq": n}
    assert written == 200 * per_checkpoint  # no snapshot after the first checkpoint
    assert keys_record(j, 200)["base"] == 199
    # compaction keeps the files the two kept checkpoints need: about limit / per_checkpoint
    assert len(keys_files(j)) <= limit // per_checkpoint + 3
    assert j.last_checkpoint(PID)["processed_keys"] == window(1400, limit)  # type: ignore[index]
    j.close()
    assert FileJournal(tmp_path).last_checkpoint(PID) == {
        "n": 200, "processed_keys": window(1400, limit), "checkpoint_seq": 200}


def test_the_checkpoint_file_does_not_hold_the_keys(tmp_path: Path) -> None:
    j = FileJournal(tmp_path)
    j.checkpoint(PID, {"n": 1, "processed_keys": ["a", "b"]})
    j.checkpoint(PID, {"n": 2, "processed_keys": ["b", "c"]})
    raw = json.loads((j.process_dir(PID) / "checkpoint-2.json").read_text())
    assert raw == {"seq": 2, "state": {"n": 2}, "keys_file": "keys-2.json"}
    assert keys_record(j, 2) == {"seq": 2, "base": 1, "length": 2, "add": ["c"]}
    assert j.last_checkpoint(PID) == {"n": 2, "processed_keys": ["b", "c"], "checkpoint_seq": 2}
    j.close()


@pytest.mark.parametrize("after", [["a", "c"], ["x", "y"], []])
def test_a_list_that_did_not_slide_is_stored_whole(tmp_path: Path, after: list[str]) -> None:
    j = FileJournal(tmp_path)
    j.checkpoint(PID, {"processed_keys": ["a", "b"]})
    j.checkpoint(PID, {"processed_keys": after})
    record = keys_record(j, 2)
    assert record["length"] == len(after)
    assert record["add"] == after
    j.close()
    assert FileJournal(tmp_path).last_checkpoint(PID) == {"processed_keys": after,
                                                          "checkpoint_seq": 2}


def test_a_long_chain_of_small_additions_is_cut_by_a_whole_list(tmp_path: Path) -> None:
    j = FileJournal(tmp_path, fsync="never")
    keys = [f"old{n}" for n in range(1000)]
    for n in range(1, MAX_KEY_LINKS + 10):
        keys = [*keys[1:], f"new{n}"]
        j.checkpoint(PID, {"processed_keys": keys})
    bases = [keys_record(j, seq)["base"] for seq in keys_files(j)]
    assert None in bases  # a whole list was written again instead of a chain of 256+ files
    assert len(keys_files(j)) <= MAX_KEY_LINKS + 2
    j.close()
    assert FileJournal(tmp_path).last_checkpoint(PID)["processed_keys"] == keys  # type: ignore[index]


def test_a_damaged_keys_file_falls_back_to_the_previous_checkpoint(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    j = FileJournal(tmp_path)
    j.checkpoint(PID, {"n": 1, "processed_keys": ["a"]})
    j.checkpoint(PID, {"n": 2, "processed_keys": ["a", "b"]})
    j.close()
    (j.process_dir(PID) / "keys-2.json").write_text('{"seq": 2, "add": ["b"]')
    with caplog.at_level(logging.WARNING, logger="greenroom.journal"):
        assert FileJournal(tmp_path).last_checkpoint(PID) == {
            "n": 1, "processed_keys": ["a"], "checkpoint_seq": 1}
    assert "keys-2.json" in caplog.text


def test_a_missing_link_of_the_only_chain_cannot_be_rebuilt(tmp_path: Path) -> None:
    j = FileJournal(tmp_path)
    j.checkpoint(PID, {"processed_keys": ["a"]})
    j.checkpoint(PID, {"processed_keys": ["a", "b"]})
    j.checkpoint(PID, {"processed_keys": ["a", "b", "c"]})  # compacts segment 0 away
    j.close()
    (j.process_dir(PID) / "keys-1.json").unlink()  # both kept checkpoints' chains need it
    with pytest.raises(JournalError, match="no readable checkpoint"):
        FileJournal(tmp_path).last_checkpoint(PID)


def test_an_orphan_keys_file_of_an_interrupted_checkpoint_is_not_reused(tmp_path: Path) -> None:
    j = FileJournal(tmp_path)
    j.checkpoint(PID, {"processed_keys": ["a"]})
    j.close()
    # a crash after the keys file of checkpoint 2, before its checkpoint file
    (j.process_dir(PID) / "keys-2.json").write_text(
        '{"seq": 2, "base": 1, "length": 2, "add": ["zz"]}\n')
    reopened = FileJournal(tmp_path)
    assert reopened.last_checkpoint(PID) == {"processed_keys": ["a"], "checkpoint_seq": 1}
    reopened.checkpoint(PID, {"processed_keys": ["a", "b"]})
    assert reopened.checkpoint_seqs(PID) == [1, 3]
    reopened.checkpoint(PID, {"processed_keys": ["a", "b", "c"]})
    assert keys_files(reopened) == [1, 3, 4]  # the orphan is compacted away
    reopened.close()
    assert FileJournal(tmp_path).last_checkpoint(PID) == {"processed_keys": ["a", "b", "c"],
                                                          "checkpoint_seq": 4}


def test_a_growing_list_keeps_every_link_it_needs(tmp_path: Path) -> None:
    j = FileJournal(tmp_path, fsync="never")
    for n in range(1, 41):  # a fresh process: nothing dropped yet, so the chain goes to the start
        j.checkpoint(PID, {"processed_keys": window(n * 5, 10_000)})
    assert keys_files(j) == list(range(1, 41))
    j.close()
    assert FileJournal(tmp_path).last_checkpoint(PID) == {"processed_keys": window(200, 10_000),
                                                          "checkpoint_seq": 40}
