"""The demo's running commentary: one timestamped line per thing that happened.

The runtime calls its listeners from actor threads, so `Narrator.listen` hops each event onto
the demo's event loop (`call_soon_threadsafe`) and all printing happens there, in order. A
finished run is told with the line its agent wrote (`StoryBook`): which trigger woke which
agent and what it decided. Governance events (mission verdicts, budget notices), failures and
suspensions get a line of their own; lifecycle noise (started, stopped) does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from greenroom.demo.agents import StoryBook

__all__ = ["Narrator"]

_NAME_WIDTH = 9


class Narrator:
    """Prints `HH:MM:SS  process    what happened` to `out`; `lines` keeps what was printed.

    `now` gives the wall time to stamp lines with (the runtime's clock, simulated in tests).
    """

    def __init__(self, out: TextIO, stories: StoryBook, now: Callable[[], float]) -> None:
        self._out = out
        self._stories = stories
        self._now = now
        self.lines: list[str] = []

    def say(self, who: str, text: str) -> None:
        """Print one line now (on the loop's thread)."""
        stamp = datetime.fromtimestamp(self._now(), UTC).strftime("%H:%M:%S")
        line = f"{stamp}  {who:<{_NAME_WIDTH}}  {text}"
        self.lines.append(line)
        print(line, file=self._out, flush=True)

    def listen(self, loop: asyncio.AbstractEventLoop) -> Callable[[str, dict[str, Any]], None]:
        """A runtime listener that narrates on `loop`; events after the loop closed are dropped
        (the last stops may report after the demo has finished)."""
        def on_event(event_type: str, data: dict[str, Any]) -> None:
            if loop.is_closed():
                return
            try:
                loop.call_soon_threadsafe(self._event, event_type, data)
            except RuntimeError:  # closed between the check and the call
                return

        return on_event

    def _event(self, event_type: str, data: dict[str, Any]) -> None:
        who = str(data.get("process", "?"))
        text = self._describe(event_type, data)
        if text is not None:
            self.say(who, text)

    def _describe(self, event_type: str, data: dict[str, Any]) -> str | None:
        if event_type == "invocation.completed":
            story = self._stories.take(str(data.get("event_id")))
            return story if story is not None else f"run {data.get('event_id')} completed"
        if event_type == "invocation.failed":
            self._stories.take(str(data.get("event_id")))
            return f"run failed: {data.get('error')}"
        describe = _DESCRIBERS.get(event_type)
        return describe(data) if describe is not None else None


def _governance(kind: str) -> Callable[[dict[str, Any]], str]:
    """A governance notice as one line: its kind and what it says."""
    def describe(data: dict[str, Any]) -> str:
        detail = data.get("message") or data.get("limit_name") or data.get("kind") or ""
        return f"governance: {kind} {detail}".rstrip()
    return describe


def _verdict(data: dict[str, Any]) -> str:
    """A mission evaluation as one line."""
    if data.get("inconclusive"):
        return f"mission evaluation inconclusive: {data.get('reasoning')}"
    outcome = "achieved" if data.get("achieved") else "not yet achieved"
    confidence = data.get("confidence")
    sure = f", confidence {confidence:.2f}" if isinstance(confidence, float) else ""
    return f"mission evaluated by the {data.get('source')}: {outcome} ({data.get('reasoning')}" \
           f"{sure})"


_DESCRIBERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "invocation.refused": lambda data: f"run held back by governance: {data.get('reason')}",
    "process.suspended": lambda data: f"suspended: {data.get('reason')}",
    "process.resumed": lambda data: f"resumed: {data.get('reason')}",
    "process.failed": lambda data: f"failed: {data.get('reason')}",
    "process.restarted": lambda data: f"restarted by its supervisor (restart "
                                      f"{data.get('restart_count')})",
    "governance.mission_evaluation": _verdict,
    "governance.mission_state": lambda data: f"mission {data.get('state')}: "
                                             f"{data.get('reason')}",
    "governance.budget_warning": _governance("budget warning"),
    "governance.budget_violation": _governance("budget violation"),
    "governance.tool_denied": _governance("tool denied"),
    "governance.anomaly": _governance("health anomaly"),
}
"""How each event worth a line is told (others, such as process.started, are not)."""
