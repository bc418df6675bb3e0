"""`KeyWindow`: the idempotency keys of the last N settled events, for recognising redeliveries.

Replay rebuilds one from the journal and a process keeps it up to date, so both use this class.
"""

from __future__ import annotations

__all__ = ["KeyWindow"]


class KeyWindow:
    """The idempotency keys of the last `limit` settled events, oldest first (bounded)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._keys: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, key: str) -> None:
        """Remember `key` as the newest, forgetting the oldest beyond the limit."""
        keys = self._keys
        keys.pop(key, None)
        keys[key] = None
        if len(keys) > self.limit:
            del keys[next(iter(keys))]

    def to_list(self) -> list[str]:
        """The keys, oldest first."""
        return list(self._keys)
