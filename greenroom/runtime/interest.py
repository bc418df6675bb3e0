"""Which event types the event bus has subscribers for, readable without asking the bus.

Most runtime events (`invocation.completed` on every run) usually have no subscriber. Building
the event and handing it to the bus actor only for it to match nothing costs a few microseconds
per run, so the emitting side first asks `Interest.wants(event_type)`, which reads a snapshot
the bus actor republishes whenever its subscription table changes, and sends only if some
pattern may match (the same idea as Akka's subscription-aware event stream).

Nothing is missed: the facade records a subscription's pattern here the moment it sends the
`Subscribe` (`requested`), before the bus has handled it, and the bus drops it from that list
only once the pattern is in its table (`table_changed`). A `Subscribe` told straight to the bus
actor's ref, not through the facade, takes effect when the bus has handled it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from greenroom.triggers.topics import TopicPattern

__all__ = ["Interest"]

_CACHE_MAX = 1024
"""Event types remembered per snapshot (answers are recomputed once it is full)."""


class _Snapshot:
    """The patterns in effect and the answers computed from them; replaced, never changed,
    except that answers are added to its own cache."""

    __slots__ = ("answers", "patterns")

    def __init__(self, patterns: list[TopicPattern]) -> None:
        self.patterns = patterns
        self.answers: dict[str, bool] = {}


class Interest:
    """Thread-safe: `wants` from any thread without a lock; changes under one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: frozenset[str] = frozenset()
        self._requested: dict[str, str] = {}  # subscription id -> pattern, not yet in the table
        self._snapshot = _Snapshot([])

    def wants(self, event_type: str) -> bool:
        """Whether an event of this type may reach a subscriber (False: sending it is useless)."""
        snapshot = self._snapshot  # read once: patterns and answers always belong together
        answer = snapshot.answers.get(event_type)
        if answer is None:
            answer = any(pattern.matches(event_type) for pattern in snapshot.patterns)
            if len(snapshot.answers) < _CACHE_MAX:
                snapshot.answers[event_type] = answer
        return answer

    def requested(self, subscription_id: str, pattern: str) -> None:
        """A `Subscribe` for `pattern` is on its way to the bus: count it in from now on."""
        with self._lock:
            self._requested[subscription_id] = pattern
            self._publish()

    def table_changed(self, patterns: Iterable[str], applied: str | None = None) -> None:
        """The bus's table now holds `patterns`; the request `applied` (an id) is in it."""
        with self._lock:
            self._table = frozenset(patterns)
            if applied is not None:
                self._requested.pop(applied, None)
            self._publish()

    def _publish(self) -> None:
        texts = self._table.union(self._requested.values())
        self._snapshot = _Snapshot([TopicPattern(text) for text in sorted(texts)])
