"""The conversation buffer: rolling window, validation, copies and checkpoints."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from greenroom.runtime.conversation import ConversationBuffer, ReadOnlyMessage


def msg(n: int, role: str = "user") -> dict[str, object]:
    return {"role": role, "content": f"m{n}"}


def contents(buffer: ConversationBuffer) -> list[object]:
    return [m["content"] for m in buffer.get_messages()]


def test_defaults_to_one_hundred_messages() -> None:
    assert ConversationBuffer().max_messages == 100


def test_keeps_only_the_newest_messages() -> None:
    buffer = ConversationBuffer(max_messages=3)
    for n in range(5):
        buffer.append(msg(n))
    assert contents(buffer) == ["m2", "m3", "m4"]
    assert len(buffer) == 3


def test_zero_means_unlimited() -> None:
    buffer = ConversationBuffer(max_messages=0)
    buffer.extend(msg(n) for n in range(500))
    assert len(buffer) == 500


def test_extend_evicts_oldest() -> None:
    buffer = ConversationBuffer(max_messages=2)
    buffer.append(msg(0))
    buffer.extend([msg(1), msg(2)])
    assert contents(buffer) == ["m1", "m2"]


@pytest.mark.parametrize(
    ("message", "error", "text"),
    [
        ("hello", TypeError, "message: expected a dict message, got str"),
        ({"content": "x"}, ValueError, "message.role: expected a non-empty string"),
        ({"role": "", "content": "x"}, ValueError, "message.role: expected a non-empty string"),
        ({"role": "user"}, ValueError, "message.content: missing"),
    ],
)
def test_bad_message_is_refused_and_changes_nothing(
    message: object, error: type[Exception], text: str
) -> None:
    buffer = ConversationBuffer()
    buffer.append(msg(0))
    with pytest.raises(error, match=text):
        buffer.append(message)  # type: ignore[arg-type]
    assert contents(buffer) == ["m0"]


def test_extend_is_all_or_nothing() -> None:
    buffer = ConversationBuffer()
    with pytest.raises(ValueError, match=r"messages\[1\]\.content: missing"):
        buffer.extend([msg(0), {"role": "user"}])
    assert len(buffer) == 0


def test_set_messages_replaces_and_trims() -> None:
    buffer = ConversationBuffer(max_messages=2)
    buffer.append(msg(9))
    buffer.set_messages([msg(0), msg(1), msg(2)])
    assert contents(buffer) == ["m1", "m2"]


def test_set_messages_with_bad_input_keeps_old_contents() -> None:
    buffer = ConversationBuffer()
    buffer.append(msg(0))
    with pytest.raises(TypeError, match=r"messages\[0\]: expected a dict message"):
        buffer.set_messages([42])  # type: ignore[list-item]
    assert contents(buffer) == ["m0"]


def test_clear() -> None:
    buffer = ConversationBuffer()
    buffer.extend([msg(0), msg(1)])
    buffer.clear()
    assert buffer.get_messages() == []


def test_messages_are_copied_in_and_out() -> None:
    original = {"role": "user", "content": ["a"]}
    buffer = ConversationBuffer()
    buffer.append(original)
    original["content"].append("b")  # type: ignore[attr-defined]
    out = buffer.get_messages()
    out[0]["content"].append("c")
    assert buffer.get_messages() == [{"role": "user", "content": ["a"]}]


def test_snapshot_shares_read_only_messages_in_a_new_list() -> None:
    buffer = ConversationBuffer()
    buffer.extend([msg(0), msg(1)])
    first, second = buffer.snapshot(), buffer.snapshot()
    assert first == [msg(0), msg(1)]
    assert first is not second
    assert first[0] is second[0]  # shared, not copied per run
    first.append(msg(9))
    first.pop(0)
    assert contents(buffer) == ["m0", "m1"]
    with pytest.raises(TypeError, match="read-only"):
        second[0]["content"] = "changed"
    with pytest.raises(TypeError, match="read-only"):
        second[0].update(content="changed")
    with pytest.raises(TypeError, match="read-only"):
        del second[0]["role"]
    assert contents(buffer) == ["m0", "m1"]


def test_snapshot_deep_copies_messages_that_are_not_flat() -> None:
    buffer = ConversationBuffer()
    buffer.extend([msg(0), {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}])
    taken = buffer.snapshot()
    taken[1]["tool_calls"].append({"id": "2"})
    assert buffer.snapshot()[1]["tool_calls"] == [{"id": "1"}]
    buffer.extend([msg(n) for n in range(100)])  # the nested message is evicted
    assert all(type(m) is ReadOnlyMessage for m in buffer.snapshot())


def test_read_only_messages_serialise_and_copy_as_dicts() -> None:
    message = ReadOnlyMessage(role="user", content="hi")
    assert json.loads(json.dumps([message])) == [{"role": "user", "content": "hi"}]
    assert pickle.loads(pickle.dumps(message)) == message
    assert copy.deepcopy(message) is message
    mutable = dict(message)
    mutable["content"] = "changed"
    assert message["content"] == "hi"


def test_copy_is_independent() -> None:
    buffer = ConversationBuffer(max_messages=5)
    buffer.append(msg(0))
    fork = buffer.copy()
    fork.append(msg(1))
    buffer.append(msg(2))
    assert contents(buffer) == ["m0", "m2"]
    assert contents(fork) == ["m0", "m1"]
    assert fork.max_messages == 5


def test_dict_round_trip_through_json() -> None:
    buffer = ConversationBuffer(max_messages=4)
    buffer.extend([msg(0), msg(1, "assistant")])
    restored = ConversationBuffer.from_dict(json.loads(json.dumps(buffer.to_dict())))
    assert restored.to_dict() == buffer.to_dict()
    assert restored.max_messages == 4


@pytest.mark.parametrize(
    ("data", "error", "text"),
    [
        ([], TypeError, "conversation: expected a mapping, got list"),
        ({"messages": {}}, TypeError, "messages: expected a list, got dict"),
        ({"max_messages": -1}, ValueError, "max_messages: must be >= 0"),
        ({"max_messages": "10"}, TypeError, "max_messages: expected an int, got str"),
        ({"messages": [{"role": "user"}]}, ValueError, r"messages\[0\]\.content: missing"),
    ],
)
def test_bad_dict_names_the_field(data: object, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        ConversationBuffer.from_dict(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (True, TypeError), (2.0, TypeError)]
)
def test_bad_limit(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_messages"):
        ConversationBuffer(value)  # type: ignore[arg-type]


def test_repr_shows_size_not_content() -> None:
    buffer = ConversationBuffer(max_messages=3)
    buffer.append({"role": "user", "content": "secret plan"})
    assert repr(buffer) == "ConversationBuffer(max_messages=3, messages=1)"
