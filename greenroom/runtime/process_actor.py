"""`ProcessActor`: one agent process's lifecycle, trigger queue and invocation dispatch.

It never awaits: each agent run is a coroutine handed to the system's io loop, and its outcome
comes back as an `InvocationDone` message, so the actor answers status, suspend or stop at once
while a model call takes seconds. An invocation that raises is a failed run, not an actor crash.
After `max_consecutive_failures` failed runs in a row the process is FAILED; with the restart
policy `on_failure` or `always` the actor then fails on purpose, and its `ProcessSupervisor`
restarts it (with backoff, up to `max_restarts`). State lives in the `ProcessRecord`, which the
next incarnation picks up: nothing queued or in flight is lost across a restart.
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
from greenroom.runtime.errors import ProcessNotAcceptingError
from greenroom.runtime.inbox import InboxResponse, MessageType
from greenroom.runtime.inbox_delivery import read_answers
from greenroom.runtime.invoke import prepare_run, resolve_agent, run_agent
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
from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.host import Delivery as TriggerDelivery
from greenroom.triggers.host import TriggerFired

if TYPE_CHECKING:
    import concurrent.futures

    from greenroom.actors.future import Future
    from greenroom.runtime.inbox import MessageInbox
    from greenroom.runtime.inbox_delivery import Delivery
    from greenroom.runtime.invoke import AgentCallable
    from greenroom.runtime.record import ProcessRecord

__all__ = ["ProcessActor", "ProcessFailedError"]

logger = logging.getLogger("greenroom.runtime")

QUESTION_GRACE = 60.0
"""Seconds a question outlives its asker's timeout before it expires from the inbox."""

_S = ProcessState
_ACCEPTING = ACCEPTING_STATES


class ProcessFailedError(RuntimeError):
    """Raised inside a FAILED process's actor so that its supervisor restarts it."""


@dataclass(slots=True)
class _Run:
    event: TriggerEvent
    handle: concurrent.futures.Future[str]
    prompt: dict[str, Any]
    delivery: Delivery


@dataclass(frozen=True, slots=True)
class _Heartbeat:
    """Periodic check of `idle_timeout` and `max_lifetime`."""


