"""Process routes: list, deploy, status, remove, start, stop, restart, suspend, resume,
instructions, metrics.

A deployed config is validated as a `ProcessConfig` (422 naming the field) and checked against
the server's `DeployPolicy` (403) before anything is registered. With `start: true`, a process
whose agent cannot be built is unregistered again (422 START_FAILED): a refused deploy leaves
nothing behind. `POST .../stop` without `drain_timeout` drains for the config's
`drain_timeout`, exactly as `AgentProcess.stop()` does from Python.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from greenroom.api.errors import ApiError, raise_start_error
from greenroom.api.routes_runtime import DrainBody, ProcessStatus
from greenroom.api.routing import Body, Call, Out, P, Route, Text
from greenroom.runtime.config import ProcessConfig

__all__ = ["ROUTES", "Deploy"]

_TAG = "processes"
PROCESS_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


class Deploy(Body):
    """A process to register: its name, its config, and whether to start it at once."""

    error_code = "INVALID_CONFIG"

    name: str = Field(pattern=PROCESS_NAME)
    config: ProcessConfig = Field(default_factory=ProcessConfig)
    start: bool = False


class Instructions(Body):
    """The agent's new instructions (not blank)."""

    instructions: Text = Field(max_length=100_000)


class ProcessSummary(Out):
    """One process in the list."""

    name: str
    state: str
    process_id: str


class ProcessList(Out):
    """Every registered process."""

    processes: list[ProcessSummary]
    total: int


class Deployed(Out):
    """The process registered (and started, if asked)."""

    name: str
    process_id: str
    state: str
    created_at: str


class NameState(Out):
    """The process and its state after the operation."""

    name: str
    state: str


class StopReport(Out):
    """The process stopped: the drain it had, and what became of its queue and runs."""

    name: str
    state: str
    drain_timeout: float
    interrupted_runs: int
    cancelled: list[str]
    dead_lettered: list[str]
    kept: list[str] | None = None


class InstructionsUpdated(Out):
    """The new instructions apply from the next run."""

    name: str
    instructions_updated: Literal[True] = True
    effective_from: Literal["next_invocation"] = "next_invocation"


class Suspended(Out):
    """The process is suspended (events keep queueing)."""

    name: str
    suspended: Literal[True] = True
    state: str


class Resumed(Out):
    """The process runs again (queued events run in order)."""

    name: str
    resumed: Literal[True] = True
    state: str


async def list_processes(call: Call) -> ProcessList:
    """Every process: name, state, id."""
    summaries = [ProcessSummary(name=name, state=process.state.value,
                                process_id=process.process_id)
                 for name, process in call.runtime.processes.items()]
    return ProcessList(processes=summaries, total=len(summaries))


async def deploy(call: Call) -> Deployed:
    """Register a process from a JSON config (checked by the deploy policy); start it if asked."""
    body = call.body_as(Deploy)
    call.services.policy.check_process(body.config)
    if body.name in call.runtime.processes:
        msg = f"a process named {body.name!r} already exists"
        raise ApiError("PROCESS_EXISTS", msg, field="name")
    process = await call.runtime.add_process(body.name, body.config)
    if body.start:
        try:
            await process.start()
        except Exception as exc:
            await call.runtime.remove_process(body.name)
            raise_start_error(exc)
    call.subject = body.name
    return Deployed(name=body.name, process_id=process.process_id, state=process.state.value,
                    created_at=datetime.now(UTC).isoformat())


async def get_process(call: Call) -> ProcessStatus:
    """`AgentProcess.status()`."""
    return ProcessStatus.model_validate(call.process().status())


async def process_metrics(call: Call) -> ProcessStatus:
    """The same as `GET /processes/{name}` (the reference API has both)."""
    return ProcessStatus.model_validate(call.process().status())


async def remove_process(call: Call) -> None:
    """Stop the process (its config's drain), release its actors and unregister it."""
    call.process()
    await call.runtime.remove_process(call.name)


async def start_process(call: Call) -> NameState:
    """Start (or recover and start) the process."""
    process = call.process()
    try:
        await process.start()
    except Exception as exc:
        raise_start_error(exc)
    return NameState(name=call.name, state=process.state.value)


async def stop_process(call: Call) -> StopReport:
    """Stop gracefully: runs in flight get `drain_timeout` s (absent: the config's)."""
    process = call.process()
    drain = call.body_as(DrainBody).drain_timeout
    report = await process.stop(drain)
    cancelled = list(report.get("cancelled", []))
    return StopReport(
        name=call.name, state=process.state.value,
        drain_timeout=process.config.drain_timeout if drain is None else drain,
        interrupted_runs=len(cancelled), cancelled=cancelled,
        dead_lettered=list(report.get("dead_lettered", [])), kept=report.get("kept"),
    )


async def restart_process(call: Call) -> NameState:
    """Stop (no drain) and start again, as `AgentRuntime.restart_process`."""
    process = call.process()
    try:
        await call.runtime.restart_process(call.name)
    except Exception as exc:
        raise_start_error(exc)
    return NameState(name=call.name, state=process.state.value)


async def suspend_process(call: Call) -> Suspended:
    """Suspend: triggers keep firing and events queue; runs in flight finish."""
    process = call.process()
    await process.suspend("api")
    return Suspended(name=call.name, state=process.state.value)


async def resume_process(call: Call) -> Resumed:
    """Resume a suspended process."""
    process = call.process()
    await process.resume("api")
    return Resumed(name=call.name, state=process.state.value)


async def update_instructions(call: Call) -> InstructionsUpdated:
    """Replace the agent's instructions from its next run."""
    process = call.process()
    await process.update_instructions(call.body_as(Instructions).instructions)
    return InstructionsUpdated(name=call.name)


ROUTES = (
    Route("GET", "/processes", list_processes, "List processes", _TAG, response=ProcessList),
    Route("POST", "/processes", deploy, "Deploy a process", _TAG, status=201,
          response=Deployed, body=Deploy, errors=(403, 409)),
    Route("GET", P, get_process, "Process status", _TAG, response=ProcessStatus),
    Route("DELETE", P, remove_process, "Stop and remove a process", _TAG, status=204),
    Route("POST", f"{P}/start", start_process, "Start a process", _TAG, response=NameState,
          errors=(409, 422)),
    Route("POST", f"{P}/stop", stop_process, "Stop a process gracefully", _TAG,
          response=StopReport, body=DrainBody),
    Route("POST", f"{P}/restart", restart_process, "Restart a process", _TAG,
          response=NameState, errors=(409, 422)),
    Route("PATCH", f"{P}/instructions", update_instructions, "Replace the instructions", _TAG,
          response=InstructionsUpdated, body=Instructions),
    Route("POST", f"{P}/suspend", suspend_process, "Suspend a process", _TAG,
          response=Suspended, errors=(409,)),
    Route("POST", f"{P}/resume", resume_process, "Resume a process", _TAG, response=Resumed,
          errors=(409,)),
    Route("GET", f"{P}/metrics", process_metrics, "Process metrics (as status)", _TAG,
          response=ProcessStatus),
)
