"""The API's middlewares: JSON errors, the loopback guards, the bearer token, the body limit.

Order (outermost first): `errors` turns anything raised below into a JSON error; `loopback_guard`
refuses, on a loopback bind, a `Host` that is not loopback (421, DNS rebinding) and an `Origin`
that is not this server (403, a web page posting to the API); `bearer_auth` wants the token on
every route but the public ones, and on unknown paths too (401), so an unauthenticated caller
learns nothing about which routes exist; `body_limit` refuses a declared body over 1 MiB before
anything is read (the reader enforces the same limit on chunked bodies).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
from collections.abc import Callable, Collection, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

from greenroom.api.errors import ApiError, error_response

__all__ = [
    "MAX_BODY",
    "Middleware",
    "bearer_auth",
    "body_limit",
    "errors",
    "is_loopback",
    "loopback_guard",
    "resolve_token",
]

MAX_BODY = 1024 * 1024
"""The largest request body, in bytes."""

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_token(token: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The token with each `${VAR}` replaced from the environment.

    Raises `ValueError` naming a variable that is not set, or if the result is empty, so a
    server never starts with a token that matches an empty header.
    """
    if token is None:
        return None
    env = os.environ if environ is None else environ

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            msg = f"auth_token: environment variable {name} is not set"
            raise ValueError(msg)
        return env[name]

    resolved = _ENV_REFERENCE.sub(lookup, token)
    if not resolved.strip():
        msg = "auth_token: empty"
        raise ValueError(msg)
    return resolved


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every exception raised below as a JSON error (see `error_response`)."""
    try:
        return await handler(request)
    except Exception as exc:
        return error_response(exc, request)


def loopback_guard(port: Callable[[], int]) -> Middleware:
    """On a loopback bind: 421 for a `Host` that is not loopback, 403 for an `Origin` that is
    not `http://<loopback>:<port>` (this server; `port()` gives the bound port)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _loopback_host(request.host):
            msg = "this server answers loopback host names only (DNS rebinding guard)"
            raise ApiError("MISDIRECTED_REQUEST", msg)
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, port()):
            msg = "requests from another origin are refused (cross-site guard)"
            raise ApiError("CROSS_ORIGIN_REFUSED", msg)
        return await handler(request)

    return guard


def _loopback_host(header: str) -> bool:
    try:
        host = URL(f"http://{header}").host
    except ValueError:
        return False
    return host is not None and is_loopback(host)


def _same_origin(origin: str, port: int) -> bool:
    try:
        url = URL(origin)
        return (url.scheme == "http" and url.host is not None and is_loopback(url.host)
                and url.port == port)
    except ValueError:
        return False


def bearer_auth(token: str, public: Collection[tuple[str, str]]) -> Middleware:
    """Require `Authorization: Bearer <token>` (constant-time compare) except on the
    `(method, path template)` pairs in `public`."""
    expected = token.encode()

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else None
        if (request.method, template) in public:
            return await handler(request)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 expected):
            raise ApiError("UNAUTHORIZED", "a valid 'Authorization: Bearer <token>' is required")
        return await handler(request)

    return auth


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """413 for a declared `Content-Length` over `MAX_BODY`, before the body is read."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise ApiError("PAYLOAD_TOO_LARGE", f"the request body is larger than {MAX_BODY} bytes")
    return await handler(request)
