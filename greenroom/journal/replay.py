"""`ReplayEngine`: rebuild a process's state from its last checkpoint plus the entries after it.

Recovery reads `last_checkpoint(process_id)` and then the retained entries, and applies the
entries that follow the marker of that checkpoint (all entries when there is no checkpoint).
What each entry type does:

- `trigger_event`: the event becomes pending (in arrival order, with its original id) unless its
  idempotency key was already processed or an event with the same key is already pending. If
  the event's metadata has `"checkpoint"`, that value becomes the trigger's checkpoint (a cron's
  last handled slot, say).
- `invocation_start`: remembered; a pending event that was started is reported as interrupted.
- `invocation_result`: the event is no longer pending, its key is processed, the run counts and
  its messages are added to the conversation (a trigger message stored as its token is rebuilt
  from the event, `greenroom.journal.messages`, when it is read). `error`: the same, counted as
  a failed run.
  `dead_letter`: no longer pending, key processed, nothing counted.
- `state_transition` sets the lifecycle state; `context_update` sets one context key (or removes
  it, with `"deleted": true`).
- `tool_call` without a later `tool_result` (same `call_id`) is reported as in doubt: the tool
  may or may not have acted, so it is never retried automatically.
- Every other type (markers, governance and audit entries, types this version does not know)
  changes nothing but is still counted in `entries_replayed`.

Replaying is idempotent for finished runs: a result, error or dead letter whose key is already
processed changes nothing but the pending set. That makes the fallback safe when the
checkpoint's marker is missing (a crash between storing a checkpoint and appending its marker):
the entries after the previous marker are replayed again and the runs the checkpoint already
holds are recognised by their keys.

Anything that cannot be rebuilt (malformed data in an entry or in the checkpoint, or no readable
checkpoint although compaction already dropped the entries before it) raises `JournalError`: a
process must not start with half a state. For speed, a journaled event is checked for its ids
when replayed and rebuilt as a `TriggerEvent` only if it is still pending at the end (a bad
timestamp in an event that was settled later does not matter).

Limitation: an `invocation_start` or `tool_call` written before the checkpoint is not seen, so
only those after it are reported as interrupted or in doubt. The runtime should therefore list
the events in flight at checkpoint time in the checkpoint's `pending_events`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from greenroom.journal.entry import EntryType, JournalEntry
from greenroom.journal.gcpause import gc_paused
from greenroom.journal.keys import KeyWindow
from greenroom.journal.messages import EVENT, TOKEN, fields_event, render
from greenroom.journal.provider import JournalError, JournalProvider
from greenroom.triggers.event import TriggerEvent

__all__ = ["InDoubtToolCall", "RecoveryResult", "ReplayEngine"]

logger = logging.getLogger("greenroom.journal")

T = TypeVar("T")


@dataclass(frozen=True)
class InDoubtToolCall:
    """A tool call whose intent was journaled but whose result never was: outcome unknown."""

    call_id: str
    tool: str
    arguments: Any
    event_id: str | None
    entry_id: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class _Framed:
    """A trigger message stored as its event and token: rebuilt when it is read."""

    __slots__ = ("event", "origin", "token")

    def __init__(self, event: Mapping[str, Any], token: str, origin: JournalEntry | str) -> None:
        self.event = event
        self.token = token
        self.origin = origin  # the entry, or "checkpoint n"

    def message(self, process_id: str) -> dict[str, Any]:
        try:
            return render(self.event, self.token)
        except (ValueError, TypeError) as exc:
            origin = self.origin
            where = origin if isinstance(origin, str) else _origin(origin)
            problem = f"its trigger message cannot be rebuilt: {exc}"
            raise _malformed(process_id, where, problem) from exc


@dataclass
class RecoveryResult:
    """What `ReplayEngine.recover` rebuilt; `result["key"]` works too, for the seed's dict form.

    `checkpoint` is the raw state the replay started from, with its `checkpoint_seq` (`{}`
    without one); `last_entry_type`
    is the type of the newest entry retained for the process (None for an empty journal);
    `processed_keys` is bounded and newest last; `interrupted` lists the ids of pending events
    whose run had started. `conversation` is every message replayed; `conversation_tail(n)`
    builds only the last `n` (a process keeps no more).
    """

    context_state: dict[str, Any] = field(default_factory=dict)
    lifecycle_state: str | None = None
    last_entry_type: str | None = None
    entries_replayed: int = 0
    checkpoint: dict[str, Any] = field(default_factory=dict)
    _messages: list[dict[str, Any] | _Framed] = field(default_factory=list, repr=False)
    """The conversation as replayed: trigger messages stored as a token are not rebuilt yet."""
    _process_id: str = field(default="", repr=False, compare=False)
    invocation_count: int = 0
    failed_invocations: int = 0
    pending_events: list[TriggerEvent] = field(default_factory=list)
    processed_keys: list[str] = field(default_factory=list)
    trigger_checkpoints: dict[str, Any] = field(default_factory=dict)
    in_doubt_tool_calls: list[InDoubtToolCall] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    budget: dict[str, Any] | None = None
    budget_runs: list[dict[str, Any]] = field(default_factory=list)
    mission: dict[str, Any] | None = None

    @property
    def conversation(self) -> list[dict[str, Any]]:
        """The conversation rebuilt by the replay, oldest first."""
        return self.conversation_tail(0)

    @conversation.setter
    def conversation(self, messages: list[dict[str, Any]]) -> None:
        self._messages = list(messages)

    def conversation_tail(self, count: int) -> list[dict[str, Any]]:
        """The last `count` messages of the conversation (0: all), rebuilding only those."""
        messages = self._messages
        start = max(0, len(messages) - count) if count > 0 else 0
        for index in range(start, len(messages)):
            item = messages[index]
            if isinstance(item, _Framed):
                messages[index] = item.message(self._process_id)
        return messages[start:]  # type: ignore[return-value]  # rebuilt just above

    def __getitem__(self, key: str) -> Any:
        """A field by name, as in the seed's dict result; `KeyError` for anything else."""
        if key not in _RESULT_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (pending events and in-doubt calls as dicts)."""
        result = {name: getattr(self, name) for name in _RESULT_FIELDS}
        result["pending_events"] = [event.to_dict() for event in self.pending_events]
        result["in_doubt_tool_calls"] = [call.to_dict() for call in self.in_doubt_tool_calls]
        return result


_RESULT_FIELDS = tuple("conversation" if f.name == "_messages" else f.name
                      for f in fields(RecoveryResult) if f.name != "_process_id")


def _origin(entry: JournalEntry) -> str:
    return f"entry {entry.entry_id} ({entry.entry_type})"


def _malformed(process_id: str, origin: str, problem: str) -> JournalError:
    return JournalError(f"journal of {process_id!r}: {origin} is malformed: {problem}")


def _field(data: Mapping[str, Any], key: str, kind: type[T], *, required: bool = True) -> T | None:
    """`data[key]` checked against `kind`; ValueError if missing (when required) or mistyped."""
    value = data.get(key)
    if value is None:
        if required:
            msg = f"missing {key!r}"
            raise ValueError(msg)
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        msg = f"{key!r}: expected {kind.__name__}, got {type(value).__name__}"
        raise ValueError(msg)
    if kind is str and not value:
        msg = f"{key!r} is empty"
        raise ValueError(msg)
    return value


def _required(data: Mapping[str, Any], key: str, kind: type[T]) -> T:
    value = _field(data, key, kind)
    assert value is not None
    return value


def _messages(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        msg = "messages: expected a list of objects"
        raise ValueError(msg)
    for message in raw:
        if not isinstance(message, dict):
            msg = "messages: expected a list of objects"
            raise ValueError(msg)
    return raw


def _token(message: Mapping[str, Any]) -> str:
    token = message[TOKEN]
    if not isinstance(token, str):
        msg = f"{TOKEN}: expected a string, got {type(token).__name__}"
        raise ValueError(msg)
    return token


def _checkpoint_message(message: dict[str, Any], origin: str) -> dict[str, Any] | _Framed:
    """A checkpoint's conversation message; one stored as event fields and token stays so."""
    if EVENT not in message:
        return message
    return _Framed(fields_event(message[EVENT]), _token(message), origin)


