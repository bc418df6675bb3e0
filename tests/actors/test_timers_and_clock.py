"""Timers on the system clock, driven by ManualClock; the clocks themselves."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from greenroom.actors import Actor, ActorSystem, Clock, ManualClock, SystemClock
from greenroom.testing import TestProbe


class Timed(Actor):
    """Starts timers on request and reports every message to a probe."""

    def __init__(self, probe: Any) -> None:
        super().__init__()
        self.probe = probe

    def on_receive(self, message: Any) -> Any:
        match message:
            case ("single", key, msg, delay):
                self.timers.start_single_timer(key, msg, delay)
            case ("periodic", key, msg, interval):
                self.timers.start_periodic_timer(key, msg, interval)
            case ("cancel", key):
                self.timers.cancel(key)
            case ("active", key):
                return self.timers.is_timer_active(key)
            case _:
                self.probe.tell(message)
        return None


def _timed(system: ActorSystem, dispatcher: str) -> tuple[TestProbe, Any]:
    probe = TestProbe(system)
    return probe, system.spawn(Timed, probe.ref, dispatcher=dispatcher)


def test_single_timer_fires_once_when_due(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    probe, ref = _timed(actor_system, dispatcher)
    ref.ask(("single", "k", "ding", 5.0))
    manual_clock.advance(4.999)
    probe.expect_no_message(0.02)
    manual_clock.advance(0.001)
    probe.expect_message("ding")
    manual_clock.advance(100)
    probe.expect_no_message(0.02)
    assert ref.ask(("active", "k")) is False


def test_periodic_timer_ticks_once_per_period_crossed(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    probe, ref = _timed(actor_system, dispatcher)
    ref.ask(("periodic", "tick", "tick", 1.0))
    manual_clock.advance(10.5)
    assert probe.receive_messages(10) == ["tick"] * 10
    probe.expect_no_message(0.02)
    assert ref.ask(("active", "tick")) is True


def test_a_simulated_day_of_minute_ticks_runs_fast(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    probe, ref = _timed(actor_system, dispatcher)
    ref.ask(("periodic", "minute", "m", 60.0))
    manual_clock.advance(24 * 3600)
    assert len(probe.receive_messages(1440, timeout=10)) == 1440


def test_timers_fire_in_time_order(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    probe, ref = _timed(actor_system, dispatcher)
    for key, delay in [("c", 3.0), ("a", 1.0), ("b", 2.0)]:
        ref.ask(("single", key, key, delay))
    manual_clock.advance(5)
    assert probe.receive_messages(3) == ["a", "b", "c"]


def test_restarting_a_key_replaces_the_timer(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    probe, ref = _timed(actor_system, dispatcher)
    ref.ask(("single", "k", "old", 1.0))
    ref.ask(("single", "k", "new", 2.0))
    manual_clock.advance(3)
    probe.expect_message("new")
    probe.expect_no_message(0.02)


def test_cancel_drops_even_a_tick_already_queued(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    gate = threading.Event()
    probe = TestProbe(actor_system)

    class Busy(Timed):
        def on_receive(self, message: Any) -> Any:
            if message == "hold":
                self.probe.tell("holding")
                gate.wait(10)
                self.timers.cancel("k")
                return None
            return super().on_receive(message)

    ref = actor_system.spawn(Busy, probe.ref, dispatcher=dispatcher)
    ref.ask(("single", "k", "ding", 1.0))
    ref.tell("hold")
    probe.expect_message("holding")
    manual_clock.advance(2)  # the tick is queued behind "hold"
    gate.set()
    probe.expect_no_message(0.05)


def test_timers_are_cancelled_when_the_actor_stops(
    actor_system: ActorSystem, manual_clock: ManualClock, dispatcher: str
) -> None:
    _probe, ref = _timed(actor_system, dispatcher)
    ref.ask(("periodic", "p", "p", 1.0))
    ref.ask(("single", "s", "s", 1.0))
    actor_system.stop(ref)
    assert manual_clock.pending() == 0


def test_periodic_timer_rejects_non_positive_interval(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    _probe, ref = _timed(actor_system, dispatcher)
    with pytest.raises(ValueError, match="interval must be > 0"):
        ref.ask(("periodic", "p", "p", 0.0))


def test_timers_on_the_system_clock_fire_in_real_time(dispatcher: str) -> None:
    with ActorSystem(name="real") as system:
        probe, ref = _timed(system, dispatcher)
        ref.ask(("single", "k", "ding", 0.01))
        probe.expect_message("ding")


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock(start=1000.0)
    assert isinstance(clock, Clock)
    assert clock.time() == 1000.0
    assert clock.monotonic() == 0.0
    fired: list[float] = []
    clock.call_later(2.0, lambda: fired.append(clock.monotonic()))
    clock.call_later(1.0, lambda: fired.append(clock.monotonic()))
    handle = clock.call_later(1.5, lambda: fired.append(-1))
    handle.cancel()
    clock.advance(3.0)
    assert fired == [1.0, 2.0]
    assert clock.time() == 1003.0
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        clock.advance(-1)


def test_manual_clock_fires_callbacks_scheduled_during_advance() -> None:
    clock = ManualClock()
    seen: list[float] = []

    def again() -> None:
        seen.append(clock.monotonic())
        if len(seen) < 3:
            clock.call_later(1.0, again)

    clock.call_later(1.0, again)
    clock.advance(10)
    assert seen == [1.0, 2.0, 3.0]


def test_system_clock_runs_callbacks_on_its_thread() -> None:
    clock = SystemClock()
    done = threading.Event()
    threads: list[str] = []

    def callback() -> None:
        threads.append(threading.current_thread().name)
        done.set()

    try:
        clock.call_later(0.0, callback)
        assert done.wait(5)
        assert threads == ["greenroom-clock"]
    finally:
        clock.close()
