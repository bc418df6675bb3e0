"""The mission judge: an LLM asked, through the ordinary agent interface, whether a mission is
achieved, for a strict JSON verdict, with a timeout and a retry.

The judge is an `Agent` (`async (Invocation) -> str`), the same interface as the process's own
agent, so `resolve_model` serves it: an `eval_model` string such as `"openai:gpt-4o-mini"`, the
process's model, or any async callable (a `ScriptedAgent` in tests). A plain
`async (messages) -> str` function fits with `lambda invocation: fn(invocation.messages)`. The
judge gets one invocation per attempt with the judge prompt and no tools.

`MissionJudge.evaluate` never raises into its caller (only cancellation propagates): a timeout,
an exception from the model or an unusable reply is retried once (after a bad reply, the model is
told what was wrong), then given back as an inconclusive `MissionEvaluation`, which the tracker
records and retries at the next evaluation. This is the only part of the mission with I/O.

What counts as a verdict: the reply is exactly one JSON object, optionally wrapped as a whole in
one Markdown code fence (models add fences often, and a fence is unambiguous). Text before or
after the object is refused: it may qualify or contradict the object, or hold a second one, so
guessing which object is the verdict could complete a mission on a sentence that said otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from greenroom.actors.clock import Clock, SystemClock
from greenroom.agents.framing import frame_payload
from greenroom.agents.invocation import Agent, Invocation
from greenroom.agents.openai import resolve_model
from greenroom.governance.config import MissionConfig
from greenroom.governance.mission import MissionEvaluation, MissionEvidence

__all__ = [
    "DEFAULT_JUDGE_RETRIES",
    "DEFAULT_JUDGE_TIMEOUT",
    "JudgeVerdict",
    "MissionJudge",
    "VerdictError",
    "judge_messages",
    "parse_verdict",
    "render_evidence",
]

DEFAULT_JUDGE_TIMEOUT = 60.0
"""Seconds one judge attempt may take (the model client's own retries included)."""

DEFAULT_JUDGE_RETRIES = 1
"""Extra attempts after a failed one."""

_MAX_MESSAGES = 10
_MAX_MESSAGE_CHARS = 500
_MAX_TOOL_CALLS = 20
_MAX_TOOL_CALL_CHARS = 200
_MAX_STATE_CHARS = 2000
_MAX_TRIGGER_CHARS = 1000
_MAX_REASONING_CHARS = 2000
_MAX_PROGRESS_CHARS = 1000
_MAX_PROBLEM_CHARS = 300

_FENCE = re.compile(r"\A```(?:json)?[ \t]*\n(?P<body>.*?)\n?[ \t]*```\Z", re.DOTALL | re.IGNORECASE)

log = logging.getLogger(__name__)


class VerdictError(ValueError):
    """A judge reply that is not a usable verdict; the message says why without quoting it."""


@dataclass(frozen=True)
class JudgeVerdict:
    """A parsed judge reply."""

    achieved: bool
    confidence: float
    reasoning: str
    progress_summary: str = ""


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}[... {len(text) - limit} more characters]"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members; a key given twice makes the verdict ambiguous."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            msg = f"the key {key!r} appears twice"
            raise VerdictError(msg)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    msg = f"{name} is not a JSON number"
    raise VerdictError(msg)


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def parse_verdict(text: object) -> JudgeVerdict:
    """The verdict in a judge reply, or `VerdictError` saying what is wrong.

    The reply must be one JSON object (alone, or as the whole content of one code fence) with
    `achieved` (true/false), `confidence` (a number from 0 to 1), `reasoning` (a string; `reason`
    is accepted for it) and optionally `progress_summary` (a string); other keys are ignored.
    Long texts are cut.
    """
    if not isinstance(text, str):
        msg = f"expected the reply as text, got {type(text).__name__}"
        raise VerdictError(msg)
    body = text.strip()
    if body.startswith("```"):
        match = _FENCE.match(body)
        if match is None:
            msg = "a code fence must hold the whole reply: ```json, the object, ```"
            raise VerdictError(msg)
        body = match.group("body").strip()
    if not body:
        msg = "the reply is empty"
        raise VerdictError(msg)
    try:
        data, end = _DECODER.raw_decode(body)
    except json.JSONDecodeError as exc:
        if not body.startswith("{") and "{" in body:
            msg = "the reply must be only a JSON object, but there is text before it"
        else:
            msg = f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        raise VerdictError(msg) from None
    except RecursionError:
        msg = "the JSON is nested too deeply"
        raise VerdictError(msg) from None
    if not isinstance(data, dict):
        msg = f"expected a JSON object, got {_kind(data)}"
        raise VerdictError(msg)
    if body[end:].strip():
        msg = "the reply must be only a JSON object, but there is text after it"
        raise VerdictError(msg)
    return _verdict(data)


