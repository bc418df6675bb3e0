"""`AgentProcess`: the async facade of one agent process (seed API), over its actors.

Each method sends a message to the process's `ProcessActor`, through the stable handle of its
`ProcessSupervisor`, and awaits the reply. Used alone (`async with AgentProcess(...)`) it owns an
`ActorSystem`; inside an `AgentRuntime` it lives in the runtime's system, under its supervisor.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Self, TypeVar

import pykka

from greenroom.actors.errors import ActorStartError
from greenroom.actors.future import Future
from greenroom.actors.ref import ActorRef
from greenroom.actors.system import ActorSystem
from greenroom.journal.replay import ReplayEngine
from greenroom.runtime.errors import ProcessNotAcceptingError
from greenroom.runtime.governing import GOVERNANCE_IDS, governance_children
from greenroom.runtime.journaling import Journals, ProcessJournal
from greenroom.runtime.lifecycle import ProcessLifecycle, ProcessState
from greenroom.runtime.messages import (
    AskQuestion,
    Inject,
    ResumeProcess,
    SendMessage,
    StartProcess,
    StatusRequest,
    StopProcess,
    SuspendProcess,
    WithdrawQuestion,
)
from greenroom.runtime.process_actor import ProcessActor
from greenroom.runtime.process_admin import ProcessAdmin
from greenroom.runtime.record import Listener, ProcessRecord, TriggerSlot, remove_listener
from greenroom.runtime.recovery import checkpoint_state, governance_state
from greenroom.runtime.trigger_host import ProcessTriggerHost
from greenroom.supervision.spec import Backoff, ChildSpec
from greenroom.supervision.supervisor import Supervisor
from greenroom.triggers.config import TriggerConfig, trigger_ids
from greenroom.triggers.errors import TriggerError
from greenroom.triggers.host import TriggerStats
from greenroom.triggers.registry import check_trigger_type, trigger_child_spec
from greenroom.triggers.supervisor import TriggerSupervisor

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from greenroom.actors.clock import Clock
    from greenroom.journal.provider import JournalProvider
    from greenroom.journal.replay import RecoveryResult
    from greenroom.runtime.config import ProcessConfig
    from greenroom.runtime.context import AgentContext
    from greenroom.runtime.inbox import InboxResponse
    from greenroom.supervision.handle import ChildHandle
    from greenroom.triggers.event import TriggerEvent

__all__ = ["AgentProcess", "process_supervisor_spec"]

T = TypeVar("T")

RESTART_BACKOFF = Backoff(min=1.0, max=60.0, jitter=0.1, reset_after=3600.0)
"""Delay before an automatic restart: 1 s, doubling per restart, at most 60 s."""

RESTART_WINDOW = 3600.0
"""The supervisor's intensity window. The restart policy itself (`max_restarts` restarts without
a successful run in between) is decided by the `ProcessActor`, which stops raising once it is
exhausted; the supervisor's intensity only guards against a crash loop of unexpected errors."""

CRASH_LOOP_RESTARTS = 10
"""Restarts per `RESTART_WINDOW` beyond `max_restarts` before the supervisor gives up."""

STOP_GRACE = 30.0
"""Seconds past the drain time a stop waits for the process's report before giving up."""


TRIGGERS = "triggers"
"""The child id of a process's `TriggerSupervisor`."""


def process_supervisor_spec(
    record: ProcessRecord,
    journal: ProcessJournal | None = None,
    event_bus: object | None = None,
    share_handles: Callable[[dict[str, ChildHandle]], None] | None = None,
) -> ChildSpec:
    """The `ProcessSupervisor` of a process, as a (temporary) child spec for a runtime.

    Its children: the enabled governance actors, the `ProcessActor`, and the `TriggerSupervisor`
    if the process has triggers. A process without any gets its `TriggerSupervisor` with its
    first trigger (`AgentProcess.add_trigger`): an idle process does not pay for one.
    `share_handles` receives the children's handles when the supervisor is built.
    """
    config = record.config
    governors, siblings = governance_children(record, event_bus)
    children = [
        *governors,
        ChildSpec("process", ProcessActor, args=(record, journal), kwargs=dict(siblings),
                  restart="transient", dispatcher="loop"),
    ]
    if record.triggers:
        children.append(ChildSpec(TRIGGERS, TriggerSupervisor))
    return ChildSpec(
        f"process-{record.name}",
        Supervisor,
        kwargs={
            "children": children,
            "max_restarts": config.max_restarts + CRASH_LOOP_RESTARTS,
            "within": RESTART_WINDOW,
            "backoff": RESTART_BACKOFF,
            "share_handles": share_handles,
        },
        restart="temporary",
        shutdown=config.drain_timeout + STOP_GRACE,
    )


