"""A `TriggerHost` for trigger tests: records what it is handed and can refuse on demand."""

from __future__ import annotations

import os
import queue
from typing import Any

from greenroom.actors.clock import Clock, SystemClock
from greenroom.actors.future import Future
from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.host import Delivery


class RecordingHost:
    """Accepts every event (unless `refuse_reason` is set) and queues it for the test."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        process_name: str = "p",
        event_bus: Any = None,
        broker: Any = None,
        secrets: dict[str, str] | None = None,
    ) -> None:
        self.process_name = process_name
        self.clock = clock if clock is not None else SystemClock()
        self.event_bus = event_bus
        self.broker = broker
        self.secrets = dict(secrets or {})
        self.refuse_reason: str | None = None
        self.checkpoints: dict[str, Any] = {}
        self.events: queue.Queue[TriggerEvent] = queue.Queue()

    def deliver(self, event: TriggerEvent) -> Future[Delivery]:
        future: Future[Delivery] = Future()
        if self.refuse_reason is not None:
            future.set(Delivery(False, event.event_id, self.refuse_reason))
            return future
        if "checkpoint" in event.metadata:
            self.checkpoints[event.trigger_id] = event.metadata["checkpoint"]
        self.events.put(event)
        future.set(Delivery(True, event.event_id))
        return future

    def accepting(self) -> str | None:
        return self.refuse_reason

    def checkpoint(self, trigger_id: str) -> Any:
        return self.checkpoints.get(trigger_id)

    def secret(self, name: str) -> str | None:
        return self.secrets.get(name, os.environ.get(name))

    def next_event(self, timeout: float = 10.0) -> TriggerEvent:
        """The next delivered event, failing the test after `timeout` seconds."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            msg = f"no event delivered within {timeout} s"
            raise AssertionError(msg) from None

    def drain(self) -> list[TriggerEvent]:
        """Every event delivered so far and not yet taken."""
        taken: list[TriggerEvent] = []
        while True:
            try:
                taken.append(self.events.get_nowait())
            except queue.Empty:
                return taken
