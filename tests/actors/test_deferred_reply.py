"""`defer_reply`: an actor answers an ask later, keeps serving meanwhile, and never leaves an
asker hanging when it dies first."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from greenroom.actors import Actor, ActorSystem, Reply


class Later(Actor):
    """Holds the replies of `("hold", key)` until `("answer", key, value)` or `("fail", key)`."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[str, Reply] = {}

    def on_receive(self, message: Any) -> Any:
        match message:
            case ("hold", key):
                self.held[key] = self.defer_reply()
                return "ignored: the reply was deferred"
            case ("answer", key, value):
                self.held.pop(key).set(value)
            case ("fail", key):
                self.held.pop(key).fail(LookupError(key))
            case ("hold_then_raise", key):
                self.held[key] = self.defer_reply()
                raise ValueError("broke after deferring")
            case ("expected", key):
                return self.held[key].expected
            case "crash":
                raise RuntimeError("crash")
            case "ping":
                return "pong"
        return None


def test_a_deferred_reply_arrives_later_and_the_actor_keeps_serving(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    ref = actor_system.spawn(Later, dispatcher=dispatcher)
    first = ref.ask(("hold", "a"), block=False)
    second = ref.ask(("hold", "b"), block=False)
    assert ref.ask("ping", timeout=5) == "pong"
    assert not first.done()
    assert ref.ask(("expected", "a"), timeout=5) is True
    ref.tell(("answer", "b", 2))
    ref.tell(("fail", "a"))
    assert second.get(timeout=5) == 2
    with pytest.raises(LookupError, match="a"):
        first.get(timeout=5)


def test_a_told_message_gets_a_reply_that_answers_no_one(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    ref = actor_system.spawn(Later, dispatcher=dispatcher)
    ref.tell(("hold", "t"))
    assert ref.ask(("expected", "t"), timeout=5) is False
    ref.tell(("answer", "t", 1))  # answering no one is harmless
    assert ref.ask("ping", timeout=5) == "pong"


def test_replies_still_owed_fail_when_the_actor_stops(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    ref = actor_system.spawn(Later, dispatcher=dispatcher)
    owed = ref.ask(("hold", "x"), block=False)
    assert ref.ask("ping", timeout=5) == "pong"  # "hold" was handled (stop takes the fast lane)
    actor_system.stop(ref)
    with pytest.raises(pykka.ActorDeadError, match="before replying"):
        owed.get(timeout=5)


def test_replies_still_owed_fail_when_the_actor_crashes(
    actor_system: ActorSystem, dispatcher: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("CRITICAL")
    ref = actor_system.spawn(Later, dispatcher=dispatcher)
    owed = ref.ask(("hold", "x"), block=False)
    ref.tell("crash")
    with pytest.raises(pykka.ActorDeadError, match="before replying"):
        owed.get(timeout=5)


def test_a_handler_that_raises_after_deferring_answers_with_its_error(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    ref = actor_system.spawn(Later, dispatcher=dispatcher)
    with pytest.raises(ValueError, match="broke after deferring"):
        ref.ask(("hold_then_raise", "k"), timeout=5)
    ref.tell(("answer", "k", 1))  # already answered with the error: ignored
    assert ref.ask("ping", timeout=5) == "pong"
