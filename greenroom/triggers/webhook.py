"""`WebhookTriggerActor`: a POST to a path wakes the process, after the checks a public hook needs.

The actor owns the route's configuration and lifetime (`on_start` binds it, `on_stop` removes
it); requests are handled on the io loop by `handle`, which hands events to the process through
the outlet directly, without a hop through the actor's mailbox. Checks, in order:

1. only for an unsigned hook bound to loopback: a `Host` that is not loopback gets 421 and a
   cross-site `Origin` 403 (a web page cannot reach the hook through DNS rebinding);
2. body size: 413 (`max_body_size`);
3. signature: 401 `{"error": ...}`, no event (`greenroom.triggers.signatures`); a correctly
   signed retry of a delivery already taken (within the tolerance) gets 202
   `{"status": "duplicate"}` and no event, so the provider stops retrying;
4. the process cannot accept events now (`host.accepting()`): 503 with `Retry-After: 30`;
5. the filter drops the event: 200 `{"status": "ignored"}`;
6. the process's answer: 202 `{"status": "accepted", "event_id"}` once it has queued the
   event (and, with a journal, made it durable), 202 `{"status": "duplicate", ...}` for a
   delivery the process already has, else 503 with `Retry-After` and the reason.

A JSON object body becomes a dict payload; any other body is its UTF-8 text. A provider's
delivery id (`X-GitHub-Delivery`, `webhook-id`, the `id` of a Stripe event) of a verified
request makes the idempotency key `<trigger_id>@<delivery id>`. A delivery that was verified but
not taken (503, 500) is released from the replay guard so the provider's retry gets in.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from greenroom.triggers.actor import TriggerActor
from greenroom.triggers.errors import TriggerError
from greenroom.triggers.http_server import Binding, IncomingRequest, WebhookServers, json_error
from greenroom.triggers.signatures import (
    SIGNATURE_HEADERS,
    ReplayedDelivery,
    SignatureError,
    Verified,
    Verifier,
)

if TYPE_CHECKING:
    from types import TracebackType

    from multidict import CIMultiDictProxy

    from greenroom.triggers.config import TriggerConfig
    from greenroom.triggers.event import TriggerEvent
    from greenroom.triggers.host import Delivery, TriggerHost, TriggerStats

__all__ = ["DEFAULT_SECRET_NAME", "DELIVERY_TIMEOUT", "WebhookTriggerActor", "is_loopback"]

logger = logging.getLogger(__name__)

DEFAULT_SECRET_NAME = "WEBHOOK_HMAC_SECRET"
"""The secret used when `verify_hmac=True` and no `hmac_secret` is given."""

DELIVERY_TIMEOUT = 10.0
"""Seconds a request waits for the process to queue its event before answering 503."""

_SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_HIDDEN_HEADERS = SIGNATURE_HEADERS | {
    "authorization", "proxy-authorization", "cookie", "x-api-key",
    "x-telegram-bot-api-secret-token",
}


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or name, no port) is a loopback one: 127/8, ::1, localhost."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_of(header: str) -> str:
    """The host part of a `Host` header value (`name`, `name:port`, `[v6]:port`)."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        return header.partition(":")[0]
    return header


def _browser_guard(headers: CIMultiDictProxy[str]) -> web.Response | None:
    """421 for a non-loopback `Host`, 403 for a cross-site `Origin`; None when both are fine."""
    host = headers.get("Host")
    if host is not None and not is_loopback(_host_of(host)):
        return json_error(421, "this webhook only answers requests addressed to loopback")
    origin = headers.get("Origin")
    if origin is not None:
        try:
            origin_host = urlsplit(origin).hostname
        except ValueError:
            origin_host = None
        if origin_host is None or not is_loopback(origin_host):
            return json_error(403, "cross-site requests are refused")
    return None


def _payload(body: bytes) -> Any:
    """A JSON object body as a dict; anything else as text (invalid UTF-8 replaced)."""
    text = body.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return text
        if isinstance(value, dict):
            return value
    return text


def _text(value: str) -> str:
    """`value` safe to serialise: bytes that were not UTF-8 become U+FFFD."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _metadata_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    """The request headers minus credentials and signatures; repeated ones joined by ', '."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in _HIDDEN_HEADERS:
            continue
        key, text = _text(str(name)), _text(value)
        kept[key] = f"{kept[key]}, {text}" if key in kept else text
    return kept


def _query(request: web.BaseRequest) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for name in request.query:
        if name not in query:
            values = request.query.getall(name)
            query[name] = values[0] if len(values) == 1 else list(values)
    return query


def _unavailable(reason: str) -> web.Response:
    return json_error(503, f"not accepting events: {reason}", retry_after=True)


