"""The webhook HTTP servers of one `ActorSystem`: one aiohttp server per (host, port), shared.

Every webhook trigger on the same address adds a route (a path) to the same server, so several
processes can listen on port 9090 with different paths. The server also answers
`GET /health`: 200 `{"status": "ok"}` while at least one route's process accepts events, else
503 `{"status": "unavailable"}` with `Retry-After`. An unknown path gets 404, a method other than
POST 405, a body over the route's limit 413 (checked against `Content-Length` before anything is
read, and while reading), an unexpected error 500; all with JSON bodies.

A deliberate deviation from DESIGN.md's `HttpServer` actor: the servers are io-loop state, not an
actor. Every request is handled on the io loop anyway, so an actor would only add a hop per
request. The route table is guarded by a lock and replaced (never mutated) on change, so the loop
reads it without locking. `add_route` binds the listening socket synchronously in the caller's
thread, so a port in use is reported at once and no thread waits for the io loop; the loop then
starts accepting on that socket (connections made before that wait in the backlog). A server
whose last route goes is closed on the loop unless a route is added again first (a restarted
trigger keeps its port).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import socket
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from greenroom.triggers.errors import TriggerError
from greenroom.triggers.signatures import ReplayGuard

if TYPE_CHECKING:
    from greenroom.actors.ioloop import IoLoop
    from greenroom.actors.system import ActorSystem

__all__ = [
    "HEALTH_PATH",
    "Binding",
    "BodyTooLarge",
    "IncomingRequest",
    "RouteHandler",
    "WebhookServers",
    "json_error",
]

logger = logging.getLogger(__name__)

HEALTH_PATH = "/health"
"""Answered by every webhook server; no trigger may use this path."""

RETRY_AFTER = "30"
_BACKLOG = 1024
_CHUNK = 64 * 1024
_SHUTDOWN_TIMEOUT = 5.0


class BodyTooLarge(Exception):
    """A request body exceeds its route's limit; the server answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


class IncomingRequest:
    """A request routed to a handler, with its body readable once and within the route's limit."""

    __slots__ = ("max_body", "request")

    def __init__(self, request: web.BaseRequest, max_body: int) -> None:
        self.request = request
        self.max_body = max_body

    async def body(self) -> bytes:
        """The raw body; raises `BodyTooLarge` before reading more than `max_body` bytes."""
        request, limit = self.request, self.max_body
        declared = request.content_length
        if declared is not None and declared > limit:
            raise BodyTooLarge(limit)
        if request.version >= (1, 1) and \
                request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await request.content.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)


RouteHandler = Callable[[IncomingRequest], Awaitable[web.StreamResponse]]
"""A route's handler: runs on the io loop, answers one POST."""


def json_error(status: int, message: str, *, retry_after: bool = False) -> web.Response:
    """A JSON error response `{"error": message}` (with `Retry-After` when asked)."""
    headers = {"Retry-After": RETRY_AFTER} if retry_after else None
    return web.json_response({"error": message}, status=status, headers=headers)


@dataclass(frozen=True)
class Binding:
    """Where a route is served: the bound address (the real port when 0 was asked) and its URL.

    `token` identifies the route, so removing a stale binding never removes a newer route on
    the same path.
    """

    host: str
    port: int
    path: str
    url: str
    token: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _Route:
    handler: RouteHandler
    max_body: int
    ready: Callable[[], str | None] | None


