"""Dead letters and bounded mailboxes with their three overflow policies, on both dispatchers."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from greenroom.actors import Actor, ActorSystem, DeadLetter, MailboxFull
from greenroom.testing import TestProbe


class Gate(Actor):
    """Blocks on its first message until the test opens the gate; reports what it handles."""

    def __init__(self, probe: pykka.ActorRef[Any], gate: threading.Event) -> None:
        super().__init__()
        self.probe = probe
        self.gate = gate

    def on_receive(self, message: Any) -> Any:
        if message == "hold":
            self.probe.tell("holding")
            self.gate.wait(10)
        self.probe.tell(message)
        return message


def _held(actor_system: ActorSystem, dispatcher: str, **kwargs: Any) -> tuple[
    TestProbe, pykka.ActorRef[Any], threading.Event
]:
    probe = TestProbe(actor_system)
    gate = threading.Event()
    ref = actor_system.spawn(Gate, probe.ref, gate, dispatcher=dispatcher, **kwargs)
    ref.tell("hold")
    probe.expect_message("holding")
    return probe, ref, gate


def test_tell_to_a_stopped_actor_is_a_dead_letter(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    letters = TestProbe(actor_system)
    actor_system.dead_letters.subscribe(letters.ref)
    probe = TestProbe(actor_system)
    ref = actor_system.spawn(Gate, probe.ref, threading.Event(), dispatcher=dispatcher)
    actor_system.stop(ref)
    ref.tell("too late")
    letter = letters.expect_message_type(DeadLetter)
    assert letter.message == "too late"
    assert letter.recipient is ref
    assert "stopped" in letter.reason


def test_messages_queued_at_stop_become_dead_letters(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    letters = TestProbe(actor_system)
    actor_system.dead_letters.subscribe(letters.ref)
    _probe, ref, gate = _held(actor_system, dispatcher)
    ref.tell("queued")
    stopping = ref.stop(block=False)
    gate.set()
    assert stopping.get(timeout=3)
    assert letters.expect_message_type(DeadLetter).message == "queued"


def test_drop_new_dead_letters_the_newcomer(actor_system: ActorSystem, dispatcher: str) -> None:
    letters = TestProbe(actor_system)
    actor_system.dead_letters.subscribe(letters.ref)
    probe, ref, gate = _held(actor_system, dispatcher, mailbox_size=2, overflow="drop_new")
    for i in range(4):
        ref.tell(i)
    dropped = letters.receive_messages(2)
    assert [d.message for d in dropped] == [2, 3]
    assert all("mailbox full" in d.reason for d in dropped)
    gate.set()
    assert probe.receive_messages(3) == ["hold", 0, 1]


def test_drop_oldest_dead_letters_the_oldest(actor_system: ActorSystem, dispatcher: str) -> None:
    letters = TestProbe(actor_system)
    actor_system.dead_letters.subscribe(letters.ref)
    probe, ref, gate = _held(actor_system, dispatcher, mailbox_size=2, overflow="drop_oldest")
    for i in range(4):
        ref.tell(i)
    assert [d.message for d in letters.receive_messages(2)] == [0, 1]
    gate.set()
    assert probe.receive_messages(3) == ["hold", 2, 3]


def test_fail_raises_mailbox_full_in_the_sender(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    probe, ref, gate = _held(actor_system, dispatcher, mailbox_size=1, overflow="fail")
    ref.tell("fits")
    with pytest.raises(MailboxFull, match="full"):
        ref.tell("does not fit")
    future = ref.ask("ask does not fit", block=False)
    with pytest.raises(MailboxFull):
        future.get(timeout=0)
    gate.set()
    assert probe.receive_messages(2) == ["hold", "fits"]


def test_an_ask_dropped_by_overflow_fails_instead_of_hanging(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    _probe, ref, gate = _held(actor_system, dispatcher, mailbox_size=1, overflow="drop_oldest")
    first = ref.ask("first", block=False)
    second = ref.ask("second", block=False)
    with pytest.raises(MailboxFull):
        first.get(timeout=3)
    gate.set()
    assert second.get(timeout=3) == "second"


def test_stop_gets_through_a_full_mailbox(actor_system: ActorSystem, dispatcher: str) -> None:
    _probe, ref, gate = _held(actor_system, dispatcher, mailbox_size=1, overflow="fail")
    ref.tell("fills it")
    stopping = ref.stop(block=False)
    gate.set()
    assert stopping.get(timeout=3) is True


def test_senders_are_never_blocked_by_a_full_mailbox(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    _probe, ref, gate = _held(actor_system, dispatcher, mailbox_size=1, overflow="drop_new")
    done = threading.Event()

    def flood() -> None:
        for i in range(1000):
            ref.tell(i)
        done.set()

    threading.Thread(target=flood).start()
    assert done.wait(5)
    gate.set()
