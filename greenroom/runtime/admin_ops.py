"""Operator actions on a process's own state, run inside its `ProcessActor`'s turn.

Reads and changes that need only the record take it (the facade calls them directly when no
actor runs); those that journal or requeue take the actor.

The inbox, the context and the dead letters belong to the process actor: only its turns touch
them. An `Administer` message carries one of these functions; the actor calls it with itself and
replies with the result, so an operator's change is ordered with the runs, journaled like the
agent's own changes, and never races them. Each function checks everything before it changes
anything.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from greenroom.runtime.errors import (
    ContextWriteDenied,
    FeatureDisabledError,
    InboxError,
    ProcessNotAcceptingError,
)
from greenroom.runtime.lifecycle import ACCEPTING_STATES
from greenroom.runtime.recovery import context_changes
from greenroom.triggers.event import TriggerEvent

if TYPE_CHECKING:
    from greenroom.runtime.process_actor import ProcessActor
    from greenroom.runtime.record import DeadEvent, ProcessRecord

__all__ = [
    "Administer",
    "clear_dead_letters",
    "clear_inbox",
    "context_view",
    "dead_letters",
    "inbox_status",
    "redeliver",
    "update_context",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Administer(Generic[T]):
    """Ask a process actor to run `operation(actor)` in its turn and reply with the result."""

    operation: Callable[[ProcessActor], T]


def inbox_status(record: ProcessRecord) -> dict[str, Any]:
    """`{enabled, pending_messages, pending_questions, oldest_message_age_seconds, messages}`."""
    inbox = record.inbox
    if inbox is None:
        return {"enabled": False, "pending_messages": 0, "pending_questions": 0,
                "oldest_message_age_seconds": None, "messages": []}
    return {"enabled": True, **inbox.status()}


def clear_inbox(actor: ProcessActor) -> int:
    """Remove every message; askers still waiting get an `InboxError`. Returns how many went."""
    record = actor.record
    inbox = record.inbox
    if inbox is None:
        raise FeatureDisabledError(record.name, "inbox")
    removed = len(inbox)
    for question_id in inbox.clear():
        answer = record.answers.pop(question_id, None)
        if answer is not None:
            error = InboxError(f"question {question_id} was removed: the inbox was cleared")
            answer.set_exception((InboxError, error, None))
    return removed


def context_view(record: ProcessRecord) -> dict[str, Any]:
    """The context state and which keys an operator may write (the caller redacts)."""
    context = record.context
    return {
        "state": context.state_snapshot(),
        "writable_keys": context.writable_keys,
        "all_keys_writable": not context.writable_keys,
    }


def update_context(actor: ProcessActor, values: Mapping[str, Any]) -> list[str]:
    """Write `values` into the context, all or nothing, journaled as `context_update`s.

    Raises `ContextWriteDenied` naming every key that is not writable; nothing is written then.
    """
    record = actor.record
    context = record.context
    denied = [key for key in values if not context.is_writable(key)]
    if denied:
        raise ContextWriteDenied(record.name, denied)
    context.update(values, source="operator")
    journal = actor.journal
    if journal.enabled:
        journal.write(*(journal.entry(kind, data) for kind, data in context_changes(record)))
    return sorted(values)


def dead_letters(record: ProcessRecord) -> list[dict[str, Any]]:
    """The dead letters kept (oldest first): the event, and why it did not run (the caller
    redacts)."""
    return [_dead_letter(dead) for dead in record.queue.dead]


def redeliver(actor: ProcessActor, event_ids: list[str] | None) -> list[str]:
    """Queue dead letters again (all of them when `event_ids` is None); returns the new ids.

    Each goes back as a new event (a fresh id and idempotency key, `redelivered_from` in its
    metadata): the old one was settled as dead in the journal, and running it again is the
    operator's explicit choice. Raises `KeyError` naming an id that is not a dead letter, and
    `ProcessNotAcceptingError` unless the process runs or is suspended; nothing moves then.
    """
    record = actor.record
    state = record.lifecycle.state
    if state not in ACCEPTING_STATES:
        raise ProcessNotAcceptingError(
            state.value, "redeliver", [s.value for s in ACCEPTING_STATES], record.name
        )
    dead = record.queue.dead
    known = {entry.event.event_id for entry in dead}
    wanted = known if event_ids is None else set(event_ids)
    missing = sorted(wanted - known)
    if missing:
        msg = f"process {record.name!r} has no dead letter {missing[0]!r}"
        raise KeyError(msg)
    chosen = [entry for entry in dead if entry.event.event_id in wanted]
    record.queue.dead = deque((e for e in dead if e.event.event_id not in wanted),
                              maxlen=dead.maxlen)
    return [actor.readmit(_again(entry.event)) for entry in chosen]


def clear_dead_letters(record: ProcessRecord) -> int:
    """Forget the kept dead letters (the count of all dead letters stays); returns how many."""
    queue = record.queue
    cleared = len(queue.dead)
    queue.dead.clear()
    return cleared


def _again(event: TriggerEvent) -> TriggerEvent:
    metadata = {k: v for k, v in event.metadata.items()
                if k not in ("idempotency_key", "checkpoint")}
    metadata["redelivered_from"] = event.event_id
    return TriggerEvent(event.trigger_id, event.trigger_type, uuid.uuid4().hex,
                        payload=event.payload, metadata=metadata)


def _dead_letter(dead: DeadEvent) -> dict[str, Any]:
    event = dead.event
    return {
        "event_id": event.event_id,
        "trigger_id": event.trigger_id,
        "trigger_type": event.trigger_type,
        "timestamp": event.timestamp.isoformat(),
        "reason": dead.reason,
        "payload": event.payload,
    }

