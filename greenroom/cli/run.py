"""`greenroom run <file|dir>...`: a runtime in the foreground, serving the Orchestration API.

It loads the manifests (a directory stands for its `*.agent` files), starts every process,
serves the API on loopback with a bearer token, and writes the state file the other commands
read. The first SIGINT or SIGTERM stops it gracefully: the API closes, runs in flight get their
drain time, processes stop (a journaled process keeps its queue for the next start). A second
signal stops it at once: every actor is stopped, runs in flight are cancelled (a journaled
process re-runs them after its next start). The state file is removed on the way out. The
runtime, the API server and the manifest loader are imported when the command runs, so the
other commands do not pay for them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import secrets
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenroom.cli.manifests import manifest_paths
from greenroom.cli.output import emit, error
from greenroom.cli.remote import TOKEN_ENV
from greenroom.cli.state import read_state, remove_state, write_state
from greenroom.manifest.errors import ManifestError

if TYPE_CHECKING:
    from greenroom.runtime import AgentRuntime, ProcessConfig

__all__ = ["DEFAULT_PORT", "register"]

DEFAULT_PORT = 9100
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `run` command to the CLI."""
    run = commands.add_parser(
        "run", help="run manifests' processes in the foreground, with the API",
        description="Load the manifests, start their processes and serve the Orchestration "
                    "API. Ctrl-C (or SIGTERM) stops gracefully; a second one stops at once.")
    run.add_argument("paths", nargs="+", metavar="PATH", help=".agent files or directories")
    run.add_argument("--host", default="127.0.0.1",
                     help="the API's address (default: 127.0.0.1; any other address serves "
                          "the API, token-protected, beyond this machine)")
    run.add_argument("--port", type=int, default=DEFAULT_PORT,
                     help=f"the API's port (default: {DEFAULT_PORT}; 0 picks a free one)")
    run.add_argument("--import", dest="imports", action="append", default=[],
                     metavar="MODULE",
                     help="import MODULE first (it registers python: agents or trigger "
                          "types); repeatable")
    run.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                     help="on a graceful stop, seconds runs in flight get (default: each "
                          "process's drain_timeout)")
    run.add_argument("--allow-env-references", action="store_true",
                     help="let processes deployed over the API use ${VAR} references (such "
                          "as secrets), which read this runtime's environment")
    run.add_argument("--no-start", action="store_true",
                     help="register the processes without starting them")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    running = read_state()
    if running is not None:
        return error(f"a runtime (pid {running['pid']}) already serves {running['url']}; "
                     f"stop it first or set $GREENROOM_HOME for another one")
    try:
        files = manifest_paths(args.paths)
    except ManifestError as exc:
        return error(str(exc))
    if not _import_modules(args.imports):
        return 1
    return asyncio.run(_serve(args, files))


def _import_modules(modules: Sequence[str]) -> bool:
    """Import the operator's modules (the current directory is importable, as with
    `python -m`); False, with the error reported, if one fails."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # the operator's code: report whatever it raised
            error(f"--import {module}: {type(exc).__name__}: {exc}")
            return False
    return True


class _Signals:
    """Counts stop signals: the first asks for a graceful stop, the second for an immediate
    one."""

    def __init__(self) -> None:
        self.graceful = asyncio.Event()
        self.immediate = asyncio.Event()
        self.last: str = ""

    def install(self) -> Callable[[], None]:
        """Handle SIGINT and SIGTERM on the running loop; returns the function that removes
        the handlers."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._received, signum)

        def remove() -> None:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

        return remove

    def _received(self, signum: int) -> None:
        self.last = signal.Signals(signum).name
        if self.graceful.is_set():
            self.immediate.set()
        self.graceful.set()


async def _serve(args: argparse.Namespace, files: list[Path]) -> int:
    """Load, start, serve until a signal, stop; the exit code."""
    from greenroom.runtime import AgentRuntime  # noqa: PLC0415  # see the module docstring

    signals = _Signals()
    remove_handlers = signals.install()
    runtime = AgentRuntime()
    try:
        configs = _load(runtime, files)
        if configs is None:
            return 1
        for name, config in configs:
            await runtime.add_process(name, config)
        if not args.no_start and not await _start(runtime, [name for name, _ in configs]):
            return 1
        if not await _serve_api(runtime, args, signals):
            return 1
        return await _shutdown(runtime, signals, args.drain_timeout)
    finally:
        remove_handlers()
        if not signals.immediate.is_set():
            await runtime.close()


