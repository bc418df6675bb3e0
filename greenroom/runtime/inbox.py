"""The human-to-agent inbox: prioritised messages with TTLs, limits and pending questions.

This is the pure core: no asyncio, no locks. A question is tracked by its message id until the
caller resolves it with `submit_response` or withdraws it with `remove_question`; the actor layer
keeps the futures that askers wait on and settles them from these calls.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from greenroom.runtime.errors import InboxError, InboxFullError, InboxRateLimitError
from greenroom.runtime.lifecycle import SystemTime, TimeSource

if TYPE_CHECKING:
    from greenroom.runtime.config import InboxConfig

__all__ = [
    "RATE_LIMIT_WINDOW",
    "InboxMessage",
    "InboxResponse",
    "MessageInbox",
    "MessagePriority",
    "MessageType",
]

RATE_LIMIT_WINDOW = 3600.0
"""Length in seconds of the sliding window behind `rate_limit_per_sender`."""


class MessageType(StrEnum):
    """What a message asks of the agent."""

    DIRECTIVE = "directive"
    CONTEXT = "context"
    QUESTION = "question"
    CORRECTION = "correction"


class MessagePriority(StrEnum):
    """Delivery order and eviction protection; `critical` messages are never evicted."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for critical."""
        return _RANKS[self]


_RANKS = {
    MessagePriority.LOW: 0,
    MessagePriority.NORMAL: 1,
    MessagePriority.HIGH: 2,
    MessagePriority.CRITICAL: 3,
}


_E = TypeVar("_E", MessageType, MessagePriority)


def _enum_value(kind: type[_E], value: object, field_name: str) -> _E:
    allowed = [member.value for member in kind]
    if isinstance(value, str) and value in allowed:
        return kind(value)
    msg = f"{field_name}: {value!r} is not one of: {', '.join(allowed)}"
    raise InboxError(msg)


@dataclass(frozen=True)
class InboxMessage:
    """A message from a person to a running agent; times are unix seconds."""

    message_id: str
    content: str
    message_type: MessageType = MessageType.CONTEXT
    sender_id: str | None = None
    priority: MessagePriority = MessagePriority.NORMAL
    created_at: float = 0.0
    expires_at: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Accept the string spellings of `message_type` and `priority`."""
        kind = _enum_value(MessageType, self.message_type, "message_type")
        priority = _enum_value(MessagePriority, self.priority, "priority")
        object.__setattr__(self, "message_type", kind)
        object.__setattr__(self, "priority", priority)

    def is_expired(self, now: float) -> bool:
        """Whether the message is stale at `now`."""
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True)
class InboxResponse:
    """The agent's answer to a question."""

    question_id: str
    content: str
    answered_at: float
    invocation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "question_id": self.question_id,
            "content": self.content,
            "answered_at": self.answered_at,
            "invocation_id": self.invocation_id,
        }


def _non_negative(value: object, name: str, *, allow_float: bool) -> None:
    valid: tuple[type[int] | type[float], ...] = (int, float) if allow_float else (int,)
    if isinstance(value, valid) and not isinstance(value, bool) and value >= 0:
        return
    kind = "a number" if allow_float else "an int"
    msg = f"{name}: expected {kind} >= 0, got {value!r}"
    raise ValueError(msg)