class _Pending:
    """A journaled event not yet settled; rebuilt as a `TriggerEvent` only if it stays pending."""

    __slots__ = ("key", "origin", "raw")

    def __init__(self, raw: dict[str, Any], key: str, origin: JournalEntry | str) -> None:
        self.raw = raw
        self.key = key
        self.origin = origin  # the entry, or "checkpoint n"


def _pending(raw: Any, origin: JournalEntry | str) -> _Pending:
    """Check the fields that identify a journaled event (cheaply: most events get settled)."""
    if not isinstance(raw, dict):
        msg = f"event: expected an object, got {type(raw).__name__}"
        raise ValueError(msg)
    event_id, trigger_id, trigger_type = (raw.get("event_id"), raw.get("trigger_id"),
                                          raw.get("trigger_type"))
    if not (type(event_id) is str and event_id and type(trigger_id) is str and trigger_id
            and type(trigger_type) is str and trigger_type):
        msg = f"event: trigger_id, trigger_type and event_id must be non-empty strings: {raw!r}"
        raise ValueError(msg)
    metadata = raw.get("metadata")
    if not metadata:
        return _Pending(raw, event_id, origin)
    if not isinstance(metadata, dict):
        msg = f"event.metadata: expected an object, got {type(metadata).__name__}"
        raise ValueError(msg)
    key = metadata.get("idempotency_key")  # TriggerEvent.idempotency_key's rule
    return _Pending(raw, key if isinstance(key, str) and key else event_id, origin)


