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

__all__ = [
    "BUDGET_REPLAY",
    "BudgetLedger",
    "checkpoint_state", "context_changes", "governance_state", "restore"]


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


BUDGET_REPLAY = "budget_replay"
"""The key, in a record's `governance_state`, of the runs the budget must count again: those
journaled after the last checkpoint (taken out before anything is checkpointed again)."""


class BudgetLedger:
    """The budget usage of settled runs that the last budget snapshot may not hold yet.

    A checkpoint carries the budget actor's last snapshot, which is asked for after each run
    and arrives a moment later. A run settled (journaled) before a checkpoint but after the ask
    of that checkpoint's snapshot would be in neither the snapshot nor the entries replayed
    after the checkpoint; the ledger keeps such runs, and the checkpoint carries them under
    `BUDGET_REPLAY`, so a recovery counts every settled run once.
    """

    def __init__(self) -> None:
        self._asked = 0
        self._pending: list[tuple[int, dict[str, Any]]] = []

    def settled(self, usage: dict[str, Any], finished_at: float) -> None:
        """A run with this usage was journaled now."""
        self._pending.append((self._asked, {"usage": usage, "finished_at": finished_at}))

    def asking(self) -> int:
        """A snapshot is being asked for now; its number, for `arrived`."""
        self._asked += 1
        return self._asked

    def arrived(self, request: int) -> None:
        """Snapshot `request` arrived: it holds every run settled before it was asked for."""
        self._pending = [(asked, run) for asked, run in self._pending if asked >= request]

    def pending(self) -> list[dict[str, Any]]:
        """The runs to replay on top of the current snapshot, oldest first."""
        return [run for _, run in self._pending]


def governance_state(result: RecoveryResult) -> dict[str, Any]:
    """The governance actors' states a checkpoint held (budget, mission, health, secrets), to
    start those actors from; a part the checkpoint lacks starts fresh. The budget usage of runs
    journaled after that checkpoint comes along under `BUDGET_REPLAY`."""
    parts = {"budget": result.budget, "mission": result.mission,
             "health": result.checkpoint.get("health"), "secrets": result.checkpoint.get("secrets")}
    saved: dict[str, Any] = {part: state for part, state in parts.items()
                             if isinstance(state, dict)}
    if result.budget_runs:
        saved[BUDGET_REPLAY] = list(result.budget_runs)
    return saved


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
    recognise a rerun); the processed keys make a redelivered event a duplicate. An empty journal
    leaves the context's initial state in place.
    """
    if result.entries_replayed or result.checkpoint:
        record.context.restore_state(result.context_state)
        record.journaled_context = record.context.state_snapshot()
        record.context_version = record.context.version
    else:  # a new journal: keep the configured initial state, and journal it with the first run
        record.journaled_context = {}
        record.context_version = -1
    conversation = record.conversation
    conversation.set_messages(result.conversation_tail(conversation.max_messages))
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
