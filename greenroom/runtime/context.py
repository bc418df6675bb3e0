"""The agent context: audited key/value state, long-term memory, environment and file mounts.

`AgentContext` is the pure core the process actor owns. State values must be JSON-compatible so
that every context can be checkpointed to the journal and restored after a crash.
"""

from __future__ import annotations

import copy
import os
import re
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from greenroom.runtime.lifecycle import SystemTime, TimeSource

__all__ = [
    "DEFAULT_ENV_PREFIX",
    "DEFAULT_STATE_HISTORY_LIMIT",
    "AgentContext",
    "InMemoryMemoryProvider",
    "MemoryProvider",
    "MemoryResult",
    "StateEntry",
    "StateView",
]

DEFAULT_ENV_PREFIX = "AGENT_"
DEFAULT_STATE_HISTORY_LIMIT = 100


def _check_json(value: object, path: str) -> None:
    """Raise `TypeError` naming `path` unless `value` is made of JSON types only."""
    if value is None or isinstance(value, str | bool | int | float):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                msg = f"{path}: dict keys must be strings, got {type(key).__name__}"
                raise TypeError(msg)
            _check_json(item, f"{path}[{key!r}]")
        return
    msg = f"{path}: {type(value).__name__} is not JSON-compatible"
    raise TypeError(msg)


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        msg = f"state key must be a non-empty string, got {key!r}"
        raise TypeError(msg)
    return key


@dataclass(frozen=True)
class StateEntry:
    """One audited write: which key, what value, when (unix seconds) and by whom."""

    key: str
    value: Any
    timestamp: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the value is copied)."""
        return {
            "key": self.key,
            "value": copy.deepcopy(self.value),
            "timestamp": self.timestamp,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateEntry:
        """Rebuild an entry from `to_dict()` output; a bad field raises naming it."""
        if not isinstance(data, Mapping):
            msg = f"state entry: expected a mapping, got {type(data).__name__}"
            raise TypeError(msg)
        key = _check_key(data.get("key"))
        timestamp = data.get("timestamp")
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            msg = f"timestamp: expected a number, got {timestamp!r}"
            raise TypeError(msg)
        source = data.get("source")
        if not isinstance(source, str):
            msg = f"source: expected a string, got {source!r}"
            raise TypeError(msg)
        value = data.get("value")
        _check_json(value, f"value of {key!r}")
        return cls(key=key, value=copy.deepcopy(value), timestamp=float(timestamp), source=source)


@dataclass(frozen=True)
class MemoryResult:
    """A memory returned by a search, with its relevance score in [0, 1]."""

    memory_id: str
    content: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class MemoryProvider(Protocol):
    """Long-term memory. Methods are coroutines so real backends can do I/O on the io loop."""

    async def add(self, content: str, metadata: Mapping[str, Any] | None = None) -> str:
        """Store `content` and return its id."""
        ...

    async def search(
        self, query: str, *, limit: int = 5, min_score: float = 0.0
    ) -> list[MemoryResult]:
        """The most relevant memories first, at most `limit`, each scoring >= `min_score`."""
        ...

    async def delete(self, memory_id: str) -> bool:
        """Forget a memory; False when the id is unknown."""
        ...


_WORD = re.compile(r"\w+")


def _terms(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}


@dataclass(frozen=True)
class _Memory:
    memory_id: str
    content: str
    terms: frozenset[str]
    metadata: dict[str, Any]


class InMemoryMemoryProvider:
    """A process-local memory scored by term overlap, for development and tests.

    The score is the fraction of the query's words that appear in the memory (case-insensitive),
    so 1.0 means every query word is present. Memories sharing no word with the query are never
    returned. Ties go to the most recently added memory.
    """

    def __init__(self) -> None:
        self._memories: dict[str, _Memory] = {}

    def __len__(self) -> int:
        return len(self._memories)

    async def add(self, content: str, metadata: Mapping[str, Any] | None = None) -> str:
        """Store `content` and return its id."""
        if not isinstance(content, str) or not content.strip():
            msg = f"content: expected a non-empty string, got {content!r}"
            raise ValueError(msg)
        memory_id = uuid.uuid4().hex
        self._memories[memory_id] = _Memory(
            memory_id, content, frozenset(_terms(content)), copy.deepcopy(dict(metadata or {}))
        )
        return memory_id

    async def search(
        self, query: str, *, limit: int = 5, min_score: float = 0.0
    ) -> list[MemoryResult]:
        """The best matches for `query`, highest score first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            msg = f"limit: expected an int >= 1, got {limit!r}"
            raise ValueError(msg)
        if not 0.0 <= min_score <= 1.0:
            msg = f"min_score: expected a number in [0, 1], got {min_score!r}"
            raise ValueError(msg)
        wanted = _terms(query)
        if not wanted:
            return []
        scored: list[tuple[float, int, _Memory]] = []
        for order, memory in enumerate(self._memories.values()):
            score = len(wanted & memory.terms) / len(wanted)
            if score > 0.0 and score >= min_score:
                scored.append((score, order, memory))
        scored.sort(key=lambda item: (-item[0], -item[1]))
        return [
            MemoryResult(memory.memory_id, memory.content, score, copy.deepcopy(memory.metadata))
            for score, _, memory in scored[:limit]
        ]

    async def delete(self, memory_id: str) -> bool:
        """Forget a memory; False when the id is unknown."""
        return self._memories.pop(memory_id, None) is not None