async def _serve_api(runtime: AgentRuntime, args: argparse.Namespace, signals: _Signals
                     ) -> bool:
    """Serve the API, with the state file, until the first stop signal; False (reported) if
    it cannot be served. The state file is gone and the API closed when this returns."""
    from greenroom.api.server import OrchestrationAPI  # noqa: PLC0415  # see the module docstring

    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)
    api = OrchestrationAPI(runtime, host=args.host, port=args.port, auth_token=token,
                           allow_env_references=args.allow_env_references)
    try:
        await api.start()
    except OSError as exc:
        error(f"cannot serve the API on {args.host}:{args.port}: {exc.strerror or exc}")
        return False
    try:
        path = write_state(api.url, token)
        emit(f"API listening on {api.url}")
        emit(f"token: {token}")
        emit(f"state file: {path}")
        emit("press Ctrl-C to stop (runs in flight finish first; twice to stop at once)")
        await signals.graceful.wait()
        emit(f"{signals.last}: stopping gracefully (signal again to stop at once)")
    except OSError as exc:
        error(f"cannot write the state file: {exc}")
        return False
    finally:
        remove_state()
        await api.stop()
    return True


def _load(runtime: AgentRuntime, files: list[Path]) -> list[tuple[str, ProcessConfig]] | None:
    """Every manifest's (name, config), all validated before any is used; None (reported)
    if one is invalid."""
    from greenroom.manifest.loader import load_process_configs  # noqa: PLC0415

    try:
        configs = load_process_configs(files, set(runtime.processes))
    except ManifestError as exc:
        error(str(exc))
        return None
    for (name, _), path in zip(configs, files, strict=True):
        emit(f"loaded {name} from {path}")
    return configs


async def _start(runtime: AgentRuntime, names: list[str]) -> bool:
    """Start the processes in order; False (reported) if one cannot start."""
    for name in names:
        emit(f"starting {name}...")
        try:
            await runtime.start_process(name)
        except Exception as exc:  # the agent's own setup can raise anything: report it
            error(f"{name} did not start: {exc}")
            return False
        emit(f"{name}: {runtime.get_process(name).state.value}")
    return True


async def _shutdown(runtime: AgentRuntime, signals: _Signals,
                    drain_timeout: float | None) -> int:
    """Stop the processes gracefully; on a second signal, stop every actor at once."""
    graceful = asyncio.create_task(_stop_all(runtime, drain_timeout))
    forced = asyncio.create_task(signals.immediate.wait())
    await asyncio.wait({graceful, forced}, return_when=asyncio.FIRST_COMPLETED)
    if graceful.done():
        forced.cancel()
        await graceful
        emit("stopped")
        return 0
    graceful.cancel()
    emit(f"{signals.last}: stopping at once, cancelling runs in flight")
    killed = await asyncio.to_thread(runtime.system.shutdown)
    emit("stopped at once" + (f" ({len(killed)} actors killed)" if killed else ""))
    return 0


async def _stop_all(runtime: AgentRuntime, drain_timeout: float | None) -> None:
    """Stop every process concurrently, with a line for each as it stops."""

    async def stop(name: str) -> tuple[str, dict[str, Any]]:
        return name, await runtime.stop_process(name, drain_timeout)

    running = [name for name, process in runtime.processes.items()
               if process.state.value not in ("created", "stopped", "failed")]
    if running:
        emit(f"stopping {len(running)} processes: " + ", ".join(running))
    for finished in asyncio.as_completed([stop(name) for name in running]):
        name, report = await finished
        cancelled = len(report.get("cancelled") or [])
        kept = len(report.get("kept") or [])
        emit(f"{name}: stopped ({cancelled} runs cancelled, {kept} events kept for the next "
             f"start)")
