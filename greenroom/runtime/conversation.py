"""The conversation buffer: a process's short-term memory of recent messages.

The buffer is owned by one actor, so it needs no lock. Concurrent invocations each work on a
`copy()` taken when they start, and the actor appends what they produced when they finish.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_MAX_MESSAGES", "ConversationBuffer"]

DEFAULT_MAX_MESSAGES = 100


def _check_max(max_messages: object) -> int:
    if isinstance(max_messages, bool) or not isinstance(max_messages, int):
        msg = f"max_messages: expected an int, got {type(max_messages).__name__}"
        raise TypeError(msg)
    if max_messages < 0:
        msg = f"max_messages: must be >= 0 (0 = unlimited), got {max_messages}"
        raise ValueError(msg)
    return max_messages


def _checked(message: object, where: str) -> dict[str, Any]:
    """A deep copy of `message` after checking it has a string `role` and a `content` key."""
    if not isinstance(message, Mapping):
        msg = f"{where}: expected a dict message, got {type(message).__name__}"
        raise TypeError(msg)
    role = message.get("role")
    if not isinstance(role, str) or not role:
        msg = f"{where}.role: expected a non-empty string, got {role!r}"
        raise ValueError(msg)
    if "content" not in message:
        msg = f"{where}.content: missing"
        raise ValueError(msg)
    return copy.deepcopy(dict(message))


def _copy(message: dict[str, Any]) -> dict[str, Any]:
    """A copy that shares nothing mutable; plain-string messages (the usual) copy shallowly."""
    if all(isinstance(value, str) for value in message.values()):
        return dict(message)
    return copy.deepcopy(message)


class ConversationBuffer:
    """The last `max_messages` messages (`{"role": ..., "content": ...}` dicts), oldest first.

    When full, the oldest messages are dropped. `max_messages=0` keeps everything. Messages are
    copied on the way in and on the way out, so callers never share dicts with the buffer.
    """

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        self._max = _check_max(max_messages)
        self._messages: deque[dict[str, Any]] = deque(maxlen=self._max or None)

    @property
    def max_messages(self) -> int:
        """The retention limit (0 = unlimited)."""
        return self._max

    def __len__(self) -> int:
        return len(self._messages)

    def append(self, message: Mapping[str, Any]) -> None:
        """Add one message, evicting the oldest if the buffer is full."""
        self._messages.append(_checked(message, "message"))

    def extend(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Add several messages; if any is invalid, none is added."""
        checked = [_checked(item, f"messages[{i}]") for i, item in enumerate(messages)]
        self._messages.extend(checked)

    def get_messages(self) -> list[dict[str, Any]]:
        """All buffered messages, oldest first (copies)."""
        return [_copy(message) for message in self._messages]

    def set_messages(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Replace the contents (keeping the newest that fit); invalid input changes nothing."""
        checked = [_checked(item, f"messages[{i}]") for i, item in enumerate(messages)]
        self._messages.clear()
        self._messages.extend(checked)

    def clear(self) -> None:
        """Remove every message."""
        self._messages.clear()

    def copy(self) -> ConversationBuffer:
        """An independent buffer with the same limit and messages (for a concurrent invocation)."""
        forked = ConversationBuffer(self._max)
        forked._messages.extend(_copy(message) for message in self._messages)
        return forked

    def to_dict(self) -> dict[str, Any]:
        """A dict with `max_messages` and `messages`, for checkpoints."""
        return {"max_messages": self._max, "messages": self.get_messages()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationBuffer:
        """Rebuild a buffer from `to_dict()` output; a bad field raises naming it."""
        if not isinstance(data, Mapping):
            msg = f"conversation: expected a mapping, got {type(data).__name__}"
            raise TypeError(msg)
        messages = data.get("messages", [])
        if not isinstance(messages, list):
            msg = f"messages: expected a list, got {type(messages).__name__}"
            raise TypeError(msg)
        buffer = cls(data.get("max_messages", DEFAULT_MAX_MESSAGES))
        buffer.set_messages(messages)
        return buffer

    def __repr__(self) -> str:
        return f"ConversationBuffer(max_messages={self._max}, messages={len(self._messages)})"
