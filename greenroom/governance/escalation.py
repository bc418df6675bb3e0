"""`Escalator`: tells people about a governance decision (a budget violation, an anomaly, a mission
in doubt) through the `EscalationTarget` of the subsystem that made it.

A target names a webhook (`webhook_url`: the payload is POSTed as JSON) and/or an event type
(`event_type`: the payload is emitted on the process's event bus). The rules:

- The POST uses aiohttp with a total `timeout` (default 10 s), http and https URLs only, and
  follows no redirect: any answer but 2xx is a failure, a 3xx included, so a webhook cannot bounce
  the payload somewhere else.
- A failure is logged (warning) and returned in the `EscalationResult`, never raised: escalating
  is a side channel and must not break the run or the actor that escalates.
- Log lines and results show the webhook only as `scheme://host[:port]`: webhook URLs (Slack's,
  for one) carry their credential in the path.
- With a `redactor`, the payload is redacted before it leaves (event and POST alike), and so is
  the text of any value that JSON cannot represent (it is sent as its redacted `str()`).

The event bus is anything with `emit_nowait(event_type, data, source=...)` (preferred: it does
not wait, so it is safe in an actor) or an `emit` of that shape, sync or async; greenroom's
`EventBus` and every `EventBusLike` qualify.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from greenroom.governance.config import EscalationTarget
from greenroom.governance.redaction import Redactor

__all__ = ["DEFAULT_TIMEOUT", "ChannelResult", "EscalationResult", "Escalator"]

DEFAULT_TIMEOUT = 10.0
"""Seconds a webhook POST may take in total (connect, send, answer)."""

logger = logging.getLogger("greenroom.governance.escalation")


@dataclass(frozen=True)
class ChannelResult:
    """How one channel (`webhook` or `event`) fared; `status` is the HTTP status, if any."""

    channel: str
    ok: bool
    detail: str
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for a journal entry or a status)."""
        return {"channel": self.channel, "ok": self.ok, "detail": self.detail,
                "status": self.status}


