"""Escalator against a real aiohttp server on loopback, and against event buses of every shape."""

from __future__ import annotations

import asyncio
import logging
import math
from types import TracebackType
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from greenroom.actors import ActorSystem
from greenroom.governance.config import EscalationTarget
from greenroom.governance.escalation import (
    DEFAULT_TIMEOUT,
    ChannelResult,
    EscalationResult,
    Escalator,
)
from greenroom.governance.redaction import Redactor
from greenroom.runtime.bus import BusEvent, EventBus
from greenroom.testing import TestProbe

PAYLOAD = {"type": "budget_violation", "process_id": "payments", "violation": {"limit": 5}}
KEY = "sk-live-4f9a2b7c"
LOGGER = "greenroom.governance.escalation"


class Hooks:
    """Webhook receiver on 127.0.0.1 (port 0). `/ok` answers 200, `/fail` 500, `/redirect` 302 to
    `/target`, `/hang` only once `release` is set, which happens at teardown, never in a test.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, Any, str]] = []
        self.release = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def _record(self, request: web.Request) -> None:
        body = await request.json()
        self.received.append((request.path, body, request.headers.get("Content-Type", "")))

    async def ok(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"received": True})

    async def fail(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=500, text="boom")

    async def redirect(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=302, headers={"Location": "/target"})

    async def hang(self, request: web.Request) -> web.Response:
        await self._record(request)
        await self.release.wait()
        return web.Response(status=200)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    async def __aenter__(self) -> Hooks:
        app = web.Application()
        app.router.add_post("/ok", self.ok)
        app.router.add_post("/ok/{token}", self.ok)
        app.router.add_post("/fail/{token}", self.fail)
        app.router.add_post("/fail", self.fail)
        app.router.add_post("/redirect", self.redirect)
        app.router.add_post("/target", self.ok)
        app.router.add_post("/hang", self.hang)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        assert self.runner is not None
        await self.runner.cleanup()


async def post_to(path: str, payload: Any = PAYLOAD, **options: Any) -> tuple[
    EscalationResult, Hooks
]:
    """Escalate `payload` to `path` of a fresh receiver; returns the result and the receiver."""
    async with Hooks() as hooks:
        target = EscalationTarget(webhook_url=hooks.url(path))
        result = await Escalator(source="payments", **options).escalate(target, payload)
    return result, hooks


# Webhook -------------------------------------------------------------------------------------


def test_the_payload_is_posted_as_json() -> None:
    result, hooks = asyncio.run(post_to("/ok"))
    assert hooks.received == [("/ok", PAYLOAD, "application/json")]
    assert result.ok
    assert result.event is None
    port = hooks.base.rsplit(":", 1)[1]
    assert result.webhook == ChannelResult(
        "webhook", True, f"http://127.0.0.1:{port} answered HTTP 200", 200
    )


def test_a_server_error_is_a_logged_failure_not_an_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    result, hooks = asyncio.run(post_to("/fail"))
    assert [path for path, _, _ in hooks.received] == ["/fail"]
    assert not result.ok
    assert result.webhook is not None
    assert result.webhook.status == 500
    assert result.webhook.detail == f"{hooks.base} answered HTTP 500"
    assert caplog.messages == [f"escalation from 'payments': webhook failed: {hooks.base} "
                               "answered HTTP 500"]


def test_a_redirect_is_not_followed_and_counts_as_failure() -> None:
    result, hooks = asyncio.run(post_to("/redirect"))
    assert [path for path, _, _ in hooks.received] == ["/redirect"]  # /target never reached
    assert result.webhook is not None
    assert not result.webhook.ok
    assert result.webhook.status == 302
    assert result.webhook.detail.endswith("answered HTTP 302, a redirect, which is not followed")


def test_a_webhook_slower_than_the_timeout_is_given_up_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    result, hooks = asyncio.run(post_to("/hang", timeout=0.5))
    assert result.webhook is not None
    assert not result.webhook.ok
    assert result.webhook.status is None
    assert result.webhook.detail == f"no answer from {hooks.base} within 0.5 s"
    assert len(caplog.records) == 1


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("ftp://files.example.com/drop", "webhook_url scheme 'ftp' refused: only http and https"),
        ("file:///etc/passwd", "webhook_url scheme 'file' refused: only http and https"),
        ("javascript:alert(1)", "webhook_url scheme 'javascript' refused: only http and https"),
        ("http:///no-host", "webhook_url has no host"),
    ],
)
def test_bad_urls_are_refused_by_the_config_and_by_the_escalator(url: str, detail: str) -> None:
    with pytest.raises(ValidationError, match="webhook_url: expected an http:// or https:// URL"):
        EscalationTarget(webhook_url=url)
    target = EscalationTarget.model_construct(webhook_url=url, event_type=None)
    result = asyncio.run(Escalator().escalate(target, PAYLOAD))
    assert result.webhook is not None
    assert not result.webhook.ok
    assert result.webhook.detail.startswith(detail)
    assert "passwd" not in result.webhook.detail


def test_a_malformed_url_the_config_lets_through_is_refused() -> None:
    with pytest.raises(ValueError, match="webhook_url: expected an http"):
        EscalationTarget(webhook_url="http://[::1")
    target = EscalationTarget.model_construct(webhook_url="http://[::1")  # validation skipped
    result = asyncio.run(Escalator().escalate(target, PAYLOAD))
    assert result.webhook == ChannelResult("webhook", False, "webhook_url is not a valid URL")


def test_an_unreachable_webhook_is_a_failure() -> None:
    async def scenario() -> tuple[EscalationResult, str]:
        async with Hooks() as hooks:
            url = hooks.url("/ok")
        result = await Escalator().escalate(EscalationTarget(webhook_url=url), PAYLOAD)
        return result, hooks.base

    result, base = asyncio.run(scenario())
    assert result.webhook is not None
    assert not result.webhook.ok
    assert result.webhook.detail.startswith(f"POST to {base} failed (")


def test_logs_and_results_never_show_the_webhook_path(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    result, hooks = asyncio.run(post_to("/fail/T0KEN-in-the-path"))
    assert hooks.received[0][0] == "/fail/T0KEN-in-the-path"
    assert "T0KEN" not in caplog.text
    assert "T0KEN" not in str(result.to_dict())


def test_a_payload_json_cannot_carry_is_a_failure() -> None:
    result, hooks = asyncio.run(post_to("/ok", {"ratio": math.nan}))
    assert hooks.received == []
    assert result.webhook == ChannelResult("webhook", False, "payload is not JSON (ValueError)")


# Redaction -----------------------------------------------------------------------------------


class _HoldsKey:
    def __str__(self) -> str:
        return f"client configured with {KEY}"


def test_the_payload_is_redacted_before_it_leaves() -> None:
    bus = NowaitBus()
    payload = {"detail": f"key {KEY} rejected", "client": _HoldsKey(), KEY: [KEY]}

    async def scenario() -> Hooks:
        async with Hooks() as hooks:
            target = EscalationTarget(webhook_url=hooks.url("/ok"), event_type="alerts.budget")
            escalator = Escalator(event_bus=bus, redactor=Redactor({"api_key": KEY}))
            assert (await escalator.escalate(target, payload)).ok
        return hooks

    hooks = asyncio.run(scenario())
    [(_, posted, _)] = hooks.received
    assert posted == {
        "detail": "key [REDACTED:api_key] rejected",
        "client": "client configured with [REDACTED:api_key]",
        "[REDACTED:api_key]": ["[REDACTED:api_key]"],
    }
    [(_, emitted, _)] = bus.emitted
    assert emitted["detail"] == "key [REDACTED:api_key] rejected"
    assert emitted["[REDACTED:api_key]"] == ["[REDACTED:api_key]"]


# Event bus -----------------------------------------------------------------------------------


class NowaitBus:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, str]] = []

    def emit_nowait(self, event_type: str, data: Any = None, source: str = "") -> None:
        self.emitted.append((event_type, data, source))

    async def emit(self, event_type: str, data: Any = None, source: str = "") -> int:
        raise AssertionError("emit_nowait is preferred")


class AsyncBus:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, str]] = []

    async def emit(self, event_type: str, data: Any = None, source: str = "") -> int:
        await asyncio.sleep(0)
        self.emitted.append((event_type, data, source))
        return 1


class SyncBus:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, str]] = []

    def emit(self, event_type: str, data: Any = None, source: str = "") -> None:
        self.emitted.append((event_type, data, source))


class BrokenBus:
    def emit_nowait(self, event_type: str, data: Any = None, source: str = "") -> None:
        raise RuntimeError("bus down")


class BrokenAsyncBus:
    async def emit(self, event_type: str, data: Any = None, source: str = "") -> int:
        raise RuntimeError("bus down")


@pytest.mark.parametrize("bus_type", [NowaitBus, AsyncBus, SyncBus])
def test_the_event_type_is_emitted_on_any_bus_shape(bus_type: type[Any]) -> None:
    bus = bus_type()
    target = EscalationTarget(event_type="governance.escalation")
    result = asyncio.run(Escalator(event_bus=bus, source="payments").escalate(target, PAYLOAD))
    assert result.ok
    assert result.webhook is None
    assert result.event == ChannelResult("event", True, "emitted 'governance.escalation'")
    assert bus.emitted == [("governance.escalation", PAYLOAD, "payments")]


@pytest.mark.parametrize("bus_type", [BrokenBus, BrokenAsyncBus])
def test_a_failing_bus_is_a_logged_failure(
    bus_type: type[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    target = EscalationTarget(event_type="governance.escalation")
    result = asyncio.run(Escalator(event_bus=bus_type()).escalate(target, PAYLOAD))
    assert result.event == ChannelResult("event", False, "emit failed (RuntimeError)")
    assert "event failed: emit failed (RuntimeError)" in caplog.text


def test_an_event_type_without_a_bus_is_a_failure() -> None:
    target = EscalationTarget(event_type="governance.escalation")
    result = asyncio.run(Escalator().escalate(target, PAYLOAD))
    assert result.event == ChannelResult(
        "event", False, "no event bus to emit 'governance.escalation' on"
    )


def test_greenroom_event_bus_delivers_the_escalation(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    bus = EventBus(actor_system)
    bus.subscribe_nowait("governance.*", probe.ref)
    target = EscalationTarget(event_type="governance.escalation")
    result = asyncio.run(Escalator(event_bus=bus, source="payments").escalate(target, PAYLOAD))
    assert result.ok
    event = probe.expect_message_type(BusEvent)
    assert (event.event_type, event.data, event.source) == (
        "governance.escalation", PAYLOAD, "payments"
    )


def test_both_channels_are_used_and_reported_separately() -> None:
    bus = NowaitBus()

    async def scenario() -> tuple[EscalationResult, Hooks]:
        async with Hooks() as hooks:
            target = EscalationTarget(webhook_url=hooks.url("/fail"), event_type="alerts.x")
            return await Escalator(event_bus=bus).escalate(target, PAYLOAD), hooks

    result, hooks = asyncio.run(scenario())
    assert len(hooks.received) == 1
    assert len(bus.emitted) == 1
    assert result.attempted
    assert not result.ok  # the webhook failed
    assert result.to_dict() == {
        "ok": False,
        "webhook": {"channel": "webhook", "ok": False, "status": 500,
                    "detail": f"{hooks.base} answered HTTP 500"},
        "event": {"channel": "event", "ok": True, "status": None,
                  "detail": "emitted 'alerts.x'"},
    }


# Nothing to send, bad arguments --------------------------------------------------------------


@pytest.mark.parametrize("target", [None, EscalationTarget()])
def test_a_target_without_channels_sends_nothing(
    target: EscalationTarget | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    result = asyncio.run(Escalator(event_bus=NowaitBus(), source="p").escalate(target, PAYLOAD))
    assert not result.attempted
    assert not result.ok
    assert result.to_dict() == {"ok": False, "webhook": None, "event": None}
    assert caplog.messages == [
        "escalation from 'p' dropped: no webhook_url or event_type to send to"
    ]


@pytest.mark.parametrize("timeout", [0, -1, math.inf, math.nan, True, "10"])
def test_the_timeout_must_be_a_positive_finite_number(timeout: Any) -> None:
    with pytest.raises(ValueError, match="timeout: expected a finite number of seconds > 0"):
        Escalator(timeout=timeout)


def test_constructor_and_call_arguments_are_checked() -> None:
    assert Escalator().timeout == DEFAULT_TIMEOUT == 10.0
    with pytest.raises(TypeError, match="event_bus: object has neither emit_nowait\\(\\) nor"):
        Escalator(event_bus=object())
    with pytest.raises(TypeError, match="source: expected a str, got int"):
        Escalator(source=3)  # type: ignore[arg-type]
    escalator = Escalator(event_bus=NowaitBus(), source="p", timeout=2)
    assert repr(escalator) == "Escalator(source='p', timeout=2.0, event_bus=NowaitBus)"
    with pytest.raises(TypeError, match="target: expected an EscalationTarget or None, got dict"):
        asyncio.run(escalator.escalate({"event_type": "x"}, PAYLOAD))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="payload: expected a mapping, got list"):
        asyncio.run(escalator.escalate(EscalationTarget(), [1]))  # type: ignore[arg-type]