@dataclass(eq=False)
class _Server:
    """One listening address: its sockets, routes and (once started on the loop) aiohttp server."""

    host: str
    port: int
    sockets: list[socket.socket]
    routes: dict[str, _Route] = field(default_factory=dict)
    started: concurrent.futures.Future[None] | None = None
    web_server: web.Server | None = None
    listeners: list[asyncio.AbstractServer] = field(default_factory=list)

    async def start(self) -> None:
        """Serve the bound sockets (runs on the io loop)."""
        self.web_server = web.Server(self.dispatch)
        loop = asyncio.get_running_loop()
        for sock in self.sockets:
            self.listeners.append(await loop.create_server(self.web_server, sock=sock))

    def stop_listening(self) -> None:
        """Close the listening sockets now, freeing the port (on the io loop)."""
        for listener in self.listeners:
            listener.close()
        for sock in self.sockets:
            sock.close()

    async def finish(self) -> None:
        """Let requests in flight finish (bounded), then drop the connections."""
        if self.web_server is not None:
            await asyncio.sleep(0)
            self.web_server.pre_shutdown()
            await self.web_server.shutdown(_SHUTDOWN_TIMEOUT)
        for listener in self.listeners:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.wait_closed(), _SHUTDOWN_TIMEOUT)

    async def dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        """Route one request by path; never lets an exception become a traceback page."""
        try:
            return await self._route(request)
        except BodyTooLarge as exc:
            return json_error(413, str(exc))
        except ConnectionError as exc:  # the client went away mid-request
            logger.debug("webhook server %s:%d: %r", self.host, self.port, exc)
            return json_error(400, "connection lost")
        except Exception:
            logger.exception("webhook server %s:%d: request to %s failed",
                             self.host, self.port, request.path)
            return json_error(500, "internal error")

    async def _route(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == HEALTH_PATH:
            return self._health(request)
        route = self.routes.get(path)
        if route is None:
            return json_error(404, f"no webhook at {path}")
        if request.method != "POST":
            response = json_error(405, f"method {request.method} not allowed; use POST")
            response.headers["Allow"] = "POST"
            return response
        return await route.handler(IncomingRequest(request, route.max_body))

    def _health(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            response = json_error(405, f"method {request.method} not allowed; use GET")
            response.headers["Allow"] = "GET, HEAD"
            return response
        if any(_ready(route) for route in self.routes.values()):
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "unavailable"}, status=503,
                                 headers={"Retry-After": RETRY_AFTER})


def _ready(route: _Route) -> bool:
    if route.ready is None:
        return True
    try:
        return route.ready() is None
    except Exception:
        logger.exception("webhook health check failed")
        return False


_REGISTRY: weakref.WeakKeyDictionary[ActorSystem, WebhookServers] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


