"""Process commands: `ps`, `status [name]`, and `start|stop|restart|suspend|resume <name>`."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from greenroom.cli.output import duration, emit, emit_json, mapping_lines, table
from greenroom.cli.remote import add_remote_options, remote_command

if TYPE_CHECKING:
    from greenroom.api.client import OrchestrationClient

__all__ = ["register"]

PS_HEADERS = ("NAME", "STATE", "RUNS", "FAILED", "QUEUE", "DEAD", "RESTARTS", "UPTIME")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the process commands to the CLI."""
    ps = commands.add_parser("ps", help="list the processes of a running runtime",
                             description="One line per process: state, runs, queue, uptime.")
    add_remote_options(ps)
    ps.set_defaults(func=remote_command(_ps))

    status = commands.add_parser(
        "status", help="runtime summary, or one process's full status",
        description="Without NAME: the runtime's totals and its processes. With NAME: every "
                    "field of that process's status.")
    status.add_argument("name", nargs="?", help="a process name")
    add_remote_options(status)
    status.set_defaults(func=remote_command(_status))

    for verb, summary in (("start", "start a process"),
                          ("stop", "stop a process gracefully (runs in flight may finish)"),
                          ("restart", "stop a process at once and start it again"),
                          ("suspend", "suspend a process (events keep queueing)"),
                          ("resume", "resume a suspended process (queued events run)")):
        parser = commands.add_parser(verb, help=summary, description=summary[0].upper()
                                     + summary[1:] + ".")
        parser.add_argument("name", help="the process name")
        if verb == "stop":
            parser.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                                help="seconds runs in flight get before they are cancelled "
                                     "(default: the process's drain_timeout)")
        add_remote_options(parser)
        parser.set_defaults(func=remote_command(_LIFECYCLE[verb]))


def ps_rows(processes: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    """The `ps` table's rows for `{name: status}`, sorted by name."""
    return [
        [name, status.get("state"), status.get("invocation_count"),
         status.get("failed_invocations"), status.get("queue_size"),
         status.get("dead_letter_count"), status.get("restart_count"),
         duration(status.get("uptime_seconds"))]
        for name, status in sorted(processes.items())
    ]


async def _ps(client: OrchestrationClient, args: argparse.Namespace) -> int:
    answer = await client.runtime_status()
    if args.json:
        emit_json(answer)
        return 0
    processes = answer.get("processes") or {}
    if not processes:
        emit("no processes")
        return 0
    for line in table(PS_HEADERS, ps_rows(processes)):
        emit(line)
    return 0


async def _status(client: OrchestrationClient, args: argparse.Namespace) -> int:
    if args.name is not None:
        answer = await client.get_process(args.name)
        if args.json:
            emit_json(answer)
        else:
            for line in mapping_lines(answer):
                emit(line)
        return 0
    answer = await client.runtime_status()
    if args.json:
        emit_json(answer)
        return 0
    processes: Mapping[str, Mapping[str, Any]] = answer.get("processes") or {}
    counts = Counter(str(status.get("state")) for status in processes.values())
    summary = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    emit(f"runtime at {client.base_url}: {len(processes)} processes"
         + (f" ({summary})" if summary else ""))
    if processes:
        emit()
        for line in table(PS_HEADERS, ps_rows(processes)):
            emit(line)
    return 0


async def _start(client: OrchestrationClient, args: argparse.Namespace) -> int:
    answer = await client.start_process(args.name)
    return _report(args, answer, f"{args.name}: {answer.get('state', 'started')}")


async def _stop(client: OrchestrationClient, args: argparse.Namespace) -> int:
    if not args.json:
        drain = ("the process's drain timeout" if args.drain_timeout is None
                 else f"{args.drain_timeout:g} s")
        emit(f"stopping {args.name} (runs in flight get {drain})...")
    answer = await client.stop_process(args.name, drain_timeout=args.drain_timeout)
    interrupted = answer.get("interrupted_runs")
    count = len(interrupted) if isinstance(interrupted, list) else interrupted or 0
    return _report(args, answer,
                   f"{args.name}: {answer.get('state', 'stopped')} ({count} runs interrupted)")


async def _restart(client: OrchestrationClient, args: argparse.Namespace) -> int:
    answer = await client.restart_process(args.name)
    return _report(args, answer, f"{args.name}: restarted, {answer.get('state', 'running')}")


async def _suspend(client: OrchestrationClient, args: argparse.Namespace) -> int:
    answer = await client.suspend_process(args.name)
    return _report(args, answer, f"{args.name}: {answer.get('state', 'suspended')}")


async def _resume(client: OrchestrationClient, args: argparse.Namespace) -> int:
    answer = await client.resume_process(args.name)
    return _report(args, answer, f"{args.name}: {answer.get('state', 'running')}")


def _report(args: argparse.Namespace, answer: Mapping[str, Any], line: str) -> int:
    if args.json:
        emit_json(answer)
    else:
        emit(line)
    return 0


_LIFECYCLE = {"start": _start, "stop": _stop, "restart": _restart, "suspend": _suspend,
              "resume": _resume}
