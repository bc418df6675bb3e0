"""`greenroom demo`: hands over to `greenroom.demo.main(argv)`, the ops-center demo."""

from __future__ import annotations

import argparse
import importlib
import importlib.util

from greenroom.cli.output import error

__all__ = ["DEMO_MODULE", "register"]

DEMO_MODULE = "greenroom.demo"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `demo` command to the CLI; its arguments (`args.passthrough`, which `main`
    fills in) go to the demo unparsed."""
    demo = commands.add_parser(
        "demo", help="run the ops-center demo fleet", add_help=False,
        description="Run the demo; `greenroom demo --help` shows its options.")
    demo.set_defaults(func=_demo, passthrough=[])


def _demo(args: argparse.Namespace) -> int:
    if importlib.util.find_spec(DEMO_MODULE) is None:
        return error("the demo is not part of this installation (no module "
                     f"{DEMO_MODULE})", 2)
    demo = importlib.import_module(DEMO_MODULE)
    try:
        code = demo.main(list(args.passthrough))
    except SystemExit as exc:  # the demo's own argument parser exits on --help or misuse
        code = exc.code
    return code if isinstance(code, int) else 0
