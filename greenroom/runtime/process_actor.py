"""`ProcessActor`: one agent process's lifecycle, trigger queue and invocation dispatch.

It never awaits: each agent run is a coroutine handed to the system's io loop, and its outcome
comes back as an `InvocationDone` message, so the actor answers status, suspend or stop at once
while a model call takes seconds. An invocation that raises is a failed run, not an actor crash.
After `max_consecutive_failures` failed runs in a row the process is FAILED; with the restart
policy `on_failure` or `always` the actor then fails on purpose, and its `ProcessSupervisor`
restarts it (with backoff, up to `max_restarts`). State lives in the `ProcessRecord`, which the
next incarnation picks up: nothing queued or in flight is lost across a restart.

With a journal (`ProcessConfig.journal`), an accepted event is written as `trigger_event` and
acknowledged (the `inject` returns, the trigger's `Delivery` arrives, a webhook answers 202) only
once that write is durable: the reply is deferred meanwhile, while the event already queues and
may run. Each settled event (result, error, dead letter) is journaled with its idempotency key,
which then makes a redelivery a duplicate: acknowledged, not run again. Every `checkpoint_every`
settled runs, and on stop, the actor checkpoints its state. A graceful stop keeps the queued
events (and the runs it cancels) for the next start instead of dead-lettering them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from greenroom.actors.actor import Actor
from greenroom.actors.future import Future
from greenroom.agents.invocation import ToolTable
from greenroom.governance.messages import (
    GetRedactor,
    GovernanceNotice,
    GovernanceStatus,
    Responded,
    RevokeAll,
    RunCompleted,
    RunDiscarded,
    RunFailed,
    RunSucceeded,
    Snapshot,
)
from greenroom.governance.mission import MissionEvidence
from greenroom.journal.entry import EntryType
from greenroom.journal.provider import JournalError
from greenroom.runtime.admin_ops import Administer
from greenroom.runtime.conversation import ReadOnlyMessage
from greenroom.runtime.errors import ProcessNotAcceptingError
from greenroom.runtime.governing import (
    NOTICE_STATES,
    Governance,
    RunOutcome,
    RunRefused,
    notice_entry,
)
from greenroom.runtime.inbox import InboxResponse, MessageType
from greenroom.runtime.inbox_delivery import read_answers
from greenroom.runtime.invoke import prepare_run, resolve_agent
from greenroom.runtime.journaling import ProcessJournal
from greenroom.runtime.lifecycle import ACCEPTING_STATES, ProcessState
from greenroom.runtime.messages import (
    AskQuestion,
    BuryEvent,
    DrainExpired,
    Inject,
    InvocationDone,
    ResumeProcess,
    SendMessage,
    StartProcess,
    StatusRequest,
    StopProcess,
    SuspendProcess,
    WithdrawQuestion,
)
from greenroom.runtime.recovery import (
    BUDGET_REPLAY,
    checkpoint_state,
    context_changes,
    restore,
)
from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.host import Delivery as TriggerDelivery
from greenroom.triggers.host import TriggerFired

if TYPE_CHECKING:
    from greenroom.actors.ioloop import Outcome, TaskHandle
    from greenroom.actors.ref import ActorRef
    from greenroom.actors.reply import Reply
    from greenroom.governance.redaction import Redactor
    from greenroom.journal.entry import JournalEntry
    from greenroom.runtime.inbox import MessageInbox
    from greenroom.runtime.inbox_delivery import Delivery
    from greenroom.runtime.invoke import AgentCallable
    from greenroom.runtime.record import ProcessRecord

__all__ = ["ProcessActor", "ProcessFailedError"]

logger = logging.getLogger("greenroom.runtime")

QUESTION_GRACE = 60.0
"""Seconds a question outlives its asker's timeout before it expires from the inbox."""

RUN_PARTS = ("budget", "health", "mission")
"""The governance parts a run changes (the secret scope changes on its own notices)."""

EVIDENCE_MESSAGES = 20
"""How many of the latest conversation messages a mission evaluation is shown."""

_S = ProcessState
_ACCEPTING = ACCEPTING_STATES


class ProcessFailedError(RuntimeError):
    """Raised inside a FAILED process's actor so that its supervisor restarts it."""