def _verdict(data: dict[str, Any]) -> JudgeVerdict:
    achieved = data.get("achieved")
    if not isinstance(achieved, bool):
        msg = f"achieved: expected true or false, got {_kind(achieved)}"
        raise VerdictError(msg)
    confidence = data.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not math.isfinite(confidence)
        or not 0.0 <= confidence <= 1.0
    ):
        number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
        shown = confidence if number else _kind(confidence)
        msg = f"confidence: expected a number from 0 to 1, got {shown}"
        raise VerdictError(msg)
    reasoning = data.get("reasoning", data.get("reason"))
    if not isinstance(reasoning, str):
        msg = f"reasoning: expected a string, got {_kind(reasoning)}"
        raise VerdictError(msg)
    progress = data.get("progress_summary", "")
    if not isinstance(progress, str):
        msg = f"progress_summary: expected a string, got {_kind(progress)}"
        raise VerdictError(msg)
    return JudgeVerdict(
        achieved=achieved,
        confidence=float(confidence),
        reasoning=_cut(reasoning.strip(), _MAX_REASONING_CHARS),
        progress_summary=_cut(progress.strip(), _MAX_PROGRESS_CHARS),
    )


def _kind(value: object) -> str:
    """A JSON value's kind, for error messages that must not quote the reply."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _message_line(message: object) -> str:
    if not isinstance(message, Mapping):
        return _cut(str(message), _MAX_MESSAGE_CHARS)
    content = message.get("content")
    text = content if isinstance(content, str) else _json(content)
    return f"[{message.get('role', '?')}] {_cut(text, _MAX_MESSAGE_CHARS)}"


def _tool_line(call: object) -> str:
    if isinstance(call, tuple | list) and len(call) == 2:
        name, arguments = call
        return _cut(f"{name}({arguments})", _MAX_TOOL_CALL_CHARS)
    return _cut(str(call), _MAX_TOOL_CALL_CHARS)


def render_evidence(evidence: MissionEvidence) -> str:
    """The evidence as bounded text: the invocation count, the trigger event, the state, the
    last 20 tool calls and the last 10 conversation messages, each cut to a fixed length.
    """
    calls = list(evidence.tool_calls)
    messages = list(evidence.conversation)
    shown_calls = calls[-_MAX_TOOL_CALLS:]
    shown_messages = messages[-_MAX_MESSAGES:]
    lines = [
        f"invocations so far: {evidence.invocation_count}",
        f"trigger event: {_cut(_json(dict(evidence.trigger_event)), _MAX_TRIGGER_CHARS)}",
        f"state: {_cut(_json(dict(evidence.state)), _MAX_STATE_CHARS)}",
        f"tool calls (last {len(shown_calls)} of {len(calls)}):",
        *(f"- {_tool_line(call)}" for call in shown_calls),
        f"conversation (last {len(shown_messages)} of {len(messages)} messages):",
        *(_message_line(message) for message in shown_messages),
    ]
    return "\n".join(lines)


def judge_messages(config: MissionConfig, evidence: MissionEvidence) -> list[dict[str, Any]]:
    """The judge prompt: a system message with the objective, the criteria and the verdict
    format, and a user message with the evidence framed as untrusted data.
    """
    system = (
        "You judge whether an autonomous agent has achieved its mission, from evidence of its "
        "recent work.\n"
        f"Objective: {config.objective}\n"
        f"Success criteria: {config.success_criteria}\n"
        "Answer with one JSON object and nothing else: no text around it and no code fence. "
        "Its keys:\n"
        '- "achieved": true only if the success criteria are fully met, else false;\n'
        '- "confidence": a number from 0 to 1, how sure you are of that verdict;\n'
        '- "reasoning": a short explanation of the verdict;\n'
        '- "progress_summary": one or two sentences on the progress so far.'
    )
    user = (
        f"Evidence after {evidence.invocation_count} invocations:\n"
        f"{frame_payload(render_evidence(evidence))}\n"
        "Give your verdict as the JSON object."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _check_timeout(timeout: object) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        msg = f"timeout: expected a number of seconds > 0, got {timeout!r}"
        raise ValueError(msg)
    return float(timeout)


class MissionJudge:
    """Asks `agent` for a verdict on a mission, at most `retries + 1` times, each attempt
    bounded by `timeout` seconds; `clock` stamps the evaluations (system clock by default).

    Build it once per process (`for_process`), not once per evaluation.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        timeout: float = DEFAULT_JUDGE_TIMEOUT,
        retries: int = DEFAULT_JUDGE_RETRIES,
        clock: Clock | None = None,
    ) -> None:
        if not callable(agent):
            msg = f"agent: expected an async callable, got {type(agent).__name__}"
            raise TypeError(msg)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            msg = f"retries: expected an int >= 0, got {retries!r}"
            raise ValueError(msg)
        self._agent = agent
        self._timeout = _check_timeout(timeout)
        self._retries = retries
        self._clock: Clock = clock if clock is not None else SystemClock()

    @classmethod
    def for_process(
        cls,
        config: MissionConfig,
        process_model: str | Callable[..., Any] | None,
        *,
        timeout: float | None = None,
        retries: int = DEFAULT_JUDGE_RETRIES,
        clock: Clock | None = None,
    ) -> MissionJudge:
        """The judge on `config.eval_model`, or else on the process's model (a provider string
        or a callable); `ModelConfigError` when neither can be served. `timeout` defaults to
        `config.eval_timeout`.
        """
        agent = resolve_model(config.eval_model or process_model)
        limit = config.eval_timeout if timeout is None else timeout
        return cls(agent, timeout=limit, retries=retries, clock=clock)

    @property
    def timeout(self) -> float:
        """Seconds one attempt may take."""
        return self._timeout

    @property
    def retries(self) -> int:
        """Extra attempts after a failed one."""
        return self._retries

    async def evaluate(
        self, config: MissionConfig, evidence: MissionEvidence
    ) -> MissionEvaluation:
        """Ask the judge about `evidence`; a conclusive evaluation, or an inconclusive one saying
        what went wrong on each attempt. Never raises, except `CancelledError`.
        """
        base = judge_messages(config, evidence)
        messages = base
        attempts = self._retries + 1
        problems: list[str] = []
        for attempt in range(1, attempts + 1):
            invocation = Invocation.direct([dict(message) for message in messages])
            try:
                reply = await asyncio.wait_for(self._agent(invocation), self._timeout)
            except TimeoutError:
                problem = f"no reply within {self._timeout:g}s"
            except Exception as exc:
                problem = f"the judge raised {type(exc).__name__}: {exc}"
            else:
                try:
                    verdict = parse_verdict(reply)
                except VerdictError as exc:
                    problem = f"unusable reply: {exc}"
                    messages = [*base, *_correction(reply, exc)]
                else:
                    return self._conclusive(verdict, evidence, attempt)
            problem = _cut(problem, _MAX_PROBLEM_CHARS)
            problems.append(f"attempt {attempt}: {problem}")
            log.warning("mission judge: attempt %d of %d gave no verdict: %s",
                        attempt, attempts, problem)
        return MissionEvaluation.inconclusive_result(
            "judge inconclusive; " + "; ".join(problems),
            timestamp=self._now(),
            invocation_number=evidence.invocation_count,
            source="judge",
            attempts=attempts,
        )

    def _conclusive(
        self, verdict: JudgeVerdict, evidence: MissionEvidence, attempt: int
    ) -> MissionEvaluation:
        return MissionEvaluation(
            achieved=verdict.achieved,
            confidence=verdict.confidence,
            reasoning=verdict.reasoning,
            progress_summary=verdict.progress_summary,
            timestamp=self._now(),
            invocation_number=evidence.invocation_count,
            source="judge",
            attempts=attempt,
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), UTC)


def _correction(reply: object, error: VerdictError) -> list[dict[str, Any]]:
    """The messages a retry adds after an unusable reply: the reply, and what was wrong."""
    text = reply if isinstance(reply, str) else str(reply)
    return [
        {"role": "assistant", "content": text},
        {
            "role": "user",
            "content": (
                f"That reply is not a usable verdict: {error}. Answer again with only the JSON "
                "object."
            ),
        },
    ]