class ProcessActor(Actor):
    """Runs one agent process; see the module docstring."""

    def __init__(self, record: ProcessRecord) -> None:
        super().__init__()
        self.record = record
        self._agent: AgentCallable | None = None
        self._runs: dict[int, _Run] = {}
        self._run_ids = itertools.count(1)
        self._stopping = False
        self._stop_waiters: list[Future[dict[str, Any]]] = []
        self._cancelled: list[str] = []
        self._last_activity = 0.0
        self._protocol = self._make_protocol()

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
        handler = self._protocol.get(type(message))
        if handler is None:
            return super().on_receive(message)
        return handler(message)

    def _make_protocol(self) -> dict[type, Callable[[Any], Any]]:
        return {
            InvocationDone: self._finished,
            TriggerFired: self._trigger_fired,
            BuryEvent: lambda m: self.record.queue.bury(m.event, m.reason),
            Inject: lambda m: self._accept(m.event, strict=True),
            StatusRequest: lambda _m: self.status(),
            SendMessage: self._send,
            AskQuestion: self._ask,
            WithdrawQuestion: lambda m: self._withdraw(m.question_id),
            StartProcess: self._start_manual,
            StopProcess: self._stop_process,
            DrainExpired: lambda _m: self._cancel_runs(),
            _Heartbeat: lambda _m: self._heartbeat(),
            SuspendProcess: lambda m: self._suspend(m.reason),
            ResumeProcess: lambda m: self._resume(m.reason),
        }

    def _start_manual(self, _request: StartProcess) -> dict[str, Any]:
        self.record.restart_streak = 0
        self._start_process("manual")
        return self.status()

    # Start, stop, suspend, resume ---------------------------------------------------------

    def _start_process(self, reason: str) -> None:
        record = self.record
        record.lifecycle.transition(_S.STARTING, reason=reason)
        try:
            self._agent = resolve_agent(record.config.model)
        except Exception as exc:
            record.last_error = repr(exc)
            record.lifecycle.transition(_S.FAILED, reason=f"start failed: {exc}")
            raise
        record.consecutive_failures = 0
        record.started_at = self.system.clock.monotonic()
        self._last_activity = record.started_at
        record.lifecycle.transition(_S.RUNNING, reason=reason)
        interval = record.config.heartbeat_interval
        self.timers.start_periodic_timer("heartbeat", _Heartbeat(), interval)
        self._emit("process.started", {"reason": reason})
        self._dispatch()

    def _stop_process(self, request: StopProcess) -> None:
        record = self.record
        state = record.lifecycle.state
        if request.done is not None:
            self._stop_waiters.append(request.done)
        if state == _S.STOPPING:
            return
        if state == _S.CREATED:
            record.lifecycle.transition(_S.STOPPED, reason="stop")
        if state in (_S.CREATED, _S.STOPPED):
            self._report_stop([], [])
            return
        record.lifecycle.transition(_S.STOPPING, reason="stop")
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
        self._stopping = False
        self.timers.cancel("drain")
        left = self.record.queue.bury_all("process stopped")
        self.record.lifecycle.transition(_S.STOPPED, reason="stop")
        self.record.started_at = None
        report = self._report_stop(self._cancelled, [e.event_id for e in left])
        self._emit("process.stopped", report)

    def _report_stop(self, cancelled: list[str], left: list[str]) -> dict[str, Any]:
        report = {"name": self.record.name, "state": self.record.lifecycle.state.value,
                  "cancelled": cancelled, "dead_lettered": left}
        waiters, self._stop_waiters = self._stop_waiters, []
        for waiter in waiters:
            waiter.set(report)
        return report

    def _suspend(self, reason: str) -> None:
        self.record.lifecycle.transition(_S.SUSPENDED, reason=reason)
        self.record.suspend_reason = reason
        self._emit("process.suspended", {"reason": reason})

    def _resume(self, reason: str) -> None:
        self.record.lifecycle.transition(_S.RUNNING, reason=reason)
        self.record.suspend_reason = None
        self._last_activity = self.system.clock.monotonic()
        self._emit("process.resumed", {"reason": reason})
        self._dispatch()

    # Events and runs --------------------------------------------------------------------------

    def _accept(self, event: TriggerEvent, *, strict: bool) -> bool:
        state = self.record.lifecycle.state
        if state not in _ACCEPTING:
            if strict:
                raise ProcessNotAcceptingError(
                    state.value, "inject", [s.value for s in _ACCEPTING], self.record.name
                )
            self.record.queue.bury(event, f"process {state.value}")
            return False
        if not self.record.queue.offer(event):
            return False
        if state == _S.SUSPENDED and self.record.suspend_reason == "idle":
            self._resume("trigger")
        else:
            self._dispatch()
        return True

    def _trigger_fired(self, fired: TriggerFired) -> TriggerDelivery:
        """An event from a trigger actor: queued, or refused (and dead-lettered) with a reason."""
        event = fired.event
        record = self.record
        state = record.lifecycle.state
        if state not in _ACCEPTING:
            reason = f"process {state.value}"
            record.queue.bury(event, reason)
            return TriggerDelivery(False, event.event_id, reason)
        if not self._accept(event, strict=False):
            return TriggerDelivery(False, event.event_id, "queue full")
        if "checkpoint" in event.metadata:
            record.trigger_checkpoints[event.trigger_id] = event.metadata["checkpoint"]
        return TriggerDelivery(True, event.event_id)

    def _dispatch(self) -> None:
        record = self.record
        agent = self._agent
        while (agent is not None and record.lifecycle.state == _S.RUNNING
               and len(self._runs) < record.config.concurrency):
            event = record.queue.take()
            if event is None:
                return
            run_id = next(self._run_ids)
            invocation, prompt, delivery = prepare_run(record, event)
            handle = self.system.io.submit(run_agent(agent, invocation))
            self._runs[run_id] = _Run(event, handle, prompt, delivery)
            record.inflight[run_id] = event
            handle.add_done_callback(self._reporter(run_id))

    def _reporter(self, run_id: int) -> Callable[[concurrent.futures.Future[str]], None]:
        me = self.actor_ref
        return lambda done: me.tell(_outcome(run_id, done))

    def _finished(self, done: InvocationDone) -> None:
        run = self._runs.pop(done.run_id, None)
        if run is None:
            return
        record = self.record
        record.inflight.pop(done.run_id, None)
        self._last_activity = self.system.clock.monotonic()
        if done.cancelled:
            record.queue.bury(run.event, "run cancelled")
            if self._stopping:
                self._cancelled.append(run.event.event_id)
        elif done.error is not None:
            self._run_failed(run, done.error)
        else:
            record.invocation_count += 1
            record.consecutive_failures = 0
            record.restart_streak = 0
            reply = done.reply or ""
            record.conversation.extend([run.prompt, {"role": "assistant", "content": reply}])
            self._settle_inbox(run.delivery, reply, run.event.event_id)
            self._emit("invocation.completed", {"event_id": run.event.event_id})
        if self._stopping:
            if not self._runs:
                self._finish_stop()
        else:
            self._dispatch()

    def _run_failed(self, run: _Run, error: BaseException) -> None:
        record = self.record
        record.failed_invocations += 1
        record.consecutive_failures += 1
        record.last_error = repr(error)
        logger.warning("%s: run of event %s failed: %r", record.name, run.event.event_id, error)
        self._emit("invocation.failed", {"event_id": run.event.event_id, "error": repr(error)})
        if (record.consecutive_failures >= record.config.max_consecutive_failures
                and record.lifecycle.state in _ACCEPTING and not self._stopping):
            self._fail()

    def _fail(self) -> None:
        record = self.record
        reason = f"{record.consecutive_failures} consecutive failed runs"
        record.lifecycle.transition(_S.FAILED, reason=reason)
        self.timers.cancel("heartbeat")
        self._emit("process.failed", {"reason": reason, "error": record.last_error})
        exhausted = record.restart_streak >= record.config.max_restarts
        if record.config.restart_policy == "never" or exhausted:
            self._cancel_runs()
            record.queue.bury_all("process failed")
            if record.config.restart_policy != "never":
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
            self._accept(TriggerEvent("inbox", "inbox", payload={"question": request.content},
                                      timestamp=self._now()), strict=False)
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
            record.lifecycle.transition(_S.STOPPING, reason="max_lifetime")
            record.lifecycle.transition(_S.STOPPED, reason="max_lifetime")
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


def _outcome(run_id: int, done: concurrent.futures.Future[str]) -> InvocationDone:
    if done.cancelled():
        return InvocationDone(run_id, cancelled=True)
    error = done.exception()
    if isinstance(error, asyncio.CancelledError):
        return InvocationDone(run_id, cancelled=True)
    if error is not None:
        return InvocationDone(run_id, error=error)
    return InvocationDone(run_id, reply=done.result())
