"""How commands reach a running runtime: `--url`/`--token` resolution and error reporting.

The URL is, in order: `--url`, the state file of a local `greenroom run`, `$GREENROOM_URL`,
`http://127.0.0.1:9100`. The token is `--token`, else the state file's token when the URL is
the state file's (a local runtime's token is never sent to another server), else
`$GREENROOM_TOKEN`. The client (and aiohttp) is imported when a command runs, not when the CLI
builds its parser.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from greenroom.api.client_errors import (
    OrchestrationConnectionError,
    OrchestrationError,
    ValidationFailed,
)
from greenroom.cli.output import error
from greenroom.cli.state import read_state, state_path

if TYPE_CHECKING:
    from greenroom.api.client import OrchestrationClient

__all__ = [
    "DEFAULT_URL",
    "TOKEN_ENV",
    "URL_ENV",
    "Connection",
    "RemoteHandler",
    "add_remote_options",
    "remote_command",
    "resolve_connection",
]

DEFAULT_URL = "http://127.0.0.1:9100"
URL_ENV = "GREENROOM_URL"
TOKEN_ENV = "GREENROOM_TOKEN"

RemoteHandler: TypeAlias = "Callable[[OrchestrationClient, argparse.Namespace], Awaitable[int]]"
"""A command body: talks to the API through the client, returns the exit code."""


@dataclass(frozen=True, slots=True)
class Connection:
    """Where a command sends its requests, and where that came from (for error messages)."""

    url: str
    token: str | None
    source: str


def add_remote_options(parser: argparse.ArgumentParser, *, json_output: bool = True) -> None:
    """Add `--url`, `--token`, `--timeout` (and `--json`) to a command that calls the API."""
    group = parser.add_argument_group("connection")
    group.add_argument("--url", help=f"the API's URL (default: the state file written by "
                                     f"`greenroom run`, then ${URL_ENV}, then {DEFAULT_URL})")
    group.add_argument("--token", help=f"bearer token (default: the state file's, then "
                                       f"${TOKEN_ENV})")
    group.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="seconds to wait for an answer (default: 30)")
    if json_output:
        parser.add_argument("--json", action="store_true",
                            help="print the API's answer as JSON")


def resolve_connection(url: str | None, token: str | None) -> Connection:
    """The URL and token a command uses (see the module docstring for the order)."""
    state = read_state()
    if url is None and state is not None:
        url, source = str(state["url"]), f"state file {state_path()}"
    elif url is None and os.environ.get(URL_ENV):
        url, source = os.environ[URL_ENV], f"${URL_ENV}"
    elif url is None:
        url, source = DEFAULT_URL, "the default URL"
    else:
        source = "--url"
    if token is None and state is not None and _same_url(url, str(state["url"])):
        state_token = state.get("token")
        token = state_token if isinstance(state_token, str) else None
    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    return Connection(url, token, source)


def remote_command(handler: RemoteHandler) -> Callable[[argparse.Namespace], int]:
    """The command function for `handler`: resolves the connection, runs it on a fresh event
    loop, and turns API errors into a message on stderr and exit code 1."""

    def command(args: argparse.Namespace) -> int:
        from greenroom.api.client import OrchestrationClient  # noqa: PLC0415  # see the docstring

        connection = resolve_connection(args.url, args.token)

        async def call() -> int:
            async with OrchestrationClient(connection.url, connection.token,
                                           timeout=args.timeout) as client:
                return await handler(client, args)

        try:
            return asyncio.run(call())
        except OrchestrationConnectionError as exc:
            hint = ("start one with `greenroom run`" if connection.source == "the default URL"
                    else f"URL from {connection.source}")
            return error(f"{exc.message} ({hint})")
        except ValidationFailed as exc:
            return error(f"invalid request: {exc.message}")
        except OrchestrationError as exc:
            return error(f"{exc.message} [{exc.code}]")

    return command


def _same_url(left: str, right: str) -> bool:
    return left.rstrip("/") == right.rstrip("/")