class MessageInbox:
    """A bounded, priority-ordered inbox with TTL expiry and per-sender rate limits.

    - Delivery order: critical, high, normal, low; oldest first within a priority.
    - When full, the oldest message of the lowest priority is evicted, but never a critical
      message, never a question awaiting its answer, and never one ranked above the newcomer;
      if nothing qualifies, `InboxFullError` is raised.
    - Each sender may add `rate_limit_per_sender` messages per hour (0 = unlimited); messages
      without a sender share one bucket.
    - A TTL of 0 means the message never expires; TTLs above `max_ttl` are refused.

    Every refusal raises an `InboxError` (a `ValueError`) and leaves the inbox unchanged.
    """

    def __init__(
        self,
        max_messages: int = 50,
        max_message_length: int = 2000,
        default_ttl: float = 3600.0,
        max_ttl: float = 86400.0,
        rate_limit_per_sender: int = 20,
        *,
        clock: TimeSource | None = None,
    ) -> None:
        _non_negative(max_messages, "max_messages", allow_float=False)
        _non_negative(max_message_length, "max_message_length", allow_float=False)
        _non_negative(default_ttl, "default_ttl", allow_float=True)
        _non_negative(max_ttl, "max_ttl", allow_float=True)
        _non_negative(rate_limit_per_sender, "rate_limit_per_sender", allow_float=False)
        if max_messages < 1 or max_message_length < 1 or max_ttl <= 0:
            msg = "max_messages, max_message_length and max_ttl must be positive"
            raise ValueError(msg)
        if default_ttl > max_ttl:
            msg = f"default_ttl: {default_ttl} exceeds max_ttl {max_ttl}"
            raise ValueError(msg)
        self.max_messages = max_messages
        self.max_message_length = max_message_length
        self.default_ttl = float(default_ttl)
        self.max_ttl = float(max_ttl)
        self.rate_limit_per_sender = rate_limit_per_sender
        self._clock: TimeSource = clock if clock is not None else SystemTime()
        self._messages: dict[str, tuple[int, InboxMessage]] = {}
        self._sequence = itertools.count()
        self._sent: dict[str | None, deque[float]] = {}

    @classmethod
    def from_config(cls, config: InboxConfig, *, clock: TimeSource | None = None) -> MessageInbox:
        """An inbox with the limits of an `InboxConfig`."""
        return cls(
            max_messages=config.max_messages,
            max_message_length=config.max_message_length,
            default_ttl=config.default_ttl,
            max_ttl=config.max_ttl,
            rate_limit_per_sender=config.rate_limit_per_sender,
            clock=clock,
        )

    def __len__(self) -> int:
        """How many unexpired messages are held."""
        return len(self._live())

    def send(
        self,
        content: str,
        *,
        message_type: MessageType | str = MessageType.CONTEXT,
        priority: MessagePriority | str = MessagePriority.NORMAL,
        sender_id: str | None = None,
        ttl: float | timedelta | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> InboxMessage:
        """Build a message stamped with the clock and add it; `ttl=None` uses `default_ttl`."""
        seconds = self.default_ttl if ttl is None else ttl
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            msg = f"ttl: expected seconds >= 0 or a timedelta, got {ttl!r}"
            raise InboxError(msg)
        if seconds > self.max_ttl:
            msg = f"ttl: {seconds:g} s exceeds max_ttl {self.max_ttl:g} s"
            raise InboxError(msg)
        if metadata is not None and not isinstance(metadata, Mapping):
            msg = f"metadata: expected a mapping, got {type(metadata).__name__}"
            raise InboxError(msg)
        now = self._clock.time()
        message = InboxMessage(
            message_id=uuid.uuid4().hex,
            content=content,
            message_type=_enum_value(MessageType, message_type, "message_type"),
            sender_id=sender_id,
            priority=_enum_value(MessagePriority, priority, "priority"),
            created_at=now,
            expires_at=now + seconds if seconds else None,
            metadata=copy.deepcopy(dict(metadata or {})),
        )
        self.add(message)
        return message

    def add(self, message: InboxMessage) -> str:
        """Add a prepared message and return its id; a refusal changes nothing."""
        now = self._clock.time()
        self._validate(message, now)
        self.purge_expired()
        self._check_rate(message.sender_id, now)
        if len(self._messages) >= self.max_messages:
            del self._messages[self._eviction_victim(message)]
        self._messages[message.message_id] = (next(self._sequence), message)
        if self.rate_limit_per_sender:
            self._sent.setdefault(message.sender_id, deque()).append(now)
        return message.message_id

    def get_pending(self) -> list[InboxMessage]:
        """Unexpired messages in delivery order; nothing is removed."""
        return [message for _, message in self._ordered(self._live())]

    def get_questions(self) -> list[InboxMessage]:
        """Unexpired questions still awaiting an answer, in delivery order."""
        return [m for m in self.get_pending() if m.message_type is MessageType.QUESTION]

    def is_awaiting_answer(self, question_id: str) -> bool:
        """Whether `question_id` is an unexpired question that has not been answered."""
        entry = self._messages.get(question_id)
        if entry is None:
            return False
        message = entry[1]
        return message.message_type is MessageType.QUESTION and not message.is_expired(
            self._clock.time()
        )

    def mark_processed(self, message_id: str) -> bool:
        """Remove a message the agent has seen; questions stay until answered.

        Returns True when the message left the inbox.
        """
        entry = self._messages.get(message_id)
        if entry is None or entry[1].message_type is MessageType.QUESTION:
            return False
        del self._messages[message_id]
        return True

    def submit_response(self, question_id: str, response: InboxResponse) -> None:
        """Record the answer to a pending question and remove it; `KeyError` if not pending."""
        if not self.is_awaiting_answer(question_id):
            msg = f"no pending question with id {question_id!r}"
            raise KeyError(msg)
        if response.question_id != question_id:
            msg = f"question_id: response is for {response.question_id!r}, not {question_id!r}"
            raise InboxError(msg)
        del self._messages[question_id]

    def remove_question(self, question_id: str) -> bool:
        """Withdraw a question whose asker stopped waiting; False if it was not pending."""
        entry = self._messages.get(question_id)
        if entry is None or entry[1].message_type is not MessageType.QUESTION:
            return False
        del self._messages[question_id]
        return True

    def purge_expired(self) -> int:
        """Remove every expired message and return how many were removed."""
        now = self._clock.time()
        expired = [mid for mid, (_, m) in self._messages.items() if m.is_expired(now)]
        for message_id in expired:
            del self._messages[message_id]
        return len(expired)

    def clear(self) -> list[str]:
        """Remove everything; returns the ids of questions that were still awaiting answers."""
        questions = [m.message_id for m in self.get_questions()]
        self._messages.clear()
        return questions

    def status(self) -> dict[str, Any]:
        """Counts, the oldest message's age and a per-message summary (never the content)."""
        now = self._clock.time()
        pending = self.get_pending()
        oldest = min((m.created_at for m in pending), default=None)
        return {
            "pending_messages": len(pending),
            "pending_questions": sum(m.message_type is MessageType.QUESTION for m in pending),
            "oldest_message_age_seconds": None if oldest is None else now - oldest,
            "messages": [
                {
                    "message_id": m.message_id,
                    "type": m.message_type.value,
                    "priority": m.priority.value,
                    "age_seconds": now - m.created_at,
                    "sender_id": m.sender_id,
                }
                for m in pending
            ],
        }

    def _live(self) -> list[tuple[int, InboxMessage]]:
        now = self._clock.time()
        return [entry for entry in self._messages.values() if not entry[1].is_expired(now)]

    @staticmethod
    def _ordered(entries: list[tuple[int, InboxMessage]]) -> list[tuple[int, InboxMessage]]:
        return sorted(entries, key=lambda e: (-e[1].priority.rank, e[1].created_at, e[0]))

    def _validate(self, message: InboxMessage, now: float) -> None:
        if not isinstance(message, InboxMessage):
            msg = f"message: expected an InboxMessage, got {type(message).__name__}"
            raise InboxError(msg)
        if not isinstance(message.content, str) or not message.content.strip():
            msg = f"content: expected a non-empty string, got {message.content!r}"
            raise InboxError(msg)
        if len(message.content) > self.max_message_length:
            msg = (
                f"content: {len(message.content)} characters exceeds "
                f"max_message_length {self.max_message_length}"
            )
            raise InboxError(msg)
        if message.sender_id is not None and not isinstance(message.sender_id, str):
            msg = f"sender_id: expected a string or None, got {message.sender_id!r}"
            raise InboxError(msg)
        if message.message_id in self._messages:
            msg = f"message_id: {message.message_id!r} is already in the inbox"
            raise InboxError(msg)
        if message.expires_at is not None:
            if message.expires_at <= now:
                msg = f"expires_at: the message expired already ({message.expires_at} <= {now})"
                raise InboxError(msg)
            if message.expires_at - message.created_at > self.max_ttl:
                msg = f"expires_at: lifetime exceeds max_ttl {self.max_ttl:g} s"
                raise InboxError(msg)

    def _check_rate(self, sender_id: str | None, now: float) -> None:
        if not self.rate_limit_per_sender:
            return
        sent = self._sent.get(sender_id)
        if sent is None:
            return
        while sent and sent[0] <= now - RATE_LIMIT_WINDOW:
            sent.popleft()
        if not sent:
            del self._sent[sender_id]
            return
        if len(sent) >= self.rate_limit_per_sender:
            who = f"sender {sender_id!r}" if sender_id is not None else "anonymous senders"
            msg = (
                f"sender_id: rate limit exceeded for {who}: "
                f"{self.rate_limit_per_sender} messages per hour"
            )
            raise InboxRateLimitError(msg)

    def _eviction_victim(self, newcomer: InboxMessage) -> str:
        """The id of the message `newcomer` may replace, or `InboxFullError`."""
        candidates = [
            entry
            for entry in self._messages.values()
            if entry[1].priority is not MessagePriority.CRITICAL
            and entry[1].message_type is not MessageType.QUESTION
        ]
        victim = min(
            candidates, key=lambda e: (e[1].priority.rank, e[1].created_at, e[0]), default=None
        )
        if victim is None or victim[1].priority.rank > newcomer.priority.rank:
            msg = (
                f"inbox is full ({self.max_messages} messages) and holds nothing a "
                f"{newcomer.priority.value!r} message may replace"
            )
            raise InboxFullError(msg)
        return victim[1].message_id