@dataclass(frozen=True)
class EscalationResult:
    """What one escalation did: a `ChannelResult` per channel the target names (else None)."""

    webhook: ChannelResult | None = None
    event: ChannelResult | None = None

    @property
    def attempted(self) -> bool:
        """Whether the target named any channel."""
        return self.webhook is not None or self.event is not None

    @property
    def ok(self) -> bool:
        """Whether something was attempted and every attempted channel succeeded."""
        channels = [c for c in (self.webhook, self.event) if c is not None]
        return bool(channels) and all(c.ok for c in channels)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for a journal entry or a status)."""
        return {
            "ok": self.ok,
            "webhook": None if self.webhook is None else self.webhook.to_dict(),
            "event": None if self.event is None else self.event.to_dict(),
        }


class Escalator:
    """Sends escalation payloads to webhooks and an event bus; never raises a delivery failure.

    `source` is passed with every event (the process name, typically). Raises `ValueError` /
    `TypeError` only for bad constructor arguments, a target that is not an `EscalationTarget`
    or a payload that is not a mapping: those are bugs of the caller, not delivery failures.
    """

    def __init__(
        self,
        *,
        event_bus: object | None = None,
        source: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        redactor: Redactor | None = None,
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            0 < timeout < math.inf
        ):
            msg = f"timeout: expected a finite number of seconds > 0, got {timeout!r}"
            raise ValueError(msg)
        if event_bus is not None and not (
            callable(getattr(event_bus, "emit_nowait", None))
            or callable(getattr(event_bus, "emit", None))
        ):
            msg = f"event_bus: {type(event_bus).__name__} has neither emit_nowait() nor emit()"
            raise TypeError(msg)
        if not isinstance(source, str):
            msg = f"source: expected a str, got {type(source).__name__}"
            raise TypeError(msg)
        self.event_bus = event_bus
        self.source = source
        self.timeout = float(timeout)
        self.redactor = redactor

    def __repr__(self) -> str:
        bus = None if self.event_bus is None else type(self.event_bus).__name__
        return f"Escalator(source={self.source!r}, timeout={self.timeout}, event_bus={bus})"

    async def escalate(
        self, target: EscalationTarget | None, payload: Mapping[str, Any]
    ) -> EscalationResult:
        """Emit `payload` as `target.event_type` and/or POST it to `target.webhook_url`.

        The event goes first (it does not wait), then the POST. A target of None, or one that
        names neither channel, sends nothing (logged as a warning).
        """
        if target is not None and not isinstance(target, EscalationTarget):
            msg = f"target: expected an EscalationTarget or None, got {type(target).__name__}"
            raise TypeError(msg)
        if not isinstance(payload, Mapping):
            msg = f"payload: expected a mapping, got {type(payload).__name__}"
            raise TypeError(msg)
        if target is None or (target.webhook_url is None and target.event_type is None):
            logger.warning("escalation from %r dropped: no webhook_url or event_type to send to",
                           self.source)
            return EscalationResult()
        data = self._redact(dict(payload))
        event = None
        if target.event_type is not None:
            event = await self._emit(target.event_type, data)
        webhook = None
        if target.webhook_url is not None:
            webhook = await self._post(target.webhook_url, data)
        for channel in (event, webhook):
            if channel is not None and not channel.ok:
                logger.warning("escalation from %r: %s failed: %s", self.source,
                               channel.channel, channel.detail)
        return EscalationResult(webhook=webhook, event=event)

    def _redact(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.redactor is None:
            return data
        redacted: dict[str, Any] = self.redactor.redact_data(data)
        return redacted

    def _fallback(self, value: object) -> str:
        """What JSON cannot represent is sent as its (redacted) `str()`."""
        text = str(value)
        return text if self.redactor is None else self.redactor.redact(text)

    async def _emit(self, event_type: str, data: dict[str, Any]) -> ChannelResult:
        """Emit on the bus (`emit_nowait` if it has one); the outcome, never an exception."""
        bus = self.event_bus
        if bus is None:
            return ChannelResult("event", False, f"no event bus to emit {event_type!r} on")
        try:
            emit_nowait = getattr(bus, "emit_nowait", None)
            if callable(emit_nowait):
                emit_nowait(event_type, data, source=self.source)
            else:
                result = bus.emit(event_type, data, source=self.source)  # type: ignore[attr-defined]
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            return ChannelResult("event", False, f"emit failed ({type(exc).__name__})")
        return ChannelResult("event", True, f"emitted {event_type!r}")

    async def _post(self, webhook_url: str, data: dict[str, Any]) -> ChannelResult:
        """POST `data` as JSON; the outcome, never an exception."""
        url = _checked_url(webhook_url)
        if isinstance(url, str):
            return ChannelResult("webhook", False, url)
        where = str(url.origin())
        try:
            body = json.dumps(data, ensure_ascii=False, allow_nan=False, default=self._fallback)
        except (TypeError, ValueError) as exc:
            return ChannelResult("webhook", False, f"payload is not JSON ({type(exc).__name__})")
        try:
            status = await self._send(url, body.encode())
        except TimeoutError:
            return ChannelResult("webhook", False,
                                 f"no answer from {where} within {self.timeout:g} s")
        except Exception as exc:
            return ChannelResult("webhook", False,
                                 f"POST to {where} failed ({type(exc).__name__})")
        return _judge(where, status)

    async def _send(self, url: URL, body: bytes) -> int:
        """POST `body` without following redirects; the answer's status."""
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        headers = {"Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            return response.status


def _checked_url(webhook_url: str) -> URL | str:
    """The URL if it is http(s) with a host, else why not (never quoting the URL)."""
    try:
        url = URL(webhook_url)
    except (TypeError, ValueError):
        return "webhook_url is not a valid URL"
    if url.scheme not in ("http", "https"):
        return f"webhook_url scheme {url.scheme!r} refused: only http and https are allowed"
    if not url.host:
        return "webhook_url has no host"
    return url


def _judge(where: str, status: int) -> ChannelResult:
    """2xx is success; a redirect (3xx, not followed) and everything else are failures."""
    if 200 <= status < 300:
        return ChannelResult("webhook", True, f"{where} answered HTTP {status}", status)
    if 300 <= status < 400:
        detail = f"{where} answered HTTP {status}, a redirect, which is not followed"
        return ChannelResult("webhook", False, detail, status)
    return ChannelResult("webhook", False, f"{where} answered HTTP {status}", status)
