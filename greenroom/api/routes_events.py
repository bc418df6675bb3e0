"""Event routes, which the reference API lacks: inject an event, the dead letters, the
supervision tree, and a server-sent-event stream of runtime events.

`POST .../events` answers 202 once the process accepted the event: with a journal, once its
`trigger_event` entry is durable. With a journal, an `idempotency_key` the process already
settled (or holds) is acknowledged as `"duplicate"` and not run again. `AgentProcess.inject`
answers only True or False, so the API tells a duplicate by looking the key up in the process's
record just before (on the loop thread, where the process actor's turns run too); the process
itself decides what runs. `GET /events` streams every runtime event
(`process.started`, `invocation.completed`, ...) as `event: <type>` / `data: {"type",
"timestamp", "data"}`; `?types=` takes comma-separated topic patterns (`process.*`,
`invocation.>`).
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import Field, JsonValue

from greenroom.api.errors import ApiError
from greenroom.api.routing import Body, Call, Out, P, Query, Route
from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.topics import TopicPattern

__all__ = ["ROUTES"]

_TAG = "events"


class Inject(Body):
    """An event to queue, as a trigger would deliver it."""

    trigger_type: str = Field(default="api", pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    payload: dict[str, JsonValue] | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)


class Redeliver(Body):
    """Which dead letters to queue again (absent: all of them)."""

    event_ids: list[str] | None = Field(default=None, min_length=1)


class EventsQuery(Query):
    """Which event types to stream: comma-separated topic patterns (absent: all)."""

    types: str | None = None


class Injected(Out):
    """The process accepted the event (`duplicate`: it had it already; not run again)."""

    status: Literal["injected", "duplicate"]
    event_id: str


class DeadLetter(Out):
    """An event the process did not run, and why."""

    event_id: str
    trigger_id: str
    trigger_type: str
    timestamp: str
    reason: str
    payload: Any = None


class DeadLetters(Out):
    """The dead letters kept, oldest first."""

    name: str
    dead_letters: list[DeadLetter]
    count: int


class Redelivered(Out):
    """The dead letters queued again, as new events (their new ids)."""

    name: str
    redelivered: int
    event_ids: list[str]


class DeadLettersCleared(Out):
    """How many dead letters were forgotten."""

    name: str
    cleared: int


class SupervisionNode(Out):
    """An actor of the runtime's tree: id, class, status, restarts, and a supervisor's
    children."""

    id: str
    actor: str | None
    status: str
    restarts: int
    children: list[SupervisionNode] | None = None


async def inject(call: Call) -> Injected:
    """Queue an event; answered once the process accepted it (durably, with a journal)."""
    body = call.body_as(Inject)
    process = call.process()
    metadata: dict[str, Any] = dict(body.metadata)
    if body.idempotency_key is not None:
        metadata["idempotency_key"] = body.idempotency_key
    event = TriggerEvent("api", body.trigger_type, payload=body.payload, metadata=metadata)
    record = process.record
    key = event.idempotency_key
    known = process.config.journal.level != "none" and (
        key in record.processed or key in record.live_keys)
    if not await process.inject(event):
        msg = (f"process {call.name!r} refused event {event.event_id} (queue full or journal "
               "write failed); it is kept as a dead letter")
        raise ApiError("EVENT_REFUSED", msg)
    return Injected(status="duplicate" if known else "injected", event_id=event.event_id)


async def dead_letters(call: Call) -> DeadLetters:
    """The dead letters the process keeps (payload secrets redacted)."""
    letters = [DeadLetter.model_validate(d) for d in await call.process().dead_letters()]
    return DeadLetters(name=call.name, dead_letters=letters, count=len(letters))


async def redeliver(call: Call) -> Redelivered:
    """Queue dead letters again (all, or `event_ids`); 404 EVENT_NOT_FOUND moves nothing."""
    process = call.process()
    try:
        ids = await process.redeliver_dead_letters(call.body_as(Redeliver).event_ids)
    except KeyError as exc:
        raise ApiError("EVENT_NOT_FOUND", str(exc.args[0] if exc.args else exc)) from None
    return Redelivered(name=call.name, redelivered=len(ids), event_ids=ids)


async def clear_dead_letters(call: Call) -> DeadLettersCleared:
    """Forget the dead letters kept."""
    return DeadLettersCleared(name=call.name, cleared=await call.process().clear_dead_letters())


async def supervision(call: Call) -> SupervisionNode:
    """The runtime's supervision tree with restart counts."""
    return SupervisionNode.model_validate(await call.runtime.supervision_tree())


async def event_stream(call: Call) -> web.StreamResponse:
    """Server-sent events: every runtime event, or those matching `?types=`."""
    raw = call.query_as(EventsQuery).types
    patterns: list[TopicPattern] = []
    for text in (raw or "").split(","):
        if text.strip():
            try:
                patterns.append(TopicPattern(text.strip()))
            except ValueError as exc:
                raise ApiError("INVALID_REQUEST", f"types: {exc}", field="types") from None
    return await call.services.hub.serve(call.request, tuple(patterns))


ROUTES = (
    Route("POST", f"{P}/events", inject, "Inject an event", _TAG, status=202,
          response=Injected, errors=(409, 503), body=Inject),
    Route("GET", f"{P}/dead-letters", dead_letters, "List dead letters", _TAG,
          response=DeadLetters),
    Route("POST", f"{P}/dead-letters", redeliver, "Redeliver dead letters", _TAG,
          response=Redelivered, body=Redeliver, errors=(409,)),
    Route("DELETE", f"{P}/dead-letters", clear_dead_letters, "Clear dead letters", _TAG,
          response=DeadLettersCleared),
    Route("GET", "/supervision", supervision, "The supervision tree", _TAG,
          response=SupervisionNode),
    Route("GET", "/events", event_stream, "Stream runtime events (SSE)", _TAG,
          query=EventsQuery, stream=True, errors=(422,)),
)
