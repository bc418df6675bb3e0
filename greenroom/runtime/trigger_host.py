"""`ProcessTriggerHost`: the runtime's side of the `TriggerHost` protocol for one process.

Trigger actors deliver events through it to the process's `ProcessActor` (`TriggerFired`, answered
with a `Delivery`). While the process cannot take events (failed, stopping, stopped) the host
refuses at once, without waiting for the actor, and has the actor keep the event as a dead letter
(the record has one writer), so a webhook answers 503 at once even while a restart is pending.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pykka

from greenroom.actors.future import Future
from greenroom.runtime.lifecycle import ACCEPTING_STATES
from greenroom.runtime.messages import BuryEvent
from greenroom.triggers.host import Delivery, TriggerFired

if TYPE_CHECKING:
    from greenroom.actors.clock import Clock
    from greenroom.runtime.record import ProcessRecord
    from greenroom.supervision.handle import ChildHandle
    from greenroom.triggers.event import TriggerEvent

__all__ = ["ProcessTriggerHost"]


class ProcessTriggerHost:
    """Delivers one process's trigger events; see the module docstring."""

    def __init__(
        self,
        record: ProcessRecord,
        handle: Callable[[], ChildHandle | None],
        *,
        clock: Clock,
        event_bus: Any = None,
        broker: Any = None,
    ) -> None:
        self._record = record
        self._handle = handle
        self.clock = clock
        self.event_bus = event_bus
        self.broker = broker

    @property
    def process_name(self) -> str:
        """The process's name."""
        return self._record.name

    def accepting(self) -> str | None:
        """None while the process takes events; else why not."""
        record = self._record
        state = record.lifecycle.state
        if state not in ACCEPTING_STATES:
            return f"process {state.value}"
        if len(record.queue) >= record.queue.capacity:
            return "queue full"
        return None

    def deliver(self, event: TriggerEvent) -> Future[Delivery]:
        """Ask the process to queue `event`; refuse at once if it cannot take events."""
        refused = self.accepting()
        handle = self._handle()
        if refused is None and handle is not None:
            try:
                future: Future[Delivery] = handle.ask(TriggerFired(event), block=False)
            except pykka.ActorDeadError:
                refused = "process not running"
            else:
                return future
        reason = refused or "process not running"
        if handle is not None and handle.is_alive():
            handle.tell(BuryEvent(event, reason))
        else:
            self._record.queue.bury(event, reason)
        done: Future[Delivery] = Future()
        done.set(Delivery(False, event.event_id, reason))
        return done

    def checkpoint(self, trigger_id: str) -> Any:
        """The checkpoint of the trigger's last accepted event."""
        return self._record.trigger_checkpoints.get(trigger_id)

    def secret(self, name: str) -> str | None:
        """The environment variable `name` (the process's secret scope joins in issue 6)."""
        return os.environ.get(name)
