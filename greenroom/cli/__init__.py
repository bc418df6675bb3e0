"""The `greenroom` command line: run manifests with the API, and operate a running runtime.

`greenroom.cli.main.main(argv)` is the entry point (also `python -m greenroom`); each command
group lives in its own module and adds its parsers through `register(commands)`.
"""

from greenroom.cli.main import main

__all__ = ["main"]