class WebhookServers:
    """The webhook servers of one actor system (`WebhookServers.of(system)`); thread-safe."""

    def __init__(self, io: IoLoop) -> None:
        self._io = io
        self._lock = threading.Lock()
        self._servers: dict[tuple[str, int], _Server] = {}
        self._guards: dict[tuple[str, ...], ReplayGuard] = {}

    @classmethod
    def of(cls, system: ActorSystem) -> WebhookServers:
        """The servers of `system`, created on first use."""
        with _REGISTRY_LOCK:
            servers = _REGISTRY.get(system)
            if servers is None:
                servers = cls(system.io)
                _REGISTRY[system] = servers
            return servers

    def replay_guard(self, key: tuple[str, ...]) -> ReplayGuard:
        """The replay guard of `key` (one per trigger), kept across restarts of the trigger."""
        with self._lock:
            guard = self._guards.get(key)
            if guard is None:
                guard = self._guards[key] = ReplayGuard()
            return guard

    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs that have a server."""
        with self._lock:
            return sorted(self._servers)

    def add_route(
        self,
        host: str,
        port: int,
        path: str,
        handler: RouteHandler,
        *,
        max_body: int,
        ready: Callable[[], str | None] | None = None,
    ) -> Binding:
        """Serve POSTs to `path` on (host, port) with `handler`; port 0 picks a free port.

        `ready` says whether the route's process accepts events (None) or why not (for
        `/health`). Raises `TriggerError` if the path is taken or reserved, or if the address
        cannot be bound (the message names host and port).
        """
        if path == HEALTH_PATH:
            msg = f"webhook_path: {HEALTH_PATH} is reserved for the health check"
            raise TriggerError(msg)
        route = _Route(handler, max_body, ready)
        addresses = _resolve(host, port)
        with self._lock:
            server = self._servers.get((host, port)) if port else None
            if server is None:
                sockets, bound = _bind(host, port, addresses)
                server = _Server(host, bound, sockets)
                started = self._submit(server.start())
                if started is None:
                    for sock in sockets:
                        sock.close()
                    msg = f"cannot serve {host}:{port}: the io loop is closed"
                    raise TriggerError(msg)
                server.started = started
                server.started.add_done_callback(_log_start_failure)
                self._servers[(host, bound)] = server
            elif path in server.routes:
                msg = f"webhook_path: {path} is already served on {host}:{server.port}"
                raise TriggerError(msg)
            server.routes = {**server.routes, path: route}
            return Binding(host, server.port, path, _url(host, server.port, path), route)

    def remove_route(self, binding: Binding) -> concurrent.futures.Future[None] | None:
        """Stop serving `binding`; the server closes once its last route is gone.

        Returns a future that completes when that server has closed (None if the server stays
        or was already gone). Harmless if the route was already removed.
        """
        with self._lock:
            server = self._servers.get((binding.host, binding.port))
            if server is None or server.routes.get(binding.path) is not binding.token:
                return None
            server.routes = {p: r for p, r in server.routes.items() if p != binding.path}
            if server.routes:
                return None
        closing = self._submit(self._close_if_idle(server))
        if closing is None:  # the io loop is gone
            self._forget(server)
        return closing

    def close(self, timeout: float = 10.0) -> None:
        """Close every server (for system shutdown); waits unless called on the io loop."""
        with self._lock:
            servers = list(self._servers.values())
            for server in servers:
                server.routes = {}
        futures = []
        for server in servers:
            closing = self._submit(self._close_if_idle(server))
            if closing is None:
                self._forget(server)
            else:
                futures.append(closing)
        if futures and not _on_loop(self._io.loop):
            concurrent.futures.wait(futures, timeout=timeout)

    def _submit(self, coro: Coroutine[Any, Any, None]) -> concurrent.futures.Future[None] | None:
        """Run `coro` on the io loop; None (and the coroutine closed) if the loop is closed."""
        try:
            future: concurrent.futures.Future[None] = self._io.submit(coro)
        except RuntimeError:
            coro.close()
            return None
        return future

    def _forget(self, server: _Server) -> None:
        with self._lock:
            if self._servers.get((server.host, server.port)) is server:
                del self._servers[(server.host, server.port)]
        for sock in server.sockets:
            sock.close()

    async def _close_if_idle(self, server: _Server) -> None:
        """Close `server` unless a route came back meanwhile (runs on the io loop).

        The port is freed even when this is cancelled (the system's io loop closing).
        """
        try:
            if server.started is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(server.started)
        finally:
            with self._lock:
                idle = not server.routes and \
                    self._servers.get((server.host, server.port)) is server
                if idle:
                    del self._servers[(server.host, server.port)]
                    server.stop_listening()
        if idle:
            await server.finish()


def _log_start_failure(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("webhook server failed to start", exc_info=future.exception())


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _url(host: str, port: int, path: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


_AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]


def _resolve(host: str, port: int) -> list[_AddrInfo]:
    """The addresses to listen on for `host` (may ask DNS, so never under a lock)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        msg = f"cannot listen on {host}:{port}: cannot resolve {host!r} ({exc})"
        raise TriggerError(msg) from exc
    return [(family, kind, proto, name, tuple(address))
            for family, kind, proto, name, address in infos]


def _bind(host: str, port: int, infos: list[_AddrInfo]) -> tuple[list[socket.socket], int]:
    """Listening sockets for every address of `host` (all on one port); `TriggerError` if not."""
    where = f"{host}:{port}"
    sockets: list[socket.socket] = []
    seen: set[tuple[int, object]] = set()
    bound = port
    unavailable: OSError | None = None
    try:
        for family, kind, proto, _, address in infos:
            if (family, address[0]) in seen:
                continue
            seen.add((family, address[0]))
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:  # address family not supported here
                unavailable = exc
                continue
            sockets.append(sock)
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((address[0], bound, *address[2:]))
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:
                    raise
                sockets.pop().close()  # this family is not enabled on the machine
                unavailable = exc
                continue
            bound = sock.getsockname()[1]
            sock.listen(_BACKLOG)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        msg = f"cannot listen on {where}: {exc.strerror or exc}"
        raise TriggerError(msg) from exc
    if not sockets:
        msg = f"cannot listen on {where}: {unavailable or 'no usable address'}"
        raise TriggerError(msg)
    return sockets, bound
