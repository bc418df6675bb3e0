"""The ops-center fleet's agents: a monitor, an analyst, a responder and the mission's judge.

They are plain Python agents, registered by name (`python:ops.monitor`, `python:ops.analyst`,
`python:ops.responder`, `python:ops.judge`) so the `.agent` manifests in `examples/ops-center/`
can name them without holding code. By default every decision is a fixed rule: no model, no
network, the same story on every machine. When `OPENAI_BASE_URL` is set, the analyst's severity,
the responder's action and the judge's verdict come from that OpenAI-compatible server instead
(`ModelDecider`); the monitor's threshold check stays a measurement either way.

- The **monitor** reads a CSV dropped in the watched folder (or, on each cron tick, takes the
  next reading of the synthetic probe in its context state) and emits `ops.breach.<service>` on
  the event bus for each value over its threshold.
- The **analyst** classifies each breach (critical at 1.5x the threshold, else warning) and
  publishes it on the broker as `ops.incident.<severity>`.
- The **responder** opens an incident (or takes one from the signed `/alerts` webhook), picks an
  action from its playbook and records it in its context state, which the journal keeps.
- The **judge** reads the responder's state from the mission evidence and says whether the
  mission's target is met.

Each agent reports one line per run (`StoryBook`), which the runner prints when the process
announces the run complete. Effects are idempotent on a deterministic id (`breach_id`, derived
from the monitor's event id, which survives a crash): a breach seen twice opens one incident.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from greenroom.agents.invocation import Agent, Invocation
from greenroom.agents.openai import OpenAIChatAgent
from greenroom.agents.registry import lookup_agent, register_agent, unregister_agent

if TYPE_CHECKING:
    from greenroom.runtime.context import AgentContext

__all__ = [
    "AGENT_NAMES",
    "CRITICAL_RATIO",
    "FILES_LIMIT",
    "HANDLED_LIMIT",
    "RECENT_LIMIT",
    "SEVERITIES",
    "Breach",
    "Decider",
    "ModelDecider",
    "OpsFleet",
    "RuleDecider",
    "StoryBook",
    "classify",
    "decider_from_env",
    "find_breaches",
    "judge_state",
    "parse_readings",
    "playbook_action",
    "probe_reading",
    "topic_token",
]

AGENT_NAMES = ("ops.monitor", "ops.analyst", "ops.responder", "ops.judge")
"""The registry names the manifests use (`model: python:<name>`)."""

CRITICAL_RATIO = 1.5
"""A breach at this multiple of its threshold or more is critical; below, a warning."""

RECENT_LIMIT = 5
"""How many incidents the responder keeps in full in its state (the judge reads them)."""

HANDLED_LIMIT = 200
"""How many breach ids the responder remembers, to open one incident per breach."""

FILES_LIMIT = 20
"""How many of the CSV files it read the monitor lists in its state."""

SEVERITIES = ("critical", "warning")
"""The analyst's ratings (and the broker topics it publishes on)."""

_TOKEN = re.compile(r"[^A-Za-z0-9_-]+")
_STATE_LINE = re.compile(r"^state: (\{.*\})$", re.MULTILINE)


class _Emitter(Protocol):
    """The part of the event bus the monitor uses."""

    async def emit(self, event_type: str, data: Any = None, source: str = "") -> int:
        """Emit `event_type` with `data` as coming from `source`."""
        ...


class _Publisher(Protocol):
    """The part of the message broker the analyst uses."""

    async def publish(self, topic: str, content: Any, sender: Any = None) -> int:
        """Publish `content` on `topic` as `sender`."""
        ...


@dataclass(frozen=True)
class Breach:
    """One reading over its threshold: what the monitor emits and the analyst classifies."""

    service: str
    metric: str
    value: float
    threshold: float
    origin: str
    breach_id: str

    def to_dict(self) -> dict[str, Any]:
        """The bus event's data (JSON-ready)."""
        return {"service": self.service, "metric": self.metric, "value": self.value,
                "threshold": self.threshold, "origin": self.origin, "breach_id": self.breach_id}


# Rules ---------------------------------------------------------------------------------------

def topic_token(text: str) -> str:
    """`text` as one topic token (NATS-style subjects split on dots)."""
    return _TOKEN.sub("_", text).strip("_") or "unknown"


