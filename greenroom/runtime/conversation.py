"""The conversation buffer: a process's short-term memory of recent messages.

The buffer is owned by one actor, so it needs no lock. Concurrent invocations each work on a
`copy()` taken when they start, and the actor appends what they produced when they finish.
Every run copies the whole buffer out, so the copy is cheap: whether a message holds only
strings (the usual case, copied with `dict()`) is decided once, when it comes in.
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


def _checked(message: object, where: str) -> tuple[dict[str, Any], bool]:
    """A copy of `message` after checking it has a string `role` and a `content` key, and
    whether it is flat (only string values, so a shallow copy is a full one)."""
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
    flat = all(isinstance(value, str) for value in message.values())
    return (dict(message) if flat else copy.deepcopy(dict(message))), flat


def _copies(messages: Iterable[dict[str, Any]], flags: Iterable[bool]) -> list[dict[str, Any]]:
    """Copies that share nothing mutable with the buffer."""
    return [dict(m) if flat else copy.deepcopy(m) for m, flat in zip(messages, flags, strict=True)]


class ConversationBuffer:
    """The last `max_messages` messages (`{"role": ..., "content": ...}` dicts), oldest first.

    When full, the oldest messages are dropped. `max_messages=0` keeps everything. Messages are
    copied on the way in and on the way out, so callers never share dicts with the buffer.
    """

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        self._max = _check_max(max_messages)
        self._messages: deque[dict[str, Any]] = deque(maxlen=self._max or None)
        self._flat: deque[bool] = deque(maxlen=self._max or None)

    @property
    def max_messages(self) -> int:
        """The retention limit (0 = unlimited)."""
        return self._max

    def __len__(self) -> int:
        return len(self._messages)

    def append(self, message: Mapping[str, Any]) -> None:
        """Add one message, evicting the oldest if the buffer is full."""
        checked, flat = _checked(message, "message")
        self._messages.append(checked)
        self._flat.append(flat)

    def extend(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Add several messages; if any is invalid, none is added."""
        checked = [_checked(item, f"messages[{i}]") for i, item in enumerate(messages)]
        self._messages.extend(message for message, _ in checked)
        self._flat.extend(flat for _, flat in checked)

    def get_messages(self) -> list[dict[str, Any]]:
        """All buffered messages, oldest first (copies)."""
        return _copies(self._messages, self._flat)

    def set_messages(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Replace the contents (keeping the newest that fit); invalid input changes nothing."""
        checked = [_checked(item, f"messages[{i}]") for i, item in enumerate(messages)]
        self.clear()
        self._messages.extend(message for message, _ in checked)
        self._flat.extend(flat for _, flat in checked)

    def clear(self) -> None:
        """Remove every message."""
        self._messages.clear()
        self._flat.clear()

    def copy(self) -> ConversationBuffer:
        """An independent buffer with the same limit and messages (for a concurrent invocation)."""
        forked = ConversationBuffer(self._max)
        forked._messages.extend(_copies(self._messages, self._flat))
        forked._flat.extend(self._flat)
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