@dataclass(slots=True)
class _Run:
    event: TriggerEvent
    handle: TaskHandle
    prompt: dict[str, Any]
    framed: str
    """The prompt's text as framed from the event (the agent may replace it in the dict)."""
    delivery: Delivery
    started: float
    outcome: RunOutcome


@dataclass(frozen=True, slots=True)
class _Revoked:
    """The secret scope's snapshot after revoking at stop (the stop's report waits for it)."""

    snapshot: Future[Any]
    left: list[str]
    kept: list[str]


@dataclass(frozen=True, slots=True)
class _Heartbeat:
    """Periodic check of `idle_timeout` and `max_lifetime` (only run when one is set)."""


@dataclass(frozen=True, slots=True)
class _RetryRefused:
    """The time a governance refusal named has come: resume the runs it held back."""


@dataclass(frozen=True, slots=True)
class _Saved:
    """A governance actor's snapshot (for checkpoints) or status (for `status()`) arrived."""

    part: str
    kind: str
    value: Future[Any]
    request: int = 0


Answer = Callable[[TriggerDelivery], Any]
"""Turns the outcome of an admission into the reply its asker expects."""


@dataclass(frozen=True, slots=True)
class _Written:
    """A journal write an asker waits for has finished (or failed)."""

    done: Future[None]
    delivery: TriggerDelivery
    answer: Answer
    reply: Reply
    event: TriggerEvent | None


def _as_queued(delivery: TriggerDelivery) -> bool:
    return delivery.accepted


def _as_delivery(delivery: TriggerDelivery) -> TriggerDelivery:
    return delivery