def parse_readings(text: str) -> tuple[list[tuple[str, str, float]], int]:
    """(service, metric, value) for each row of a CSV with `service`, `metric` and `value`
    columns, and how many rows were skipped (a missing field or a value that is not a number).
    """
    readings: list[tuple[str, str, float]] = []
    skipped = 0
    for row in csv.DictReader(io.StringIO(text)):
        service = (row.get("service") or "").strip()
        metric = (row.get("metric") or "").strip()
        try:
            value = float(row.get("value") or "")
        except ValueError:
            value = math.nan
        if not service or not metric or not math.isfinite(value):
            skipped += 1
            continue
        readings.append((service, metric, value))
    return readings, skipped


def find_breaches(readings: Sequence[tuple[str, str, float]], thresholds: Mapping[str, Any],
                  origin: str, id_prefix: str) -> list[Breach]:
    """The readings strictly over their metric's threshold (metrics without one are never
    breaches); each breach id is `<id_prefix>#<index of the reading>`."""
    found: list[Breach] = []
    for index, (service, metric, value) in enumerate(readings):
        limit = thresholds.get(metric)
        if isinstance(limit, int | float) and not isinstance(limit, bool) and value > limit:
            found.append(Breach(service, metric, value, float(limit), origin,
                                f"{id_prefix}#{index}"))
    return found


