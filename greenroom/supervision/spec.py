"""What a supervisor is told about its children: `ChildSpec` and the restart `Backoff`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pykka

from greenroom.actors.system import DISPATCHERS

__all__ = ["Backoff", "ChildSpec", "Restart", "RestartStrategy", "SiblingRef"]

Restart = Literal["permanent", "transient", "temporary"]
RestartStrategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
RESTARTS: tuple[Restart, ...] = ("permanent", "transient", "temporary")
STRATEGIES: tuple[RestartStrategy, ...] = ("one_for_one", "one_for_all", "rest_for_one")


@dataclass(frozen=True, slots=True)
class SiblingRef:
    """A placeholder, in a child spec's `args` or `kwargs` values, for the `ChildHandle` of
    another child of the same supervisor (by its id).

    The supervisor puts the handle in when it starts the child, so two siblings can address each
    other whatever their start order: a message to a sibling not started yet is held until it
    runs, and the handle follows the sibling across its restarts.
    """

    child_id: str


@dataclass(frozen=True)
class ChildSpec:
    """How to start one child and when to restart it (OTP's child specification).

    `restart`: "permanent" always, "transient" only after a failure, "temporary" never.
    `shutdown`: seconds the child gets to stop before it is killed. `significant` children
    (transient or temporary only) can end their supervisor, see `Supervisor(auto_shutdown=...)`.
    `dispatcher`: "pooled", "thread" or "loop" (None: "pooled" for greenroom actors; plain pykka
    actors always run on a thread). `args` and `kwargs` values may be `SiblingRef`s.
    """

    id: str
    actor_cls: type[pykka.Actor]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = field(default=None)
    restart: Restart = "permanent"
    shutdown: float = 5.0
    significant: bool = False
    dispatcher: str | None = None

    def __post_init__(self) -> None:
        if not self.id or "/" in self.id:
            msg = f"ChildSpec.id: must be non-empty and contain no '/', got {self.id!r}"
            raise ValueError(msg)
        if not (isinstance(self.actor_cls, type) and issubclass(self.actor_cls, pykka.Actor)):
            msg = f"ChildSpec.actor_cls: expected an actor class, got {self.actor_cls!r}"
            raise TypeError(msg)
        if self.restart not in RESTARTS:
            msg = f"ChildSpec.restart: must be one of {RESTARTS}, got {self.restart!r}"
            raise ValueError(msg)
        if self.shutdown < 0:
            msg = f"ChildSpec.shutdown: must be >= 0 seconds, got {self.shutdown}"
            raise ValueError(msg)
        if self.dispatcher not in (None, *DISPATCHERS):
            msg = f"ChildSpec.dispatcher: must be None or one of {DISPATCHERS}, " \
                f"got {self.dispatcher!r}"
            raise ValueError(msg)
        if self.significant and self.restart == "permanent":
            msg = f"ChildSpec.significant: child {self.id!r} is permanent; only transient or "\
                "temporary children can be significant"
            raise ValueError(msg)


@dataclass(frozen=True)
class Backoff:
    """Exponential delay before each restart: `min * 2**attempt`, capped at `max`, +/- jitter.

    The attempt count goes back to zero once a child has run for `reset_after` seconds.
    """

    min: float = 0.1
    max: float = 30.0
    jitter: float = 0.2
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.min <= self.max:
            msg = f"Backoff: need 0 <= min <= max, got min={self.min}, max={self.max}"
            raise ValueError(msg)
        if not 0 <= self.jitter <= 1:
            msg = f"Backoff.jitter: must be within [0, 1], got {self.jitter}"
            raise ValueError(msg)
        if self.reset_after < 0:
            msg = f"Backoff.reset_after: must be >= 0, got {self.reset_after}"
            raise ValueError(msg)

    def delay(self, attempt: int, unit: float = 0.5) -> float:
        """Delay before restart number `attempt` (0-based); `unit` in [0, 1) picks the jitter."""
        base = min(self.max, self.min * 2.0 ** min(attempt, 64))
        return max(0.0, base * (1.0 + self.jitter * (2.0 * unit - 1.0)))
