"""Trigger messages in the journal: stored as a reference, rebuilt on recovery.

The first message a run adds to the conversation is its trigger message, the framed event
(`greenroom.agents.framing.trigger_message`): three quarters of the run's `invocation_result`
entry, and entirely determined by the event (already journaled in its `trigger_event` entry) and
the random token of the payload tag. So the journal stores it as:

- in an `invocation_result`: `{"role": "user", "trigger_token": token}`; the event is the one the
  entry settles (`event_id`), which replay knows from its `trigger_event` entry or from the
  checkpoint's pending events;
- in a checkpoint's conversation (where the event's entry may be compacted away):
  `{"role": "user", "trigger_event": [trigger_type, trigger_id, event_id, timestamp, payload],
  "trigger_token": token}`: the fields the message shows, in that order.

A message is stored that way only if rebuilding it gives exactly the same message (same keys,
same text: a redacted or custom prompt is stored as it is). The runtime knows that without
rebuilding when the message is the one it framed from the event and nothing changed it since
(`ProcessJournal.framed_intact`); any other message is rebuilt once and compared. Rebuilding
costs about as much as framing the event did, so `RecoveryResult` does it only for the messages
that are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from greenroom.agents.framing import PAYLOAD_TAG, trigger_message

__all__ = ["EVENT", "TOKEN", "event_fields", "fields_event", "framed_token", "render",
           "trigger_token"]

TOKEN = "trigger_token"
"""The key holding the payload tag's token."""
EVENT = "trigger_event"
"""The key holding the event's fields (`event_fields`), in a checkpoint's conversation."""

_FIELDS = ("trigger_type", "trigger_id", "event_id", "timestamp", "payload")
_TAG = re.compile(re.escape(f"<{PAYLOAD_TAG}-") + r"([0-9a-f]+)>\n")


def _only(token: str) -> Callable[[], str]:
    """A token source that gives `token` once: if its tag occurs in the payload (so framing
    would draw another), the message is not the one it claims to be."""
    tokens = iter((token,))

    def draw() -> str:
        try:
            return next(tokens)
        except StopIteration:
            msg = f"the payload contains the tag of token {token!r}"
            raise ValueError(msg) from None

    return draw


def render(event: Mapping[str, Any], token: str) -> dict[str, Any]:
    """The trigger message of `event` (a `TriggerEvent.to_dict()`, as journaled) framed with
    `token`; `ValueError` if that token cannot frame this payload."""
    return trigger_message(event, token=_only(token))


def event_fields(event: Mapping[str, Any]) -> list[Any]:
    """The fields of a journaled event that its trigger message shows, as a list."""
    return [event.get(name) for name in _FIELDS]


def fields_event(fields: Any) -> dict[str, Any]:
    """The inverse of `event_fields`; `ValueError` if `fields` is not such a list."""
    if not isinstance(fields, list) or len(fields) != len(_FIELDS):
        msg = f"{EVENT}: expected a list of {len(_FIELDS)} fields ({', '.join(_FIELDS)})"
        raise ValueError(msg)
    return dict(zip(_FIELDS, fields, strict=True))


def framed_token(message: Any) -> str | None:
    """The token of the payload tag in a user message with only a role and a content; None for
    any other message. Says nothing about whether the message is some event's trigger message."""
    if not isinstance(message, dict) or len(message) != 2 or message.get("role") != "user":
        return None
    content = message.get("content")
    if type(content) is not str:
        return None
    match = _TAG.search(content)
    return None if match is None else match[1]


def trigger_token(message: Any, event: Mapping[str, Any]) -> str | None:
    """The token `message` was framed with, if it is exactly `event`'s trigger message (so the
    journal can store the token instead); None otherwise."""
    token = framed_token(message)
    if token is None:
        return None
    try:
        rebuilt = render(event, token)
    except ValueError:
        return None
    return token if rebuilt["content"] == message["content"] else None
