"""The conversation buffer: a process's short-term memory of recent messages.

The buffer is owned by one actor, so it needs no lock. Concurrent invocations each work on their
own list taken when they start, and the actor appends what they produced when they finish.

Every run takes the whole buffer, so taking it must not cost a copy per message. A message that
holds only strings (the usual case) is stored as a `ReadOnlyMessage`: a dict that refuses
changes, so a run's list can share it with the buffer (`snapshot()`); any other message is
deep-copied on the way in and out. `get_messages()` still hands out plain, mutable copies.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_MAX_MESSAGES", "ConversationBuffer", "ReadOnlyMessage"]

DEFAULT_MAX_MESSAGES = 100


def _check_max(max_messages: object) -> int:
    if isinstance(max_messages, bool) or not isinstance(max_messages, int):
        msg = f"max_messages: expected an int, got {type(max_messages).__name__}"
        raise TypeError(msg)
    if max_messages < 0:
        msg = f"max_messages: must be >= 0 (0 = unlimited), got {max_messages}"
        raise ValueError(msg)
    return max_messages


class ReadOnlyMessage(dict[str, Any]):
    """A conversation message that cannot be changed in place (only string values), so every run
    can share it with the buffer. `dict(message)` is a mutable copy; it serialises as a dict."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        del args, kwargs
        msg = "conversation messages are read-only: change a copy, dict(message)"
        raise TypeError(msg)

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> ReadOnlyMessage:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ReadOnlyMessage:
        del memo
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReadOnlyMessage, (dict(self),))


def _checked(message: object, index: int | None) -> dict[str, Any]:
    """`message` as stored, after checking it has a string `role` and a `content` key: read-only
    and shared if it holds only strings, else a deep copy. `index`: its place in a list, for
    the error message (None: a single message)."""
    if type(message) is not ReadOnlyMessage and not isinstance(message, dict | Mapping):
        msg = f"{_where(index)}: expected a dict message, got {type(message).__name__}"
        raise TypeError(msg)
    role = message.get("role")
    if not isinstance(role, str) or not role:
        msg = f"{_where(index)}.role: expected a non-empty string, got {role!r}"
        raise ValueError(msg)
    if "content" not in message:
        msg = f"{_where(index)}.content: missing"
        raise ValueError(msg)
    for value in message.values():
        if type(value) is not str and not isinstance(value, str):
            return copy.deepcopy(dict(message))
    return message if type(message) is ReadOnlyMessage else ReadOnlyMessage(message)


def _where(index: int | None) -> str:
    return "message" if index is None else f"messages[{index}]"


class ConversationBuffer:
    """The last `max_messages` messages (`{"role": ..., "content": ...}` dicts), oldest first.

    When full, the oldest messages are dropped. `max_messages=0` keeps everything. Messages are
    copied on the way in; `get_messages()` copies on the way out, `snapshot()` shares the
    read-only ones.
    """

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        self._max = _check_max(max_messages)
        self._messages: deque[dict[str, Any]] = deque(maxlen=self._max or None)
        self._nested = 0  # messages that are not read-only (deep-copied when handed out)

    @property
    def max_messages(self) -> int:
        """The retention limit (0 = unlimited)."""
        return self._max

    def __len__(self) -> int:
        return len(self._messages)

    def append(self, message: Mapping[str, Any]) -> None:
        """Add one message, evicting the oldest if the buffer is full."""
        self._add([_checked(message, None)])

    def extend(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Add several messages; if any is invalid, none is added."""
        self._add([_checked(item, i) for i, item in enumerate(messages)])

    def _add(self, checked: list[dict[str, Any]]) -> None:
        self._messages.extend(checked)
        if self._nested:
            self._nested = sum(type(m) is not ReadOnlyMessage for m in self._messages)
        else:
            for message in checked:
                if type(message) is not ReadOnlyMessage:
                    self._nested = sum(type(m) is not ReadOnlyMessage for m in self._messages)
                    return

    def get_messages(self) -> list[dict[str, Any]]:
        """All buffered messages, oldest first, as plain mutable copies."""
        return [dict(m) if type(m) is ReadOnlyMessage else copy.deepcopy(m)
                for m in self._messages]

    def snapshot(self) -> list[dict[str, Any]]:
        """All buffered messages, oldest first, in a new list that shares the read-only ones
        (the cheap copy a run gets: the list is its own, the messages cannot be changed)."""
        if not self._nested:
            return list(self._messages)
        return [m if type(m) is ReadOnlyMessage else copy.deepcopy(m) for m in self._messages]

    def set_messages(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Replace the contents (keeping the newest that fit); invalid input changes nothing."""
        checked = [_checked(item, i) for i, item in enumerate(messages)]
        self.clear()
        self._add(checked)

    def clear(self) -> None:
        """Remove every message."""
        self._messages.clear()
        self._nested = 0

    def copy(self) -> ConversationBuffer:
        """An independent buffer with the same limit and messages (for a concurrent invocation)."""
        forked = ConversationBuffer(self._max)
        forked._add(self.snapshot())
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