class _Replay:
    """The state being rebuilt, and one method per entry type that changes it."""

    def __init__(self, process_id: str, max_processed: int) -> None:
        self.process_id = process_id
        self.result = RecoveryResult(_process_id=process_id)
        self.pending: dict[str, _Pending] = {}
        self.pending_keys: dict[str, str] = {}
        self.processed = KeyWindow(max_processed)
        self.started: set[str] = set()
        self.tool_calls: dict[str, InDoubtToolCall] = {}
        self.handlers: dict[str, Callable[[Mapping[str, Any], JournalEntry], None]] = {
            EntryType.TRIGGER_EVENT: self._trigger_event,
            EntryType.INVOCATION_START: self._invocation_start,
            EntryType.INVOCATION_RESULT: self._invocation_result,
            EntryType.ERROR: self._error,
            EntryType.DEAD_LETTER: self._dead_letter,
            EntryType.STATE_TRANSITION: self._state_transition,
            EntryType.CONTEXT_UPDATE: self._context_update,
            EntryType.TOOL_CALL: self._tool_call,
            EntryType.TOOL_RESULT: self._tool_result,
        }

    # Bookkeeping ----------------------------------------------------------------------------

    def _queue(self, event: _Pending) -> None:
        event_id: str = event.raw["event_id"]
        key = event.key
        if key in self.processed or key in self.pending_keys or event_id in self.pending:
            return
        self.pending[event_id] = event
        self.pending_keys[key] = event_id

    def _consume(self, data: Mapping[str, Any]) -> bool:
        """Settle the event of a result/error/dead letter; False if its key was processed."""
        event_id = data.get("event_id")
        if type(event_id) is not str or not event_id:
            event_id = _required(data, "event_id", str)
        event = self.pending.pop(event_id, None)
        if event is not None:
            del self.pending_keys[event.key]
        key = data.get("key")
        if key is None:
            key = event.key if event is not None else event_id
        else:
            if type(key) is not str or not key:
                key = _required(data, "key", str)
            if event is None and key in self.pending_keys:  # settled under another delivery's id
                del self.pending[self.pending_keys.pop(key)]
        if key in self.processed:
            return False
        self.processed.add(key)
        return True

    # The checkpoint ---------------------------------------------------------------------------

    def load_checkpoint(self, state: Mapping[str, Any]) -> None:
        origin = f"checkpoint {state.get('checkpoint_seq', '?')}"
        try:
            self._load_checkpoint(state, origin)
        except ValueError as exc:
            raise _malformed(self.process_id, origin, str(exc)) from exc

    def _load_checkpoint(self, state: Mapping[str, Any], origin: str) -> None:
        result = self.result
        result.checkpoint = dict(state)
        result.context_state = dict(_field(state, "context_state", dict, required=False) or {})
        result.lifecycle_state = _field(state, "lifecycle_state", str, required=False)
        result.invocation_count = _field(state, "invocation_count", int, required=False) or 0
        result.failed_invocations = _field(state, "failed_invocations", int,
                                           required=False) or 0
        result._messages = [_checkpoint_message(message, origin)
                            for message in _messages(state.get("conversation") or [])]
        result.trigger_checkpoints = dict(_field(state, "trigger_checkpoints", dict,
                                                 required=False) or {})
        result.budget = _field(state, "budget", dict, required=False)
        result.budget_runs = list(_field(state, "budget_replay", list, required=False) or [])
        result.mission = _field(state, "mission", dict, required=False)
        keys = _field(state, "processed_keys", list, required=False) or []
        if not all(isinstance(key, str) for key in keys):
            msg = "processed_keys: expected a list of strings"
            raise ValueError(msg)
        for key in keys:
            self.processed.add(key)
        for raw in _field(state, "pending_events", list, required=False) or []:
            self._queue(_pending(raw, origin))

    # Entries ----------------------------------------------------------------------------------

    def apply(self, entries: list[JournalEntry]) -> None:
        handlers = self.handlers
        for entry in entries:
            handler = handlers.get(entry.entry_type)
            if handler is None:
                continue
            try:
                handler(entry.data, entry)
            except (ValueError, TypeError, KeyError) as exc:
                raise _malformed(self.process_id, _origin(entry), str(exc)) from exc
        self.result.entries_replayed += len(entries)

    def _trigger_event(self, data: Mapping[str, Any], entry: JournalEntry) -> None:
        event = _pending(data.get("event"), entry)
        metadata = event.raw.get("metadata")
        if metadata and "checkpoint" in metadata:
            self.result.trigger_checkpoints[event.raw["trigger_id"]] = metadata["checkpoint"]
        self._queue(event)

    def _invocation_start(self, data: Mapping[str, Any], _entry: JournalEntry) -> None:
        self.started.add(_required(data, "event_id", str))

    def _invocation_result(self, data: Mapping[str, Any], entry: JournalEntry) -> None:
        raw = _messages(data.get("messages") or [])
        messages: Sequence[dict[str, Any] | _Framed] = raw
        by_token = bool(raw) and TOKEN in raw[0]
        if by_token:
            token = _token(raw[0])
            event = self.pending.get(data.get("event_id"))  # type: ignore[arg-type]
            if event is not None:  # looked up before `_consume` settles it
                messages = [_Framed(event.raw, token, entry), *raw[1:]]
                by_token = False
        if self._consume(data):
            if by_token:
                msg = "its trigger message refers to an event that is not in the journal"
                raise ValueError(msg)
            result = self.result
            result.invocation_count += 1
            result._messages.extend(messages)
            if "budget_usage" in data:
                self._budget_run(data, entry)

    def _error(self, data: Mapping[str, Any], entry: JournalEntry) -> None:
        if self._consume(data):
            self.result.failed_invocations += 1
            if "budget_usage" in data:
                self._budget_run(data, entry)

    def _budget_run(self, data: Mapping[str, Any], entry: JournalEntry) -> None:
        """A finished run's budget usage, for the budget to count again after a crash."""
        usage = _field(data, "budget_usage", dict, required=False)
        if usage is not None:
            self.result.budget_runs.append(
                {"usage": usage, "finished_at": entry.timestamp.timestamp()})

    def _dead_letter(self, data: Mapping[str, Any], _entry: JournalEntry) -> None:
        self._consume(data)

    def _state_transition(self, data: Mapping[str, Any], _entry: JournalEntry) -> None:
        self.result.lifecycle_state = _required(data, "to_state", str)

    def _context_update(self, data: Mapping[str, Any], _entry: JournalEntry) -> None:
        key = _required(data, "key", str)
        if data.get("deleted") is True:
            self.result.context_state.pop(key, None)
        else:
            self.result.context_state[key] = data.get("value")

    def _tool_call(self, data: Mapping[str, Any], entry: JournalEntry) -> None:
        call_id = _required(data, "call_id", str)
        self.tool_calls[call_id] = InDoubtToolCall(
            call_id=call_id,
            tool=_required(data, "tool", str),
            arguments=data.get("arguments"),
            event_id=_field(data, "event_id", str, required=False),
            entry_id=entry.entry_id,
        )

    def _tool_result(self, data: Mapping[str, Any], _entry: JournalEntry) -> None:
        self.tool_calls.pop(_required(data, "call_id", str), None)

    def finish(self, last_entry_type: str | None) -> RecoveryResult:
        result = self.result
        result.last_entry_type = last_entry_type
        result.pending_events = [self._rebuild(event) for event in self.pending.values()]
        result.processed_keys = self.processed.to_list()
        result.in_doubt_tool_calls = list(self.tool_calls.values())
        result.interrupted = [event_id for event_id in self.pending if event_id in self.started]
        return result

    def _rebuild(self, event: _Pending) -> TriggerEvent:
        try:
            return TriggerEvent.from_dict(event.raw)
        except (ValueError, TypeError) as exc:
            origin = event.origin
            where = origin if isinstance(origin, str) else _origin(origin)
            problem = f"its event cannot be rebuilt: {exc}"
            raise _malformed(self.process_id, where, problem) from exc