def probe_reading(probe: Mapping[str, Any], scheduled_time: str) -> tuple[str, str, float]:
    """The synthetic probe's reading for a cron slot: the series value at the slot's minute
    (minutes since the epoch, modulo the series length), so every slot has a fixed reading."""
    series = [float(value) for value in probe.get("series", [])] or [0.0]
    minute = int(datetime.fromisoformat(scheduled_time).timestamp() // 60)
    return (str(probe.get("service", "probe")), str(probe.get("metric", "latency_ms")),
            series[minute % len(series)])


def classify(value: float, threshold: float) -> str:
    """`critical` at `CRITICAL_RATIO` times the threshold or more, else `warning`."""
    return "critical" if threshold > 0 and value >= CRITICAL_RATIO * threshold else "warning"


_PLAYBOOK = {
    "latency_ms": "scale out {service} by two replicas",
    "error_rate": "roll back the last deploy of {service}",
    "disk_pct": "rotate logs and grow the {service} volume",
    "cpu_pct": "shed batch load from {service}",
}


def playbook_action(service: str, metric: str, severity: str) -> str:
    """The responder's rule: an action per metric, paging on-call for a critical incident."""
    action = _PLAYBOOK.get(metric, "open a ticket for the {service} owners").format(
        service=service)
    return f"{action}; page on-call" if severity == "critical" else action


def judge_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The rule judge's verdict on the responder's state: achieved once `incident_count` reaches
    `incident_target` and every recent incident has an action."""
    count = state.get("incident_count", 0)
    target = state.get("incident_target", 1)
    count = count if isinstance(count, int) else 0
    target = target if isinstance(target, int) else 1
    recent = state.get("recent_incidents", [])
    acted = all(isinstance(item, dict) and item.get("action") for item in recent)
    achieved = count >= target and acted
    summary = f"{count} of {target} incidents handled"
    reasoning = (f"{summary}, each with an action" if acted
                 else f"{summary}, but one has no action")
    return {"achieved": achieved, "confidence": 1.0, "reasoning": reasoning,
            "progress_summary": summary}


def _evidence_state(invocation: Invocation) -> dict[str, Any]:
    """The state the mission judge was shown (the `state: {...}` line of its evidence)."""
    for message in reversed(invocation.messages):
        content = message.get("content")
        match = _STATE_LINE.search(content) if isinstance(content, str) else None
        if match is not None:
            try:
                state = json.loads(match.group(1))
            except ValueError:
                return {}
            return state if isinstance(state, dict) else {}
    return {}


# Deciders ------------------------------------------------------------------------------------

class Decider(Protocol):
    """Where the fleet's judgement calls come from: fixed rules or a model."""

    async def classify(self, invocation: Invocation, breach: Mapping[str, Any]) -> str:
        """The breach's severity, one of `SEVERITIES`."""
        ...

    async def act(self, invocation: Invocation, incident: Mapping[str, Any]) -> str:
        """The responder's action for an incident, one line."""
        ...

    async def judge(self, invocation: Invocation) -> str:
        """The mission verdict as the judge's JSON reply."""
        ...


class RuleDecider:
    """The deterministic decisions: `classify`, `playbook_action`, `judge_state`."""

    async def classify(self, invocation: Invocation, breach: Mapping[str, Any]) -> str:
        """Severity from the value's ratio to its threshold."""
        del invocation
        return classify(float(breach["value"]), float(breach["threshold"]))

    async def act(self, invocation: Invocation, incident: Mapping[str, Any]) -> str:
        """The playbook's action for the incident's metric."""
        del invocation
        return playbook_action(str(incident["service"]), str(incident["metric"]),
                               str(incident["severity"]))

    async def judge(self, invocation: Invocation) -> str:
        """The verdict on the state in the judge's evidence."""
        return json.dumps(judge_state(_evidence_state(invocation)))


class ModelDecider:
    """Decisions asked of a model (`OpenAIChatAgent` on `OPENAI_BASE_URL`).

    The model sees the process's own prompt (instructions, state, the framed trigger payload)
    plus one question, through the run's own tool gate, so the budget counts its turns. A
    severity the model does not give as one of `SEVERITIES` falls back to the rule; the judge's
    reply goes to the mission judge as is (it asks again when the reply is not a verdict).
    """

    def __init__(self, agent: Agent) -> None:
        self._agent = agent

    async def classify(self, invocation: Invocation, breach: Mapping[str, Any]) -> str:
        """The model's one-word severity, else the rule's."""
        question = (f"Classify this breach as one word, critical or warning: "
                    f"{json.dumps(dict(breach), sort_keys=True)}")
        answer = (await self._ask(invocation, question)).strip().lower()
        word = answer.split()[0].strip(".,:;!\"'") if answer else ""
        if word in SEVERITIES:
            return word
        return classify(float(breach["value"]), float(breach["threshold"]))

    async def act(self, invocation: Invocation, incident: Mapping[str, Any]) -> str:
        """The model's one-line action (the playbook's when it answers nothing)."""
        question = (f"Give the one-line remediation for this incident, nothing else: "
                    f"{json.dumps(dict(incident), sort_keys=True)}")
        answer = " ".join((await self._ask(invocation, question)).split())
        return answer[:200] or playbook_action(str(incident["service"]),
                                               str(incident["metric"]),
                                               str(incident["severity"]))

    async def judge(self, invocation: Invocation) -> str:
        """The model's verdict on the judge prompt, unchanged."""
        return await self._agent(invocation)

    async def _ask(self, invocation: Invocation, question: str) -> str:
        asked = replace(invocation, messages=[*invocation.messages,
                                              {"role": "user", "content": question}])
        return await self._agent(asked)


def decider_from_env(environ: Mapping[str, str]) -> tuple[Decider, OpenAIChatAgent | None]:
    """The rules, or a `ModelDecider` on `OPENAI_BASE_URL` with the model `GREENROOM_DEMO_MODEL`
    (default gpt-4o-mini); also the client to close when the demo ends. A local server often
    needs no key, so a missing `OPENAI_API_KEY` is sent as "none"."""
    base_url = environ.get("OPENAI_BASE_URL")
    if not base_url:
        return RuleDecider(), None
    client = OpenAIChatAgent(environ.get("GREENROOM_DEMO_MODEL") or "gpt-4o-mini",
                             base_url=base_url, api_key=environ.get("OPENAI_API_KEY") or "none")
    return ModelDecider(client), client


# The fleet -----------------------------------------------------------------------------------

class StoryBook:
    """One line per run, written by the agent and taken by whoever narrates the run's end.

    Agents run on the io loop and listeners on actor threads, hence the lock.
    """

    def __init__(self) -> None:
        self._lines: dict[str, str] = {}
        self._lock = threading.Lock()

    def tell(self, event_id: str, line: str) -> None:
        """Record what the run of `event_id` did (a rerun after a crash replaces it)."""
        with self._lock:
            self._lines[event_id] = line

    def take(self, event_id: str) -> str | None:
        """The line of `event_id`'s run, once."""
        with self._lock:
            return self._lines.pop(event_id, None)


_FILE_CHANGES = {"created": "new", "moved": "new", "modified": "changed"}
_TRIGGER_DETAILS: dict[str, Callable[[dict[str, Any], Any], str]] = {
    "file_watch": lambda payload, _: f"{payload.get('filename')} "
    f"({_FILE_CHANGES.get(str(payload.get('event_type')), payload.get('event_type'))})",
    "cron": lambda payload, _: str(payload.get("scheduled_time", ""))[11:16]
    + (" (catch-up)" if payload.get("catch_up") else ""),
    "event": lambda payload, _: str(payload.get("event_type")),
    "message": lambda payload, _: str(payload.get("topic")),
    "webhook": lambda _, event: str(getattr(event, "metadata", {}).get("path", "")),
}


def _trigger(invocation: Invocation) -> str:
    """What woke the agent, for its story line: the trigger type and its main detail."""
    event = invocation.event
    kind = str(getattr(event, "trigger_type", "manual"))
    payload = getattr(event, "payload", None)
    detail = _TRIGGER_DETAILS.get(kind)
    if detail is None:
        return kind
    return f"{kind} {detail(payload if isinstance(payload, dict) else {}, event)}"


def _number(value: Any) -> str:
    """A reading as printed: integers without a fraction."""
    return f"{value:g}" if isinstance(value, float) else str(value)


class OpsFleet:
    """The four agents of one demo run, bound to the runtime's bus and broker.

    `register()` makes them the `python:ops.*` agents (replacing any earlier run's) and
    `unregister()` removes them again; `stories` holds each run's line.
    """

    def __init__(self, event_bus: _Emitter, broker: _Publisher, *,
                 decider: Decider | None = None) -> None:
        self._bus = event_bus
        self._broker = broker
        self._decider: Decider = decider if decider is not None else RuleDecider()
        self.stories = StoryBook()
        self._agents: dict[str, Callable[[Invocation], Any]] = dict(zip(
            AGENT_NAMES, (self.monitor, self.analyst, self.responder, self.judge), strict=True))

    def register(self) -> None:
        """Register the agents under `AGENT_NAMES`."""
        for name, agent in self._agents.items():
            register_agent(name, agent, overwrite=True)

    def unregister(self) -> None:
        """Remove the agents this fleet registered (not another fleet's that replaced them)."""
        for name, agent in self._agents.items():
            if lookup_agent(name) == agent:
                unregister_agent(name)

    # Agents ------------------------------------------------------------------------------

    async def monitor(self, invocation: Invocation) -> str:
        """Read what woke it (a CSV, a cron slot, readings injected by hand), emit one
        `ops.breach.<service>` bus event per value over its threshold, count in its state."""
        context = _context(invocation)
        event = invocation.event
        payload = event.payload if isinstance(event.payload, dict) else {}
        thresholds = context.get("thresholds") or {}
        skipped = 0
        if event.trigger_type == "file_watch":
            origin = f"inbox/{payload.get('filename')}"
            try:
                text = await asyncio.to_thread(Path(str(payload["path"])).read_text,
                                               encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:  # gone or unreadable: nothing to check
                return self._story(invocation, f"{_trigger(invocation)}: cannot read it "
                                               f"({type(exc).__name__})")
            readings, skipped = parse_readings(text)
        elif event.trigger_type == "cron":
            origin = f"probe {str(payload.get('scheduled_time', ''))[11:16]}"
            readings = [probe_reading(context.get("probe") or {},
                                      str(payload["scheduled_time"]))]
        else:
            origin = event.trigger_type
            rows = payload.get("readings", [])
            readings, skipped = parse_readings(_rows_as_csv(rows if isinstance(rows, list)
                                                            else []))
        breaches = find_breaches(readings, thresholds, origin, event.event_id)
        for breach in breaches:
            await self._bus.emit(f"ops.breach.{topic_token(breach.service)}", breach.to_dict(),
                                 source="monitor")
        counts: dict[str, Any] = {
            "checks": int(context.get("checks", 0)) + 1,
            "readings_seen": int(context.get("readings_seen", 0)) + len(readings),
            "breaches_emitted": int(context.get("breaches_emitted", 0)) + len(breaches),
        }
        if event.trigger_type == "file_watch":
            counts["files_read"] = [*context.get("files_read", []), origin][-FILES_LIMIT:]
        context.update(counts)
        line = f"{_trigger(invocation)}: {len(readings)} reading(s)"
        if skipped:
            line += f", {skipped} row(s) skipped"
        if breaches:
            shown = ", ".join(f"{b.service} {b.metric}={_number(b.value)}" for b in breaches)
            line += f"; {len(breaches)} over threshold ({shown}) -> emitted ops.breach.*"
        else:
            line += "; all within thresholds"
        return self._story(invocation, line)

    async def analyst(self, invocation: Invocation) -> str:
        """Classify the breach in the bus event and publish it as `ops.incident.<severity>`."""
        context = _context(invocation)
        payload = invocation.event.payload if isinstance(invocation.event.payload, dict) else {}
        breach = payload.get("data")
        if not isinstance(breach, dict) or not {"service", "metric", "value",
                                                "threshold"} <= set(breach):
            return self._story(invocation, f"{_trigger(invocation)}: not a breach, ignored")
        severity = await self._decider.classify(invocation, breach)
        incident = {**breach, "severity": severity}
        await self._broker.publish(f"ops.incident.{severity}", incident, sender="analyst")
        counts = dict(context.get("classified") or {})
        counts[severity] = int(counts.get(severity, 0)) + 1
        context.put("classified", counts)
        return self._story(invocation, (
            f"{_trigger(invocation)}: {breach['service']} {breach['metric']}="
            f"{_number(breach['value'])} vs {_number(breach['threshold'])} -> {severity}; "
            f"published ops.incident.{severity}"))

    async def responder(self, invocation: Invocation) -> str:
        """Open an incident for an analyst's message or a webhook alert (once per breach id),
        choose its action, record it in the state."""
        context = _context(invocation)
        event = invocation.event
        incident = _incident(event)
        handled: list[str] = list(context.get("handled") or [])
        if incident["breach_id"] in handled:
            return self._story(invocation, f"{_trigger(invocation)}: breach "
                                           f"{incident['breach_id']} already handled")
        number = int(context.get("incident_count", 0)) + 1
        action = await self._decider.act(invocation, incident)
        record = {"id": f"INC-{number:04d}", "service": incident["service"],
                  "metric": incident["metric"], "severity": incident["severity"],
                  "action": action, "source": _trigger(invocation),
                  "breach_id": incident["breach_id"]}
        by_severity = dict(context.get("by_severity") or {})
        by_severity[incident["severity"]] = int(by_severity.get(incident["severity"], 0)) + 1
        context.update({
            "incident_count": number,
            "recent_incidents": [*(context.get("recent_incidents") or []),
                                 record][-RECENT_LIMIT:],
            "handled": [*handled, incident["breach_id"]][-HANDLED_LIMIT:],
            "by_severity": by_severity,
        })
        summary = f" \"{incident['summary']}\"" if incident["summary"] else ""
        return self._story(invocation, (
            f"{_trigger(invocation)}: {record['id']} {incident['service']} "
            f"{incident['metric']} ({incident['severity']}){summary}: {action}"))

    async def judge(self, invocation: Invocation) -> str:
        """The mission verdict (the judge prompt's evidence holds the responder's state)."""
        return await self._decider.judge(invocation)

    def _story(self, invocation: Invocation, line: str) -> str:
        self.stories.tell(invocation.event.event_id, line)
        return line


def _context(invocation: Invocation) -> AgentContext:
    """The process's context (a run always has one; a bare invocation is a wiring error)."""
    if invocation.context is None:
        msg = "the ops agents need the process context (run them in a process)"
        raise RuntimeError(msg)
    return invocation.context


def _rows_as_csv(rows: list[Any]) -> str:
    """Readings given as JSON objects (an `inject`), as CSV text for `parse_readings`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["service", "metric", "value"],
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        if isinstance(row, dict):
            writer.writerow(row)
    return out.getvalue()


def _incident(event: Any) -> dict[str, Any]:
    """The incident an event asks for: an analyst's message content, or a webhook / manual
    alert body (`service`, `summary`, `severity`; any missing part gets a default)."""
    payload = event.payload
    if event.trigger_type == "message" and isinstance(payload, dict):
        body = payload.get("content")
    else:
        body = payload
    if not isinstance(body, dict):
        body = {"summary": str(body)}
    severity = str(body.get("severity", "warning")).lower()
    return {
        "service": str(body.get("service") or "unknown"),
        "metric": str(body.get("metric") or "alert"),
        "severity": severity if severity in SEVERITIES else "warning",
        "summary": str(body.get("summary") or ""),
        "breach_id": str(body.get("breach_id") or f"{event.trigger_type}:"
                                                    f"{event.idempotency_key}"),
    }
