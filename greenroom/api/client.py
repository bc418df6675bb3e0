"""`OrchestrationClient`: an async Python client of the Orchestration REST API, on aiohttp.

One method per route, named as in the seed's API reference (`deploy`, `start_process`,
`get_journal`, ...), plus the routes greenroom adds: `inject_event`, the dead letters,
`supervision` and the `events` stream. Every method returns the route's decoded JSON answer
(`None` for a 204), and raises a typed `OrchestrationError` (see
`greenroom.api.client_errors`) for an error answer or when the API cannot be reached.

    async with OrchestrationClient("http://127.0.0.1:9100", token="...") as client:
        await client.start_process("monitor")
        status = await client.get_process("monitor")

The client depends only on aiohttp, not on the runtime, so a remote tool stays light.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp
from yarl import URL

from greenroom.api.client_errors import (
    AskTimeout,
    OrchestrationConnectionError,
    OrchestrationTimeout,
    error_from_response,
)

__all__ = ["API_PREFIX", "OrchestrationClient", "ServerSentEvent"]

API_PREFIX = "/api/v1"

JSONObject = dict[str, Any]
"""A decoded JSON object, as the API answers it."""


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event of the `/api/v1/events` stream: its type (`event:` field, "message" if
    absent), its data (decoded JSON, or the raw text if it is not JSON) and its `id:`."""

    event: str
    data: Any
    id: str | None = None


