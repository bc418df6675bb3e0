"""How processes reach the journal: one `JournalActor` per journal, and a process's writer.

`Journals` opens a journal per `(backend, path)` the first time a process needs it, with one
`JournalActor` in front of it, so every process writing to the same directory shares one group
commit. A runtime keeps one `Journals` and starts the actors under its supervisor (DESIGN.md's
tree); a process used alone keeps its own. A provider given by the user (`AgentRuntime(journal=
...)`) replaces the one the config names, and is not closed by greenroom.

`ProcessJournal` is one process's writer: it knows the process's level, builds the entries and
sends them, and answers None (nothing to wait for) when the level does not record that type.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenroom.journal.actor import JournalActor, JournalClient
from greenroom.journal.entry import EntryType, JournalEntry, JournalLevel, records
from greenroom.journal.file import FileJournal
from greenroom.journal.framing import dumps_json
from greenroom.journal.memory import InMemoryJournal
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
        spec = ChildSpec(name, JournalActor, args=(provider,),
                         kwargs={"fsync": config.fsync, "sync_interval": config.sync_interval},
                         dispatcher="thread")
        client = JournalClient(self._starter(spec))
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


class ProcessJournal:
    """One process's writes: entries its level records, sent through the journal's actor."""

    def __init__(self, name: str, level: str, client: JournalClient | None) -> None:
        self.name = name
        self.level = JournalLevel(level)
        self.client = client if self.level is not JournalLevel.NONE else None

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
        kept = [entry for entry in entries if records(self.level, entry.entry_type)]
        return client.append(*kept) if kept else None

    def event_entry(self, event: TriggerEvent) -> JournalEntry:
        """The `trigger_event` entry of an accepted event; `JournalError` if it is not JSON."""
        data = {"event": event.to_dict()}
        dumps_json(data, f"event {event.event_id!r} (its payload and metadata)")
        return self.entry(EntryType.TRIGGER_EVENT, data)

    def barrier(self) -> Future[None] | None:
        """A future that resolves once everything sent before it is written."""
        return self.client.append() if self.client is not None else None

    def checkpoint(self, state: dict[str, Any]) -> Future[None] | None:
        """Store a checkpoint after everything sent before it."""
        return self.client.checkpoint(self.name, state) if self.client is not None else None
