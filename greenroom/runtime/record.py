"""What a process is, independent of the actor that runs it: state that survives a restart.

A `ProcessActor` incarnation works on its process's `ProcessRecord`; when the supervisor restarts
the actor, the new incarnation picks up the same record (lifecycle, conversation, context,
counters and queued events). Only one incarnation runs at a time, so the record needs no lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenroom.ids import new_id
from greenroom.journal.keys import KeyWindow
from greenroom.runtime.context import AgentContext
from greenroom.runtime.conversation import ConversationBuffer
from greenroom.runtime.inbox import InboxResponse, MessageInbox
from greenroom.runtime.lifecycle import ProcessLifecycle, TimeSource
from greenroom.runtime.recovery import BudgetLedger
from greenroom.triggers.config import TriggerConfig, trigger_ids
from greenroom.triggers.host import TriggerStats

if TYPE_CHECKING:
    from greenroom.actors.future import Future
    from greenroom.runtime.config import ProcessConfig
    from greenroom.triggers.event import TriggerEvent

__all__ = ["DeadEvent", "Listener", "ProcessRecord", "RunQueue", "TriggerSlot", "remove_listener"]

Listener = Callable[[str, dict[str, Any]], None]
"""Called with `(event_type, data)` for each process event, from the process's actor thread."""


def remove_listener(listeners: list[Listener], listener: Listener) -> None:
    """Take `listener` out of `listeners`; `ValueError` naming it if it is not there."""
    try:
        listeners.remove(listener)
    except ValueError:
        msg = f"listener {listener!r} was not added"
        raise ValueError(msg) from None

DEAD_EVENT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class DeadEvent:
    """A trigger event the process will not run, and why."""

    event: TriggerEvent
    reason: str


@dataclass(slots=True)
class TriggerSlot:
    """One trigger of a process: its id, config and counters (`source`: config or dynamic)."""

    trigger_id: str
    config: TriggerConfig
    stats: TriggerStats

    def status(self, checkpoints: dict[str, Any]) -> dict[str, Any]:
        """The trigger's entry in the process status."""
        return {**self.stats.to_dict(), "checkpoint": checkpoints.get(self.trigger_id)}


class RunQueue:
    """Trigger events waiting for a run, in arrival order, bounded.

    An event that does not fit is refused (the caller dead-letters it); nothing is dropped
    silently. Dead events are kept (the last `DEAD_EVENT_LIMIT`) and counted. Both deques are
    made on first use: most processes sit idle with neither.
    """

    __slots__ = ("_dead", "_events", "capacity", "dead_count")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._events: deque[TriggerEvent] | None = None
        self._dead: deque[DeadEvent] | None = None
        self.dead_count = 0

    @property
    def dead(self) -> deque[DeadEvent]:
        """The kept dead events, oldest first (at most `DEAD_EVENT_LIMIT`)."""
        if self._dead is None:
            self._dead = deque(maxlen=DEAD_EVENT_LIMIT)
        return self._dead

    @dead.setter
    def dead(self, value: deque[DeadEvent]) -> None:
        self._dead = value

    def __len__(self) -> int:
        return len(self._events) if self._events is not None else 0

    def full(self) -> bool:
        """Whether the next `offer` would be refused."""
        return len(self) >= self.capacity

    def offer(self, event: TriggerEvent) -> bool:
        """Queue `event`; False (and dead-lettered) when the queue is full."""
        if self.full():
            self.bury(event, f"queue full ({self.capacity} events)")
            return False
        self._waiting().append(event)
        return True

    def requeue_first(self, events: list[TriggerEvent]) -> None:
        """Put events that were taken but never finished back at the head, in order."""
        if events:
            self._waiting().extendleft(reversed(events))

    def remove(self, event_id: str) -> TriggerEvent | None:
        """Take the waiting event with `event_id` out of the queue (None if it is not there)."""
        for event in self._events or ():
            if event.event_id == event_id:
                self._waiting().remove(event)
                return event
        return None

    def events(self) -> list[TriggerEvent]:
        """The waiting events, oldest first."""
        return list(self._events or ())

    def take(self) -> TriggerEvent | None:
        """The oldest waiting event, or None."""
        return self._events.popleft() if self._events else None

    def bury(self, event: TriggerEvent, reason: str) -> None:
        """Record an event that will not run."""
        self.dead.append(DeadEvent(event, reason))
        self.dead_count += 1

    def bury_all(self, reason: str) -> list[TriggerEvent]:
        """Dead-letter everything waiting; returns those events."""
        events = self.events()
        if self._events is not None:
            self._events.clear()
        for event in events:
            self.bury(event, reason)
        return events

    def _waiting(self) -> deque[TriggerEvent]:
        if self._events is None:
            self._events = deque()
        return self._events


