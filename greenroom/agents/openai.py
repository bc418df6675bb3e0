"""An agent backed by any server that speaks the OpenAI Chat Completions API, on aiohttp.

Works with OpenAI, vLLM, Ollama, llama.cpp and others. Every tool call the model asks for goes
through `invocation.call_tool`, so governance sees it. The API key is sent only in the
`Authorization` header: it never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import aiohttp

from greenroom.agents.invocation import Agent, Invocation, ToolCallError
from greenroom.agents.registry import lookup_agent, registered_agents

__all__ = [
    "DEFAULT_OPENAI_BASE_URL",
    "ModelConfigError",
    "ModelError",
    "OpenAIChatAgent",
    "resolve_model",
]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
_MAX_ERROR_CHARS = 500
_URL = re.compile(r"^https?://[^\s/]+\S*$")

log = logging.getLogger(__name__)


class ModelConfigError(ValueError):
    """The model cannot be set up: unknown provider, missing API key, bad base URL."""


class ModelError(RuntimeError):
    """A model request failed: a 4xx answer, retries used up, a timeout or a malformed reply.

    `status` is the last HTTP status, or None when no answer arrived.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _text(content: Any) -> str:
    """A message's content as text; list content (parts) is joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return str(content)


def _error_detail(text: str) -> str:
    """The server's error message from an OpenAI-style error body, else the raw body (cut)."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        detail = str(error["message"])
    elif isinstance(error, str) and error:
        detail = error
    else:
        detail = text.strip() or "(empty body)"
    return detail[:_MAX_ERROR_CHARS]


@dataclass(frozen=True)
class _Retry:
    """A failed attempt worth retrying: what happened, the status and any `Retry-After`."""

    problem: str
    status: int | None = None
    retry_after: float | None = None
    cause: BaseException | None = None


def _tool_result_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)


