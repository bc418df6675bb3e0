"""Exceptions raised by the runtime's building blocks.

Every runtime error derives from `RuntimeBaseError`. Errors caused by bad input also derive from
`ValueError`, so callers that validate input generically still catch them.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ContextWriteDenied",
    "FeatureDisabledError",
    "InboxError",
    "InboxFullError",
    "InboxRateLimitError",
    "NotFoundError",
    "ProcessStateError",
    "RuntimeBaseError",
]


class RuntimeBaseError(RuntimeError):
    """Base class of every error raised by `greenroom.runtime`."""


class ProcessStateError(RuntimeBaseError, ValueError):
    """A lifecycle transition that the transition table does not allow.

    The message names the process (when known), the current state, the rejected target and the
    targets that are allowed from the current state.
    """

    def __init__(
        self,
        current_state: str,
        attempted_state: str,
        allowed: Iterable[str],
        process_id: str | None = None,
    ) -> None:
        self.process_id = process_id
        self.current_state = current_state
        self.attempted_state = attempted_state
        self.allowed = tuple(sorted(allowed))
        who = f"process {process_id!r}" if process_id else "process"
        targets = ", ".join(self.allowed) or "none"
        super().__init__(
            f"{who} cannot move from {current_state!r} to {attempted_state!r}; "
            f"allowed from {current_state!r}: {targets}"
        )

    def __reduce__(
        self,
    ) -> tuple[type[ProcessStateError], tuple[str, str, tuple[str, ...], str | None]]:
        """Pickle by constructor arguments, so the error can cross process boundaries."""
        return (
            type(self),
            (self.current_state, self.attempted_state, self.allowed, self.process_id),
        )


class ProcessNotAcceptingError(ProcessStateError):
    """An operation (such as `inject`) that the process's current state does not allow.

    `attempted_state` names the operation; `allowed` the states in which it is accepted.
    """

    def __init__(
        self,
        current_state: str,
        attempted_state: str,
        allowed: Iterable[str],
        process_id: str | None = None,
    ) -> None:
        super().__init__(current_state, attempted_state, allowed, process_id)
        who = f"process {process_id!r}" if process_id else "process"
        states = ", ".join(self.allowed)
        self.args = (f"{who} is {current_state!r}: {attempted_state} is accepted only while "
                     f"{states}",)


class InboxError(RuntimeBaseError, ValueError):
    """A message the inbox refuses; the inbox is left unchanged."""


class InboxFullError(InboxError):
    """The inbox is full and holds nothing the new message may replace."""


class InboxRateLimitError(InboxError):
    """A sender exceeded its hourly message allowance."""


class FeatureDisabledError(RuntimeBaseError):
    """An operation on a part of a process that its config leaves off (`feature` names it:
    budget, health, mission, secrets, inbox or journal)."""

    def __init__(self, process: str, feature: str) -> None:
        self.process = process
        self.feature = feature
        super().__init__(f"process {process!r}: {feature} is not enabled in its config")


class NotFoundError(RuntimeBaseError, KeyError):
    """A named thing a process does not have (`kind`: trigger, event, ...)."""

    def __init__(self, process: str, kind: str, name: str) -> None:
        self.process = process
        self.kind = kind
        self.name = name
        super().__init__(f"process {process!r} has no {kind} {name!r}")

    def __str__(self) -> str:
        return str(self.args[0])


class ContextWriteDenied(RuntimeBaseError, PermissionError):
    """A context update touching keys the process does not let operators write; nothing was
    written."""

    def __init__(self, process: str, keys: Iterable[str]) -> None:
        self.process = process
        self.keys = tuple(sorted(keys))
        super().__init__(
            f"process {process!r}: context keys not writable: {', '.join(self.keys)}"
        )