class AgentProcess(ProcessAdmin):
    """A long-lived agent process: start, stop, suspend, resume, inject, status."""

    def __init__(
        self,
        name: str,
        config: ProcessConfig,
        *,
        process_id: str | None = None,
        event_bus: Any = None,
        broker: Any = None,
        runtime: Any = None,
        clock: Clock | None = None,
        journal: JournalProvider | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.event_bus = event_bus
        self.broker = broker
        self.runtime = runtime
        self._owns_system = runtime is None
        self._system: ActorSystem = (
            ActorSystem(name=f"process-{name}", clock=clock) if runtime is None
            else runtime.system
        )
        self._record = ProcessRecord(
            name, config, process_id=process_id, clock=self._system.clock
        )
        self._supervisor: pykka.ActorRef[Any] | None = None
        self._tree: ActorRef[Any] | None = None
        self._handle: ChildHandle | None = None
        self._adding: set[str] = set()  # trigger ids taken by `add_trigger` calls under way
        self._triggers: ChildHandle | None = None
        self._governors: dict[str, ChildHandle] = {}
        self._journals: Journals = (
            Journals(self._spawn_journal_actor, provider=journal) if runtime is None
            else runtime._journals
        )
        self._journal: ProcessJournal | None = None
        self._host = ProcessTriggerHost(
            self._record, lambda: self._handle, clock=self._system.clock,
            event_bus=event_bus, broker=broker,
        )

    def __repr__(self) -> str:
        return f"<AgentProcess {self.name!r} {self.state.value}>"

    # Properties --------------------------------------------------------------------------------

    @property
    def process_id(self) -> str:
        """The process's unique id."""
        return self._record.process_id

    @property
    def state(self) -> ProcessState:
        """The current lifecycle state."""
        return self._record.lifecycle.state

    @property
    def lifecycle(self) -> ProcessLifecycle:
        """The lifecycle state machine (for inspection)."""
        return self._record.lifecycle

    @property
    def context(self) -> AgentContext:
        """The agent's context (state, memory, files, env)."""
        return self._record.context

    @property
    def system(self) -> ActorSystem:
        """The actor system the process runs in."""
        return self._system

    @property
    def record(self) -> ProcessRecord:
        """The process's state, shared by its actor's incarnations."""
        return self._record

    # Operations ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Resolve the agent and begin processing: CREATED/STOPPED/FAILED -> RUNNING.

        With a journal, the first start recovers what it holds (the last checkpoint and the
        entries after it): context, conversation, counters, trigger checkpoints, and the events
        that were accepted but never finished, queued again with their ids. Raises
        `ProcessStateError` from a state that cannot start, `JournalError` if the journal cannot
        be read whole (nothing is started), `ValueError` (or the model's configuration error)
        when the agent cannot be built; the process is then FAILED.
        """
        recovered = None
        if not self._record.recovered and self._process_journal().enabled:
            recovered = await asyncio.to_thread(self._recover)
            self._record.governance_state.update(governance_state(recovered))
        handle = await self._ensure_actors()
        await handle.ask(StartProcess(recovered), block=False)
        for slot in list(self._record.triggers.values()):
            await self._start_trigger(slot)

    async def stop(self, drain_timeout: float | None = None) -> dict[str, Any]:
        """Stop gracefully: no new run; runs in flight get `drain_timeout` s (default: the
        config's `drain_timeout`), then are cancelled. Returns what was cancelled or left queued
        (both kept as dead letters). A user's stop never triggers a restart.
        """
        drain = self.config.drain_timeout if drain_timeout is None else drain_timeout
        await self._stop_triggers()
        if self.state is ProcessState.FAILED:  # maybe waiting for a restart: cancel it
            await asyncio.to_thread(self._discard_actors)
        if self._handle is None or not self._handle.is_alive():
            return self._stopped_without_actor()
        done: Future[dict[str, Any]] = Future()
        try:
            await asyncio.wait_for(
                _wait(self._handle.ask(StopProcess(drain, done), block=False)), STOP_GRACE
            )
        except pykka.ActorDeadError:
            return self._stopped_without_actor()
        report: dict[str, Any] = await asyncio.wait_for(_wait(done), drain + STOP_GRACE)
        return report

    async def suspend(self, reason: str = "manual") -> None:
        """RUNNING -> SUSPENDED: triggers keep firing and events queue; runs in flight finish."""
        await self._require_handle("suspend").ask(SuspendProcess(reason), block=False)

    async def resume(self, reason: str = "manual") -> None:
        """SUSPENDED -> RUNNING: queued events run in arrival order."""
        await self._require_handle("resume").ask(ResumeProcess(reason), block=False)

    async def inject(self, event: TriggerEvent) -> bool:
        """Queue an event by hand. True if queued; False if the queue was full (the event is
        then a dead letter). Raises `ProcessStateError` unless running or suspended.
        """
        queued: bool = await self._require_handle("inject").ask(Inject(event), block=False)
        return queued

    async def add_trigger(self, config: TriggerConfig) -> str:
        """Add a trigger (started at once if the process runs or is suspended); returns its id.

        Raises `TriggerError` for an unknown type, or what the trigger raises when it cannot
        start (a webhook port in use, a missing watch directory); nothing is added then.
        """
        if not isinstance(config, TriggerConfig):
            msg = f"config: expected a TriggerConfig, got {type(config).__name__}"
            raise TypeError(msg)
        check_trigger_type(config.type)  # a running process builds it below, once
        taken = set(self._record.triggers) | self._adding
        if config.trigger_id is not None and config.trigger_id in taken:
            msg = f"trigger_id: {config.trigger_id!r} is already a trigger of {self.name!r}"
            raise ValueError(msg)
        base = trigger_ids([config])[0]
        trigger_id, n = base, 1
        while trigger_id in taken:
            n += 1
            trigger_id = f"{base}-{n}"
        slot = TriggerSlot(trigger_id, config, TriggerStats(trigger_id, config.type, "dynamic"))
        self._adding.add(trigger_id)  # reserved while the start is awaited
        try:
            if self.state in (ProcessState.RUNNING, ProcessState.SUSPENDED):
                await self._start_trigger(slot)
            self._record.triggers[trigger_id] = slot
        finally:
            self._adding.discard(trigger_id)
        return trigger_id

    async def remove_trigger(self, trigger_id: str) -> None:
        """Stop and remove a trigger; `KeyError` naming it if the process has none by that id."""
        if trigger_id not in self._record.triggers:
            msg = f"process {self.name!r} has no trigger {trigger_id!r}"
            raise KeyError(msg)
        supervisor = self._trigger_supervisor()
        if supervisor is not None:
            await supervisor.call("stop_trigger", trigger_id)
        del self._record.triggers[trigger_id]

    async def send_message(
        self,
        content: str,
        *,
        message_type: str = "context",
        priority: str = "normal",
        sender_id: str | None = None,
        ttl: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Put a message in the agent's inbox; it sees it on its next run. Returns the id.

        Raises `RuntimeError` if the inbox is not enabled, an `InboxError` (a `ValueError`)
        if the inbox refuses it (too long, rate limit, full).
        """
        self._check_inbox()
        request = SendMessage(content, message_type, priority, sender_id, ttl, metadata)
        message_id: str = await self._require_handle("send_message").ask(request, block=False)
        return message_id

    async def ask(
        self, content: str, *, sender_id: str | None = None, timeout: float = 120.0
    ) -> InboxResponse:
        """Ask the agent a question and wait for its answer (a run is scheduled if none is
        pending). Raises `TimeoutError` after `timeout` s (the question is then withdrawn).
        """
        self._check_inbox()
        handle = self._require_handle("ask")
        answer: Future[InboxResponse] = Future()
        question_id: str = await handle.ask(
            AskQuestion(content, sender_id, timeout, answer), block=False
        )
        try:
            response: InboxResponse = await asyncio.wait_for(_wait(answer), timeout)
        except TimeoutError:
            handle.tell(WithdrawQuestion(question_id))
            raise
        return response

    def status(self) -> dict[str, Any]:
        """The status dict (from the actor, or from the record if no actor runs)."""
        handle = self._handle
        if handle is not None and handle.is_alive():
            try:
                status: dict[str, Any] = handle.ask(StatusRequest(), timeout=10.0)
            except pykka.ActorDeadError:
                pass
            else:
                return status
        return self._record.status()

    async def close(self) -> None:
        """Stop the process and release its actors (and its own actor system, if any)."""
        await self.stop()
        await asyncio.to_thread(self._discard_actors)
        if self._owns_system:
            await asyncio.to_thread(self._system.shutdown)
            self._journals.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # Internals ---------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event_type, data)` for each event of this process (`process.started`,
        ..., `invocation.failed`). It runs on an actor thread: keep it quick, never block.
        """
        self._record.listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling `listener` (`ValueError` if it was not added). An event being delivered
        at that moment may still reach it once."""
        remove_listener(self._record.listeners, listener)

    def _process_journal(self) -> ProcessJournal:
        """The process's journal writer (its journal opened, and its actor started, once)."""
        if self._journal is None:
            journal = self.config.journal
            client = None if journal.level == "none" else self._journals.link(journal).client
            self._journal = ProcessJournal(self.name, journal.level, client)
        return self._journal

    def _recover(self) -> RecoveryResult:
        """What the journal holds for this process (read before its first start)."""
        provider = self._journals.link(self.config.journal).provider
        return ReplayEngine(provider).recover(
            self.name, max_processed=self.config.journal.max_processed_keys
        )

    def _spawn_journal_actor(self, spec: ChildSpec) -> Any:
        return self._system.spawn(spec.actor_cls, *spec.args, name=spec.id,
                                  dispatcher=spec.dispatcher or "pooled", **(spec.kwargs or {}))

    async def _ensure_actors(self) -> ChildHandle:
        """The process actor's handle, starting the process's supervisor tree if it is not up.

        Inside a runtime this is one awaited ask to the runtime's supervisor (no thread); alone,
        the spawn runs in a worker thread since it starts the children synchronously. Either
        way the children's handles come back from the supervisor's constructor, not by asking.
        """
        if self._handle is not None and self._handle.is_alive():
            return self._handle
        handles: dict[str, ChildHandle] = {}
        spec = process_supervisor_spec(self._record, self._process_journal(), self.event_bus,
                                       handles.update)
        if self.runtime is not None:
            self._tree = await self.runtime._start_process_supervisor(spec)
        else:
            self._tree = self._supervisor = await asyncio.to_thread(
                self._system.spawn, Supervisor, name=spec.id, **(spec.kwargs or {})
            )
        self._governors = {part: handles[part] for part in GOVERNANCE_IDS if part in handles}
        self._triggers = handles.get(TRIGGERS)
        handle = self._handle = handles["process"]
        return handle

    def _trigger_supervisor(self) -> ActorRef[Any] | None:
        """The running `TriggerSupervisor`, or None."""
        handle = self._triggers
        ref = handle.current if handle is not None else None
        return ref if isinstance(ref, ActorRef) else None

    async def _start_trigger(self, slot: TriggerSlot) -> None:
        if self._triggers is None:
            await self._add_trigger_supervisor()
        supervisor = self._trigger_supervisor()
        if supervisor is not None:
            spec = trigger_child_spec(slot.config, slot.trigger_id, self._host, slot.stats)
            try:
                await supervisor.call("start_trigger", spec)
            except ActorStartError as exc:  # say what the trigger said (port in use, no dir)
                if isinstance(exc.__cause__, TriggerError):
                    raise exc.__cause__ from None
                raise

    async def _add_trigger_supervisor(self) -> None:
        """Start the process's `TriggerSupervisor` (its first trigger is coming); nothing if
        the process's supervisor is gone."""
        tree = self._tree
        if tree is None:
            return
        try:
            self._triggers = await tree.call("start_child", ChildSpec(TRIGGERS, TriggerSupervisor))
        except ValueError:  # a concurrent start of a trigger added it meanwhile
            self._triggers = await tree.call("child_ref", TRIGGERS)
        except pykka.ActorDeadError:
            return

    async def _stop_triggers(self) -> None:
        supervisor = self._trigger_supervisor()
        if supervisor is not None:
            try:
                await supervisor.call("stop_triggers")
            except pykka.ActorDeadError:
                return

    def _require_handle(self, operation: str) -> ChildHandle:
        handle = self._handle
        if handle is None or not handle.is_alive():
            raise ProcessNotAcceptingError(
                self.state.value, operation, ["running", "suspended"], self.name
            )
        return handle

    def _check_inbox(self) -> None:
        if not self.config.inbox.enabled:
            msg = f"process {self.name!r}: the inbox is not enabled (ProcessConfig.inbox.enabled)"
            raise RuntimeError(msg)

    def _discard_actors(self) -> None:
        """Stop the process's supervisor (and with it any pending restart)."""
        if self.runtime is not None:
            self.runtime._stop_process_supervisor(self)
        elif self._supervisor is not None:
            self._system.stop(self._supervisor)
        self._handle = None
        self._tree = None
        self._triggers = None
        self._record.restart_pending = False

    def _stopped_without_actor(self) -> dict[str, Any]:
        """Stop a process whose actor is gone (FAILED, or never started). With a journal the
        queue is kept for the next start and checkpointed, as a graceful stop does."""
        record = self._record
        lifecycle = record.lifecycle
        if lifecycle.state == ProcessState.FAILED:
            lifecycle.transition(ProcessState.STOPPING, reason="stop")
        if lifecycle.state in (ProcessState.CREATED, ProcessState.STOPPING):
            lifecycle.transition(ProcessState.STOPPED, reason="stop")
        report: dict[str, Any] = {"name": self.name, "state": lifecycle.state.value,
                                  "cancelled": [], "dead_lettered": []}
        journal = self._journal
        if journal is not None and journal.enabled and record.recovered:
            report["kept"] = [event.event_id for event in record.queue.events()]
            journal.checkpoint(checkpoint_state(record, []))
        else:
            left = record.queue.bury_all("process stopped")
            report["dead_lettered"] = [event.event_id for event in left]
        return report


async def _wait(future: Future[T]) -> T:
    return await future