class AgentContext:
    """State, memory, environment and files for one agent process.

    State writes are audited per key (`state_history`) with the time and the writer (`source`).
    When `writable_keys` is non-empty, writes to any other key raise `KeyError` naming the key;
    an empty list makes every key writable. Values are deep-copied in and out, so outside
    mutation never bypasses the audit. The audit keeps the last `history_limit` writes per key;
    the journal holds the full record.
    """

    def __init__(
        self,
        writable_keys: Iterable[str] | None = None,
        memory_provider: MemoryProvider | None = None,
        file_mounts: Mapping[str, str] | None = None,
        env_prefix: str = DEFAULT_ENV_PREFIX,
        initial_state: Mapping[str, Any] | None = None,
        *,
        clock: TimeSource | None = None,
        environ: Mapping[str, str] | None = None,
        history_limit: int = DEFAULT_STATE_HISTORY_LIMIT,
    ) -> None:
        if not isinstance(env_prefix, str) or not env_prefix:
            msg = f"env_prefix: expected a non-empty string, got {env_prefix!r}"
            raise ValueError(msg)
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            msg = f"history_limit: expected an int, got {type(history_limit).__name__}"
            raise TypeError(msg)
        if history_limit < 1:
            msg = f"history_limit: must be >= 1, got {history_limit}"
            raise ValueError(msg)
        self._writable = tuple(_check_key(key) for key in writable_keys or ())
        self._mounts = _check_mounts(file_mounts or {})
        self._env_prefix = env_prefix
        self._environ = environ
        self._memory = memory_provider
        self._clock: TimeSource = clock if clock is not None else SystemTime()
        self._history_limit = history_limit
        self._state: dict[str, Any] = {}
        self._history: dict[str, deque[StateEntry]] = {}
        self._version = 0
        if initial_state:
            self._write_all(initial_state, "initial", check_writable=False)

    @property
    def writable_keys(self) -> list[str]:
        """Keys the agent may write; empty means all keys."""
        return list(self._writable)

    @property
    def env_prefix(self) -> str:
        """Prefix an environment variable needs to be visible in `env`."""
        return self._env_prefix

    @property
    def env(self) -> dict[str, str]:
        """Environment variables whose names start with `env_prefix` (prefix kept)."""
        source = self._environ if self._environ is not None else os.environ
        return {name: value for name, value in source.items() if name.startswith(self._env_prefix)}

    @property
    def files(self) -> dict[str, str]:
        """Logical mount name to filesystem path (a copy)."""
        return dict(self._mounts)

    @property
    def memory(self) -> MemoryProvider | None:
        """The long-term memory provider, or None."""
        return self._memory

    @property
    def state(self) -> StateView:
        """The state as an object with `get`, `set` and `history` (the overview's spelling)."""
        return StateView(self)

    def is_writable(self, key: str) -> bool:
        """Whether the agent may write `key`."""
        return not self._writable or key in self._writable

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under `key` (a copy), or `default`."""
        if key not in self._state:
            return default
        return copy.deepcopy(self._state[key])

    def put(self, key: str, value: Any, *, source: str = "agent") -> StateEntry:
        """Write one key and return its audit entry; a refused write changes nothing."""
        return self._write_all({key: value}, source, check_writable=True)[0]

    def update(self, values: Mapping[str, Any], *, source: str = "agent") -> list[StateEntry]:
        """Write several keys at once; if any write is refused, none happens."""
        return self._write_all(values, source, check_writable=True)

    def state_history(self, key: str) -> list[StateEntry]:
        """Audited writes of `key`, oldest first (values are copies)."""
        entries = self._history.get(key, ())
        return [replace(entry, value=copy.deepcopy(entry.value)) for entry in entries]

    def state_keys(self) -> list[str]:
        """Keys currently in the state."""
        return list(self._state)

    @property
    def version(self) -> int:
        """Grows with every state write or clear (so a journal knows when to look for changes)."""
        return self._version

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Replace the whole state with `state` (recovery from a journal), written as `journal`."""
        if not isinstance(state, Mapping):
            msg = f"state: expected a mapping, got {type(state).__name__}"
            raise TypeError(msg)
        for key, value in state.items():
            _check_json(value, f"state[{_check_key(key)!r}]")
        self.clear_state()
        if state:
            self._write_all(state, "journal", check_writable=False)

    def state_snapshot(self) -> dict[str, Any]:
        """A deep copy of the whole state."""
        return copy.deepcopy(self._state) if self._state else {}

    def clear_state(self) -> None:
        """Remove all state and its history."""
        self._state.clear()
        self._history.clear()
        self._version += 1

    async def add_memory(
        self, content: str, *, metadata: Mapping[str, Any] | None = None
    ) -> str | None:
        """Store a memory; None when no provider is configured."""
        if self._memory is None:
            return None
        return await self._memory.add(content, metadata)

    async def search_memory(
        self, query: str, *, limit: int = 5, min_score: float = 0.0
    ) -> list[MemoryResult]:
        """Relevant memories, best first; empty when no provider is configured."""
        if self._memory is None:
            return []
        return await self._memory.search(query, limit=limit, min_score=min_score)

    async def delete_memory(self, memory_id: str) -> bool:
        """Forget a memory; False when unknown or no provider is configured."""
        if self._memory is None:
            return False
        return await self._memory.delete(memory_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of state, audit history and settings (never the memory provider)."""
        return {
            "state": self.state_snapshot(),
            "history": {
                key: [entry.to_dict() for entry in entries]
                for key, entries in self._history.items()
            },
            "writable_keys": list(self._writable),
            "file_mounts": dict(self._mounts),
            "env_prefix": self._env_prefix,
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        memory_provider: MemoryProvider | None = None,
        clock: TimeSource | None = None,
        environ: Mapping[str, str] | None = None,
        history_limit: int = DEFAULT_STATE_HISTORY_LIMIT,
    ) -> AgentContext:
        """Rebuild a context from `to_dict()` output; the memory provider is re-attached here."""
        if not isinstance(data, Mapping):
            msg = f"context: expected a mapping, got {type(data).__name__}"
            raise TypeError(msg)
        state = _mapping_field(data, "state")
        history = _mapping_field(data, "history")
        writable = data.get("writable_keys", [])
        if not isinstance(writable, list):
            msg = f"writable_keys: expected a list, got {type(writable).__name__}"
            raise TypeError(msg)
        context = cls(
            writable_keys=writable,
            memory_provider=memory_provider,
            file_mounts=_mapping_field(data, "file_mounts"),
            env_prefix=data.get("env_prefix", DEFAULT_ENV_PREFIX),
            clock=clock,
            environ=environ,
            history_limit=history_limit,
        )
        for key, value in state.items():
            _check_json(value, f"state[{_check_key(key)!r}]")
        restored: dict[str, deque[StateEntry]] = {}
        for key, entries in history.items():
            if not isinstance(entries, list):
                msg = f"history[{key!r}]: expected a list, got {type(entries).__name__}"
                raise TypeError(msg)
            parsed = [StateEntry.from_dict(entry) for entry in entries]
            if any(entry.key != key for entry in parsed):
                msg = f"history[{key!r}]: holds an entry for another key"
                raise ValueError(msg)
            restored[key] = deque(parsed, maxlen=history_limit)
        context._state = copy.deepcopy(dict(state))
        context._history = restored
        return context

    def _write_all(
        self, values: Mapping[str, Any], source: str, *, check_writable: bool
    ) -> list[StateEntry]:
        """Validate every write first, then apply them all with one timestamp."""
        if not isinstance(values, Mapping):
            msg = f"values: expected a mapping, got {type(values).__name__}"
            raise TypeError(msg)
        if not isinstance(source, str) or not source:
            msg = f"source: expected a non-empty string, got {source!r}"
            raise ValueError(msg)
        for key, value in values.items():
            _check_key(key)
            if check_writable and not self.is_writable(key):
                allowed = ", ".join(self._writable)
                msg = f"state key {key!r} is not writable (writable keys: {allowed})"
                raise KeyError(msg)
            _check_json(value, f"value of {key!r}")
        now = self._clock.time()
        entries = []
        for key, value in values.items():
            stored = copy.deepcopy(value)
            entry = StateEntry(key=key, value=copy.deepcopy(value), timestamp=now, source=source)
            self._state[key] = stored
            self._history.setdefault(key, deque(maxlen=self._history_limit)).append(entry)
            entries.append(entry)
        self._version += 1
        return entries


class StateView:
    """`context.state`: get, set and history over an `AgentContext`'s audited state."""

    __slots__ = ("_context",)

    def __init__(self, context: AgentContext) -> None:
        self._context = context

    def get(self, key: str, default: Any = None) -> Any:
        """Same as `AgentContext.get`."""
        return self._context.get(key, default)

    def set(self, key: str, value: Any, *, source: str = "agent") -> StateEntry:
        """Same as `AgentContext.put`."""
        return self._context.put(key, value, source=source)

    def history(self, key: str) -> list[StateEntry]:
        """Same as `AgentContext.state_history`."""
        return self._context.state_history(key)


def _check_mounts(mounts: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(mounts, Mapping):
        msg = f"file_mounts: expected a mapping, got {type(mounts).__name__}"
        raise TypeError(msg)
    for name, path in mounts.items():
        if not isinstance(name, str) or not name:
            msg = f"file_mounts: mount names must be non-empty strings, got {name!r}"
            raise ValueError(msg)
        if not isinstance(path, str) or not path:
            msg = f"file_mounts[{name!r}]: expected a non-empty path string, got {path!r}"
            raise ValueError(msg)
    return dict(mounts)


def _mapping_field(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        msg = f"{name}: expected a mapping, got {type(value).__name__}"
        raise TypeError(msg)
    return value
