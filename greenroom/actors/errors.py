"""Exceptions raised by the actor kernel (pykka's own ActorDeadError and Timeout are reused)."""

from __future__ import annotations

__all__ = ["ActorKilled", "ActorStartError", "MailboxFull"]


class MailboxFull(Exception):
    """A bounded mailbox with `overflow="fail"` refused a message; the sender is told at once."""


class ActorStartError(RuntimeError):
    """An actor's `on_start` raised, so `spawn` failed and the actor never ran."""


class ActorKilled(RuntimeError):
    """Termination reason of an actor forced down because it did not stop in time."""
