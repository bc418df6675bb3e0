"""The CRC-framed record format: encoding, precise decode errors, and torn/corrupt scanning."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

import pytest

from greenroom.journal.entry import JournalEntry
from greenroom.journal.framing import FrameError, decode_line, encode_entry, scan
from greenroom.journal.provider import JournalError


def entry(i: int, **data: object) -> JournalEntry:
    return JournalEntry("worker", "context_update", {"i": i, **data})


def frame(body: bytes) -> bytes:
    """A line with a correct CRC around arbitrary bytes (to test what the CRC cannot catch)."""
    return b"%s\t%08x\n" % (body, zlib.crc32(body))


def test_round_trip_and_cut_f1_gives_plain_jsonl() -> None:
    original = entry(1, text="tab\there\nnewline", nested={"list": [1, 2.5, None, True]})
    line = encode_entry(original)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert line.count(b"\t") == 1
    json_part, crc_part = line[:-1].split(b"\t")
    assert json.loads(json_part) == original.to_dict()
    assert int(crc_part, 16) == zlib.crc32(json_part)
    assert len(crc_part) == 8
    assert decode_line(line) == original
    assert decode_line(line[:-1]) == original


def test_unicode_is_readable_and_lone_surrogates_survive() -> None:
    readable = entry(1, text="héllo 日本 🚀")
    assert "日本".encode() in encode_entry(readable)
    assert decode_line(encode_entry(readable)) == readable
    odd = JournalEntry("proc-\ud800", "x", {"s": "\udfff"})
    assert decode_line(encode_entry(odd)) == odd


@pytest.mark.parametrize("data", [
    {"x": object()},
    {"x": {1, 2}},
    {"x": float("nan")},
    {"x": float("inf")},
    {("a", "b"): 1},
])
def test_encode_refuses_non_json_data(data: dict[object, object]) -> None:
    with pytest.raises(JournalError, match="not JSON"):
        encode_entry(JournalEntry("p", "x", data))  # type: ignore[arg-type]


def test_encode_refuses_circular_data() -> None:
    data: dict[str, object] = {}
    data["self"] = data
    with pytest.raises(JournalError, match="not JSON"):
        encode_entry(JournalEntry("p", "x", data))


def test_encode_refuses_what_could_not_be_read_back() -> None:
    with pytest.raises(JournalError, match="data must be a dict"):
        encode_entry(JournalEntry("p", "x", [1, 2]))  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="time zone"):
        encode_entry(JournalEntry("p", "x", {}, timestamp=datetime(2024, 1, 1)))
    with pytest.raises(JournalError, match="expected a JournalEntry"):
        encode_entry({"process_id": "p"})  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="process_id must be a string"):
        encode_entry(JournalEntry(7, "x", {}))  # type: ignore[arg-type]


@pytest.mark.parametrize(("line", "reason"), [
    (b'{"a":1}', "no tab-separated CRC field"),
    (b'{"a":1}\t0x123456', "malformed CRC field"),
    (b'{"a":1}\tABCDEF12', "malformed CRC field"),
    (b'{"a":1}\t1234', "malformed CRC field"),
    (b"", "no tab-separated CRC field"),
    (b"\x00\x00\x00", "no tab-separated CRC field"),
])
def test_decode_rejects_bad_framing(line: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode_line(line)


def test_decode_detects_a_flipped_byte() -> None:
    line = bytearray(encode_entry(entry(1)))
    line[20] ^= 0x01
    with pytest.raises(FrameError, match="CRC mismatch"):
        decode_line(bytes(line))


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "bad JSON"),
    (b"\xff\xfe", "bad JSON"),
    (b"[1, 2]", "not an entry object"),
    (b'{"entry_id": "x"}', "not a journal entry"),
    (b'{"entry_id":"x","process_id":"p","timestamp":"2024-01-01T00:00:00","entry_type":"t",'
     b'"data":{}}', "time zone"),
    (b'{"entry_id":"x","process_id":"p","timestamp":"2024-01-01T00:00:00+00:00",'
     b'"entry_type":"t","data":[]}', "expected an object"),
])
def test_decode_rejects_a_valid_crc_around_a_non_entry(body: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode_line(frame(body))


def test_scan_of_valid_files() -> None:
    empty = scan(b"")
    assert (empty.entries, empty.end, empty.error) == ([], 0, None)
    entries = [entry(i) for i in range(5)]
    data = b"".join(encode_entry(e) for e in entries)
    result = scan(data)
    assert result.entries == entries
    assert result.end == len(data)
    assert result.error is None
    assert result.dropped_bytes == 0


def test_scan_of_a_torn_last_record_at_every_offset() -> None:
    head = [entry(i) for i in range(3)]
    prefix = b"".join(encode_entry(e) for e in head)
    last = encode_entry(entry(3, text="x" * 50))
    for cut in range(1, len(last)):
        result = scan(prefix + last[:cut])
        assert result.entries == head, cut
        assert result.end == len(prefix)
        assert result.error is not None
        assert result.error_line == 4
        assert not result.corrupt_middle
        assert result.dropped_bytes == cut


def test_scan_treats_zero_filled_and_undecodable_tails_as_torn() -> None:
    prefix = b"".join(encode_entry(entry(i)) for i in range(2))
    for tail in (b"\x00" * 4096, b"garbage\n", b"garbage\nmore garbage\n\x00\x00"):
        result = scan(prefix + tail)
        assert len(result.entries) == 2
        assert result.end == len(prefix)
        assert not result.corrupt_middle
        assert result.dropped_bytes == len(tail)


def test_scan_flags_a_corrupt_middle_record() -> None:
    lines = [encode_entry(entry(i)) for i in range(5)]
    damaged = bytearray(lines[1])
    damaged[30] ^= 0x20
    result = scan(b"".join([lines[0], bytes(damaged), *lines[2:]]))
    assert result.entries == [decode_line(lines[0])]
    assert result.end == len(lines[0])
    assert result.error is not None
    assert "CRC mismatch" in result.error
    assert result.error_line == 2
    assert result.corrupt_middle
    assert result.valid_after == 3


def test_scan_counts_valid_records_after_several_bad_lines() -> None:
    good = [encode_entry(entry(i)) for i in range(2)]
    result = scan(good[0] + b"junk\n" + b"\x00\x00\n" + good[1] + b"partial")
    assert result.error_line == 2
    assert result.valid_after == 1


def test_decoded_timestamps_are_aware_and_equal() -> None:
    stamp = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    decoded = decode_line(encode_entry(JournalEntry("p", "x", {}, "id", stamp)))
    assert decoded.timestamp == stamp
    assert decoded.timestamp.utcoffset() is not None


def record(i: int, **changes: object) -> bytes:
    """A framed record whose JSON object has `changes` applied (None removes a key)."""
    raw = entry(i).to_dict()
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    return frame(json.dumps(raw).encode())


@pytest.mark.parametrize(("line", "problem"), [
    (frame(b'{"a": 1},{"b": 2}'), "bad JSON"),
    (frame(b'[{"a": 1}'), "bad JSON"),
    (frame(b"[]"), "not an entry object"),
    (record(1, timestamp="2024-01-01T00:00:00"), "not a journal entry"),
    (record(1, data=[1]), "not a journal entry"),
    (record(1, entry_id=None), "not a journal entry"),
])
def test_the_bulk_check_and_the_line_by_line_check_agree_on_bad_lines(
        line: bytes, problem: str) -> None:
    good = [encode_entry(entry(i)) for i in range(3)]
    result = scan(b"".join([*good, line, *good]))
    assert [e.data["i"] for e in result.entries] == [0, 1, 2]
    assert result.error_line == 4
    assert problem in (result.error or "")
    assert result.valid_after == 3


def test_records_the_bulk_check_does_not_expect_are_still_read() -> None:
    lines = [record(0, extra="kept out"), record(1, process_id=7), encode_entry(entry(2))]
    result = scan(b"".join(lines))
    assert result.error is None
    assert [(e.process_id, e.data["i"]) for e in result.entries] == [
        ("worker", 0), ("7", 1), ("worker", 2)]
    assert result.entries == [decode_line(line) for line in lines]


def test_a_kept_line_is_written_as_encoded_then() -> None:
    """`keep=True`: the line encoded when an event was accepted is the one written, even if
    the data changed since (the journal records the event as it was accepted)."""
    entry = JournalEntry("p", "trigger_event", {"event": {"n": 1}})
    line = encode_entry(entry, keep=True)
    entry.data["event"]["n"] = 2
    assert encode_entry(entry) is line
    assert decode_line(line).data == {"event": {"n": 1}}
    assert entry == JournalEntry("p", "trigger_event", {"event": {"n": 2}}, entry.entry_id,
                                 entry.timestamp)  # the kept line is not a field


def test_a_line_not_kept_follows_the_data() -> None:
    entry = JournalEntry("p", "trigger_event", {"n": 1})
    encode_entry(entry)
    entry.data["n"] = 2
    assert decode_line(encode_entry(entry)).data == {"n": 2}
