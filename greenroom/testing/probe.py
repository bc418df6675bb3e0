"""`TestProbe`: an actor a test can hand out as a ref, then make assertions about what it got.

Every wait has a timeout scaled by `GREENROOM_TEST_TIME_FACTOR` (set it above 1 on slow CI
machines), and every failed expectation raises `AssertionError` showing what arrived instead.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pykka

from greenroom.actors.actor import Actor
from greenroom.actors.messages import Terminated
from greenroom.actors.signals import SYSTEM_TYPES

if TYPE_CHECKING:
    from pykka._envelope import Envelope

    from greenroom.actors.ref import ActorRef
    from greenroom.actors.system import ActorSystem

__all__ = ["DEFAULT_TIMEOUT", "TestProbe", "time_factor"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 3.0


def time_factor() -> float:
    """`GREENROOM_TEST_TIME_FACTOR` as a float (default 1)."""
    raw = os.environ.get("GREENROOM_TEST_TIME_FACTOR", "1")
    try:
        factor = float(raw)
    except ValueError:
        msg = f"GREENROOM_TEST_TIME_FACTOR must be a number, got {raw!r}"
        raise ValueError(msg) from None
    if factor <= 0:
        msg = f"GREENROOM_TEST_TIME_FACTOR must be > 0, got {raw!r}"
        raise ValueError(msg)
    return factor


@dataclass(frozen=True, slots=True)
class _Received:
    message: Any
    sender: pykka.ActorRef[Any] | None
    reply_to: pykka.Future[Any] | None


class _ProbeActor(Actor):
    """Queues every user message (and its sender and reply slot) for the test thread."""

    def __init__(self, inbox: queue.SimpleQueue[_Received]) -> None:
        super().__init__()
        self._inbox = inbox

    def _gr_handle(self, envelope: Envelope[Any]) -> None:
        if isinstance(envelope.message, SYSTEM_TYPES):
            super()._gr_handle(envelope)
            return
        self._inbox.put(
            _Received(envelope.message, getattr(envelope, "sender", None), envelope.reply_to)
        )


class TestProbe:
    """A ref for others to message, and expectations over what it receives, in order."""

    __test__ = False  # not a pytest test class

    def __init__(self, system: ActorSystem, name: str | None = None) -> None:
        self._system = system
        self._inbox: queue.SimpleQueue[_Received] = queue.SimpleQueue()
        self.ref: ActorRef[Any] = system.spawn(_ProbeActor, self._inbox, name=name)
        self._last: _Received | None = None
        self._pending_reply: pykka.Future[Any] | None = None

    def __repr__(self) -> str:
        return f"<TestProbe {self.ref.path}>"

    @staticmethod
    def scaled(timeout: float | None) -> float:
        """`timeout` (default 3 s) times the test time factor."""
        return (DEFAULT_TIMEOUT if timeout is None else timeout) * time_factor()

    @property
    def last_sender(self) -> pykka.ActorRef[Any] | None:
        """The actor that sent the last message taken (None if it came from outside actors)."""
        return None if self._last is None else self._last.sender

    def _next(self, deadline: float, waiting_for: str, seen: list[Any]) -> Any:
        try:
            received = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            detail = f"; received instead: {seen!r}" if seen else "; nothing was received"
            raise AssertionError(f"timeout waiting for {waiting_for}{detail}") from None
        self._last = received
        if received.reply_to is not None:
            self._pending_reply = received.reply_to
        return received.message

    def receive_message(self, timeout: float | None = None) -> Any:
        """The next message, whatever it is."""
        return self._next(time.monotonic() + self.scaled(timeout), "a message", [])

    def expect_message(self, expected: T, timeout: float | None = None) -> T:
        """The next message, which must equal `expected`."""
        message = self.receive_message(timeout)
        if message != expected:
            msg = f"expected message {expected!r}, received {message!r}"
            raise AssertionError(msg)
        result: T = message
        return result

    def expect_message_type(self, cls: type[T], timeout: float | None = None) -> T:
        """The next message, which must be an instance of `cls`."""
        message = self.receive_message(timeout)
        if not isinstance(message, cls):
            msg = f"expected a {cls.__name__}, received {message!r}"
            raise AssertionError(msg)
        return message

    def expect_message_matching(
        self, predicate: Callable[[Any], bool], timeout: float | None = None
    ) -> Any:
        """The next message, for which `predicate` must be true."""
        message = self.receive_message(timeout)
        if not predicate(message):
            msg = f"received {message!r}, which does not match {predicate!r}"
            raise AssertionError(msg)
        return message

    def fish_for_message(
        self, predicate: Callable[[Any], bool], timeout: float | None = None
    ) -> Any:
        """Skip messages until one satisfies `predicate`; that one is returned."""
        deadline = time.monotonic() + self.scaled(timeout)
        seen: list[Any] = []
        while True:
            message = self._next(deadline, f"a message matching {predicate!r}", seen)
            if predicate(message):
                return message
            seen.append(message)

    def receive_messages(self, n: int, timeout: float | None = None) -> list[Any]:
        """The next `n` messages, within `timeout` in all."""
        deadline = time.monotonic() + self.scaled(timeout)
        seen: list[Any] = []
        while len(seen) < n:
            seen.append(self._next(deadline, f"{n} messages", seen))
        return seen

    def expect_no_message(self, duration: float = 0.1) -> None:
        """Assert that nothing arrives for `duration` seconds (scaled)."""
        try:
            received = self._inbox.get(timeout=duration * time_factor())
        except queue.Empty:
            return
        self._last = received
        msg = f"expected no message, received {received.message!r}"
        raise AssertionError(msg)

    def watch(self, ref: pykka.ActorRef[Any]) -> None:
        """Have the probe receive `Terminated` when `ref` stops."""
        self._system._watch(self.ref, ref)

    def unwatch(self, ref: pykka.ActorRef[Any]) -> None:
        """Stop watching `ref`."""
        self._system._unwatch(self.ref, ref)

    def expect_terminated(
        self, ref: pykka.ActorRef[Any], timeout: float | None = None
    ) -> Terminated:
        """The next message must be `Terminated` for `ref` (watch it first)."""
        message = self.receive_message(timeout)
        if not isinstance(message, Terminated) or message.ref is not ref:
            msg = f"expected Terminated for {ref!r}, received {message!r}"
            raise AssertionError(msg)
        return message

    def reply(self, value: Any) -> None:
        """Answer the latest `ask` made to the probe."""
        if self._pending_reply is None:
            msg = "reply(): no ask has been received by this probe"
            raise AssertionError(msg)
        future, self._pending_reply = self._pending_reply, None
        future.set(value)

    def stop(self) -> None:
        """Stop the probe's actor."""
        self._system.stop(self.ref)
