"""The `greenroom` command: argument parsing and dispatch to the command modules.

Exit codes: 0 success, 1 an error (reported on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from greenroom.cli import demo, journal, manifests, messages, processes, run
from greenroom.cli.output import error

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The parser of every `greenroom` command."""
    parser = argparse.ArgumentParser(
        prog="greenroom",
        description="Run AI agents as supervised processes, and operate them.",
        epilog="Commands that reach a running runtime find it through the state file written "
               "by `greenroom run` ($GREENROOM_HOME, default ~/.greenroom), or --url/--token.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (run, manifests, processes, messages, journal, demo):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `greenroom` command; returns its exit code."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
        if "passthrough" in args:  # `demo`: its own arguments, for its own parser
            args.passthrough = extra
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse exits on --help (0) and on a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return error("interrupted", 130)
    return code
