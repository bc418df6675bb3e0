"""Journal and context routes: read the journal, the context, write context keys; rewind (501).

The reference API can rewind a process to an earlier journal entry. greenroom has no rewind:
its journal is a recovery log (checkpoints plus the entries after them; older segments are
compacted away), not a history a process can be moved back through. Both rewind routes answer
501 NOT_IMPLEMENTED rather than pretend; they stay in the route table and the OpenAPI document
so a client sees the whole surface.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, JsonValue

from greenroom.api.errors import ApiError
from greenroom.api.routing import Body, Call, Out, P, Query, Route

__all__ = ["ROUTES"]

_TAG = "journal"
_REWIND = ("greenroom has no rewind: the journal is a recovery log whose old segments are "
           "compacted after each checkpoint, so there is no history to move a process back to")


class JournalQuery(Query):
    """Which entries: the newest `limit`, of one `type` if given."""

    limit: int = Field(default=50, ge=1, le=500)
    type: str | None = Field(default=None, min_length=1, max_length=64)


class RewindPlanQuery(Query):
    """The reference API's rewind plan parameters."""

    target_entry_id: str | None = None
    mode: str | None = None


class RewindBody(Body):
    """The reference API's rewind request."""

    target_entry_id: str = Field(min_length=1)
    mode: str | None = None
    actor: str = "api"


class ContextUpdate(Body):
    """Context keys (non-empty) to write, all or nothing."""

    state: dict[Annotated[str, Field(min_length=1)], JsonValue]


class JournalEntryView(Out):
    """One journal entry."""

    entry_id: str
    entry_type: str
    timestamp: str
    data: dict[str, Any]


class JournalView(Out):
    """The newest entries, oldest first."""

    name: str
    entries: list[JournalEntryView]
    count: int


class ContextView(Out):
    """The context state (secret values redacted) and which keys an operator may write."""

    state: dict[str, Any]
    writable_keys: list[str]
    all_keys_writable: bool


class ContextUpdated(Out):
    """The keys written."""

    name: str
    updated_keys: list[str]


async def read_journal(call: Call) -> JournalView:
    """The newest journal entries of the process."""
    query = call.query_as(JournalQuery)
    entries = await call.process().read_journal(limit=query.limit, entry_type=query.type)
    views = [JournalEntryView.model_validate(
        {key: entry[key] for key in ("entry_id", "entry_type", "timestamp", "data")})
        for entry in entries]
    return JournalView(name=call.name, entries=views, count=len(views))


async def rewind_plan(call: Call) -> None:
    """Not implemented (see the module docstring)."""
    call.process()
    raise ApiError("NOT_IMPLEMENTED", _REWIND)


async def rewind(call: Call) -> None:
    """Not implemented (see the module docstring)."""
    call.process()
    raise ApiError("NOT_IMPLEMENTED", _REWIND)


async def get_context(call: Call) -> ContextView:
    """The context state and the writable keys."""
    return ContextView.model_validate(await call.process().get_context())


async def update_context(call: Call) -> ContextUpdated:
    """Write context keys, all or nothing (403 WRITE_DENIED names the keys refused)."""
    keys = await call.process().update_context(call.body_as(ContextUpdate).state)
    return ContextUpdated(name=call.name, updated_keys=keys)


ROUTES = (
    Route("GET", f"{P}/journal", read_journal, "Read the journal", _TAG, response=JournalView,
          query=JournalQuery, errors=(409, 422)),
    Route("GET", f"{P}/rewind/plan", rewind_plan, "Rewind plan (not implemented)", _TAG,
          status=501, query=RewindPlanQuery),
    Route("POST", f"{P}/rewind", rewind, "Rewind (not implemented)", _TAG, status=501,
          body=RewindBody),
    Route("GET", f"{P}/context", get_context, "Read the context", _TAG, response=ContextView),
    Route("PATCH", f"{P}/context", update_context, "Write context keys", _TAG,
          response=ContextUpdated, body=ContextUpdate, errors=(403, 409)),
)