def _parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments: a JSON object string (OpenAI) or an object (some local servers)."""
    if raw is None or raw == "":
        return {}
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict):
        msg = f"expected a JSON object, got {type(value).__name__}"
        raise TypeError(msg)
    return value


class OpenAIChatAgent:
    """An async callable agent on `POST {base_url}/chat/completions`, with a tool-calling loop.

    `base_url` and `api_key` default to `OPENAI_BASE_URL` (else the OpenAI endpoint) and
    `OPENAI_API_KEY`; a missing key raises `ModelConfigError` here, at process start. 429 and 5xx
    answers, timeouts and connection errors are retried `max_retries` times with exponential
    backoff (a `Retry-After` header wins); waits never exceed `max_backoff`. A session passed in
    stays the caller's to close; one made here is closed by `aclose()`.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_tool_rounds: int = 8,
        temperature: float | None = None,
        session: aiohttp.ClientSession | None = None,
        max_backoff: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not model:
            msg = "openai: a model name is required, as in 'openai:gpt-4o-mini'"
            raise ModelConfigError(msg)
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        if not key:
            msg = "openai: no API key; set OPENAI_API_KEY or pass api_key"
            raise ModelConfigError(msg)
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL
        if not _URL.match(url):
            msg = "openai: the base URL (OPENAI_BASE_URL) must be an http:// or https:// URL"
            raise ModelConfigError(msg)
        for name, value in (("timeout", timeout), ("max_backoff", max_backoff)):
            if value <= 0:
                msg = f"openai: {name} must be > 0, got {value}"
                raise ModelConfigError(msg)
        if max_retries < 0 or backoff < 0 or max_tool_rounds < 0:
            msg = "openai: max_retries, backoff and max_tool_rounds must be >= 0"
            raise ModelConfigError(msg)
        self.model = model
        self.base_url = url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_tool_rounds = max_tool_rounds
        self.temperature = temperature
        self._key = key
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"OpenAIChatAgent(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def endpoint(self) -> str:
        """The Chat Completions URL requests are sent to."""
        return f"{self.base_url}/chat/completions"

    async def __call__(self, invocation: Invocation) -> str:
        """Ask the model, run the tools it calls through the invocation, return its final reply."""
        messages = [dict(message) for message in invocation.messages]
        tools = [
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": spec.parameters,
                },
            }
            for spec in invocation.tools
        ]
        for turn in range(self.max_tool_rounds + 1):
            invocation.record_llm_turn()
            message = await self._complete(messages, tools)
            calls = message.get("tool_calls") or []
            if not calls:
                return _text(message.get("content"))
            if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
                msg = f"openai: {self.endpoint} sent tool_calls that are not a list of objects"
                raise ModelError(msg)
            calls = [
                {**call, "id": call.get("id") or f"call_{turn}_{index}"}
                for index, call in enumerate(calls)
            ]
            messages.append(
                {"role": "assistant", "content": message.get("content"), "tool_calls": calls}
            )
            for call in calls:
                content = await self._run_tool(invocation, call)
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
        msg = f"openai: the model still asked for tools after {self.max_tool_rounds} rounds"
        raise ModelError(msg)

    async def _run_tool(self, invocation: Invocation, call: Mapping[str, Any]) -> str:
        """The text the model sees for one tool call: its result, or an error description."""
        function = call.get("function") or {}
        name = str(function.get("name", ""))
        try:
            arguments = _parse_arguments(function.get("arguments"))
        except (TypeError, ValueError) as exc:
            return f"error: the arguments for tool {name!r} are not a JSON object ({exc})"
        try:
            result = await invocation.call_tool(name, arguments)
        except ToolCallError as exc:
            return f"error: {exc}"
        return _tool_result_text(result)

    async def _complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """One completion, retried on transient failures; returns the reply's message dict."""
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            body["tools"] = tools
        if self.temperature is not None:
            body["temperature"] = self.temperature
        attempt = 0
        while True:
            outcome = await self._attempt(body)
            if isinstance(outcome, dict):
                return outcome
            if attempt >= self.max_retries:
                msg = f"openai: {outcome.problem} (gave up after {attempt + 1} attempts)"
                raise ModelError(msg, status=outcome.status) from outcome.cause
            wait = self.backoff * 2**attempt if outcome.retry_after is None else outcome.retry_after
            delay = min(self.max_backoff, wait)
            log.warning("openai: %s; retrying in %.2fs", outcome.problem, delay)
            await self._sleep(delay)
            attempt += 1

    async def _attempt(self, body: dict[str, Any]) -> dict[str, Any] | _Retry:
        """Send one request: the reply's message, or a `_Retry` saying what went wrong.

        Errors that retrying cannot fix (4xx other than 429, a malformed reply) raise at once.
        """
        session = self._get_session()
        headers = {"Authorization": f"Bearer {self._key}"}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with session.post(
                self.endpoint, json=body, headers=headers, timeout=timeout
            ) as response:
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
                text = await response.text()
        except TimeoutError as exc:
            return _Retry(f"no answer from {self.endpoint} within {self.timeout}s", cause=exc)
        except aiohttp.ClientError as exc:
            problem = f"request to {self.endpoint} failed ({type(exc).__name__})"
            return _Retry(problem, cause=exc)
        if status == 429 or status >= 500:
            detail = self._redact(_error_detail(text))
            problem = f"{self.endpoint} answered {status}: {detail}"
            return _Retry(problem, status=status, retry_after=retry_after)
        if status >= 400:
            detail = self._redact(_error_detail(text))
            msg = f"openai: {self.endpoint} answered {status}: {detail}"
            raise ModelError(msg, status=status)
        return self._message(text, status)

    def _message(self, text: str, status: int) -> dict[str, Any]:
        """The first choice's message from a successful response body."""
        try:
            data = json.loads(text)
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            message = None
        if not isinstance(message, dict):
            msg = f"openai: {self.endpoint} sent a reply without choices[0].message"
            raise ModelError(msg, status=status)
        return message

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[REDACTED]")

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or (self._owns_session and self._session.closed):
            self._session = aiohttp.ClientSession()
        return self._session

    async def aclose(self) -> None:
        """Close the HTTP session if this agent created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> OpenAIChatAgent:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _as_agent(fn: Callable[..., Any]) -> Agent:
    """An async agent from a callable: async ones as-is, sync ones run in a worker thread."""
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
        agent: Agent = fn
        return agent

    async def threaded(invocation: Invocation) -> str:
        result = await asyncio.to_thread(fn, invocation)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, str):
            msg = f"agent {fn!r} returned {type(result).__name__}, expected str"
            raise TypeError(msg)
        return result

    return threaded


def _registered_agent(name: str) -> Agent:
    """The agent registered under `name` (`"python:<name>"`, see `greenroom.agents.registry`)."""
    agent = lookup_agent(name)
    if agent is None:
        known = ", ".join(registered_agents()) or "none"
        msg = (f"model 'python:{name}': no agent is registered as {name!r} (registered: "
               f"{known}); call greenroom.agents.registry.register_agent({name!r}, agent) first")
        raise ModelConfigError(msg)
    return _as_agent(agent)


_PROVIDERS: dict[str, Callable[[str], Agent]] = {
    "openai": OpenAIChatAgent,
    "python": _registered_agent,
}


def resolve_model(spec: str | Callable[..., Any] | None) -> Agent:
    """The agent for `ProcessConfig.model`: a callable is used as-is, `"openai:<model>"` builds
    an `OpenAIChatAgent`, `"python:<name>"` is the agent registered under that name. Raises
    `ModelConfigError` naming what is missing or unknown.
    """
    if spec is None:
        msg = "model: not set; give an async agent callable or a string such as 'openai:gpt-4o'"
        raise ModelConfigError(msg)
    if callable(spec) and not isinstance(spec, str):
        return _as_agent(spec)
    if not isinstance(spec, str):
        msg = f"model: expected a callable or 'provider:model', got {type(spec).__name__}"
        raise ModelConfigError(msg)
    provider, _, name = spec.partition(":")
    factory = _PROVIDERS.get(provider)
    if factory is None:
        known = ", ".join(sorted(_PROVIDERS))
        msg = f"model {spec!r}: unknown provider {provider!r} (known providers: {known})"
        raise ModelConfigError(msg)
    if not name:
        msg = f"model {spec!r}: no model name after '{provider}:'"
        raise ModelConfigError(msg)
    return factory(name)
