"""`SiblingRef`: children of one supervisor address each other by id, whatever the start order."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from greenroom.actors.actor import Actor
from greenroom.actors.errors import ActorStartError
from greenroom.actors.system import ActorSystem
from greenroom.supervision import ChildHandle, ChildSpec, SiblingRef, Supervisor
from greenroom.testing.probe import TestProbe


class Relay(Actor):
    """Forwards `("to_peer", x)` to its peer and reports what it receives to `log`."""

    def __init__(self, name: str, log: pykka.ActorRef[Any], *, peer: Any = None) -> None:
        super().__init__()
        self.name = name
        self.log = log
        self.peer = peer

    def on_start(self) -> None:
        self.log.tell(("peer", self.name, self.peer))
        if self.peer is not None:
            self.peer.tell(("hello", self.name))

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("on purpose")
        self.log.tell((self.name, message))
        return None


def test_a_sibling_started_later_gets_messages_sent_before_it_ran(
    actor_system: ActorSystem,
) -> None:
    log = TestProbe(actor_system)
    sup = actor_system.spawn(Supervisor, children=[
        ChildSpec("first", Relay, args=("first", log.ref), kwargs={"peer": SiblingRef("second")}),
        ChildSpec("second", Relay, args=("second", log.ref), kwargs={"peer": SiblingRef("first")}),
    ])
    _, name, peer = log.expect_message_type(tuple)
    assert name == "first"
    assert isinstance(peer, ChildHandle)
    assert peer.path.endswith("/second")
    seen = {log.receive_message() for _ in range(3)}
    second_handle = sup.call("child_ref", "second").get()
    first_handle = sup.call("child_ref", "first").get()
    assert seen == {
        ("peer", "second", first_handle),
        ("second", ("hello", "first")),  # held until "second" ran
        ("first", ("hello", "second")),
    }
    assert peer is second_handle


def test_the_handle_follows_the_sibling_across_a_restart(actor_system: ActorSystem) -> None:
    log = TestProbe(actor_system)
    sup = actor_system.spawn(Supervisor, children=[
        ChildSpec("a", Relay, args=("a", log.ref), kwargs={"peer": SiblingRef("b")}),
        ChildSpec("b", Relay, args=("b", log.ref)),
    ])
    log.receive_messages(3)
    b = sup.call("child_ref", "b").get()
    b.tell("crash")
    assert log.expect_message_type(tuple) == ("peer", "b", None)
    a = sup.call("child_ref", "a").get()
    a.current.proxy().peer.get().tell("after restart")
    assert log.expect_message_type(tuple) == ("b", "after restart")


def test_an_unknown_sibling_id_fails_the_start_naming_it(actor_system: ActorSystem) -> None:
    log = TestProbe(actor_system)
    with pytest.raises(ActorStartError, match=r"SiblingRef.*nobody.*names no child here"):
        actor_system.spawn(Supervisor, children=[
            ChildSpec("a", Relay, args=("a", log.ref), kwargs={"peer": SiblingRef("nobody")}),
        ])
