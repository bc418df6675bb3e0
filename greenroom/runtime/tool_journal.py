"""`JournaledToolGate`: a tool call's intent is on disk before the tool runs (journal level full).

The gate writes `tool_call` (call id, tool, arguments, event id) and waits until it is durable,
then runs the tool through the gate it wraps, then writes `tool_result`. After a crash, a
`tool_call` without its `tool_result` is reported by recovery as in doubt: the tool may or may not
have acted, and greenroom never retries it blindly. If the intent cannot be written, the tool
does not run and the agent gets a `ToolCallError`. With a secret scope, arguments, results and
errors are written with its values masked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from greenroom.agents.invocation import ToolCallError
from greenroom.ids import new_id
from greenroom.journal.entry import EntryType
from greenroom.journal.framing import dumps_json
from greenroom.journal.provider import JournalError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from greenroom.agents.invocation import ToolGate
    from greenroom.governance.redaction import Redactor
    from greenroom.journal.entry import JournalEntry
    from greenroom.runtime.journaling import ProcessJournal

__all__ = ["JournaledToolGate"]

PREVIEW_CHARS = 500
"""A result is journaled as JSON when it is JSON and this short once encoded; else a preview."""


def _loggable(value: Any) -> Any:
    """`value` if it is short JSON, else the start of its text (the journal is not a store)."""
    try:
        encoded = dumps_json(value, "tool value")
    except JournalError:
        return repr(value)[:PREVIEW_CHARS]
    return value if len(encoded) <= PREVIEW_CHARS else encoded[:PREVIEW_CHARS].decode(
        "utf-8", "ignore")


class JournaledToolGate:
    """Wraps a `ToolGate`; see the module docstring."""

    def __init__(self, inner: ToolGate, journal: ProcessJournal, event_id: str,
                 redactor: Redactor | None = None) -> None:
        self.inner = inner
        self.journal = journal
        self.event_id = event_id
        self.redactor = redactor

    def _entry(self, entry_type: str, data: dict[str, Any]) -> JournalEntry:
        """A journal entry of `data`, with the secret scope's values masked."""
        if self.redactor is not None:
            data = self.redactor.redact_data(data)
        return self.journal.entry(entry_type, data)

    async def call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Write the intent durably, run the tool, write its outcome."""
        journal = self.journal
        call_id = new_id()
        intent = journal.write(self._entry(EntryType.TOOL_CALL, {
            "call_id": call_id, "tool": name, "arguments": _loggable(dict(arguments)),
            "event_id": self.event_id,
        }))
        if intent is not None:
            try:
                await intent
            except JournalError as exc:
                msg = f"tool {name!r} not run: its intent could not be journaled ({exc})"
                raise ToolCallError(msg, tool=name) from exc
        try:
            result = await self.inner.call(name, arguments)
        except Exception as exc:
            journal.write(self._entry(EntryType.TOOL_RESULT, {
                "call_id": call_id, "tool": name, "error": repr(exc)[:PREVIEW_CHARS]}))
            raise
        journal.write(self._entry(EntryType.TOOL_RESULT, {
            "call_id": call_id, "tool": name, "result": _loggable(result)}))
        return result

    def llm_turn(self) -> None:
        """Counted by the wrapped gate."""
        self.inner.llm_turn()
