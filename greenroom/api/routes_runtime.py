"""Runtime routes: health (no token), status, start-all, stop-all, shutdown.

`POST /runtime/shutdown` exists only when the server was given `on_shutdown` (the CLI's `run`
passes one); it answers 202 and then calls it with the drain timeout.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Literal

from pydantic import Field

from greenroom.api.errors import raise_start_error
from greenroom.api.routing import Body, Call, OpenOut, Out, Route

__all__ = ["ROUTES", "SHUTDOWN", "DrainBody", "ProcessStatus", "stop_processes"]

logger = logging.getLogger("greenroom.api")

_TAG = "runtime"
_background: set[asyncio.Task[Any]] = set()


class DrainBody(Body):
    """How long runs in flight may finish before they are cancelled (absent: each process's
    `drain_timeout` from its config, a graceful stop)."""

    drain_timeout: float | None = Field(default=None, ge=0, le=3600)


class Health(Out):
    """The server is up."""

    status: Literal["healthy"] = "healthy"
    process_count: int


class ProcessStatus(OpenOut):
    """`AgentProcess.status()`: the keys below and every counter the runtime reports."""

    name: str
    process_id: str
    state: str


class RuntimeStatus(OpenOut):
    """Every process's status, keyed by name, with totals."""

    process_count: int
    running: int
    processes: dict[str, ProcessStatus]


class Started(Out):
    """Every process that was not running was started."""

    status: Literal["started"] = "started"


class Stopped(Out):
    """Every process was stopped; how many runs in flight were cancelled."""

    status: Literal["stopped"] = "stopped"
    interrupted_runs: int


class ShuttingDown(Out):
    """The shutdown was started; the server goes away once the runtime has drained."""

    status: Literal["shutting_down"] = "shutting_down"
    drain_timeout: float | None


async def health(call: Call) -> Health:
    """Liveness, without a token (for load balancers and `greenroom run`'s wait)."""
    return Health(process_count=len(call.runtime.processes))


async def runtime_status(call: Call) -> RuntimeStatus:
    """`AgentRuntime.status()`."""
    return RuntimeStatus.model_validate(call.runtime.status())


async def start_all(call: Call) -> Started:
    """Start every process that is created, stopped or failed, all at once
    (`AgentRuntime.start_all`); the first failure in registration order is the answer."""
    try:
        await call.runtime.start_all()
    except Exception as exc:
        raise_start_error(exc)
    return Started()


async def stop_processes(call: Call, drain_timeout: float | None) -> int:
    """Stop every process concurrently, as `AgentRuntime.stop_all` does; runs cancelled."""
    reports = await asyncio.gather(
        *(process.stop(drain_timeout) for process in call.runtime.processes.values()))
    return sum(len(report.get("cancelled", [])) for report in reports)


async def stop_all(call: Call) -> Stopped:
    """Stop every process gracefully (each drains for `drain_timeout`, else its config's)."""
    drain = call.body_as(DrainBody).drain_timeout
    return Stopped(interrupted_runs=await stop_processes(call, drain))


async def shutdown(call: Call) -> ShuttingDown:
    """Answer 202, then call the server's `on_shutdown(drain_timeout)`."""
    callback = call.services.on_shutdown
    drain = call.body_as(DrainBody).drain_timeout
    if callback is not None:
        task = asyncio.get_running_loop().create_task(_call_shutdown(callback, drain))
        _background.add(task)
        task.add_done_callback(_background.discard)
    return ShuttingDown(drain_timeout=drain)


async def _call_shutdown(callback: Any, drain: float | None) -> None:
    try:
        result = callback(drain)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("api: on_shutdown failed")


ROUTES = (
    Route("GET", "/health", health, "Liveness (no token needed)", _TAG, response=Health,
          public=True),
    Route("GET", "/runtime/status", runtime_status, "Runtime status", _TAG,
          response=RuntimeStatus),
    Route("POST", "/runtime/start-all", start_all, "Start every process", _TAG,
          response=Started, errors=(409, 422)),
    Route("POST", "/runtime/stop-all", stop_all, "Stop every process", _TAG,
          response=Stopped, body=DrainBody),
)

SHUTDOWN = Route("POST", "/runtime/shutdown", shutdown, "Shut the runtime down", _TAG,
                 status=202, response=ShuttingDown, body=DrainBody)
"""Served only when the server has an `on_shutdown` callback."""