class WebhookTriggerActor(TriggerActor):
    """A webhook trigger: binds its path on the shared server of its (host, port) on start.

    Spawn it as `spawn(WebhookTriggerActor, config, trigger_id, host, stats)` on any dispatcher;
    `on_start` only binds a socket (no wait on the io loop). The bound URL is in
    `stats.info["url"]`. Raises `TriggerError` in `on_start` for a missing secret, a public
    address without a secret (unless `allow_public_bind`), a path already served, or a port that
    cannot be bound.
    """

    def __init__(
        self, config: TriggerConfig, trigger_id: str, host: TriggerHost, stats: TriggerStats
    ) -> None:
        super().__init__(config, trigger_id, host, stats)
        self._verifier: Verifier | None = None
        self._loopback = is_loopback(config.webhook_host)
        self._binding: Binding | None = None
        self.stats.info.setdefault("rejected_count", 0)
        self.stats.info.setdefault("duplicate_count", 0)

    def on_start(self) -> None:
        """Resolve the secret, refuse an unsafe bind, then serve the path."""
        config = self.config
        secret = self._secret()
        if secret is None and not self._loopback:
            if not config.allow_public_bind:
                msg = (f"webhook {self.trigger_id}: refusing to listen on non-loopback "
                       f"{config.webhook_host!r} without a secret; set hmac_secret or "
                       "verify_hmac, or allow_public_bind=True")
                raise TriggerError(msg)
            logger.warning("webhook %s listens on %s without a signature check",
                           self.trigger_id, config.webhook_host)
        servers = WebhookServers.of(self.system)
        if secret is not None:
            guard = servers.replay_guard((self.host.process_name, self.trigger_id))
            try:
                self._verifier = Verifier(config.signature_scheme, secret,
                                          tolerance=config.signature_tolerance, guard=guard)
            except ValueError as exc:
                msg = f"webhook {self.trigger_id}: {exc}"
                raise TriggerError(msg) from None
        try:
            self._binding = servers.add_route(
                config.webhook_host, config.webhook_port, config.webhook_path, self.handle,
                max_body=config.max_body_size, ready=self.host.accepting,
            )
        except TriggerError as exc:
            msg = f"webhook {self.trigger_id}: {exc}"
            raise TriggerError(msg) from exc
        self.stats.info["url"] = self._binding.url
        logger.info("webhook %s serving %s", self.trigger_id, self._binding.url)

    def on_stop(self) -> None:
        """Stop serving the path (the shared server closes with its last route)."""
        self._unbind()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """A crash skips `on_stop`: free the path here so a restarted trigger can bind it."""
        del exception_type, exception_value, traceback
        self._unbind()

    def _unbind(self) -> None:
        binding, self._binding = self._binding, None
        if binding is not None:
            WebhookServers.of(self.system).remove_route(binding)

    def _secret(self) -> str | None:
        """The HMAC secret: `hmac_secret` (a `${NAME}` is looked up), or the default name."""
        raw = self.config.hmac_secret
        if raw is not None:
            ref = _SECRET_REF.fullmatch(raw)
            if ref is None:
                return raw
            name, origin = ref.group(1), "hmac_secret"
        elif self.config.verify_hmac:
            name, origin = DEFAULT_SECRET_NAME, "verify_hmac=True"
        else:
            return None
        value = self.host.secret(name)
        if not value:
            msg = (f"webhook {self.trigger_id}: secret {name!r} (from {origin}) is not set in "
                   "the process's secret scope or the environment")
            raise TriggerError(msg)
        return value

    async def handle(self, incoming: IncomingRequest) -> web.StreamResponse:
        """Answer one POST (on the io loop): the checks of the module doc, in order."""
        request = incoming.request
        if self._verifier is None and self._loopback:
            refusal = _browser_guard(request.headers)
            if refusal is not None:
                return refusal
        body = await incoming.body()
        verified: Verified | None = None
        if self._verifier is not None:
            try:
                verified = self._verifier.verify(body, request.headers,
                                                 now=self.host.clock.time())
            except ReplayedDelivery:
                self.stats.info["duplicate_count"] += 1
                return web.json_response({"status": "duplicate"}, status=202)
            except SignatureError as exc:
                self.stats.info["rejected_count"] += 1
                logger.info("webhook %s: rejected a request: %s", self.trigger_id, exc)
                return json_error(401, f"invalid signature: {exc}")
        taken = False
        try:
            response, taken = await self._admit(request, body, verified)
        except Exception:
            self.stats.errors += 1
            logger.exception("webhook %s: request failed", self.trigger_id)
            response = json_error(500, "internal error")
        finally:
            if not taken and verified is not None and self._verifier is not None:
                self._verifier.forget(verified)
        return response

    async def _admit(
        self, request: web.BaseRequest, body: bytes, verified: Verified | None
    ) -> tuple[web.StreamResponse, bool]:
        """Steps 4 to 6; also says whether the request was taken (accepted or ignored)."""
        reason = self.host.accepting()
        if reason is not None:
            self.stats.refused += 1
            return _unavailable(reason), False
        payload = _payload(body)
        delivery_id = verified.delivery_id if verified is not None else None
        if verified is not None and verified.scheme == "stripe" and isinstance(payload, dict):
            event_id = payload.get("id")
            if isinstance(event_id, str) and event_id:
                delivery_id = event_id
        metadata: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": _query(request),
            "headers": _metadata_headers(request.headers),
            "remote": request.remote,
            "signature_verified": verified is not None,
            "delivery_id": delivery_id,
        }
        key = f"{self.trigger_id}@{delivery_id}" if delivery_id else None
        event = self.outlet.event(payload, metadata, idempotency_key=key)
        if not self.outlet.matches(event):
            return web.json_response({"status": "ignored"}), True
        delivery = await self._deliver(event)
        if isinstance(delivery, str):
            self.stats.refused += 1
            return _unavailable(delivery), False
        if not delivery.accepted:
            self.stats.refused += 1
            return _unavailable(delivery.reason or "refused by the process"), False
        status = "duplicate" if delivery.reason == "duplicate" else "accepted"
        return web.json_response({"status": status, "event_id": delivery.event_id},
                                 status=202), True

    async def _deliver(self, event: TriggerEvent) -> Delivery | str:
        """The process's `Delivery`, or why none came (no answer in time, process gone)."""
        try:
            async with asyncio.timeout(DELIVERY_TIMEOUT):
                return await self.outlet.deliver(event)
        except TimeoutError:
            return f"the process did not answer within {DELIVERY_TIMEOUT:g} s"
        except Exception as exc:
            logger.warning("webhook %s: delivery failed: %r", self.trigger_id, exc)
            return "the process is not available"

