"""The ops-center demo (`greenroom demo`): a monitor, an analyst and a responder from the
manifests in `examples/ops-center/`, with a file journal and the Orchestration API on loopback,
narrated as they work. See docs/demo.md.

`main(argv)` is the command (`python -m greenroom demo` or `python -m greenroom.demo`);
`run_demo` and `OpsCenterDemo` run it from Python, with an injected clock if wanted.
"""

from greenroom.demo.runner import DemoOptions, OpsCenterDemo, main, parse_options, run_demo

__all__ = ["DemoOptions", "OpsCenterDemo", "main", "parse_options", "run_demo"]
