"""Testing an actor with a TestProbe and a ManualClock (the example of docs/testing.md).

Run it with pytest (`pytest examples/probe_test.py`) or as a script.
"""

from __future__ import annotations

from typing import Any

import pykka

from greenroom.actors import Actor, ActorSystem, ManualClock
from greenroom.testing import TestProbe


class Reminder(Actor):
    """Sends `("remind", text)` to `target` after `delay` seconds, unless cancelled."""

    def __init__(self, target: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.target = target

    def on_receive(self, message: Any) -> Any:
        match message:
            case ("schedule", text, delay):
                self.timers.start_single_timer(text, ("remind", text), delay)
            case ("cancel", text):
                self.timers.cancel(text)
            case ("remind", _):
                self.target.tell(message)
        return None


def test_reminder_fires_after_its_delay(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    probe = TestProbe(actor_system)
    reminder = actor_system.spawn(Reminder, probe.ref)
    reminder.ask(("schedule", "stand-up", 600.0))  # ask: returns once it is scheduled
    manual_clock.advance(599)
    probe.expect_no_message(0.05)
    manual_clock.advance(1)
    probe.expect_message(("remind", "stand-up"))
    assert probe.last_sender is reminder


def test_cancelled_reminder_stays_silent(
    actor_system: ActorSystem, manual_clock: ManualClock
) -> None:
    probe = TestProbe(actor_system)
    reminder = actor_system.spawn(Reminder, probe.ref)
    reminder.ask(("schedule", "lunch", 60.0))
    reminder.ask(("cancel", "lunch"))
    manual_clock.advance(3600)
    probe.expect_no_message(0.05)


if __name__ == "__main__":
    for test in (test_reminder_fires_after_its_delay, test_cancelled_reminder_stays_silent):
        clock = ManualClock()
        with ActorSystem(name="example", clock=clock) as system:
            test(system, clock)
        print(f"{test.__name__}: ok")
