"""The `greenroom` command: argument parsing and dispatch to the command modules.

Exit codes: 0 success, 1 an error (reported on stderr), 2 a usage error, 141 (128 + SIGPIPE, what
a shell reports for a tool killed by that signal) when the reader of the output went away, as
`head` does once it has its lines.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from greenroom.cli import demo, journal, manifests, messages, processes, run
from greenroom.cli.output import error

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2
EXIT_PIPE = 141


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
    except BrokenPipeError:
        # Nobody reads stdout any more: stop quietly, and point stdout at /dev/null so the
        # interpreter's last flush does not fail again on the way out.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE
    return code
