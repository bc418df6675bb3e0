"""`greenroom journal <name>`: the last entries of a process's journal."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from greenroom.cli.output import emit, emit_json, short_json, short_time, table
from greenroom.cli.remote import add_remote_options, remote_command

if TYPE_CHECKING:
    from greenroom.api.client import OrchestrationClient

__all__ = ["register"]

MAX_ENTRIES = 500
"""The most entries the API returns at once."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `journal` command to the CLI."""
    journal = commands.add_parser(
        "journal", help="show a process's last journal entries",
        description="The last N entries (oldest first), optionally of one type "
                    "(trigger_event, invocation_result, error, dead_letter, checkpoint, ...).")
    journal.add_argument("name", help="the process name")
    journal.add_argument("--type", dest="entry_type", metavar="TYPE",
                         help="only entries of this type")
    journal.add_argument("-n", "--limit", type=_limit, default=20, metavar="N",
                         help=f"how many entries, 1 to {MAX_ENTRIES} (default: 20)")
    add_remote_options(journal)
    journal.set_defaults(func=remote_command(_journal))


def _limit(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= MAX_ENTRIES:
        msg = f"must be between 1 and {MAX_ENTRIES}"
        raise argparse.ArgumentTypeError(msg)
    return value


async def _journal(client: OrchestrationClient, args: argparse.Namespace) -> int:
    answer = await client.get_journal(args.name, limit=args.limit, entry_type=args.entry_type)
    if args.json:
        emit_json(answer)
        return 0
    entries = answer.get("entries") or []
    if not entries:
        emit(f"{args.name}: no journal entries" + (f" of type {args.entry_type}"
                                                   if args.entry_type else ""))
        return 0
    rows = [[short_time(entry.get("timestamp")), entry.get("entry_type"),
             short_json(entry.get("data"))] for entry in entries]
    for line in table(("TIME", "TYPE", "DATA"), rows):
        emit(line)
    return 0
