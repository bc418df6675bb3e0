"""The test kit: every TestProbe expectation passes on the right input and explains a failure."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from greenroom.actors import Actor, ActorSystem, Terminated
from greenroom.testing import TestProbe, time_factor


def test_expectations_pass_on_the_right_message(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    for message in ["a", 1, ("t", 2), "x", "y", "z", "fish", "n1", "n2"]:
        probe.ref.tell(message)
    assert probe.expect_message("a") == "a"
    assert probe.expect_message_type(int) == 1
    assert probe.expect_message_matching(lambda m: m[0] == "t") == ("t", 2)
    assert probe.fish_for_message(lambda m: m == "fish") == "fish"
    assert probe.receive_messages(2) == ["n1", "n2"]
    probe.expect_no_message(0.01)


def test_failed_expectations_show_what_arrived(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    probe.ref.tell("surprise")
    with pytest.raises(AssertionError, match="expected message 'wanted', received 'surprise'"):
        probe.expect_message("wanted")
    probe.ref.tell("text")
    with pytest.raises(AssertionError, match="expected a int, received 'text'"):
        probe.expect_message_type(int)
    probe.ref.tell(3)
    with pytest.raises(AssertionError, match="received 3, which does not match"):
        probe.expect_message_matching(lambda m: m > 5)
    probe.ref.tell("unwanted")
    with pytest.raises(AssertionError, match="expected no message, received 'unwanted'"):
        probe.expect_no_message(1.0)


def test_timeouts_report_what_was_received_instead(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    with pytest.raises(AssertionError, match="nothing was received"):
        probe.receive_message(timeout=0.01)
    probe.ref.tell("one")
    with pytest.raises(AssertionError, match=r"received instead: \['one'\]"):
        probe.receive_messages(2, timeout=0.05)
    probe.ref.tell("red herring")
    with pytest.raises(AssertionError, match="red herring"):
        probe.fish_for_message(lambda m: m == "never", timeout=0.05)


def test_reply_answers_the_latest_ask(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    future = probe.ref.ask("question", block=False)
    probe.expect_message("question")
    assert not future.done()
    probe.reply("answer")
    assert future.get(timeout=1) == "answer"
    with pytest.raises(AssertionError, match="no ask"):
        probe.reply("again")


def test_watch_and_expect_terminated(actor_system: ActorSystem) -> None:
    class Quitter(Actor):
        def on_receive(self, message: Any) -> Any:
            raise RuntimeError("quit")

    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Quitter)
    probe.watch(ref)
    ref.tell("go")
    terminated = probe.expect_terminated(ref)
    assert isinstance(terminated, Terminated)
    assert isinstance(terminated.reason, RuntimeError)
    other = actor_system.spawn(Quitter)
    probe.ref.tell("not a Terminated")
    with pytest.raises(AssertionError, match="expected Terminated"):
        probe.expect_terminated(other)


def test_time_factor_scales_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENROOM_TEST_TIME_FACTOR", "2.5")
    assert time_factor() == 2.5
    assert TestProbe.scaled(2.0) == 5.0
    monkeypatch.setenv("GREENROOM_TEST_TIME_FACTOR", "fast")
    with pytest.raises(ValueError, match="must be a number"):
        time_factor()
    monkeypatch.setenv("GREENROOM_TEST_TIME_FACTOR", "0")
    with pytest.raises(ValueError, match="must be > 0"):
        time_factor()


def test_fixture_fails_a_test_whose_actor_will_not_stop(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        import threading
        from greenroom.actors import Actor

        gate = threading.Event()
        entered = threading.Event()

        class Stuck(Actor):
            def on_receive(self, message):
                entered.set()
                gate.wait(30)

        def test_leaks(actor_system):
            ref = actor_system.spawn(Stuck, dispatcher="thread")
            ref.tell("hang")
            assert entered.wait(5)
        """
    )
    monkeypatch.setenv("GREENROOM_TEST_TIME_FACTOR", "0.02")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*did not stop at shutdown*"])


def test_fixture_passes_a_clean_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from greenroom.actors import Actor

        class Echo(Actor):
            def on_receive(self, message):
                return message

        def test_clean(actor_system, manual_clock):
            assert actor_system.clock is manual_clock
            assert actor_system.spawn(Echo).ask(1) == 1
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_probe_works_from_another_thread(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    threading.Thread(target=probe.ref.tell, args=("hello",)).start()
    probe.expect_message("hello")
