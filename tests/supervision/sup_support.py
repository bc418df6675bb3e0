"""Actors and helpers shared by the supervision tests (imported as `sup_support`).

Every worker reports its lifecycle to a `TestProbe` ("log"): `("start", id)` from `on_start` and
`("stop", id)` from `on_stop`, so a test can see exactly which incarnations started and stopped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pykka

from greenroom.actors.actor import Actor
from greenroom.actors.ref import ActorRef
from greenroom.actors.system import ActorSystem
from greenroom.supervision import ChildHandle, ChildSpec, Supervisor
from greenroom.testing.probe import TestProbe

CRASH = "crash"
STOP = "stop"
SENTINEL = "--sentinel--"


@dataclass(frozen=True)
class Echo:
    """A worker's answer to `("echo", value)`: who answered, which incarnation, what."""

    child_id: str
    ref: pykka.ActorRef[Any]
    value: Any


@dataclass(frozen=True)
class Note:
    """What a worker tells its log on `("note", value)`."""

    child_id: str
    ref: pykka.ActorRef[Any]
    value: Any


class Worker(Actor):
    """A supervised worker that logs its lifecycle and obeys simple commands.

    `"crash"` raises, `"stop"` stops normally, `("block", event)` logs `("blocked", id)` and
    blocks until `event` is set (ignoring stop meanwhile), `("block_then_crash", event)` blocks
    then raises, `("echo", x)` replies `Echo`, `("note", x)` logs `Note`. With `broken` set, the
    worker's `on_start` raises (a restart that fails).
    """

    def __init__(
        self, log: pykka.ActorRef[Any], child_id: str, broken: threading.Event | None = None
    ) -> None:
        super().__init__()
        self.log = log
        self.child_id = child_id
        self.broken = broken

    def on_start(self) -> None:
        if self.broken is not None and self.broken.is_set():
            msg = f"{self.child_id} cannot start"
            raise RuntimeError(msg)
        self.log.tell(("start", self.child_id))

    def on_stop(self) -> None:
        self.log.tell(("stop", self.child_id))

    def on_receive(self, message: Any) -> Any:
        return handle_command(self, self.log, self.child_id, message)


class PlainWorker(pykka.ThreadingActor):
    """The same worker as a plain pykka actor (no greenroom base class)."""

    def __init__(self, log: pykka.ActorRef[Any], child_id: str) -> None:
        super().__init__()
        self.log = log
        self.child_id = child_id

    def on_start(self) -> None:
        self.log.tell(("start", self.child_id))

    def on_stop(self) -> None:
        self.log.tell(("stop", self.child_id))

    def on_receive(self, message: Any) -> Any:
        return handle_command(self, self.log, self.child_id, message)


def handle_command(
    actor: pykka.Actor, log: pykka.ActorRef[Any], child_id: str, message: Any
) -> Any:
    """The command set shared by `Worker` and `PlainWorker`."""
    if message == CRASH:
        msg = f"{child_id} crashed on purpose"
        raise RuntimeError(msg)
    if message == STOP:
        actor.stop()
        return None
    if isinstance(message, tuple) and len(message) == 2:
        command, arg = message
        if command == "block":
            log.tell(("blocked", child_id))
            arg.wait()
            return None
        if command == "block_then_crash":
            log.tell(("blocked", child_id))
            arg.wait()
            msg = f"{child_id} crashed after blocking"
            raise RuntimeError(msg)
        if command == "echo":
            return Echo(child_id, actor.actor_ref, arg)
        if command == "note":
            log.tell(Note(child_id, actor.actor_ref, arg))
            return None
    msg = f"{child_id}: unknown command {message!r}"
    raise ValueError(msg)


class RecordingSupervisor(Supervisor):
    """A supervisor that logs `("stop", name)` from `on_stop`, to check shutdown order."""

    def __init__(self, log: pykka.ActorRef[Any], label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log
        self.label = label

    def on_stop(self) -> None:
        self.log.tell(("stop", self.label))


def worker(
    log: TestProbe, child_id: str, *, dispatcher: str | None = None, **spec: Any
) -> ChildSpec:
    """A `ChildSpec` for a `Worker` logging to `log`."""
    return ChildSpec(child_id, Worker, (log.ref, child_id), dispatcher=dispatcher, **spec)


def drain(probe: TestProbe, timeout: float | None = None) -> list[Any]:
    """Everything `probe` got before a sentinel told now by the test thread.

    Call it once the senders are known to be done (e.g. after an ask to the supervisor has
    returned): their messages are then already in the probe's mailbox, ahead of the sentinel.
    """
    probe.ref.tell(SENTINEL)
    seen: list[Any] = []
    while True:
        message = probe.receive_message(timeout)
        if message == SENTINEL:
            return seen
        seen.append(message)


def which(sup: pykka.ActorRef[Any]) -> list[tuple[str, str]]:
    """`(id, status)` of each child, in order (an ask: the supervisor is idle when it returns)."""
    return [(cid, status) for cid, _ref, status in sup.proxy().which_children().get(timeout=10)]


def refs(sup: pykka.ActorRef[Any]) -> dict[str, ActorRef[Any] | None]:
    """The running incarnation of each child (None while not running)."""
    return {cid: ref for cid, ref, _status in sup.proxy().which_children().get(timeout=10)}


def child(sup: pykka.ActorRef[Any], child_id: str) -> ChildHandle:
    """The stable handle of a child (`Supervisor.child_ref` through the proxy)."""
    handle: ChildHandle = sup.proxy().child_ref(child_id).get(timeout=10)
    return handle


def echo(ref: pykka.ActorRef[Any], value: Any) -> Echo:
    """Ask a worker (or a handle) to echo `value`; the reply names the incarnation."""
    reply: Echo = ref.ask(("echo", value), block=True, timeout=10)
    return reply


def new_probe(system: ActorSystem, *classes: type) -> TestProbe:
    """A probe subscribed to `system.event_stream` for `classes` (everything if none)."""
    probe = TestProbe(system)
    system.event_stream.subscribe(probe.ref, classes or object)
    return probe