class ProcessRecord:
    """A process's identity, configuration and state, shared by its actor's incarnations.

    Slotted: one per process, and a dict of this many attributes is most of its size.
    """

    __slots__ = (
        "answers", "budget_ledger", "config", "consecutive_failures", "context",
        "context_version", "conversation", "duplicates", "failed_invocations",
        "governance_state", "governance_status", "inbox", "inflight", "invocation_count",
        "journaled_context", "last_error", "lifecycle", "listeners", "live_keys", "name",
        "process_id", "processed", "queue", "recovered", "recovery", "restart_count",
        "restart_pending", "restart_streak", "runs_since_checkpoint", "started_at",
        "suspend_reason", "trigger_checkpoints", "triggers",
    )

    def __init__(
        self,
        name: str,
        config: ProcessConfig,
        *,
        process_id: str | None = None,
        clock: TimeSource | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.process_id = process_id or new_id()
        self.lifecycle = ProcessLifecycle(clock=clock, process_id=self.process_id)
        ctx = config.context
        self.context = AgentContext(
            writable_keys=ctx.writable_keys, initial_state=ctx.initial_state, clock=clock,
        )
        self.conversation = ConversationBuffer(ctx.conversation_max_messages)
        self.queue = RunQueue(config.max_queue_size)
        self.inbox = MessageInbox.from_config(config.inbox, clock=clock) \
            if config.inbox.enabled else None
        self.answers: dict[str, Future[InboxResponse]] = {}
        self.listeners: list[Listener] = []
        self.inflight: dict[int, TriggerEvent] = {}
        self.triggers: dict[str, TriggerSlot] = {
            trigger_id: TriggerSlot(trigger_id, trigger, TriggerStats(trigger_id, trigger.type))
            for trigger_id, trigger in zip(trigger_ids(config.triggers), config.triggers,
                                           strict=True)
        }
        self.trigger_checkpoints: dict[str, Any] = {}
        self.processed = KeyWindow(config.journal.max_processed_keys)
        self.live_keys: dict[str, str] = {}
        self.journaled_context: dict[str, Any] = {}
        self.context_version = -1
        self.runs_since_checkpoint = 0
        self.recovered = False
        self.recovery: dict[str, Any] | None = None
        self.duplicates = 0
        self.governance_state: dict[str, Any] = {}
        self.governance_status: dict[str, Any] = {}
        self.budget_ledger = BudgetLedger()
        self.restart_pending = False
        self.invocation_count = 0
        self.failed_invocations = 0
        self.consecutive_failures = 0
        self.restart_count = 0
        self.restart_streak = 0
        self.started_at: float | None = None
        self.suspend_reason: str | None = None
        self.last_error: str | None = None

    def status(self, *, in_flight: int = 0, uptime: float | None = None) -> dict[str, Any]:
        """The status dict (the keys of the peer's status that apply so far)."""
        return {
            "name": self.name,
            "process_id": self.process_id,
            "state": self.lifecycle.state.value,
            "invocation_count": self.invocation_count,
            "failed_invocations": self.failed_invocations,
            "consecutive_failures": self.consecutive_failures,
            "restart_count": self.restart_count,
            "dead_letter_count": self.queue.dead_count,
            "queue_size": len(self.queue) + in_flight,
            "in_flight": in_flight,
            "uptime_seconds": uptime,
            "conversation_messages": len(self.conversation),
            "execution_mode": self.config.execution_mode.value,
            "journal_enabled": self.config.journal.level != "none",
            "trigger_count": len(self.config.triggers),
            "custom_tool_count": len(self.config.tools),
            "has_memory": self.context.memory is not None,
            "filtered_count": 0,
            "pending_retries": 0,
            "suspend_reason": self.suspend_reason,
            "last_error": self.last_error,
            "concurrency": self.config.concurrency,
            "inbox": self.inbox.status() if self.inbox is not None else None,
            "triggers": [slot.status(self.trigger_checkpoints) for slot in self.triggers.values()],
            "duplicate_count": self.duplicates,
            "recovery": self.recovery,
            **self._governance_keys(),
        }

    def _governance_keys(self) -> dict[str, Any]:
        """The peer's governance status keys, for the parts that run (from the latest status
        each governance actor reported: after every run and every notice)."""
        config, seen = self.config, self.governance_status
        keys: dict[str, Any] = {}
        if config.budget.enabled:
            keys["budget"] = seen.get("budget", {}).get("remaining")
        if config.health.enabled:
            health = seen.get("health")
            keys["health"] = health
            keys["health_anomalies"] = health.get("anomaly_count", 0) if health else 0
        if config.mission.enabled:
            keys["mission_state"] = seen.get("mission", {}).get("state")
            keys["mission"] = seen.get("mission")
        if config.secrets.enabled:
            keys["active_secrets"] = seen.get("secrets", {}).get("active")
        return keys
