"""NATS-style topic patterns for the event bus, the message broker and message triggers.

A topic is a dot-separated list of non-empty tokens (`pipeline.alerts.db`). A pattern may also
use `*` for exactly one token and, as its last token only, `>` for one or more trailing tokens.
This is the grammar NATS uses, so patterns mean the same inside a node and across nodes.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["TopicPattern", "topic_matches", "validate_topic"]

_ONE = "*"
_TAIL = ">"
_FOREIGN = frozenset({"#", "+"})


def _tokens(text: object, kind: str) -> list[str]:
    """Split `text` into tokens, rejecting non-strings, empty tokens and whitespace."""
    if not isinstance(text, str):
        msg = f"{kind} must be a string, got {type(text).__name__}"
        raise TypeError(msg)
    tokens = text.split(".")
    if any(not token for token in tokens):
        msg = f"invalid {kind} {text!r}: empty token (check for a leading, trailing or double '.')"
        raise ValueError(msg)
    if any(char.isspace() for char in text):
        msg = f"invalid {kind} {text!r}: whitespace is not allowed"
        raise ValueError(msg)
    return tokens


_VALID_TOPICS: dict[str, None] = {}
"""Topics already found valid (a process emits the same few on every run); bounded."""
_VALID_TOPICS_MAX = 4096


def validate_topic(topic: str) -> str:
    """Return `topic` if it is a concrete topic (no wildcards), else raise `ValueError`."""
    if type(topic) is str and topic in _VALID_TOPICS:
        return topic
    for token in _tokens(topic, "topic"):
        if _ONE in token or _TAIL in token:
            msg = f"invalid topic {topic!r}: wildcards '*' and '>' are only allowed in patterns"
            raise ValueError(msg)
    if len(_VALID_TOPICS) >= _VALID_TOPICS_MAX:
        _VALID_TOPICS.clear()
    _VALID_TOPICS[topic] = None
    return topic


class TopicPattern:
    """A compiled pattern; `matches(topic)` tells whether a concrete topic is selected."""

    __slots__ = ("_has_tail", "_tokens", "pattern")

    def __init__(self, pattern: str) -> None:
        tokens = _tokens(pattern, "pattern")
        for index, token in enumerate(tokens):
            if token in _FOREIGN:
                msg = (
                    f"invalid pattern {pattern!r}: {token!r} is an MQTT/AMQP wildcard; "
                    "use '*' for one token and '>' for the rest (NATS rules)"
                )
                raise ValueError(msg)
            if token == _TAIL and index != len(tokens) - 1:
                msg = f"invalid pattern {pattern!r}: '>' may only be the last token"
                raise ValueError(msg)
            if token not in (_ONE, _TAIL) and (_ONE in token or _TAIL in token):
                msg = (
                    f"invalid pattern {pattern!r}: wildcard inside token {token!r}; "
                    "'*' and '>' must be whole tokens"
                )
                raise ValueError(msg)
        self.pattern = pattern
        self._has_tail = tokens[-1] == _TAIL
        self._tokens = tuple(tokens[:-1] if self._has_tail else tokens)

    @property
    def is_literal(self) -> bool:
        """True when the pattern has no wildcard and so matches only itself."""
        return not self._has_tail and _ONE not in self._tokens

    def matches(self, topic: str) -> bool:
        """Whether `topic` is selected; an invalid topic raises `ValueError` naming it."""
        tokens = validate_topic(topic).split(".")
        if self._has_tail:
            if len(tokens) <= len(self._tokens):
                return False
        elif len(tokens) != len(self._tokens):
            return False
        return all(want in (_ONE, got) for want, got in zip(self._tokens, tokens, strict=False))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TopicPattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"TopicPattern({self.pattern!r})"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> TopicPattern:
    return TopicPattern(pattern)


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether `topic` is selected by `pattern`; compiled patterns are cached."""
    if not isinstance(pattern, str):
        msg = f"pattern must be a string, got {type(pattern).__name__}"
        raise TypeError(msg)
    return _compiled(pattern).matches(topic)
