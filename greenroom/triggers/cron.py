"""`CronTriggerActor`: fires its process at each slot of a cron schedule, on the system clock.

One single timer is armed towards the next slot (re-armed at least every `MAX_WAIT` seconds, so
a wall clock that leaps is noticed); each tick re-arms first, then fires. At start the actor asks
the host for its checkpoint (the last slot the process accepted) and fires the slots missed
meanwhile by `misfire_policy` within `catch_up_window`. While running, a slot whose tick is
handled before the next slot is due fires normally, however late; if the clock has passed
further slots by then (a machine sleep, a large `ManualClock.advance`), all of them are misfires
and the same policy applies. Every event carries the idempotency key
`<trigger_id>@<scheduled ISO time>` and the slot as its checkpoint, so a redelivered slot is
recognised and the journal can persist the last slot.
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenroom.triggers.actor import TriggerActor
from greenroom.triggers.errors import TriggerError
from greenroom.triggers.schedule import CronSchedule, iso_utc, plan_catch_up

if TYPE_CHECKING:
    from greenroom.triggers.config import TriggerConfig
    from greenroom.triggers.host import TriggerHost, TriggerStats

__all__ = ["MAX_WAIT", "CronTriggerActor"]

logger = logging.getLogger(__name__)

_TIMER = "cron-slot"
_EARLY = 0.001
"""A tick this close before its slot counts as on time (float rounding of clock arithmetic)."""
MAX_WAIT = 60.0
"""The longest the actor waits without reading the wall clock, so that a clock that jumps
(a machine resumed from sleep, whose monotonic timers stood still) is noticed within a minute."""


@dataclass(frozen=True)
class _Tick:
    """The timer's message: the armed slot may be due."""


class CronTriggerActor(TriggerActor):
    """Fires at each slot of `config.cron_expression` in `config.timezone`, catching up misses.

    Spawn as `spawn(CronTriggerActor, config, trigger_id, host, stats)`; any dispatcher will do,
    since the actor never blocks.
    """

    def __init__(
        self, config: TriggerConfig, trigger_id: str, host: TriggerHost, stats: TriggerStats
    ) -> None:
        super().__init__(config, trigger_id, host, stats)
        if config.cron_expression is None:
            msg = f"trigger {trigger_id}: a cron trigger needs cron_expression"
            raise TriggerError(msg)
        self.schedule = CronSchedule(config.cron_expression, config.timezone)
        self._handled = 0.0  # every slot at or before this instant has been fired or skipped
        self._armed: float | None = None

    def on_start(self) -> None:
        """Catch up the slots missed since the checkpoint, then arm the timer for the next one."""
        now = self.system.clock.time()
        last = self._checkpoint()
        self._handled = now if last is None else max(now, last)
        self._arm()
        self._catch_up(last, now)

    def on_receive(self, message: Any) -> Any:
        """Timer ticks; deliveries go to the base class."""
        if isinstance(message, _Tick):
            self._on_tick()
            return None
        return super().on_receive(message)

    def _on_tick(self) -> None:
        slot = self._armed
        now = self.system.clock.time()
        if slot is None:
            return
        if now < slot - _EARLY:  # an interim wake-up, or the wall clock was set back: wait on
            self._arm()
            return
        now = max(now, slot)
        previous = self._handled
        self._handled = now
        self._arm()
        if self.schedule.next_after(slot) > now:
            self._fire(slot, catch_up=False)
        else:  # the clock passed further slots before this tick ran: they are misfires
            self._catch_up(previous, now)

    def _catch_up(self, last: float | None, now: float) -> None:
        plan = plan_catch_up(self.schedule, last, now, self.config.misfire_policy,
                             self.config.catch_up_window)
        if plan.missed:
            logger.info("trigger %s: %d slot(s) missed, %d outside the catch-up window, "
                        "%d fired (%s)", self.trigger_id, plan.missed, plan.outside_window,
                        len(plan.slots), self.config.misfire_policy)
        for slot in plan.slots:
            self._fire(slot, catch_up=True, missed=plan.missed)

    def _arm(self) -> None:
        """Arm the single timer towards the first slot after everything already handled."""
        slot = self._armed
        if slot is None or slot <= self._handled:
            slot = self.schedule.next_after(self._handled)
            self._armed = slot
            self.stats.info["next_fire"] = iso_utc(slot)
        wait = slot - self.system.clock.time()  # read last: the clock may move meanwhile
        self.timers.start_single_timer(_TIMER, _Tick(), min(MAX_WAIT, max(0.0, wait)))

    def _fire(self, slot: float, *, catch_up: bool, missed: int | None = None) -> None:
        scheduled = iso_utc(slot)
        payload: dict[str, Any] = {
            "scheduled_time": scheduled,
            "cron_expression": self.schedule.expression,
            "timezone": self.schedule.timezone,
            "catch_up": catch_up,
        }
        if missed is not None:
            payload["missed_count"] = missed
        self.fire(payload, idempotency_key=f"{self.trigger_id}@{scheduled}", checkpoint=slot)

    def _checkpoint(self) -> float | None:
        value = self.host.checkpoint(self.trigger_id)
        if value is None:
            return None
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            try:
                iso_utc(float(value))
            except (OverflowError, OSError, ValueError):
                pass
            else:
                return float(value)
        logger.warning("trigger %s: ignoring checkpoint %r (expected epoch seconds)",
                       self.trigger_id, value)
        return None
