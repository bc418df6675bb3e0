"""Helpers for the API tests: a runtime with the API on 127.0.0.1 port 0 and a client session,
agents, and a server on its own thread for synchronous clients (schemathesis)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from greenroom.agents.invocation import Invocation
from greenroom.api import OrchestrationAPI
from greenroom.runtime import AgentRuntime

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
P = "/api/v1/processes"


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body in a fresh loop (fixtures pass through)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Yield to the loop until `predicate()` holds, failing after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            msg = f"condition not met within {timeout} s"
            raise AssertionError(msg)
        await asyncio.sleep(0.001)


async def echo(invocation: Invocation) -> str:
    """An agent that answers with its trigger payload."""
    return f"echo {invocation.event.payload}"


class Gate:
    """An agent whose runs wait until the test opens the gate; `started` is set by a run."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.started = asyncio.Event()
        self.finished = 0

    async def __call__(self, invocation: Invocation) -> str:
        self.started.set()
        await self.open.wait()
        self.finished += 1
        return "done"


@dataclass
class Api:
    """A running runtime, its API and an authenticated client session."""

    runtime: AgentRuntime
    api: OrchestrationAPI
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, body: Any = None,
                   **kwargs: Any) -> tuple[int, Any]:
        """`(status, decoded JSON or None)` of one request (`body` sent as JSON)."""
        async with self.http.request(method, path, json=body, **kwargs) as response:
            text = await response.text()
            data = await response.json() if text and response.content_type.endswith("json") \
                else (text or None)
            return response.status, data


@contextlib.asynccontextmanager
async def serve(tmp_path: Path | None = None, *, token: str | None = TOKEN,
                **options: Any) -> AsyncIterator[Api]:
    """A runtime with the API on 127.0.0.1 (a free port) and a session sending the token."""
    data_dir = tmp_path if tmp_path is not None else Path(".greenroom")
    async with AgentRuntime() as runtime:
        api = OrchestrationAPI(runtime, port=0, auth_token=token, data_dir=data_dir, **options)
        async with api, aiohttp.ClientSession(
                api.url, headers=AUTH if token is not None else None) as http:
            yield Api(runtime, api, http)


class ServerThread:
    """A runtime and its API on their own loop and thread, for synchronous clients."""

    def __init__(self, setup: Callable[[AgentRuntime], Coroutine[Any, Any, None]],
                 data_dir: Path) -> None:
        self._setup = setup
        self._data_dir = data_dir
        self._ready = threading.Event()
        self._runtime: AgentRuntime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.url = ""
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        try:
            async with AgentRuntime() as runtime:
                self._runtime = runtime
                await self._setup(runtime)
                async with OrchestrationAPI(runtime, port=0, auth_token=TOKEN,
                                            data_dir=self._data_dir) as api:
                    self.url = api.url
                    self._ready.set()
                    await self._done.wait()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise

    def run(self, operation: Callable[[AgentRuntime], Coroutine[Any, Any, None]],
            timeout: float = 30.0) -> None:
        """Run `operation(runtime)` on the server's loop and wait for it."""
        if self._loop is None or self._runtime is None:
            msg = "the server is not running"
            raise RuntimeError(msg)
        asyncio.run_coroutine_threadsafe(operation(self._runtime), self._loop).result(timeout)

    @contextlib.contextmanager
    def running(self, timeout: float = 30.0) -> Iterator[ServerThread]:
        """Start the server, yield once it listens, stop it afterwards."""
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            msg = f"the API did not start: {self._error!r}"
            raise RuntimeError(msg)
        try:
            yield self
        finally:
            loop, done = self._loop, self._done
            if loop is not None and done is not None:
                loop.call_soon_threadsafe(done.set)
            self._thread.join(timeout)
