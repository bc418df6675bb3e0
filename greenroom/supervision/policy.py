"""Supervision rules as pure functions: who restarts, which siblings go along, and when to quit."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from greenroom.supervision.spec import Restart, RestartStrategy

__all__ = ["RestartIntensity", "affected_children", "should_restart"]


def should_restart(restart: Restart, failed: bool) -> bool:
    """OTP's rule: permanent always, transient after a failure, temporary never."""
    if restart == "permanent":
        return True
    return restart == "transient" and failed


def affected_children(strategy: RestartStrategy, order: Sequence[str], failed_id: str) -> list[str]:
    """The children restarted (in start order) when `failed_id` fails, including itself."""
    if strategy == "one_for_one":
        return [failed_id]
    if strategy == "one_for_all":
        return list(order)
    return list(order[order.index(failed_id):])


class RestartIntensity:
    """Restarts in a sliding window: more than `max_restarts` within `within` s is too many."""

    def __init__(self, max_restarts: int, within: float) -> None:
        if max_restarts < 0:
            msg = f"max_restarts: must be >= 0, got {max_restarts}"
            raise ValueError(msg)
        if within <= 0:
            msg = f"within: must be > 0 seconds, got {within}"
            raise ValueError(msg)
        self.max_restarts = max_restarts
        self.within = within
        self._times: deque[float] | None = None  # made at the first restart: most never have one

    def record(self, now: float) -> bool:
        """Record a restart at `now`; False when it exceeds the intensity (give up)."""
        times = self._times
        if times is None:
            times = self._times = deque()
        times.append(now)
        while times and times[0] <= now - self.within:
            times.popleft()
        return len(times) <= self.max_restarts

    @property
    def recent(self) -> int:
        """Restarts in the current window (as of the last `record`)."""
        return len(self._times or ())
