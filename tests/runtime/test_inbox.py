"""The pure inbox: ordering, TTL, eviction, limits, rate limits and pending questions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from greenroom.runtime.config import InboxConfig
from greenroom.runtime.errors import (
    InboxError,
    InboxFullError,
    InboxRateLimitError,
    RuntimeBaseError,
)
from greenroom.runtime.inbox import (
    InboxMessage,
    InboxResponse,
    MessageInbox,
    MessagePriority,
    MessageType,
)


class FakeClock:
    """Wall time that moves only when a test says so."""

    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def make(**kwargs: object) -> tuple[MessageInbox, FakeClock]:
    clock = FakeClock()
    return MessageInbox(clock=clock, **kwargs), clock  # type: ignore[arg-type]


def contents(inbox: MessageInbox) -> list[str]:
    return [m.content for m in inbox.get_pending()]


def answer(question: InboxMessage, text: str = "42") -> InboxResponse:
    return InboxResponse(question.message_id, text, answered_at=0.0)


def test_errors_are_runtime_and_value_errors() -> None:
    for error in (InboxError, InboxFullError, InboxRateLimitError):
        assert issubclass(error, RuntimeBaseError)
        assert issubclass(error, ValueError)


def test_send_stamps_id_time_and_expiry() -> None:
    inbox, clock = make(default_ttl=60)
    message = inbox.send("deploying now", sender_id="ops", metadata={"ticket": 7})
    assert len(message.message_id) == 32
    assert message.created_at == clock.now
    assert message.expires_at == clock.now + 60
    assert message.message_type is MessageType.CONTEXT
    assert message.priority is MessagePriority.NORMAL
    assert message.metadata == {"ticket": 7}
    assert inbox.get_pending() == [message]
    assert len(inbox) == 1


def test_pending_is_ordered_by_priority_then_age() -> None:
    inbox, clock = make()
    for content, priority in [
        ("n1", "normal"),
        ("l1", "low"),
        ("c1", "critical"),
        ("h1", "high"),
        ("n2", "normal"),
    ]:
        inbox.send(content, priority=priority)
        clock.now += 1
    assert contents(inbox) == ["c1", "h1", "n1", "n2", "l1"]


def test_same_instant_keeps_arrival_order() -> None:
    inbox, _ = make()
    for n in range(3):
        inbox.send(f"m{n}")
    assert contents(inbox) == ["m0", "m1", "m2"]


def test_messages_expire_with_the_clock() -> None:
    inbox, clock = make(default_ttl=100)
    inbox.send("short", ttl=10)
    inbox.send("default")
    inbox.send("forever", ttl=0)
    inbox.send("delta", ttl=timedelta(seconds=50))
    clock.now += 10
    assert contents(inbox) == ["default", "forever", "delta"]
    clock.now += 90
    assert contents(inbox) == ["forever"]
    assert inbox.purge_expired() == 3
    assert inbox.purge_expired() == 0


def test_default_ttl_zero_means_never() -> None:
    inbox, clock = make(default_ttl=0)
    assert inbox.send("x").expires_at is None
    clock.now += 10**9
    assert contents(inbox) == ["x"]


@pytest.mark.parametrize(
    ("ttl", "text"),
    [
        (-1, "ttl: expected seconds >= 0"),
        ("1h", "ttl: expected seconds >= 0"),
        (True, "ttl: expected seconds >= 0"),
        (86_401, "ttl: 86401 s exceeds max_ttl 86400 s"),
        (timedelta(days=2), "ttl: 172800 s exceeds max_ttl 86400 s"),
    ],
)
def test_bad_ttl_is_refused(ttl: object, text: str) -> None:
    inbox, _ = make()
    with pytest.raises(InboxError, match=text):
        inbox.send("x", ttl=ttl)  # type: ignore[arg-type]
    assert len(inbox) == 0


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"message_type": "shout"}, "message_type: 'shout' is not one of: directive, context"),
        ({"priority": "urgent"}, "priority: 'urgent' is not one of: low, normal, high, critical"),
        ({"metadata": ["x"]}, "metadata: expected a mapping, got list"),
        ({"sender_id": 7}, "sender_id: expected a string or None, got 7"),
    ],
)
def test_bad_fields_are_refused(kwargs: dict[str, object], text: str) -> None:
    inbox, _ = make()
    with pytest.raises(InboxError, match=text):
        inbox.send("x", **kwargs)  # type: ignore[arg-type]
    assert len(inbox) == 0


def test_content_length_is_limited() -> None:
    inbox, _ = make(max_message_length=5)
    inbox.send("12345")
    with pytest.raises(InboxError, match="content: 6 characters exceeds max_message_length 5"):
        inbox.send("123456")
    assert contents(inbox) == ["12345"]


@pytest.mark.parametrize("content", ["", "   ", None])
def test_empty_content_is_refused(content: object) -> None:
    inbox, _ = make()
    with pytest.raises(InboxError, match="content: expected a non-empty string"):
        inbox.send(content)  # type: ignore[arg-type]


def test_full_inbox_evicts_oldest_lowest_priority() -> None:
    inbox, clock = make(max_messages=3)
    for content, priority in [("n1", "normal"), ("l1", "low"), ("l2", "low")]:
        inbox.send(content, priority=priority)
        clock.now += 1
    inbox.send("h1", priority="high")
    assert contents(inbox) == ["h1", "n1", "l2"]
    inbox.send("n2", priority="normal")
    assert contents(inbox) == ["h1", "n1", "n2"]


def test_newcomer_never_replaces_a_higher_priority_message() -> None:
    inbox, _ = make(max_messages=2)
    inbox.send("h1", priority="high")
    inbox.send("h2", priority="high")
    with pytest.raises(InboxFullError, match=r"inbox is full \(2 messages\).*'normal' message"):
        inbox.send("n1")
    assert contents(inbox) == ["h1", "h2"]


def test_critical_messages_are_never_evicted() -> None:
    inbox, _ = make(max_messages=2)
    inbox.send("c1", priority="critical")
    inbox.send("c2", priority="critical")
    with pytest.raises(InboxFullError):
        inbox.send("c3", priority="critical")
    assert contents(inbox) == ["c1", "c2"]


def test_pending_questions_are_never_evicted() -> None:
    inbox, _ = make(max_messages=2)
    inbox.send("q1", message_type="question", priority="low")
    inbox.send("n1", priority="low")
    inbox.send("n2", priority="low")
    assert contents(inbox) == ["q1", "n2"]


def test_expired_messages_make_room_before_eviction() -> None:
    inbox, clock = make(max_messages=1)
    inbox.send("old", ttl=5, priority="critical")
    clock.now += 5
    inbox.send("new")
    assert contents(inbox) == ["new"]


def test_rate_limit_per_sender_slides_over_an_hour() -> None:
    inbox, clock = make(rate_limit_per_sender=2)
    inbox.send("a1", sender_id="alice", ttl=0)
    clock.now += 100
    inbox.send("a2", sender_id="alice", ttl=0)
    with pytest.raises(InboxRateLimitError, match="rate limit exceeded for sender 'alice': 2"):
        inbox.send("a3", sender_id="alice", ttl=0)
    inbox.send("b1", sender_id="bob", ttl=0)
    clock.now += 3500
    inbox.send("a3", sender_id="alice", ttl=0)
    with pytest.raises(InboxRateLimitError):
        inbox.send("a4", sender_id="alice", ttl=0)
    assert contents(inbox) == ["a1", "a2", "b1", "a3"]


def test_anonymous_senders_share_one_bucket() -> None:
    inbox, _ = make(rate_limit_per_sender=2)
    inbox.send("x")
    inbox.send("y")
    with pytest.raises(InboxRateLimitError, match="anonymous senders"):
        inbox.send("z")
    assert contents(inbox) == ["x", "y"]


def test_rate_limit_zero_is_unlimited() -> None:
    inbox, _ = make(rate_limit_per_sender=0, max_messages=100)
    for n in range(60):
        inbox.send(f"m{n}")
    assert len(inbox) == 60


def test_refused_messages_do_not_use_up_the_allowance() -> None:
    inbox, _ = make(rate_limit_per_sender=1, max_message_length=3)
    with pytest.raises(InboxError, match="content"):
        inbox.send("too long", sender_id="alice")
    inbox.send("ok", sender_id="alice")
    assert contents(inbox) == ["ok"]


def test_mark_processed_removes_all_but_questions() -> None:
    inbox, _ = make()
    note = inbox.send("note")
    question = inbox.send("status?", message_type=MessageType.QUESTION)
    assert inbox.mark_processed(note.message_id)
    assert not inbox.mark_processed(note.message_id)
    assert not inbox.mark_processed(question.message_id)
    assert inbox.get_pending() == [question]


def test_question_is_pending_until_answered() -> None:
    inbox, _ = make()
    inbox.send("note")
    question = inbox.send("what did you find?", message_type="question", sender_id="ops")
    assert inbox.get_questions() == [question]
    assert inbox.is_awaiting_answer(question.message_id)
    inbox.submit_response(question.message_id, answer(question))
    assert not inbox.is_awaiting_answer(question.message_id)
    assert inbox.get_questions() == []
    assert contents(inbox) == ["note"]


def test_answering_an_unknown_question_raises_key_error() -> None:
    inbox, _ = make()
    note = inbox.send("note")
    with pytest.raises(KeyError, match="no pending question with id 'nope'"):
        inbox.submit_response("nope", InboxResponse("nope", "x", 0.0))
    with pytest.raises(KeyError, match="no pending question"):
        inbox.submit_response(note.message_id, InboxResponse(note.message_id, "x", 0.0))
    assert contents(inbox) == ["note"]


def test_answer_for_another_question_is_refused() -> None:
    inbox, _ = make()
    first = inbox.send("q1", message_type="question")
    second = inbox.send("q2", message_type="question")
    with pytest.raises(InboxError, match="question_id: response is for"):
        inbox.submit_response(first.message_id, answer(second))
    assert inbox.get_questions() == [first, second]


def test_question_of_a_timed_out_asker_can_be_removed() -> None:
    inbox, _ = make()
    question = inbox.send("q", message_type="question")
    note = inbox.send("note")
    assert not inbox.remove_question(note.message_id)
    assert inbox.remove_question(question.message_id)
    assert not inbox.remove_question(question.message_id)
    assert inbox.get_questions() == []
    with pytest.raises(KeyError):
        inbox.submit_response(question.message_id, answer(question))


def test_expired_question_cannot_be_answered() -> None:
    inbox, clock = make()
    question = inbox.send("q", message_type="question", ttl=30)
    clock.now += 30
    assert inbox.get_questions() == []
    assert not inbox.is_awaiting_answer(question.message_id)
    with pytest.raises(KeyError):
        inbox.submit_response(question.message_id, answer(question))


def test_clear_returns_the_questions_left_waiting() -> None:
    inbox, _ = make()
    inbox.send("note")
    question = inbox.send("q", message_type="question")
    assert inbox.clear() == [question.message_id]
    assert inbox.get_pending() == []


def test_status_summarises_without_content() -> None:
    inbox, clock = make()
    inbox.send("secret-ish note", sender_id="ops", priority="high")
    clock.now += 30
    question = inbox.send("q", message_type="question")
    clock.now += 10
    status = inbox.status()
    assert status["pending_messages"] == 2
    assert status["pending_questions"] == 1
    assert status["oldest_message_age_seconds"] == 40
    assert status["messages"][1] == {
        "message_id": question.message_id,
        "type": "question",
        "priority": "normal",
        "age_seconds": 10,
        "sender_id": None,
    }
    assert "secret-ish" not in repr(status)
    assert make()[0].status()["oldest_message_age_seconds"] is None


def test_add_accepts_a_prepared_message_with_string_enums() -> None:
    inbox, clock = make()
    fields: dict[str, Any] = {"message_type": "directive", "priority": "critical"}
    message = InboxMessage("id-1", "hello", created_at=clock.now, **fields)
    assert message.message_type is MessageType.DIRECTIVE
    assert message.priority is MessagePriority.CRITICAL
    assert inbox.add(message) == "id-1"
    with pytest.raises(InboxError, match="message_id: 'id-1' is already in the inbox"):
        inbox.add(message)
    assert len(inbox) == 1


@pytest.mark.parametrize(
    ("expires_at", "text"),
    [
        (10_000.0, "expires_at: the message expired already"),
        (10_000.0 + 86_401, "expires_at: lifetime exceeds max_ttl 86400 s"),
    ],
)
def test_add_checks_expiry(expires_at: float, text: str) -> None:
    inbox, clock = make()
    message = InboxMessage("m", "x", created_at=clock.now, expires_at=expires_at)
    with pytest.raises(InboxError, match=text):
        inbox.add(message)
    assert len(inbox) == 0


def test_add_refuses_other_objects() -> None:
    inbox, _ = make()
    with pytest.raises(InboxError, match="message: expected an InboxMessage, got str"):
        inbox.add("hello")  # type: ignore[arg-type]


def test_bad_enum_on_message_is_refused() -> None:
    with pytest.raises(InboxError, match="priority: 'urgent' is not one of"):
        InboxMessage("m", "x", priority="urgent")  # type: ignore[arg-type]


def test_response_to_dict() -> None:
    response = InboxResponse("q1", "all good", 12.5, invocation_id="inv-3")
    assert response.to_dict() == {
        "question_id": "q1",
        "content": "all good",
        "answered_at": 12.5,
        "invocation_id": "inv-3",
    }


def test_from_config_uses_its_limits() -> None:
    config = InboxConfig(max_messages=2, max_message_length=10, default_ttl=5, max_ttl=50)
    clock = FakeClock()
    inbox = MessageInbox.from_config(config, clock=clock)
    assert (inbox.max_messages, inbox.max_message_length) == (2, 10)
    assert inbox.send("x").expires_at == clock.now + 5
    with pytest.raises(InboxError, match="max_ttl 50"):
        inbox.send("x", ttl=51)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"max_messages": 0}, "must be positive"),
        ({"max_messages": 1.5}, "max_messages: expected an int >= 0"),
        ({"max_message_length": -1}, "max_message_length: expected an int >= 0"),
        ({"default_ttl": -1}, "default_ttl: expected a number >= 0"),
        ({"max_ttl": 0}, "must be positive"),
        ({"rate_limit_per_sender": True}, "rate_limit_per_sender: expected an int >= 0"),
        ({"default_ttl": 100, "max_ttl": 50}, "default_ttl: 100 exceeds max_ttl 50"),
    ],
)
def test_bad_limits_are_refused(kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(ValueError, match=text):
        MessageInbox(**kwargs)  # type: ignore[arg-type]


def test_default_limits_follow_the_reference() -> None:
    inbox = MessageInbox()
    assert (
        inbox.max_messages,
        inbox.max_message_length,
        inbox.default_ttl,
        inbox.max_ttl,
        inbox.rate_limit_per_sender,
    ) == (50, 2000, 3600.0, 86400.0, 20)
