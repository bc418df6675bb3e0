"""What a process writes to and takes back from its journal: checkpoint state, context changes,
and the restore of a `RecoveryResult` into a `ProcessRecord`. Pure functions, no I/O.

Checkpoint keys (read back by `ReplayEngine`): `context_state`, `lifecycle_state`,
`invocation_count`, `failed_invocations`, `conversation`, `pending_events` (queued and in flight,
oldest first), `processed_keys`, `trigger_checkpoints`, `restart_count`, `dead_letter_count`.
Secrets are never part of it: the record holds none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from greenroom.journal.entry import EntryType

if TYPE_CHECKING:
    from greenroom.journal.replay import RecoveryResult
    from greenroom.runtime.record import ProcessRecord
    from greenroom.triggers.event import TriggerEvent

__all__ = ["checkpoint_state", "context_changes", "governance_state", "restore"]


def checkpoint_state(record: ProcessRecord, in_flight: list[TriggerEvent]) -> dict[str, Any]:
    """The state to checkpoint now; `in_flight` are the events of runs not yet finished."""
    pending = [*in_flight, *record.queue.events()]
    return {
        "context_state": record.context.state_snapshot(),
        "lifecycle_state": record.lifecycle.state.value,
        "invocation_count": record.invocation_count,
        "failed_invocations": record.failed_invocations,
        "conversation": record.conversation.get_messages(),
        "pending_events": [event.to_dict() for event in pending],
        "processed_keys": record.processed.to_list(),
        "trigger_checkpoints": dict(record.trigger_checkpoints),
        "restart_count": record.restart_count,
        "dead_letter_count": record.queue.dead_count,
    }


def governance_state(result: RecoveryResult) -> dict[str, Any]:
    """The governance actors' states a checkpoint held (budget, mission, health, secrets), to
    start those actors from; a part the checkpoint lacks starts fresh."""
    parts = {"budget": result.budget, "mission": result.mission,
             "health": result.checkpoint.get("health"), "secrets": result.checkpoint.get("secrets")}
    return {part: state for part, state in parts.items() if isinstance(state, dict)}


def context_changes(record: ProcessRecord) -> list[tuple[str, dict[str, Any]]]:
    """`context_update` entries (type, data) for what changed since the last call; updates the
    record's view of what the journal holds. Cheap when nothing was written.
    """
    context = record.context
    if context.version == record.context_version:
        return []
    record.context_version = context.version
    now = context.state_snapshot()
    before = record.journaled_context
    changes: list[tuple[str, dict[str, Any]]] = [
        (EntryType.CONTEXT_UPDATE, {"key": key, "value": value})
        for key, value in now.items() if key not in before or before[key] != value
    ]
    changes.extend((EntryType.CONTEXT_UPDATE, {"key": key, "deleted": True})
                   for key in before if key not in now)
    record.journaled_context = now
    return changes


def restore(record: ProcessRecord, result: RecoveryResult) -> dict[str, Any]:
    """Put a recovered state into a fresh record; returns the summary kept in its status.

    The pending events go to the head of the queue with their original ids (so the agent can
    recognise a rerun); the processed keys make a redelivered event a duplicate.
    """
    record.context.restore_state(result.context_state)
    record.journaled_context = record.context.state_snapshot()
    record.context_version = record.context.version
    record.conversation.set_messages(result.conversation)
    record.invocation_count = result.invocation_count
    record.failed_invocations = result.failed_invocations
    record.trigger_checkpoints.update(result.trigger_checkpoints)
    checkpoint = result.checkpoint
    restart_count = checkpoint.get("restart_count")
    if isinstance(restart_count, int):
        record.restart_count = restart_count
    dead = checkpoint.get("dead_letter_count")
    if isinstance(dead, int):
        record.queue.dead_count = dead
    for key in result.processed_keys:
        record.processed.add(key)
    pending = list(result.pending_events)
    record.queue.requeue_first(pending)
    for event in pending:
        record.live_keys[event.idempotency_key] = event.event_id
    record.recovered = True
    return {
        "checkpoint_seq": checkpoint.get("checkpoint_seq"),
        "entries_replayed": result.entries_replayed,
        "last_entry_type": result.last_entry_type,
        "lifecycle_state": result.lifecycle_state,
        "requeued": [event.event_id for event in pending],
        "interrupted": list(result.interrupted),
        "in_doubt_tool_calls": [call.to_dict() for call in result.in_doubt_tool_calls],
    }