def _marker_seq(process_id: str, entry: JournalEntry) -> int:
    seq = entry.data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise _malformed(process_id, _origin(entry), f"marker seq {seq!r} is not an integer")
    return seq


class ReplayEngine:
    """Rebuilds a process's state from a `JournalProvider`: last checkpoint + later entries."""

    def __init__(self, journal: JournalProvider) -> None:
        self.journal = journal

    def recover(self, process_id: str, *, max_processed: int = 10_000) -> RecoveryResult:
        """Replay the journal of `process_id`; `JournalError` if it cannot be rebuilt whole.

        `max_processed` bounds `processed_keys` (the newest are kept). An empty journal gives
        a result with defaults (`lifecycle_state=None`).
        """
        if max_processed < 1:
            msg = f"max_processed must be >= 1, got {max_processed}"
            raise ValueError(msg)
        # Reading and replaying make many objects and no cycles. The entries are freed when
        # `_recover` returns, before the collector, enabled again, looks at what survived.
        with gc_paused():
            return self._recover(process_id, max_processed)

    def _recover(self, process_id: str, max_processed: int) -> RecoveryResult:
        state = self.journal.last_checkpoint(process_id)
        entries = self.journal.read(process_id)
        replay = _Replay(process_id, max_processed)
        if state is not None:
            replay.load_checkpoint(state)
        replay.apply(entries[self._start(process_id, state, entries):])
        return replay.finish(entries[-1].entry_type if entries else None)

    @staticmethod
    def _start(process_id: str, state: Mapping[str, Any] | None,
               entries: list[JournalEntry]) -> int:
        """Index of the first entry to replay."""
        markers = [(index, _marker_seq(process_id, entry)) for index, entry in enumerate(entries)
                   if entry.entry_type == EntryType.CHECKPOINT]
        if state is None:
            newest = max((seq for _, seq in markers), default=0)
            if newest >= 2:
                msg = (f"journal of {process_id!r}: no readable checkpoint, but checkpoint "
                       f"{newest} was written and the entries before it were compacted")
                raise JournalError(msg)
            if markers:
                logger.warning("journal of %r: no readable checkpoint; replaying every entry",
                               process_id)
            return 0
        seq = state.get("checkpoint_seq")
        if not isinstance(seq, int) or isinstance(seq, bool):  # a provider without seq numbers
            return markers[-1][0] + 1 if markers else 0
        for index, marker_seq in reversed(markers):
            if marker_seq == seq:
                return index + 1
        logger.warning("journal of %r: the marker of checkpoint %d is missing; replaying from "
                       "the previous marker (finished runs are recognised by their keys)",
                       process_id, seq)
        for index, marker_seq in reversed(markers):
            if marker_seq < seq:
                return index + 1
        return 0
