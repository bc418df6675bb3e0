"""How processes reach the journal: one `JournalActor` per journal, and a process's writer.

`Journals` opens a journal per `(backend, path)` the first time a process needs it, with one
`JournalActor` in front of it, so every process writing to the same directory shares one group
commit. A runtime keeps one `Journals` and starts the actors under its supervisor (DESIGN.md's
tree); a process used alone keeps its own. A provider given by the user (`AgentRuntime(journal=
...)`) replaces the one the config names, and is not closed by greenroom.

`ProcessJournal` is one process's writer: it knows the process's level, builds the entries and
sends them, and answers None (nothing to wait for) when the level does not record that type.
It also keeps the journal small (`greenroom.journal.messages`): a result stores its trigger
message as the payload tag's token, and a checkpoint's conversation stores such messages as the
event's fields and token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenroom.journal.actor import JournalActor, JournalClient, JournalIntake
from greenroom.journal.entry import EntryType, JournalEntry, JournalLevel, records
from greenroom.journal.file import FileJournal
from greenroom.journal.framing import encode_entry
from greenroom.journal.memory import InMemoryJournal
from greenroom.journal.messages import EVENT, TOKEN, event_fields, framed_token, trigger_token
from greenroom.journal.provider import JournalError
from greenroom.supervision.spec import ChildSpec

if TYPE_CHECKING:
    from greenroom.actors.future import Future
    from greenroom.journal.provider import JournalProvider
    from greenroom.runtime.config import JournalConfig
    from greenroom.triggers.event import TriggerEvent

__all__ = ["JournalLink", "Journals", "ProcessJournal"]

logger = logging.getLogger("greenroom.journal")

Starter = Callable[[ChildSpec], Any]
"""Starts a `JournalActor` from its child spec and returns a ref (or a supervisor's handle)."""


@dataclass(frozen=True, slots=True)
class JournalLink:
    """An open journal and the client of the actor in front of it."""

    provider: JournalProvider
    client: JournalClient
    config: JournalConfig


class Journals:
    """The journals of one runtime (or of one process used alone), keyed by backend and path."""

    def __init__(self, starter: Starter, *, provider: JournalProvider | None = None) -> None:
        self._starter = starter
        self._given = provider
        self._links: dict[tuple[str, str], JournalLink] = {}
        self._owned: list[JournalProvider] = []
        self._lock = threading.Lock()

    def link(self, config: JournalConfig) -> JournalLink:
        """The journal `config` names, opened (and its actor started) on first use.

        Raises `ValueError` naming the field when a second process asks for the same journal
        with another `fsync` or `sync_interval`, and `JournalError` if it cannot be opened.
        """
        key = ("given", "") if self._given is not None else (
            config.backend, str(Path(config.path).resolve()) if config.backend == "file" else "")
        with self._lock:
            return self._link(key, config)

    def _link(self, key: tuple[str, str], config: JournalConfig) -> JournalLink:
        link = self._links.get(key)
        if link is not None:
            _check_same(link.config, config)
            return link
        provider = self._given if self._given is not None else self._open(config)
        name = "journal" if key[0] != "file" else f"journal-{len(self._links) + 1}"
        # Its own thread: every batch blocks in fsync, which must not hold a pool worker.
        intake = JournalIntake()  # shared by the actor's restarts and the client
        spec = ChildSpec(name, JournalActor, args=(provider,),
                         kwargs={"fsync": config.fsync, "sync_interval": config.sync_interval,
                                 "intake": intake},
                         dispatcher="thread")
        client = JournalClient(self._starter(spec), intake)
        link = self._links[key] = JournalLink(provider, client, config)
        return link

    def _open(self, config: JournalConfig) -> JournalProvider:
        provider: JournalProvider = (
            FileJournal(config.path, fsync=config.fsync) if config.backend == "file"
            else InMemoryJournal()
        )
        self._owned.append(provider)
        return provider

    def close(self) -> None:
        """Close the journals this object opened (after their actors have stopped)."""
        owned, self._owned = self._owned, []
        self._links.clear()
        for provider in owned:
            try:
                provider.close()
            except Exception:
                logger.exception("closing %r failed", provider)


def _check_same(used: JournalConfig, asked: JournalConfig) -> None:
    for name in ("fsync", "sync_interval"):
        if getattr(used, name) != getattr(asked, name):
            msg = (f"journal.{name}: {getattr(asked, name)!r} differs from "
                   f"{getattr(used, name)!r}, already used with journal {used.path!r}; "
                   "processes sharing a journal share its write policy")
            raise ValueError(msg)


_SETTLED = frozenset({EntryType.INVOCATION_RESULT, EntryType.ERROR, EntryType.DEAD_LETTER})

MAX_UNSETTLED = 100_000
"""The most journaled, unsettled events remembered for compacting their results (the oldest
are forgotten: their results are then written in full)."""


class ProcessJournal:
    """One process's writes: entries its level records, sent through the journal's actor."""

    def __init__(self, name: str, level: str, client: JournalClient | None) -> None:
        self.name = name
        self.level = JournalLevel(level)
        self.client = client if self.level is not JournalLevel.NONE else None
        self._events: dict[str, dict[str, Any]] = {}
        """Journaled events not settled yet, by id: what their trigger messages are built from."""
        self._intact: set[str] = set()
        """Events whose run's trigger message is the one the runtime framed from the event."""
        self._framed: dict[str, tuple[list[Any], str]] = {}
        """Trigger messages stored as a token since the last checkpoint or still in the
        conversation: their text -> (the event's fields, the token)."""

    @property
    def enabled(self) -> bool:
        """Whether anything is written."""
        return self.client is not None

    def records(self, entry_type: str) -> bool:
        """Whether this process's level writes `entry_type`."""
        return self.client is not None and records(self.level, entry_type)

    def entry(self, entry_type: str, data: dict[str, Any]) -> JournalEntry:
        """An entry of this process."""
        return JournalEntry(self.name, entry_type, data)

    def write(self, *entries: JournalEntry) -> Future[None] | None:
        """Append the entries this level records; None if there is none."""
        client = self.client
        if client is None:
            return None
        kept = [self._compact(entry) for entry in entries if records(self.level, entry.entry_type)]
        return client.append(*kept) if kept else None

    def _compact(self, entry: JournalEntry) -> JournalEntry:
        """`entry` as written: an event remembered, a settled run's entry made smaller."""
        kind, data = entry.entry_type, entry.data
        if kind == EntryType.TRIGGER_EVENT:
            event = data.get("event")
            if isinstance(event, dict) and isinstance(event.get("event_id"), str):
                self._remember(event)
            return entry
        if kind not in _SETTLED:
            return entry
        event_id = data.get("event_id")
        event, intact = None, False
        if isinstance(event_id, str):
            event = self._events.pop(event_id, None)
            if self._intact:
                intact = event_id in self._intact
                self._intact.discard(event_id)
        shorter = self._messages(event, data.get("messages"), intact) if event is not None else None
        if shorter is None:
            return entry
        compact = {**data, "messages": shorter}
        return JournalEntry(entry.process_id, kind, compact, entry.entry_id, entry.timestamp)

    def framed_intact(self, event_id: str) -> None:
        """Note that the first message of `event_id`'s result will be the trigger message the
        runtime framed from the event, unchanged: it is stored as its token without rebuilding
        it to compare (`greenroom.journal.messages`)."""
        if self.client is not None:
            self._intact.add(event_id)

    def _messages(self, event: dict[str, Any], messages: Any, intact: bool) -> list[Any] | None:
        """A result's messages with its trigger message as a token, or None if it is not
        exactly the trigger message of `event`."""
        if not isinstance(messages, list) or not messages:
            return None
        token = framed_token(messages[0]) if intact else trigger_token(messages[0], event)
        if token is None:
            return None
        self._framed[messages[0]["content"]] = (event_fields(event), token)
        return [{"role": "user", TOKEN: token}, *messages[1:]]

    def _remember(self, event: dict[str, Any]) -> None:
        events = self._events
        events[event["event_id"]] = event
        if len(events) > MAX_UNSETTLED:
            del events[next(iter(events))]

    def event_entry(self, event: TriggerEvent) -> JournalEntry:
        """The `trigger_event` entry of an accepted event (an empty `metadata` left out);
        `JournalError` if it is not JSON."""
        raw = event.to_dict()
        if not raw["metadata"]:
            del raw["metadata"]
        entry = self.entry(EntryType.TRIGGER_EVENT, {"event": raw})
        try:
            encode_entry(entry, keep=True)  # encoded once: the journal writes this line
        except JournalError as exc:
            msg = f"event {event.event_id!r} (its payload and metadata) is not JSON-serialisable"
            raise JournalError(f"{msg}: {exc.__cause__ or exc}") from exc
        return entry

    def barrier(self) -> Future[None] | None:
        """A future that resolves once everything sent before it is written."""
        return self.client.append() if self.client is not None else None

    def checkpoint(self, state: dict[str, Any]) -> Future[None] | None:
        """Store a checkpoint after everything sent before it (its conversation's trigger
        messages as event fields and token, where the journal wrote them so)."""
        if self.client is None:
            return None
        conversation = state.get("conversation")
        if isinstance(conversation, list):
            state = {**state, "conversation": self._compact_conversation(conversation)}
        return self.client.checkpoint(self.name, state)

    def _compact_conversation(self, conversation: list[Any]) -> list[Any]:
        framed: dict[str, tuple[list[Any], str]] = self._framed
        kept: dict[str, tuple[list[Any], str]] = {}
        compact: list[Any] = []
        for message in conversation:
            content = message.get("content") if isinstance(message, dict) else None
            ref = framed.get(content) if isinstance(content, str) else None
            if ref is None or len(message) != 2 or message.get("role") != "user":
                compact.append(message)
                continue
            kept[message["content"]] = ref
            compact.append({"role": "user", EVENT: ref[0], TOKEN: ref[1]})
        self._framed = kept
        return compact
