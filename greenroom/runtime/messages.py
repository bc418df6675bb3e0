"""The messages a `ProcessActor` understands (its protocol), and what it emits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenroom.actors.future import Future
    from greenroom.journal.replay import RecoveryResult
    from greenroom.runtime.inbox import InboxResponse
    from greenroom.triggers.event import TriggerEvent

__all__ = [
    "AskQuestion",
    "BuryEvent",
    "DrainExpired",
    "Inject",
    "InvocationDone",
    "ResumeProcess",
    "SendMessage",
    "StartProcess",
    "StatusRequest",
    "StopProcess",
    "SuspendProcess",
    "WithdrawQuestion",
]


@dataclass(frozen=True, slots=True)
class StartProcess:
    """Start (or restart by hand): resolve the agent, then RUNNING. Asked; replies None once
    RUNNING (the facade only waits for it; `StatusRequest` asks for the status).

    `recovered`: what the journal held, restored into the record before the first start.
    """

    recovered: RecoveryResult | None = None


@dataclass(frozen=True, slots=True)
class StopProcess:
    """Graceful stop: no new run; runs in flight get `drain_timeout` s, then are cancelled.

    The actor completes `done` (if given) with the stop report once the process is STOPPED.
    """

    drain_timeout: float
    done: Future[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class SuspendProcess:
    """RUNNING -> SUSPENDED: events keep queueing, runs in flight finish."""

    reason: str = "manual"


@dataclass(frozen=True, slots=True)
class ResumeProcess:
    """SUSPENDED -> RUNNING: the queue drains."""

    reason: str = "manual"


@dataclass(frozen=True, slots=True)
class Inject:
    """Queue an event by hand; refused (ProcessStateError) unless running or suspended."""

    event: TriggerEvent


@dataclass(frozen=True, slots=True)
class BuryEvent:
    """Keep an event the process could not take as a dead letter, with the reason."""

    event: TriggerEvent
    reason: str


@dataclass(frozen=True, slots=True)
class InvocationDone:
    """The outcome of one agent run, piped back from the io loop."""

    run_id: int
    reply: str | None = None
    error: BaseException | None = None
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class DrainExpired:
    """The stop's drain time is over: cancel what still runs."""


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Asked: put a message in the inbox; replies its id (an `InboxError` if refused)."""

    content: str
    message_type: str = "context"
    priority: str = "normal"
    sender_id: str | None = None
    ttl: float | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AskQuestion:
    """Asked: put a question in the inbox (replies its id); `answer` completes with the
    `InboxResponse`. A run is scheduled if none is pending.
    """

    content: str
    sender_id: str | None
    timeout: float
    answer: Future[InboxResponse]


@dataclass(frozen=True, slots=True)
class WithdrawQuestion:
    """The asker stopped waiting: remove the question."""

    question_id: str


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """Asked: the process's status dict."""