class ProcessActor(Actor):
    """Runs one agent process; see the module docstring."""

    def __init__(
        self,
        record: ProcessRecord,
        journal: ProcessJournal | None = None,
        *,
        budget: ActorRef[Any] | None = None,
        health: ActorRef[Any] | None = None,
        mission: ActorRef[Any] | None = None,
        secrets: ActorRef[Any] | None = None,
    ) -> None:
        super().__init__()
        self.record = record
        self.journal = journal if journal is not None else ProcessJournal(record.name, "none", None)
        self.governance = Governance(budget, health, mission, secrets)
        self._governed = self.governance.enabled
        self._redactor: Redactor | None = None
        self._agent: AgentCallable | None = None
        self._tools = ToolTable()  # config.tools described once per start, shared by the runs
        self._runs: dict[int, _Run] = {}
        self._run_ids = itertools.count(1)
        self._stopping = False
        self._stop_waiters: list[Future[dict[str, Any]]] = []
        self._cancelled: list[str] = []
        self._last_activity = 0.0

    # Lifecycle hooks ------------------------------------------------------------------------

    def on_start(self) -> None:
        """A fresh incarnation: re-queue what the last one had in flight; restart if FAILED."""
        record = self.record
        orphans = list(record.inflight.values())
        record.inflight.clear()
        record.queue.requeue_first(orphans)
        if record.lifecycle.state == _S.FAILED and record.restart_pending:
            record.restart_pending = False
            record.restart_count += 1
            record.restart_streak += 1
            self._start_process("restart")
            self._write(EntryType.RESTART, {"restart_count": record.restart_count})
            self._emit("process.restarted", {"restart_count": record.restart_count})

    def on_stop(self) -> None:
        """Cancel runs still on the io loop (a next incarnation re-queues their events)."""
        self._cancel_runs()

    def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Same as on_stop: the runs die with this incarnation, their events survive."""
        del exc_type, exc, tb
        self._cancel_runs()

    # Protocol ---------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the process protocol (`greenroom.runtime.messages`)."""
        handler = _PROTOCOL.get(type(message))
        if handler is None:
            return super().on_receive(message)
        return handler(self, message)

    def readmit(self, event: TriggerEvent) -> str:
        """Queue an event an operator sends again (see `admin_ops.redeliver`); its id."""
        self._admit(event, None)
        return event.event_id

    def _start_manual(self, request: StartProcess) -> None:
        record = self.record
        if request.recovered is not None and not record.recovered:
            record.recovery = restore(record, request.recovered)
            if request.recovered.entries_replayed or request.recovered.checkpoint:
                self._write(EntryType.RECOVERED, record.recovery)
                self._emit("process.recovered", record.recovery)
        record.recovered = True
        record.restart_streak = 0
        self._start_process("manual")

    # Start, stop, suspend, resume ---------------------------------------------------------

    def _start_process(self, reason: str) -> None:
        record = self.record
        self._to(_S.STARTING, reason)
        try:
            self._agent = resolve_agent(record.config.model)
            self._tools = ToolTable(record.config.tools)
        except Exception as exc:
            record.last_error = repr(exc)
            self._to(_S.FAILED, f"start failed: {exc}")
            raise
        record.consecutive_failures = 0
        record.started_at = self.system.clock.monotonic()
        self._last_activity = record.started_at
        self._to(_S.RUNNING, reason)
        config = record.config
        if config.idle_timeout > 0 or config.max_lifetime > 0:  # else it has nothing to check
            self.timers.start_periodic_timer("heartbeat", _Heartbeat(), config.heartbeat_interval)
        self._emit("process.started", {"reason": reason})
        if self.governance.secrets is not None and self._redactor is None:
            self.governance.secrets.ask(GetRedactor(), block=False).add_done_callback(
                self._keeper("secrets", "redactor"))
        self.refresh_governance()
        self._dispatch()

    def _stop_process(self, request: StopProcess) -> None:
        record = self.record
        state = record.lifecycle.state
        if request.done is not None:
            self._stop_waiters.append(request.done)
        if state == _S.STOPPING:
            return
        if state == _S.CREATED:
            self._to(_S.STOPPED, "stop")
        if state in (_S.CREATED, _S.STOPPED):
            self._report_stop([], [])
            return
        self._to(_S.STOPPING, "stop")
        self.timers.cancel("heartbeat")
        self._stopping = True
        self._cancelled = []
        if self._runs and request.drain_timeout > 0:
            self.timers.start_single_timer("drain", DrainExpired(), request.drain_timeout)
        elif self._runs:
            self._cancel_runs()
        else:
            self._finish_stop()

    def _finish_stop(self) -> None:
        """STOPPED. Without a journal the queue is dead-lettered; with one it is kept (and
        checkpointed) for the next start, and the stop is reported once the checkpoint is
        durable."""
        record = self.record
        self._stopping = False
        self.timers.cancel("drain")
        kept: list[str] = []
        left: list[str] = []
        if self.journal.enabled:
            kept = [event.event_id for event in record.queue.events()]
        else:
            left = [event.event_id for event in record.queue.bury_all("process stopped")]
        self._to(_S.STOPPED, "stop")
        record.started_at = None
        scope = self.governance.secrets
        if scope is not None and record.config.secrets.revoke_on_stop:
            # revoke before the last checkpoint, so it records the secrets as revoked
            scope.tell(RevokeAll())
            done = scope.ask(Snapshot(), block=False)
            me = self.actor_ref
            done.add_done_callback(lambda f: me.tell(_Revoked(f, left, kept)))
            return
        self._stopped(left, kept)

    def _revoked(self, revoked: _Revoked) -> None:
        """The secret scope revoked its secrets at stop: checkpoint its state, then report."""
        try:
            self.record.governance_state["secrets"] = revoked.snapshot.get()
        except Exception:  # the scope is gone: its own stop revokes; checkpoint what we have
            logger.warning("%s: no secret snapshot after revoking at stop", self.record.name)
        self._stopped(revoked.left, revoked.kept)

    def _stopped(self, left: list[str], kept: list[str]) -> None:
        written = self._checkpoint()
        report = self._report_stop(self._cancelled, left, kept, written)
        self._emit("process.stopped", report)

    def _report_stop(self, cancelled: list[str], left: list[str], kept: list[str] | None = None,
                     written: Future[None] | None = None) -> dict[str, Any]:
        report: dict[str, Any] = {"name": self.record.name,
                                  "state": self.record.lifecycle.state.value,
                                  "cancelled": cancelled, "dead_lettered": left}
        if kept is not None and self.journal.enabled:
            report["kept"] = kept
        waiters, self._stop_waiters = self._stop_waiters, []
        if written is None:
            for waiter in waiters:
                waiter.set(report)
        else:
            written.add_done_callback(lambda done: _report_when_written(done, report, waiters))
        return report

    def _suspend(self, reason: str) -> None:
        self._to(_S.SUSPENDED, reason)
        self.record.suspend_reason = reason
        self._emit("process.suspended", {"reason": reason})

    def _resume(self, reason: str) -> None:
        self._to(_S.RUNNING, reason)
        self.record.suspend_reason = None
        self._last_activity = self.system.clock.monotonic()
        self._emit("process.resumed", {"reason": reason})
        self._dispatch()

    # Events and runs --------------------------------------------------------------------------

    def _inject(self, request: Inject) -> Any:
        state = self.record.lifecycle.state
        if state not in _ACCEPTING:
            raise ProcessNotAcceptingError(
                state.value, "inject", [s.value for s in _ACCEPTING], self.record.name
            )
        return self._admit(request.event, _as_queued)

    def _trigger_fired(self, fired: TriggerFired) -> Any:
        """An event from a trigger actor: queued, or refused (and dead-lettered) with a reason."""
        event = fired.event
        state = self.record.lifecycle.state
        if state not in _ACCEPTING:
            reason = f"process {state.value}"
            self.record.queue.bury(event, reason)
            return TriggerDelivery(False, event.event_id, reason)
        try:
            return self._admit(event, _as_delivery)
        except JournalError as exc:
            self.record.queue.bury(event, str(exc))
            return TriggerDelivery(False, event.event_id, str(exc))

    def _admit(self, event: TriggerEvent, answer: Answer | None) -> Any:
        """Queue an event the process may take. With a journal: a redelivery of a known key is
        a duplicate, and the answer waits until the `trigger_event` entry is durable.
        `answer=None`: nobody waits (the reply of the current message is not deferred).
        """
        record = self.record
        journal = self.journal
        entry: JournalEntry | None = None
        if journal.enabled:
            key = event.idempotency_key
            if key in record.processed or key in record.live_keys:
                record.duplicates += 1
                duplicate = TriggerDelivery(True, event.event_id, "duplicate")
                return self._answer_when(journal.barrier(), duplicate, answer, None)
            entry = journal.event_entry(event)
        if record.queue.full():
            record.queue.bury(event, f"queue full ({record.queue.capacity} events)")
            refused = TriggerDelivery(False, event.event_id, "queue full")
            return answer(refused) if answer is not None else None
        if "checkpoint" in event.metadata:
            record.trigger_checkpoints[event.trigger_id] = event.metadata["checkpoint"]
        accepted = TriggerDelivery(True, event.event_id)
        written = None
        if entry is not None:  # the event's entry goes first: its run's entries follow it
            record.live_keys[event.idempotency_key] = event.event_id
            written = journal.write(entry)
        self._enqueue(event)
        if entry is None:
            return answer(accepted) if answer is not None else None
        return self._answer_when(written, accepted, answer, event)

    def _enqueue(self, event: TriggerEvent) -> None:
        """Queue an event the queue has room for, and start it if the process can."""
        self.record.queue.offer(event)
        if self.record.lifecycle.state == _S.SUSPENDED and self.record.suspend_reason == "idle":
            self._resume("trigger")
        else:
            self._dispatch()

    def _answer_when(self, done: Future[None] | None, delivery: TriggerDelivery,
                     answer: Answer | None, event: TriggerEvent | None) -> Any:
        """Answer once `done` resolves (the reply is deferred); at once if nothing was written."""
        if answer is None:
            return None
        if done is None:
            return answer(delivery)
        reply = self.defer_reply()
        me = self.actor_ref
        done.add_done_callback(lambda f: me.tell(_Written(f, delivery, answer, reply, event)))
        return None

    def _written(self, written: _Written) -> None:
        """A write an asker waits for is done: acknowledge, or refuse if it failed."""
        delivery = written.delivery
        try:
            written.done.get()
        except JournalError as exc:
            logger.error("%s: journal write failed: %s", self.record.name, exc)
            event = written.event
            if event is not None and self.record.queue.remove(event.event_id) is not None:
                self.record.live_keys.pop(event.idempotency_key, None)
                self.record.queue.bury(event, "journal write failed")
            delivery = TriggerDelivery(False, delivery.event_id, f"journal write failed: {exc}")
        written.reply.set(written.answer(delivery))

    def _dispatch(self) -> None:
        record = self.record
        agent = self._agent
        if self.governance.secrets is not None and self._redactor is None:
            return  # no run before the secret scope's redactor is here to mask its output
        while (agent is not None and record.lifecycle.state == _S.RUNNING
               and len(self._runs) < record.config.concurrency):
            event = record.queue.take()
            if event is None:
                return
            run_id = next(self._run_ids)
            run = prepare_run(record, event, agent, self.journal, self.governance,
                              self._redactor, self._tools)
            handle = self.system.io.start(run.coroutine)
            self._runs[run_id] = _Run(event, handle, run.prompt, run.prompt["content"],
                                      run.delivery, self.system.clock.monotonic(), run.outcome)
            record.inflight[run_id] = event
            if self.journal.enabled:
                self._write(EntryType.INVOCATION_START, {"event_id": event.event_id})
            handle.add_done_callback(self._reporter(run_id))

    def _reporter(self, run_id: int) -> Callable[[Outcome], None]:
        me = self.actor_ref
        return lambda done: me.tell(_outcome(run_id, done))

    def _finished(self, done: InvocationDone) -> None:
        run = self._runs.pop(done.run_id, None)
        if run is None:
            return
        self.record.inflight.pop(done.run_id, None)
        self._last_activity = self.system.clock.monotonic()
        if isinstance(done.error, RunRefused):
            self._refused(run.event, done.error)
        elif done.cancelled:
            self._run_cancelled(run)
        elif done.error is not None:
            self._run_errored(run, done.error)
        else:
            self._run_succeeded(run, done.reply or "")
        self.refresh_governance(*RUN_PARTS)
        if self._stopping:
            if not self._runs:
                self._finish_stop()
        else:
            self._dispatch()

    def _run_cancelled(self, run: _Run) -> None:
        record, event = self.record, run.event
        if self.governance.health is not None:
            self._observe(RunDiscarded(event.event_id))
        if self._stopping and self.journal.enabled:  # kept for the next start
            record.queue.requeue_first([event])
        else:
            record.queue.bury(event, "run cancelled")
            self._settle(event, EntryType.DEAD_LETTER, {"reason": "run cancelled"})
        if self._stopping:
            self._cancelled.append(event.event_id)

    def _run_errored(self, run: _Run, error: BaseException) -> None:
        event = run.event
        if self.journal.enabled:
            self._settle(event, EntryType.ERROR,
                         {"error": self._redact(repr(error)),
                          "duration_ms": self._elapsed_ms(run), **self._usage(run)})
        if self.governance.health is not None:
            self._observe(RunFailed(event.event_id))
        self._run_failed(run, error)
        self._mission_evidence(event)

    def _run_succeeded(self, run: _Run, reply: str) -> None:
        record, event = self.record, run.event
        record.invocation_count += 1
        record.consecutive_failures = 0
        record.restart_streak = 0
        prompt = run.prompt["content"]
        shown = self._redact(prompt)
        messages = [ReadOnlyMessage(run.prompt, content=shown),
                    ReadOnlyMessage(role="assistant", content=self._redact(reply))]
        record.conversation.extend(messages)
        if self.journal.enabled:
            if shown is run.framed:  # the message framed from the event, unchanged
                self.journal.framed_intact(event.event_id)
            self._settle(event, EntryType.INVOCATION_RESULT,
                         {"messages": messages, "duration_ms": self._elapsed_ms(run),
                          **self._usage(run)})
        self._settle_inbox(run.delivery, reply, event.event_id)
        if self.governance.health is not None:
            self._observe(Responded(event.event_id, reply), RunSucceeded(event.event_id))
        self._mission_evidence(event)
        self._emit("invocation.completed", {"event_id": event.event_id})

    def _usage(self, run: _Run) -> dict[str, Any]:
        """The `budget_usage` field of a settled run's journal entry (none without a budget),
        kept in the budget ledger until a budget snapshot holds it."""
        usage = run.outcome.budget_usage
        if usage is None:
            return {}
        self.record.budget_ledger.settled(usage, self.system.clock.time())
        return {"budget_usage": usage}

    def _elapsed_ms(self, run: _Run) -> float:
        return round((self.system.clock.monotonic() - run.started) * 1000, 3)

    def _settle(self, event: TriggerEvent, entry_type: str, data: dict[str, Any]) -> None:
        """Journal how an accepted event ended (with what the context changed meanwhile), remember
        its key, and checkpoint every `checkpoint_every` settled runs."""
        journal = self.journal
        if not journal.enabled:
            return
        record = self.record
        key = event.idempotency_key
        record.processed.add(key)
        record.live_keys.pop(key, None)
        entries = [journal.entry(kind, change) for kind, change in context_changes(record)]
        entries.append(journal.entry(entry_type, {"event_id": event.event_id, "key": key, **data}))
        journal.write(*entries)
        if entry_type != EntryType.DEAD_LETTER:
            record.runs_since_checkpoint += 1
            if record.runs_since_checkpoint >= record.config.journal.checkpoint_every:
                self._checkpoint()

    def _checkpoint(self) -> Future[None] | None:
        """Checkpoint the record now (after every entry sent before); None without a journal."""
        journal = self.journal
        if not journal.enabled:
            return None
        record = self.record
        record.runs_since_checkpoint = 0
        state = checkpoint_state(record, [run.event for run in self._runs.values()])
        state.update(record.governance_state)
        replay = record.budget_ledger.pending()
        if replay:
            state[BUDGET_REPLAY] = replay
        record.journaled_context = state["context_state"]
        record.context_version = record.context.version
        return journal.checkpoint(state)

    def _bury_all(self, reason: str) -> None:
        for event in self.record.queue.bury_all(reason):
            self._settle(event, EntryType.DEAD_LETTER, {"reason": reason})

    def _to(self, target: ProcessState, reason: str) -> None:
        """Make a lifecycle transition, journaled as `state_transition`."""
        lifecycle = self.record.lifecycle
        before = lifecycle.state
        lifecycle.transition(target, reason=reason)
        self._write(EntryType.STATE_TRANSITION,
                    {"from_state": before.value, "to_state": target.value, "reason": reason})

    def _write(self, entry_type: str, data: dict[str, Any]) -> None:
        journal = self.journal
        if journal.records(entry_type):
            journal.write(journal.entry(entry_type, data))

    def _run_failed(self, run: _Run, error: BaseException) -> None:
        record = self.record
        record.failed_invocations += 1
        record.consecutive_failures += 1
        record.last_error = self._redact(repr(error))
        logger.warning("%s: run of event %s failed: %s", record.name, run.event.event_id,
                       record.last_error)
        self._emit("invocation.failed", {"event_id": run.event.event_id,
                                         "error": record.last_error})
        if (record.consecutive_failures >= record.config.max_consecutive_failures
                and record.lifecycle.state in _ACCEPTING and not self._stopping):
            self._fail()

    def _fail(self) -> None:
        record = self.record
        reason = f"{record.consecutive_failures} consecutive failed runs"
        self._to(_S.FAILED, reason)
        self.timers.cancel("heartbeat")
        self._emit("process.failed", {"reason": reason, "error": record.last_error})
        exhausted = record.restart_streak >= record.config.max_restarts
        if record.config.restart_policy == "never" or exhausted:
            self._cancel_runs()
            self._bury_all("process failed")
            if record.config.restart_policy != "never":
                self._write(EntryType.RESTART_EXHAUSTED, {"restart_count": record.restart_count})
                self._emit("process.restart_exhausted",
                           {"restart_count": record.restart_count,
                            "max_restarts": record.config.max_restarts})
            return
        record.restart_pending = True
        msg = f"process {record.name!r} failed ({reason}); restart policy " \
              f"{record.config.restart_policy!r}"
        raise ProcessFailedError(msg)

    def _cancel_runs(self) -> None:
        for run in self._runs.values():
            run.handle.cancel()

    # Governance ------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        """`text` with the secret scope's current values masked (what is kept or written)."""
        return text if self._redactor is None else self._redactor.redact(text)

    def _observe(self, *messages: Any) -> None:
        """Tell the health monitor how a run went (if it runs)."""
        health = self.governance.health
        if health is not None:
            for message in messages:
                health.tell(message)

    def _mission_evidence(self, event: TriggerEvent) -> None:
        """Tell the mission a run ended, with what an evaluation looks at."""
        mission = self.governance.mission
        if mission is None:
            return
        record = self.record
        evidence = MissionEvidence(
            conversation=record.conversation.get_messages()[-EVIDENCE_MESSAGES:],
            state=record.context.state_snapshot(),
            trigger_event=event.to_dict(),
            invocation_count=record.invocation_count + record.failed_invocations,
        )
        mission.tell(RunCompleted(evidence))

    def _refused(self, event: TriggerEvent, refusal: RunRefused) -> None:
        """Governance did not let the run start: keep its event first in line and suspend the
        process; a refusal that names a time (the daily reset) resumes by itself then."""
        record = self.record
        record.queue.requeue_first([event])
        logger.info("%s: run of %s refused: %s", record.name, event.event_id, refusal.reason)
        self._emit("invocation.refused", {"event_id": event.event_id, "reason": refusal.reason})
        if record.lifecycle.state == _S.RUNNING and not self._stopping:
            self._suspend(f"governance: {refusal.reason}")
        if refusal.retry_at is not None:
            delay = max(0.0, refusal.retry_at - self.system.clock.time())
            self.timers.start_single_timer("refused", _RetryRefused(), delay)

    def _retry_refused(self) -> None:
        reason = self.record.suspend_reason or ""
        if self.record.lifecycle.state == _S.SUSPENDED and reason.startswith("governance"):
            self._resume("governance: retry")

    def _notice(self, notice: GovernanceNotice) -> None:
        """Record what a governance actor reported and do what its action says."""
        record = self.record
        entry = notice_entry(notice)
        if entry is not None:
            self._write(*entry)
        self._emit(f"governance.{notice.kind}", {"source": notice.source, "action": notice.action,
                                                 **notice.data})
        if notice.kind == "budget_reset":
            self._retry_refused()
        effect = NOTICE_STATES.get(notice.action or "continue")
        state = record.lifecycle.state
        if effect == "suspend" and state == _S.RUNNING and not self._stopping:
            self._suspend(f"governance: {notice.source} {notice.kind}")
        elif effect == "stop" and state in _ACCEPTING:
            self._stop_process(StopProcess(record.config.drain_timeout))
        self.refresh_governance(notice.source)

    def refresh_governance(self, *parts: str) -> None:
        """Ask governance actors (`parts`, or all) for their snapshot (checkpoints) and status
        (`status()`); the answers come back as `_Saved` messages, so the actor never waits."""
        if not self._governed:
            return
        for part, ref in self.governance.refs().items():
            if parts and part not in parts:
                continue
            asked = self.record.budget_ledger.asking() if part == "budget" else 0
            for kind, request in (("snapshot", Snapshot()), ("status", GovernanceStatus())):
                ref.ask(request, block=False).add_done_callback(
                    self._keeper(part, kind, asked))

    def _keeper(self, part: str, kind: str, asked: int = 0) -> Callable[[Future[Any]], None]:
        me = self.actor_ref
        return lambda future: me.tell(_Saved(part, kind, future, asked))

    def _saved(self, saved: _Saved) -> None:
        try:
            value = saved.value.get()
        except Exception:  # the actor is restarting; the next refresh will do
            return
        if saved.kind == "redactor":
            self._redactor = value
            self._dispatch()
        elif saved.kind == "snapshot":
            self.record.governance_state[saved.part] = value
            if saved.part == "budget":
                self.record.budget_ledger.arrived(saved.request)
        else:
            self.record.governance_status[saved.part] = value

    # Inbox -----------------------------------------------------------------------------------

    def _inbox(self) -> MessageInbox:
        if self.record.inbox is None:
            msg = f"process {self.record.name!r}: the inbox is not enabled (ProcessConfig.inbox)"
            raise RuntimeError(msg)
        return self.record.inbox

    def _send(self, request: SendMessage) -> str:
        message = self._inbox().send(
            request.content, message_type=request.message_type, priority=request.priority,
            sender_id=request.sender_id, ttl=request.ttl, metadata=request.metadata,
        )
        return message.message_id

    def _ask(self, request: AskQuestion) -> str:
        question = self._inbox().send(
            request.content, message_type=MessageType.QUESTION, priority="high",
            sender_id=request.sender_id, ttl=request.timeout + QUESTION_GRACE,
        )
        self.record.answers[question.message_id] = request.answer
        if not self._runs and not len(self.record.queue):
            self._admit(TriggerEvent("inbox", "inbox", payload={"question": request.content},
                                     timestamp=self._now()), None)
        return question.message_id

    def _withdraw(self, question_id: str) -> None:
        self.record.answers.pop(question_id, None)
        if self.record.inbox is not None:
            self.record.inbox.remove_question(question_id)

    def _settle_inbox(self, delivery: Delivery, reply: str, event_id: str) -> None:
        inbox = self.record.inbox
        if inbox is None:
            return
        for message_id in delivery.delivered:
            inbox.mark_processed(message_id)
        for question_id, text in read_answers(reply, delivery).items():
            if not inbox.is_awaiting_answer(question_id):
                continue
            response = InboxResponse(question_id, text, self.system.clock.time(), event_id)
            inbox.submit_response(question_id, response)
            waiter = self.record.answers.pop(question_id, None)
            if waiter is not None:
                waiter.set(response)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.system.clock.time(), UTC)

    # Heartbeat ---------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        record = self.record
        config = record.config
        now = self.system.clock.monotonic()
        if record.lifecycle.state != _S.RUNNING or record.started_at is None:
            return
        if config.max_lifetime > 0 and now - record.started_at >= config.max_lifetime:
            self._recycle()
            return
        if (config.idle_timeout > 0 and not self._runs and not len(record.queue)
                and now - self._last_activity >= config.idle_timeout):
            self._suspend("idle")

    def _recycle(self) -> None:
        """`max_lifetime` reached: `always` starts afresh (not counted), others stop."""
        record = self.record
        if record.config.restart_policy == "always" and not self._runs:
            self._to(_S.STOPPING, "max_lifetime")
            self._to(_S.STOPPED, "max_lifetime")
            self.timers.cancel("heartbeat")
            self._start_process("recycle")
            return
        self._stop_process(StopProcess(record.config.drain_timeout))

    # Status ------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The status dict (reference §2.4 keys that apply)."""
        record = self.record
        uptime = None
        if record.started_at is not None:
            uptime = self.system.clock.monotonic() - record.started_at
        return record.status(in_flight=len(self._runs), uptime=uptime)

    def _emit(self, event_type: str, data: dict[str, Any]) -> None:
        event = {"process": self.record.name, **data}
        for listener in list(self.record.listeners):
            try:
                listener(event_type, event)
            except Exception:
                logger.exception("%s: a listener of %s failed", self.record.name, event_type)


