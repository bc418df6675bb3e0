"""`TriggerError`: a trigger cannot be built, started or run."""

from __future__ import annotations

__all__ = ["TriggerError"]


class TriggerError(RuntimeError):
    """A trigger type is unknown, its dependencies are missing, or it cannot start."""
