"""Inbox routes: send a message, ask a question, read and clear the inbox.

`POST .../ask` waits for the answer up to `timeout` seconds (a run is scheduled if none is
pending) and answers 200 either way: `status: "answered"` with the reply, or `status:
"timeout"` with `response: null` (the question is then withdrawn). A question removed by
`DELETE .../inbox` while its asker waits is answered 410 QUESTION_REMOVED.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field, JsonValue

from greenroom.api.errors import ApiError
from greenroom.api.routing import Body, Call, Out, P, Route, Text
from greenroom.runtime.process import AgentProcess

__all__ = ["ROUTES"]

_TAG = "inbox"
_MAX_WAIT = 3600.0

Priority = Literal["low", "normal", "high", "critical"]


class Message(Body):
    """A message the agent sees on its next run (then it is removed)."""

    content: Text
    message_type: Literal["directive", "context", "question", "correction"] = "context"
    priority: Priority = "normal"
    sender_id: str | None = Field(default=None, min_length=1, max_length=256)
    ttl: float | None = Field(default=None, ge=0)
    metadata: dict[str, JsonValue] | None = None


class Question(Body):
    """A question; the call waits for the agent's answer up to `timeout` seconds."""

    content: Text
    sender_id: str | None = Field(default=None, min_length=1, max_length=256)
    timeout: float = Field(default=120.0, gt=0, le=_MAX_WAIT)


class Queued(Out):
    """The message is in the inbox."""

    message_id: str
    status: Literal["queued"] = "queued"
    expires_at: str | None


class Answer(Out):
    """The agent's answer, or `status: "timeout"` with `response: null`."""

    question_id: str | None
    status: Literal["answered", "timeout"]
    response: str | None
    answered_at: str | None = None
    invocation_id: str | None = None


class InboxMessage(Out):
    """One pending message (never its content)."""

    message_id: str
    type: str
    priority: str
    age_seconds: float
    sender_id: str | None


class InboxView(Out):
    """What waits in the inbox."""

    enabled: bool
    pending_messages: int
    pending_questions: int
    oldest_message_age_seconds: float | None
    messages: list[InboxMessage]


def _with_inbox(call: Call) -> AgentProcess:
    process = call.process()
    if not process.config.inbox.enabled:
        msg = f"process {call.name!r}: inbox is not enabled in its config"
        raise ApiError("INBOX_DISABLED", msg)
    return process


async def send_message(call: Call) -> Queued:
    """Put a message in the inbox."""
    body = call.body_as(Message)
    process = _with_inbox(call)
    message_id = await process.send_message(
        body.content, message_type=body.message_type, priority=body.priority,
        sender_id=body.sender_id, ttl=body.ttl, metadata=body.metadata,
    )
    ttl = process.config.inbox.default_ttl if body.ttl is None else body.ttl
    return Queued(message_id=message_id, expires_at=_expiry(ttl))


def _expiry(ttl: float) -> str | None:
    """When a message with `ttl` seconds expires; None if it never does (0, or past year 9999).
    """
    if ttl <= 0:
        return None
    try:
        return (datetime.now(UTC) + timedelta(seconds=ttl)).isoformat()
    except OverflowError:
        return None


async def ask(call: Call) -> Answer:
    """Ask the agent and wait for its answer (or the timeout)."""
    body = call.body_as(Question)
    process = _with_inbox(call)
    try:
        response = await process.ask(body.content, sender_id=body.sender_id,
                                     timeout=body.timeout)
    except TimeoutError:
        return Answer(question_id=None, status="timeout", response=None)
    answered = datetime.fromtimestamp(response.answered_at, UTC).isoformat()
    return Answer(question_id=response.question_id, status="answered",
                  response=response.content, answered_at=answered,
                  invocation_id=response.invocation_id)


async def inbox_status(call: Call) -> InboxView:
    """Counts and one summary per pending message."""
    return InboxView.model_validate(await call.process().inbox_status())


async def clear_inbox(call: Call) -> None:
    """Remove every message; askers still waiting get 410."""
    await call.process().clear_inbox()


ROUTES = (
    Route("POST", f"{P}/messages", send_message, "Send a message to the agent", _TAG,
          status=201, response=Queued, body=Message, errors=(409, 429)),
    Route("POST", f"{P}/ask", ask, "Ask the agent a question", _TAG, response=Answer,
          body=Question, errors=(409, 410, 429)),
    Route("GET", f"{P}/inbox", inbox_status, "Inbox status", _TAG, response=InboxView),
    Route("DELETE", f"{P}/inbox", clear_inbox, "Clear the inbox", _TAG, status=204,
          errors=(409,)),
)
