"""The webhook trigger over real HTTP on loopback: routing, checks, responses and signatures."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from trigger_support import RecordingHost
from yarl import URL

from greenroom.actors.errors import ActorStartError
from greenroom.actors.future import Future
from greenroom.actors.system import ActorSystem
from greenroom.testing.probe import time_factor
from greenroom.triggers.config import TriggerConfig
from greenroom.triggers.errors import TriggerError
from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.host import Delivery, TriggerStats
from greenroom.triggers.http_server import Binding, WebhookServers
from greenroom.triggers.signatures import SCHEMES, TIMESTAMPED_SCHEMES, sign
from greenroom.triggers.webhook import WebhookTriggerActor, is_loopback

TIMEOUT = 30.0 * time_factor()
SECRET = "hook-secret"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def webhook(**fields: Any) -> TriggerConfig:
    fields.setdefault("webhook_port", 0)
    return TriggerConfig(type="webhook", **fields)


def start(
    system: ActorSystem, config: TriggerConfig, host: RecordingHost, trigger_id: str = "t1"
) -> TriggerStats:
    stats = TriggerStats(trigger_id, "webhook")
    system.spawn(WebhookTriggerActor, config, trigger_id, host, stats, name=trigger_id)
    return stats


def stop(system: ActorSystem, trigger_id: str) -> None:
    ref = system.lookup(f"/{trigger_id}")
    assert ref is not None
    system.stop(ref)


def start_error(system: ActorSystem, config: TriggerConfig, host: RecordingHost) -> str:
    with pytest.raises(ActorStartError) as info:
        start(system, config, host)
    cause = info.value.__cause__
    assert isinstance(cause, TriggerError)
    return str(cause)


def request(
    method: str, url: str, data: Any = b"", headers: dict[str, str] | None = None,
    *, expect100: bool = False,
) -> Reply:
    async def go() -> Reply:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as s, \
                s.request(method, url, data=data, headers=headers, expect100=expect100) as resp:
            text = await resp.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = text
            return Reply(resp.status, body, dict(resp.headers))

    return asyncio.run(go())


def post(url: str, data: Any = b"{}", headers: dict[str, str] | None = None) -> Reply:
    return request("POST", url, data, headers)


def raw_post(url: str, head: bytes, body: bytes) -> int:
    """POST with hand-written header bytes (for bytes no client would send); the status."""
    parsed = URL(url)

    async def go() -> int:
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        try:
            writer.write(
                b"POST " + parsed.path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + head + b"Content-Length: " + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n" + body
            )
            await writer.drain()
            async with asyncio.timeout(TIMEOUT):
                status_line = await reader.readline()
            return int(status_line.split()[1])
        finally:
            writer.close()

    return asyncio.run(go())


def url_of(stats: TriggerStats) -> str:
    url = stats.info["url"]
    assert isinstance(url, str)
    return url


def port_of(stats: TriggerStats) -> int:
    port = URL(url_of(stats)).port
    assert port is not None
    return port


# Accepted, ignored, refused -------------------------------------------------------------------

def test_accepted_json_event_with_metadata(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(webhook_path="/hooks/alert"), host)
    url = url_of(stats)
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/hooks/alert")

    reply = post(url + "?x=1&x=2&y=3", json.dumps({"level": "high", "n": 3}), {
        "Content-Type": "application/json", "Authorization": "Bearer t0ken",
        "Cookie": "session=abc", "X-Custom": "yes",
    })

    assert reply.status == 202
    assert reply.body["status"] == "accepted"
    event = host.next_event(TIMEOUT)
    assert reply.body["event_id"] == event.event_id
    assert event.trigger_id == "t1"
    assert event.trigger_type == "webhook"
    assert event.payload == {"level": "high", "n": 3}
    meta = event.metadata
    assert meta["method"] == "POST"
    assert meta["path"] == "/hooks/alert"
    assert meta["query"] == {"x": ["1", "2"], "y": "3"}
    assert meta["remote"] == "127.0.0.1"
    assert meta["signature_verified"] is False
    assert meta["delivery_id"] is None
    assert meta["headers"]["X-Custom"] == "yes"
    lowered = {name.lower() for name in meta["headers"]}
    assert not lowered & {"authorization", "cookie"}
    assert event.idempotency_key == event.event_id
    assert stats.fired == 1


def test_text_and_non_object_bodies_become_text(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    url = url_of(start(actor_system, webhook(), host))
    for body in ["plain text", "[1, 2, 3]", "{not json", ""]:
        assert post(url, body.encode()).status == 202
        assert host.next_event(TIMEOUT).payload == body
    assert post(url, b"\xff\xfeok").status == 202
    assert host.next_event(TIMEOUT).payload == "\ufffd\ufffdok"


def test_filtered_event_is_ignored_with_200(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    config = webhook(filter_expression=lambda e: isinstance(e.payload, dict)
                     and e.payload.get("kind") == "keep")
    stats = start(actor_system, config, host)
    url = url_of(stats)

    reply = post(url, json.dumps({"kind": "drop"}))
    assert (reply.status, reply.body) == (200, {"status": "ignored"})
    assert host.drain() == []
    assert stats.filtered == 1

    assert post(url, json.dumps({"kind": "keep"})).status == 202
    assert host.next_event(TIMEOUT).payload == {"kind": "keep"}


def test_refused_while_the_process_cannot_accept(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(), host)
    host.refuse_reason = "process is failed"

    reply = post(url_of(stats))

    assert reply.status == 503
    assert reply.headers["Retry-After"] == "30"
    assert "process is failed" in reply.body["error"]
    assert host.drain() == []
    assert stats.refused == 1


class RefusingHost(RecordingHost):
    """Says it accepts, then refuses (or fails) the delivery itself."""

    def __init__(self, outcome: str) -> None:
        super().__init__()
        self.outcome = outcome

    def accepting(self) -> str | None:
        return None

    def deliver(self, event: TriggerEvent) -> Future[Delivery]:
        future: Future[Delivery] = Future()
        if self.outcome == "refuse":
            future.set(Delivery(False, event.event_id, "queue full"))
        else:
            try:
                raise RuntimeError("process actor is dead")
            except RuntimeError:
                future.set_exception()
        return future


@pytest.mark.parametrize(("outcome", "reason"), [
    ("refuse", "queue full"), ("fail", "not available"),
])
def test_refused_by_the_delivery(actor_system: ActorSystem, outcome: str, reason: str) -> None:
    host = RefusingHost(outcome)
    stats = start(actor_system, webhook(), host)

    reply = post(url_of(stats))

    assert reply.status == 503
    assert reply.headers["Retry-After"] == "30"
    assert reason in reply.body["error"]
    assert stats.refused == 1


class BrokenHost(RecordingHost):
    def accepting(self) -> str | None:
        raise RuntimeError("boom in the host")


def test_unexpected_error_is_a_500_json(actor_system: ActorSystem) -> None:
    host = BrokenHost()
    stats = start(actor_system, webhook(), host)

    reply = post(url_of(stats))

    assert (reply.status, reply.body) == (500, {"error": "internal error"})
    assert stats.errors == 1


# Limits, routing, health ----------------------------------------------------------------------

def test_body_over_the_limit_is_413(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    url = url_of(start(actor_system, webhook(max_body_size=64), host))

    assert post(url, b"x" * 64).status == 202
    host.next_event(TIMEOUT)
    reply = post(url, b"x" * 65)
    assert reply.status == 413
    assert "64 bytes" in reply.body["error"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 16

    assert post(url, chunks()).status == 413
    assert request("POST", url, b"z" * 65, expect100=True).status == 413
    assert host.drain() == []
    assert request("POST", url, b"{}", expect100=True).status == 202
    host.next_event(TIMEOUT)


def test_unknown_path_wrong_method_and_health(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(webhook_path="/in"), host)
    base = url_of(stats).removesuffix("/in")

    missing = post(base + "/other")
    assert missing.status == 404
    assert "error" in missing.body
    wrong = request("GET", base + "/in")
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "POST"

    healthy = request("GET", base + "/health")
    assert (healthy.status, healthy.body) == (200, {"status": "ok"})
    assert request("POST", base + "/health").status == 405
    host.refuse_reason = "suspended"
    unavailable = request("GET", base + "/health")
    assert (unavailable.status, unavailable.body) == (503, {"status": "unavailable"})
    assert host.drain() == []


def test_health_path_is_reserved(actor_system: ActorSystem) -> None:
    assert "reserved" in start_error(actor_system, webhook(webhook_path="/health"), RecordingHost())


def test_two_triggers_share_a_port(actor_system: ActorSystem) -> None:
    host_a, host_b = RecordingHost(process_name="a"), RecordingHost(process_name="b")
    stats_a = start(actor_system, webhook(webhook_path="/a"), host_a, "ta")
    port = port_of(stats_a)
    stats_b = start(actor_system, webhook(webhook_path="/b", webhook_port=port), host_b, "tb")
    assert url_of(stats_b) == f"http://127.0.0.1:{port}/b"

    assert post(url_of(stats_a), b'{"to": "a"}').status == 202
    assert post(url_of(stats_b), b'{"to": "b"}').status == 202
    assert host_a.next_event(TIMEOUT).payload == {"to": "a"}
    assert host_b.next_event(TIMEOUT).payload == {"to": "b"}
    assert host_a.drain() == host_b.drain() == []

    error = start_error(actor_system, webhook(webhook_path="/a", webhook_port=port),
                        RecordingHost())
    assert "/a" in error
    assert f"127.0.0.1:{port}" in error

    assert WebhookServers.of(actor_system).addresses() == [("127.0.0.1", port)]
    stop(actor_system, "ta")
    assert post(url_of(stats_a)).status == 404
    assert post(url_of(stats_b)).status == 202


def test_restarted_trigger_gets_its_port_and_path_back(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    first = start(actor_system, webhook(webhook_path="/r"), host)
    port = port_of(first)
    for _ in range(3):
        stop(actor_system, "t1")
        again = start(actor_system, webhook(webhook_path="/r", webhook_port=port), host)
        assert url_of(again) == url_of(first)
        assert post(url_of(again)).status == 202
        host.next_event(TIMEOUT)


def test_localhost_name_is_served(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(webhook_host="localhost"), host)
    assert url_of(stats).startswith("http://localhost:")
    assert post(url_of(stats)).status == 202
    host.next_event(TIMEOUT)


def test_undecodable_header_bytes_reach_metadata_as_text(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(), host)
    assert raw_post(url_of(stats), b"X-Odd: caf\xc3\xa9 \xff\r\n", b"{}") == 202
    assert host.next_event(TIMEOUT).metadata["headers"]["X-Odd"] == "caf\u00e9 \ufffd"


def test_port_in_use_is_a_trigger_error(actor_system: ActorSystem) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        error = start_error(actor_system, webhook(webhook_port=port), RecordingHost())
    assert f"127.0.0.1:{port}" in error
    assert error.startswith("webhook t1: ")


# Secrets and public binds ---------------------------------------------------------------------

def test_public_bind_without_secret_is_refused(actor_system: ActorSystem) -> None:
    error = start_error(actor_system, webhook(webhook_host="0.0.0.0"), RecordingHost())
    assert "0.0.0.0" in error
    assert "allow_public_bind" in error


def test_public_bind_with_secret_or_explicit_permission(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    signed = start(actor_system, webhook(webhook_host="0.0.0.0", hmac_secret=SECRET,
                                         webhook_path="/s"), host, "ts")
    local = f"http://127.0.0.1:{port_of(signed)}/s"
    assert post(local, b"{}").status == 401
    assert post(local, b"{}", sign("generic", SECRET, b"{}")).status == 202
    assert host.next_event(TIMEOUT).metadata["signature_verified"] is True

    opened = start(actor_system, webhook(webhook_host="0.0.0.0", allow_public_bind=True,
                                         webhook_path="/o"), host, "to")
    assert post(f"http://127.0.0.1:{port_of(opened)}/o").status == 202


def test_secret_reference_is_resolved_through_the_host(actor_system: ActorSystem) -> None:
    host = RecordingHost(secrets={"HOOK_SECRET": SECRET})
    url = url_of(start(actor_system, webhook(hmac_secret="${HOOK_SECRET}",
                                             signature_scheme="github"), host))
    body = b'{"ref": "main"}'
    assert post(url, body, sign("github", "${HOOK_SECRET}", body)).status == 401
    assert post(url, body, sign("github", SECRET, body, delivery_id="g-1")).status == 202
    event = host.next_event(TIMEOUT)
    assert event.metadata["delivery_id"] == "g-1"
    assert event.idempotency_key == "t1@g-1"


def test_missing_secret_reference_names_it(actor_system: ActorSystem) -> None:
    error = start_error(actor_system, webhook(hmac_secret="${NOT_SET_ANYWHERE_42}"),
                        RecordingHost())
    assert "NOT_SET_ANYWHERE_42" in error


def test_verify_hmac_takes_the_secret_from_the_environment(
    actor_system: ActorSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_HMAC_SECRET", "from-env")
    host = RecordingHost()
    url = url_of(start(actor_system, webhook(verify_hmac=True), host))
    assert post(url, b"{}").status == 401
    assert post(url, b"{}", sign("generic", "from-env", b"{}")).status == 202
    host.next_event(TIMEOUT)


def test_verify_hmac_without_secret_is_a_trigger_error(
    actor_system: ActorSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_HMAC_SECRET", raising=False)
    error = start_error(actor_system, webhook(verify_hmac=True), RecordingHost())
    assert "WEBHOOK_HMAC_SECRET" in error


def test_bad_standard_secret_is_a_trigger_error(actor_system: ActorSystem) -> None:
    config = webhook(hmac_secret="whsec_not base64", signature_scheme="standard")
    assert "whsec_" in start_error(actor_system, config, RecordingHost())


# The browser guard of unsigned loopback hooks -------------------------------------------------

@pytest.mark.parametrize(("headers", "status"), [
    ({"Host": "evil.example"}, 421),
    ({"Host": "evil.example:8080"}, 421),
    ({"Host": "localhost:1234"}, 202),
    ({"Host": "[::1]:1234"}, 202),
    ({"Origin": "https://evil.example"}, 403),
    ({"Origin": "null"}, 403),
    ({"Origin": "http://localhost:3000"}, 202),
    ({"Origin": "http://127.0.0.1"}, 202),
])
def test_unsigned_loopback_hook_guards_against_browsers(
    actor_system: ActorSystem, headers: dict[str, str], status: int
) -> None:
    host = RecordingHost()
    url = url_of(start(actor_system, webhook(), host))
    assert post(url, b"{}", headers).status == status
    assert len(host.drain()) == (1 if status == 202 else 0)


def test_signed_hook_does_not_need_the_browser_guard(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    url = url_of(start(actor_system, webhook(hmac_secret=SECRET), host))
    headers = {"Host": "hooks.example.com", **sign("generic", SECRET, b"{}")}
    assert post(url, b"{}", headers).status == 202


@pytest.mark.parametrize(("name", "expected"), [
    ("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST.", True), ("app.localhost", True),
    ("0.0.0.0", False), ("10.0.0.1", False), ("example.com", False), ("", False),
    ("localhost.example.com", False),
])
def test_is_loopback(name: str, expected: bool) -> None:
    assert is_loopback(name) is expected


# Signature matrix over HTTP -------------------------------------------------------------------

BODY = b'{"id": "evt_1", "type": "ping"}'


def signed(scheme: str, case: str, now: float) -> dict[str, str]:
    if case == "wrong_secret":
        return sign(scheme, "not-the-secret", BODY, timestamp=now)
    if case == "stale":
        return sign(scheme, SECRET, BODY, timestamp=now - 3600)
    headers = sign(scheme, SECRET, BODY, timestamp=now)
    if case == "malformed":
        return {name: "v9=zz" if "signature" in name.lower() else value
                for name, value in headers.items()}
    if case == "non_ascii":
        return {name: value + "\u00e9" if "signature" in name.lower() else value
                for name, value in headers.items()}
    return headers


MATRIX = [(scheme, case) for scheme in SCHEMES
          for case in ("wrong_secret", "stale", "malformed", "non_ascii", "missing")
          if case != "stale" or scheme in TIMESTAMPED_SCHEMES]


@pytest.mark.parametrize(("scheme", "case"), MATRIX)
def test_bad_signature_is_401_without_event(
    actor_system: ActorSystem, scheme: str, case: str
) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(hmac_secret=SECRET, signature_scheme=scheme), host)
    headers = {} if case == "missing" else signed(scheme, case, host.clock.time())

    reply = post(url_of(stats), BODY, headers)

    assert reply.status == 401
    assert reply.body["error"].startswith("invalid signature")
    assert host.drain() == []
    assert stats.fired == 0
    assert stats.info["rejected_count"] == 1


@pytest.mark.parametrize("scheme", SCHEMES)
def test_invalid_utf8_header_is_401_not_500(actor_system: ActorSystem, scheme: str) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(hmac_secret=SECRET, signature_scheme=scheme), host)
    head = b"".join(
        name.encode() + b": " + value.encode() + (b"\xff" if "signature" in name.lower() else b"")
        + b"\r\n"
        for name, value in sign(scheme, SECRET, BODY).items()
    )
    assert raw_post(url_of(stats), head, BODY) == 401
    assert host.drain() == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_valid_signature_is_accepted(actor_system: ActorSystem, scheme: str) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(hmac_secret=SECRET, signature_scheme=scheme), host)
    headers = sign(scheme, SECRET, BODY, delivery_id="dlv-7")

    reply = post(url_of(stats), BODY, headers)

    assert reply.status == 202
    event = host.next_event(TIMEOUT)
    assert event.payload == {"id": "evt_1", "type": "ping"}
    assert event.metadata["signature_verified"] is True
    lowered = {name.lower() for name in event.metadata["headers"]}
    assert not lowered & {name.lower() for name in headers if "signature" in name.lower()}
    expected = {"github": "dlv-7", "standard": "dlv-7", "stripe": "evt_1"}.get(scheme)
    assert event.metadata["delivery_id"] == expected
    assert event.idempotency_key == (f"t1@{expected}" if expected else event.event_id)


@pytest.mark.parametrize("scheme", sorted(TIMESTAMPED_SCHEMES))
def test_a_replay_is_answered_as_a_duplicate_and_not_delivered(
    actor_system: ActorSystem, scheme: str
) -> None:
    host = RecordingHost()
    stats = start(actor_system, webhook(hmac_secret=SECRET, signature_scheme=scheme), host)
    headers = sign(scheme, SECRET, BODY)

    assert post(url_of(stats), BODY, headers).status == 202
    host.next_event(TIMEOUT)
    replay = post(url_of(stats), BODY, headers)
    assert (replay.status, replay.body) == (202, {"status": "duplicate"})
    assert host.drain() == []
    assert stats.info["duplicate_count"] == 1


@pytest.mark.parametrize("scheme", sorted(TIMESTAMPED_SCHEMES))
def test_retry_after_503_is_not_a_replay(actor_system: ActorSystem, scheme: str) -> None:
    host = RecordingHost()
    url = url_of(start(actor_system, webhook(hmac_secret=SECRET, signature_scheme=scheme), host))
    headers = sign(scheme, SECRET, BODY)
    host.refuse_reason = "suspended"
    assert post(url, BODY, headers).status == 503
    host.refuse_reason = None
    assert post(url, BODY, headers).status == 202
    host.next_event(TIMEOUT)


def test_replay_guard_survives_a_trigger_restart(actor_system: ActorSystem) -> None:
    host = RecordingHost()
    config = webhook(hmac_secret=SECRET, signature_scheme="standard", webhook_path="/g")
    stats = start(actor_system, config, host)
    headers = sign("standard", SECRET, BODY)
    assert post(url_of(stats), BODY, headers).status == 202
    host.next_event(TIMEOUT)
    stop(actor_system, "t1")

    again = start(actor_system, config.model_copy(update={"webhook_port": port_of(stats)}), host)
    assert post(url_of(again), BODY, headers).body == {"status": "duplicate"}
    assert host.drain() == []


# WebhookServers directly -----------------------------------------------------------------------

async def _no_content(_: object) -> web.StreamResponse:
    return web.Response(status=204)


def test_last_route_closes_the_server_and_frees_the_port(actor_system: ActorSystem) -> None:
    servers = WebhookServers.of(actor_system)
    assert WebhookServers.of(actor_system) is servers
    first = servers.add_route("127.0.0.1", 0, "/x", _no_content, max_body=10)
    second = servers.add_route("127.0.0.1", first.port, "/y", _no_content, max_body=10)
    assert servers.remove_route(first) is None
    assert servers.remove_route(first) is None
    closing = servers.remove_route(second)
    assert closing is not None
    closing.result(TIMEOUT)
    assert servers.addresses() == []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", first.port))


def test_stale_binding_does_not_remove_a_newer_route(actor_system: ActorSystem) -> None:
    servers = WebhookServers.of(actor_system)
    keep = servers.add_route("127.0.0.1", 0, "/k", _no_content, max_body=10)
    old = servers.add_route("127.0.0.1", keep.port, "/p", _no_content, max_body=10)
    servers.remove_route(old)
    new = servers.add_route("127.0.0.1", keep.port, "/p", _no_content, max_body=10)
    assert servers.remove_route(old) is None
    assert post(new.url, b"").status == 204
    stale = Binding("127.0.0.1", keep.port, "/p", new.url)
    assert servers.remove_route(stale) is None
    servers.close()


def test_close_shuts_every_server(actor_system: ActorSystem) -> None:
    servers = WebhookServers.of(actor_system)
    bindings = [servers.add_route("127.0.0.1", 0, f"/{n}", _no_content, max_body=10)
                for n in range(3)]
    servers.close()
    assert servers.addresses() == []
    for binding in bindings:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", binding.port))