class OrchestrationClient:
    """An async client of one Orchestration API; use it as an async context manager.

    `base_url` is the server's root (`http://127.0.0.1:9100`; a trailing `/api/v1` is accepted),
    `token` the bearer token, `timeout` the default seconds to wait for an answer. `ask` waits
    for its own timeout plus this one; the `events` stream has no read timeout.
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        root = base_url.rstrip("/")
        self.base_url = root.removesuffix(API_PREFIX)
        self.token = token
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<OrchestrationClient {self.base_url}>"

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool (the client can be opened again by the next call)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # Runtime -----------------------------------------------------------------------------------

    async def health(self) -> JSONObject:
        """`{status, process_count}`; the one route that needs no token."""
        return await self._json("GET", "/health")

    async def runtime_status(self) -> JSONObject:
        """`{process_count, processes: {name: status}}` for the whole runtime."""
        return await self._json("GET", "/runtime/status")

    async def start_all(self) -> JSONObject:
        """Start every process that is not running."""
        return await self._json("POST", "/runtime/start-all", body={})

    async def stop_all(self, *, drain_timeout: float | None = None) -> JSONObject:
        """Stop every process; runs in flight get `drain_timeout` s (default: each config's)."""
        return await self._json("POST", "/runtime/stop-all",
                                body=_without_none(drain_timeout=drain_timeout))

    async def supervision(self) -> JSONObject:
        """The runtime's actor tree: `{id, kind, state, restarts, children: [...]}`."""
        return await self._json("GET", "/supervision")

    async def openapi(self) -> JSONObject:
        """The server's OpenAPI document."""
        return await self._json("GET", "/openapi.json")

    # Processes ---------------------------------------------------------------------------------

    async def list_processes(self) -> JSONObject:
        """`{processes: [{name, state, process_id}], total}`."""
        return await self._json("GET", "/processes")

    async def deploy(
        self, name: str, config: Mapping[str, Any], *, start: bool = False
    ) -> JSONObject:
        """Register a process from a `ProcessConfig` as JSON (`config.model_dump(mode="json")`);
        with `start`, start it too. Answers `{name, process_id, state, created_at}`."""
        return await self._json("POST", "/processes",
                                body={"name": name, "config": dict(config), "start": start})

    async def get_process(self, name: str) -> JSONObject:
        """The process's status dict."""
        return await self._json("GET", _process(name))

    async def remove_process(self, name: str) -> None:
        """Stop the process (if it runs) and unregister it."""
        await self._request("DELETE", _process(name))

    async def start_process(self, name: str) -> JSONObject:
        """Start the process: `{name, state}`."""
        return await self._json("POST", _process(name, "start"), body={})

    async def stop_process(self, name: str, *, drain_timeout: float | None = None) -> JSONObject:
        """Stop the process gracefully (runs in flight get `drain_timeout` s, default the
        config's): `{name, state, drain_timeout, interrupted_runs}`."""
        return await self._json("POST", _process(name, "stop"),
                                body=_without_none(drain_timeout=drain_timeout))

    async def restart_process(self, name: str) -> JSONObject:
        """Stop the process and start it again: `{name, state}`."""
        return await self._json("POST", _process(name, "restart"), body={})

    async def suspend_process(self, name: str) -> JSONObject:
        """Suspend the process (events keep queueing): `{name, suspended, state}`."""
        return await self._json("POST", _process(name, "suspend"), body={})

    async def resume_process(self, name: str) -> JSONObject:
        """Resume a suspended process (queued events run in order): `{name, resumed, state}`."""
        return await self._json("POST", _process(name, "resume"), body={})

    async def get_metrics(self, name: str) -> JSONObject:
        """The process's counters (the same dict as `get_process`)."""
        return await self._json("GET", _process(name, "metrics"))

    # Live configuration ------------------------------------------------------------------------

    async def update_instructions(self, name: str, instructions: str) -> JSONObject:
        """Replace the system prompt, effective from the next run."""
        return await self._json("PATCH", _process(name, "instructions"),
                                body={"instructions": instructions})

    async def update_budget(self, name: str, **fields: Any) -> JSONObject:
        """Change budget limits, a partial `BudgetConfig` given as keywords
        (`update_budget("monitor", max_tool_calls_per_day=5)`)."""
        return await self._json("PATCH", _process(name, "budget"), body=fields)

    async def update_health(self, name: str, **fields: Any) -> JSONObject:
        """Change health thresholds (a partial `HealthConfig`)."""
        return await self._json("PATCH", _process(name, "health"), body=fields)

    async def update_mission(self, name: str, **fields: Any) -> JSONObject:
        """Change the mission (a partial `MissionConfig`)."""
        return await self._json("PATCH", _process(name, "mission"), body=fields)

    # Inbox -------------------------------------------------------------------------------------

    async def send_message(
        self,
        name: str,
        content: str,
        *,
        message_type: str = "context",
        priority: str = "normal",
        sender_id: str | None = None,
        ttl: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> JSONObject:
        """Put a message in the agent's inbox: `{message_id, status, expires_at}`."""
        body = _without_none(content=content, message_type=message_type, priority=priority,
                             sender_id=sender_id, ttl=ttl,
                             metadata=None if metadata is None else dict(metadata))
        return await self._json("POST", _process(name, "messages"), body=body)

    async def ask(
        self, name: str, question: str, *, timeout: float = 120.0, sender_id: str | None = None
    ) -> JSONObject:
        """Ask the agent and wait up to `timeout` s for its answer:
        `{question_id, status: "answered", response, answered_at, invocation_id}`. Raises
        `AskTimeout` when the agent did not answer in time (the question is withdrawn)."""
        body = _without_none(content=question, timeout=timeout, sender_id=sender_id)
        answer = await self._json("POST", _process(name, "ask"), body=body,
                                  timeout=timeout + self.timeout)
        if answer.get("status") == "timeout":
            msg = f"{name!r} did not answer within {timeout:g} s"
            raise AskTimeout("ASK_TIMEOUT", msg, 200)
        return answer

    async def get_inbox(self, name: str) -> JSONObject:
        """The inbox: `{enabled, pending_messages, pending_questions, messages: [...]}`."""
        return await self._json("GET", _process(name, "inbox"))

    async def clear_inbox(self, name: str) -> None:
        """Remove every message; pending questions are answered 410 `QUESTION_REMOVED`."""
        await self._request("DELETE", _process(name, "inbox"))

    # Triggers ----------------------------------------------------------------------------------

    async def list_triggers(self, name: str) -> JSONObject:
        """`{name, triggers: [{id, type, source, config}], count}` (secrets masked)."""
        return await self._json("GET", _process(name, "triggers"))

    async def add_trigger(self, name: str, trigger_config: Mapping[str, Any]) -> JSONObject:
        """Add a trigger (`TriggerConfig` fields): `{trigger_id, trigger_type, ...}`."""
        return await self._json("POST", _process(name, "triggers"), body=dict(trigger_config))

    async def remove_trigger(self, name: str, trigger_id: str) -> JSONObject:
        """Stop and remove a trigger by id."""
        return await self._json("DELETE", _process(name, "triggers", trigger_id))

    # Secrets -----------------------------------------------------------------------------------

    async def list_secrets(self, name: str) -> JSONObject:
        """Secret names and metadata, never values."""
        return await self._json("GET", _process(name, "secrets"))

    async def rotate_secret(
        self, name: str, secret_name: str, value: str, *, ttl: float | None = None
    ) -> JSONObject:
        """Give a secret a new value (and TTL), effective at once."""
        return await self._json("PATCH", _process(name, "secrets", secret_name),
                                body=_without_none(value=value, ttl=ttl))

    async def revoke_secrets(self, name: str) -> JSONObject:
        """Revoke every secret of the process at once."""
        return await self._json("DELETE", _process(name, "secrets"))

    # Journal and context -----------------------------------------------------------------------

    async def get_journal(
        self, name: str, *, limit: int = 50, entry_type: str | None = None
    ) -> JSONObject:
        """The last `limit` (1-500) journal entries, oldest first, optionally of one type:
        `{name, entries: [{entry_id, entry_type, timestamp, data}], count}`."""
        params = _without_none(limit=str(limit), type=entry_type)
        return await self._json("GET", _process(name, "journal"), params=params)

    async def get_context(self, name: str) -> JSONObject:
        """`{state (secrets redacted), writable_keys, all_keys_writable}`."""
        return await self._json("GET", _process(name, "context"))

    async def update_context(self, name: str, state: Mapping[str, Any]) -> JSONObject:
        """Write context keys, all or nothing: `{name, updated_keys}` (403 `WriteDenied`)."""
        return await self._json("PATCH", _process(name, "context"), body={"state": dict(state)})

    # Mission and health ------------------------------------------------------------------------

    async def get_mission(self, name: str) -> JSONObject:
        """The mission's state, objective and evaluations."""
        return await self._json("GET", _process(name, "mission"))

    async def fail_mission(self, name: str, reason: str = "failed by operator") -> JSONObject:
        """Mark the mission failed."""
        return await self._json("POST", _process(name, "mission", "fail"),
                                body={"reason": reason})

    async def pause_mission(self, name: str) -> JSONObject:
        """Pause mission evaluation."""
        return await self._json("POST", _process(name, "mission", "pause"), body={})

    async def resume_mission(self, name: str) -> JSONObject:
        """Resume mission evaluation."""
        return await self._json("POST", _process(name, "mission", "resume"), body={})

    async def get_anomalies(self, name: str) -> JSONObject:
        """The health monitor's anomalies: `{name, health_enabled, anomalies, count}`."""
        return await self._json("GET", _process(name, "health", "anomalies"))

    async def clear_anomalies(self, name: str) -> JSONObject:
        """Forget the recorded anomalies: `{name, anomalies_cleared}`."""
        return await self._json("DELETE", _process(name, "health", "anomalies"))

    # Events and dead letters -------------------------------------------------------------------

    async def inject_event(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        trigger_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> JSONObject:
        """Queue an event by hand: `{status: "injected" | "duplicate" | ..., event_id}`. A
        redelivered `idempotency_key` is acknowledged ("duplicate") but not run again."""
        body = _without_none(trigger_type=trigger_type,
                             payload=None if payload is None else dict(payload),
                             metadata=None if metadata is None else dict(metadata),
                             idempotency_key=idempotency_key)
        return await self._json("POST", _process(name, "events"), body=body)

    async def list_dead_letters(self, name: str) -> JSONObject:
        """The events that will not run, with their reasons."""
        return await self._json("GET", _process(name, "dead-letters"))

    async def redeliver_dead_letters(
        self, name: str, event_ids: Sequence[str] | None = None
    ) -> JSONObject:
        """Queue dead letters again (all of them if `event_ids` is None)."""
        body = _without_none(event_ids=None if event_ids is None else list(event_ids))
        return await self._json("POST", _process(name, "dead-letters"), body=body)

    async def clear_dead_letters(self, name: str) -> JSONObject:
        """Forget the process's dead letters."""
        return await self._json("DELETE", _process(name, "dead-letters"))

    async def events(self, types: Sequence[str] | None = None) -> AsyncIterator[ServerSentEvent]:
        """The runtime's events as they happen (server-sent events), optionally only those
        matching `types` (topic patterns such as `process.*`); iterate with `async for`. The
        stream closes with the iterator (`contextlib.aclosing` closes it at once)."""
        params = {"types": ",".join(types)} if types else None
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=None)
        url = self._url("/events")
        try:
            async with self._open().get(url, params=params, timeout=timeout,
                                        headers={"Accept": "text/event-stream"}) as response:
                if response.status >= 400:
                    raise error_from_response(response.status, _decode(await response.read()))
                async for event in _parse_sse(response.content):
                    yield event
        except aiohttp.ClientError as exc:  # refused, reset, or the stream cut short
            raise OrchestrationConnectionError(str(url), _reason(exc)) from exc

    # Transport ---------------------------------------------------------------------------------

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Accept": "application/json"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            self._session = aiohttp.ClientSession(headers=headers)
        return self._session

    def _url(self, path: str) -> URL:
        return URL(f"{self.base_url}{API_PREFIX}{path}", encoded=True)

    async def _json(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> JSONObject:
        answer = await self._request(method, path, body=body, params=params, timeout=timeout)
        return answer if isinstance(answer, dict) else {}

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer (None for an empty one), or a typed
        error."""
        url = self._url(path)
        seconds = self.timeout if timeout is None else timeout
        try:
            async with self._open().request(
                method, url, json=None if body is None else dict(body), params=params,
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:  # before ClientError: aiohttp's timeouts are both
            raise OrchestrationTimeout(f"{method} {url}", seconds) from exc
        except aiohttp.ClientError as exc:  # refused, reset, or the answer cut short
            raise OrchestrationConnectionError(str(url), _reason(exc)) from exc
        answer = _decode(raw)
        if status >= 400:
            raise error_from_response(status, answer)
        return answer


def _process(name: str, *parts: str) -> str:
    """The path of a process route, each segment percent-encoded."""
    return "/".join(["/processes", *(quote(part, safe="") for part in (name, *parts))])


def _without_none(**fields: Any) -> dict[str, Any]:
    """The fields that are set (the server applies its defaults to the others)."""
    return {key: value for key, value in fields.items() if value is not None}


def _decode(raw: bytes) -> Any:
    """The JSON in `raw`; None if it is empty, the text if it is not JSON."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _reason(exc: aiohttp.ClientError) -> str:
    """Why a connection failed, in a few words (the OS error if there is one)."""
    cause = getattr(exc, "os_error", None) or exc
    return str(cause) or type(cause).__name__


async def _parse_sse(stream: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """The events of a `text/event-stream` body (the WHATWG format: `field: value` lines, a
    blank line ends an event, `:` lines are comments, `data` lines are joined by newlines)."""
    event, event_id = "", None
    data: list[str] = []
    async for raw_line in stream:
        line = raw_line.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                text = "\n".join(data)
                yield ServerSentEvent(event or "message", _decode(text.encode()), event_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
