"""`ProtocolTriggerActor`: runs a user's trigger object inside an actor.

A custom trigger may be any object with the seed's protocol: `start()`, `stop()` and
`wait_for_next() -> TriggerEvent` (coroutines or plain methods). The actor starts it, then keeps
one `wait_for_next()` pending on the io loop; each event comes back as a message and is
re-stamped with the trigger's stable id, filtered and delivered. If `wait_for_next()` raises, the
actor fails and its `TriggerSupervisor` restarts it with backoff.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenroom.actors.messages import Failure
from greenroom.triggers.actor import TriggerActor
from greenroom.triggers.errors import TriggerError
from greenroom.triggers.event import TriggerEvent

if TYPE_CHECKING:
    from greenroom.triggers.config import TriggerConfig
    from greenroom.triggers.host import TriggerHost, TriggerStats

__all__ = ["PROTOCOL_METHODS", "ProtocolTriggerActor", "is_trigger_object"]

PROTOCOL_METHODS = ("start", "stop", "wait_for_next")
STOP_TIMEOUT = 5.0
"""Seconds the actor waits for a custom trigger's `stop()` before it gives up on it."""

log = logging.getLogger(__name__)


def is_trigger_object(value: object) -> bool:
    """Whether `value` has the seed's trigger protocol."""
    return all(callable(getattr(value, name, None)) for name in PROTOCOL_METHODS)


async def _call(method: Any) -> Any:
    result = method()
    return await result if inspect.isawaitable(result) else result


@dataclass(frozen=True, slots=True)
class _Next:
    event: Any


class ProtocolTriggerActor(TriggerActor):
    """Drives `trigger.wait_for_next()` in a loop; see the module docstring."""

    def __init__(
        self,
        trigger: Any,
        config: TriggerConfig,
        trigger_id: str,
        host: TriggerHost,
        stats: TriggerStats,
    ) -> None:
        super().__init__(config, trigger_id, host, stats)
        self.trigger = trigger
        self._started = False

    def on_start(self) -> None:
        """Start the object, then wait for its first event (both on the io loop)."""
        trigger = self.trigger

        async def start_then_wait() -> _Next:
            await _call(trigger.start)
            self._started = True
            return _Next(await _call(trigger.wait_for_next))

        self.pipe_to(start_then_wait())

    def on_stop(self) -> None:
        """Stop the object and wait (bounded) for its `stop()`, so a stopped trigger is quiet."""
        if not self._started:
            return
        done = self.system.io.submit(_call(self.trigger.stop))
        try:
            done.result(timeout=STOP_TIMEOUT)
        except Exception:  # a failing or slow stop() must not keep the actor alive
            log.warning("trigger %s: stop() failed or timed out", self.trigger_id, exc_info=True)

    def on_failure(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """A crash stops the object too, so the next incarnation starts it afresh."""
        del exc_type, exc, tb
        self.on_stop()

    def on_receive(self, message: Any) -> Any:
        """The next event, or the failure of `start`/`wait_for_next` (which crashes the actor)."""
        if isinstance(message, _Next):
            self._deliver(message.event)
            self.pipe_to(self._wait())
            return None
        if isinstance(message, Failure):
            msg = f"trigger {self.trigger_id}: {type(self.trigger).__name__} failed"
            self.stats.errors += 1
            raise TriggerError(msg) from message.exception
        return super().on_receive(message)

    async def _wait(self) -> _Next:
        return _Next(await _call(self.trigger.wait_for_next))

    def _deliver(self, event: Any) -> None:
        if not isinstance(event, TriggerEvent):
            self.stats.errors += 1
            return
        stamped = TriggerEvent(
            self.trigger_id, event.trigger_type or self.config.type, event.event_id,
            event.timestamp, event.payload, dict(event.metadata),
        )
        if self.outlet.matches(stamped):
            self.reply_to_self(self.outlet.deliver(stamped))
