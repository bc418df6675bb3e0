"""`OrchestrationAPI`: the runtime over HTTP (aiohttp), on the caller's event loop.

```python
async with AgentRuntime() as runtime, OrchestrationAPI(runtime, port=0) as api:
    print(api.url)          # http://127.0.0.1:<the port it got>
```

The server runs on the loop that awaits `start()`, the runtime's io loop inside `async with
AgentRuntime()`, so a handler awaits the runtime's methods directly. One route table
(`OrchestrationAPI.routes`) drives the router and the OpenAPI document. Each request goes
through the middlewares of `security.py`, then its body (a JSON object, strictly validated
against the route's model) and query are checked, then its handler runs; a mutating call is
logged at INFO and journaled as `api_request` (method, path, status; never the body) to the
process it names, when that process has a journal.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel
from pydantic_core import to_json

from greenroom.api import (
    openapi,
    routes_events,
    routes_governance,
    routes_inbox,
    routes_journal,
    routes_processes,
    routes_runtime,
    routes_triggers,
)
from greenroom.api.errors import error_response
from greenroom.api.policy import DeployPolicy
from greenroom.api.routing import (
    Call,
    Route,
    Services,
    ShutdownCallback,
    read_body,
    validate_body,
    validate_query,
)
from greenroom.api.security import (
    MAX_BODY,
    Middleware,
    bearer_auth,
    body_limit,
    errors,
    is_loopback,
    loopback_guard,
    resolve_token,
)
from greenroom.api.stream import EventHub
from greenroom.journal.entry import EntryType

if TYPE_CHECKING:
    from types import TracebackType

    from greenroom.runtime.process import AgentProcess
    from greenroom.runtime.runtime import AgentRuntime

__all__ = ["OrchestrationAPI"]

logger = logging.getLogger("greenroom.api")

_SHUTDOWN_TIMEOUT = 5.0


class OrchestrationAPI:
    """The Orchestration REST API of one `AgentRuntime` (see the module docstring).

    `host` defaults to loopback. Binding anything else requires `auth_token` (`ValueError`
    otherwise, before anything is bound); `${VAR}` in the token is read from the environment.
    `port=0` takes a free port (`url` tells which). `on_shutdown(drain_timeout)` adds
    `POST /runtime/shutdown`. A config deployed over the API is checked by a `DeployPolicy`:
    paths inside `data_dir`, no commands unless `allow_command_deploys`, no `${VAR}` unless
    `allow_env_references`.
    """

    def __init__(
        self,
        runtime: AgentRuntime,
        host: str = "127.0.0.1",
        port: int = 9100,
        auth_token: str | None = None,
        *,
        on_shutdown: ShutdownCallback | None = None,
        data_dir: str | Path = ".greenroom",
        allow_command_deploys: bool = False,
        allow_env_references: bool = False,
    ) -> None:
        token = resolve_token(auth_token)
        self.loopback = is_loopback(host)
        if not self.loopback and token is None:
            msg = (f"host {host!r} is not loopback: an auth_token is required to serve the API "
                   "beyond this machine")
            raise ValueError(msg)
        self.runtime = runtime
        self.host = host
        self.port = port
        self._token = token
        self._hub = EventHub()
        self._services = Services(
            runtime,
            DeployPolicy(Path(data_dir), allow_command_deploys, allow_env_references),
            self._hub, on_shutdown,
        )
        self.routes: tuple[Route, ...] = (
            *routes_runtime.ROUTES,
            *((routes_runtime.SHUTDOWN,) if on_shutdown is not None else ()),
            *routes_processes.ROUTES,
            *routes_inbox.ROUTES,
            *routes_triggers.ROUTES,
            *routes_governance.ROUTES,
            *routes_journal.ROUTES,
            *routes_events.ROUTES,
            *openapi.ROUTES,
        )
        self._runner: web.AppRunner | None = None
        self._listening = False

    @property
    def url(self) -> str:
        """The server's base URL (with the bound port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is accepting requests."""
        return self._runner is not None

    def document(self) -> dict[str, Any]:
        """The OpenAPI document of this server's routes."""
        from greenroom import __version__  # noqa: PLC0415 (greenroom imports this package)

        return openapi.build_document(self.routes, version=__version__)

    def application(self) -> web.Application:
        """The aiohttp application: middlewares, then one handler per route."""
        middlewares: list[Middleware] = [errors]
        if self.loopback:
            middlewares.append(loopback_guard(lambda: self.port))
        if self._token is not None:
            public = {(r.method, r.full_path) for r in self.routes if r.public}
            middlewares.append(bearer_auth(self._token, public))
        middlewares.append(body_limit)
        app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
        app[openapi.DOCUMENT] = self.document()
        for route in self.routes:
            app.router.add_route(route.method, route.full_path, self._handler(route))
        return app

    async def start(self) -> None:
        """Bind and serve (on the running loop); `OSError` if the port is taken."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.application(), shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        self._hub.open(asyncio.get_running_loop())
        if not self._listening:  # the runtime has no remove_listener: subscribe once
            self.runtime.add_listener(self._hub.publish)
            self._listening = True
        logger.info("orchestration API on %s", self.url)

    async def stop(self) -> None:
        """End event streams, let requests in flight finish (a few seconds), close."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._hub.close()
        await runner.cleanup()
        logger.info("orchestration API on %s stopped", self.url)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # Requests ----------------------------------------------------------------------------------

    def _handler(self, route: Route) -> Handler:
        """The aiohttp handler of `route`: validate, run, answer, audit."""

        async def handle(request: web.Request) -> web.StreamResponse:
            call = Call(self._services, request, subject=request.match_info.get("name"))
            named = self.runtime.processes.get(call.subject) if call.subject else None
            try:
                response = await self._answer(route, call)
            except Exception as exc:
                response = error_response(exc, request)
            if route.mutating:
                self._audit(call, response.status, named)
            return response

        return handle

    async def _answer(self, route: Route, call: Call) -> web.StreamResponse:
        if route.body is not None:
            call.raw = await read_body(call.request)
            if not route.partial:
                call.body = validate_body(route.body, call.raw)
        if route.query is not None:
            call.query = validate_query(route.query, call.request)
        reply = await route.handler(call)
        if isinstance(reply, web.StreamResponse):
            return reply
        if reply is None:
            return web.Response(status=204)
        return _json(reply, route.status)

    def _audit(self, call: Call, status: int, named: AgentProcess | None) -> None:
        """Log the call; journal it to its process (the one it named, even if removed since,
        or the one it deployed)."""
        request = call.request
        logger.info("api %s %s -> %d", request.method, request.path, status)
        process = named
        if process is None and call.subject is not None:
            process = self.runtime.processes.get(call.subject)
        if process is None or process.config.journal.level == "none":
            return
        try:
            journal = process._process_journal()
            journal.write(journal.entry(EntryType.API_REQUEST, {
                "method": request.method, "path": request.path, "status": status}))
        except Exception:
            logger.warning("api: could not journal %s %s for process %r", request.method,
                           request.path, call.subject, exc_info=True)


def _json(model: BaseModel, status: int) -> web.Response:
    return web.Response(body=to_json(model, fallback=str), status=status,
                        content_type="application/json")