_PROTOCOL: dict[type, Callable[[ProcessActor, Any], Any]] = {
    InvocationDone: ProcessActor._finished,
    TriggerFired: ProcessActor._trigger_fired,
    _Written: ProcessActor._written,
    BuryEvent: lambda actor, m: actor.record.queue.bury(m.event, m.reason),
    Inject: ProcessActor._inject,
    StatusRequest: lambda actor, _m: actor.status(),
    SendMessage: ProcessActor._send,
    AskQuestion: ProcessActor._ask,
    WithdrawQuestion: lambda actor, m: actor._withdraw(m.question_id),
    StartProcess: ProcessActor._start_manual,
    StopProcess: ProcessActor._stop_process,
    DrainExpired: lambda actor, _m: actor._cancel_runs(),
    _Heartbeat: lambda actor, _m: actor._heartbeat(),
    GovernanceNotice: ProcessActor._notice,
    _Saved: ProcessActor._saved,
    _RetryRefused: lambda actor, _m: actor._retry_refused(),
    SuspendProcess: lambda actor, m: actor._suspend(m.reason),
    ResumeProcess: lambda actor, m: actor._resume(m.reason),
    Administer: lambda actor, m: m.operation(actor),
    _Revoked: ProcessActor._revoked,
}
"""The process protocol: message type -> handler (one table for every process actor)."""


def _report_when_written(
    done: Future[None], report: dict[str, Any], waiters: list[Future[dict[str, Any]]]
) -> None:
    """Complete the stop's waiters once the final checkpoint is stored (noting a failure)."""
    try:
        done.get()
    except JournalError as exc:
        logger.error("%s: the final checkpoint failed: %s", report["name"], exc)
        report["journal_error"] = str(exc)
    for waiter in waiters:
        waiter.set(report)


def _outcome(run_id: int, done: Outcome) -> InvocationDone:
    if done.cancelled():
        return InvocationDone(run_id, cancelled=True)
    error = done.exception()
    if isinstance(error, asyncio.CancelledError):
        return InvocationDone(run_id, cancelled=True)
    if error is not None:
        return InvocationDone(run_id, error=error)
    return InvocationDone(run_id, reply=done.result())
