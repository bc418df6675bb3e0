"""Shared by the governance actor tests: a webhook receiver on loopback and notice helpers."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from greenroom.actors import ActorSystem
from greenroom.governance.messages import GovernanceNotice
from greenroom.testing import TestProbe

WAIT = 5.0
"""Seconds a test waits for something that happens on another thread (probes scale it)."""


class Webhook:
    """A webhook receiver on 127.0.0.1 (port 0), served on the actor system's io loop.

    `/ok` answers 200 and `/fail` 500; every body is queued as `(path, json)` for `expect`.
    """

    def __init__(self, system: ActorSystem) -> None:
        self._system = system
        self._received: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def _ok(self, request: web.Request) -> web.Response:
        self._received.put((request.path, await request.json()))
        return web.json_response({"received": True})

    async def _fail(self, request: web.Request) -> web.Response:
        self._received.put((request.path, await request.json()))
        return web.Response(status=500, text="boom")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/ok", self._ok)
        app.router.add_post("/fail", self._fail)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        """The receiver's URL for `path`."""
        return f"{self.base}{path}"

    def expect(self) -> tuple[str, Any]:
        """The next body received, as `(path, json)`; fails the test if none comes in time."""
        try:
            return self._received.get(timeout=TestProbe.scaled(WAIT))
        except queue.Empty:
            raise AssertionError("the webhook received nothing") from None

    def received_nothing(self) -> bool:
        """Whether nothing (more) has been received so far."""
        return self._received.empty()

    @contextmanager
    def running(self) -> Iterator[Webhook]:
        """Serve for the duration of the `with` block."""
        self._system.io.submit(self._start()).result(timeout=TestProbe.scaled(WAIT))
        try:
            yield self
        finally:
            self._system.io.submit(self._stop()).result(timeout=TestProbe.scaled(WAIT))


def notice(probe: TestProbe, kind: str) -> GovernanceNotice:
    """The next notice of `kind` the probe receives (others before it are skipped)."""
    message = probe.fish_for_message(
        lambda m: isinstance(m, GovernanceNotice) and m.kind == kind, timeout=WAIT)
    assert isinstance(message, GovernanceNotice)
    return message


def notices(probe: TestProbe, count: int) -> list[GovernanceNotice]:
    """The next `count` messages, which must all be notices."""
    messages = probe.receive_messages(count, timeout=WAIT)
    assert all(isinstance(m, GovernanceNotice) for m in messages), messages
    return messages


def shows(value: str, *objects: Any) -> bool:
    """Whether `value` appears in the JSON or repr of any of `objects`."""
    return any(value in json.dumps(obj, default=repr) or value in repr(obj) for obj in objects)
