"""`greenroom demo`: the ops-center fleet, from its manifests, narrated as it runs.

`main(argv)` parses the options and runs `run_demo` until `--duration` seconds have passed, or
Ctrl-C / SIGTERM (a second signal exits at once: what was acknowledged is in the journal).
`OpsCenterDemo` is the same demo as an object with `start()` and `stop()`, for tests and for
programs that drive it (with a `ManualClock`, a test runs simulated minutes in a moment).

What a run does, in order:

1. creates the work directory (`--dir`) with `inbox/` (watched by the monitor) and `journal/`,
   and a webhook HMAC secret in `webhook-secret` (kept, so a second run and curl use the same);
2. registers the fleet's Python agents (`greenroom.demo.agents`) and loads every `*.agent`
   manifest of `examples/ops-center/` with `AgentRuntime.load_directory`, the manifests'
   `${GREENROOM_DEMO_*}` references pointing at the work directory, port and secret;
3. starts the Orchestration API on loopback with a fresh bearer token (unless `--no-api`),
   then every process; each one recovers from the journal, and the demo prints what came back;
4. waits until the event and message triggers have subscribed and the file watch runs, then
   drops a CSV of readings into the inbox so the chain monitor -> analyst -> responder runs at
   once, and prints each run as it completes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from greenroom.demo.agents import OpsFleet, decider_from_env
from greenroom.demo.narrator import Narrator
from greenroom.runtime.runtime import AgentRuntime
from greenroom.triggers.signatures import sign

if TYPE_CHECKING:
    from greenroom.actors.clock import Clock
    from greenroom.agents.openai import OpenAIChatAgent
    from greenroom.api.server import OrchestrationAPI

__all__ = [
    "DEFAULT_API_PORT",
    "DEFAULT_WEBHOOK_PORT",
    "MANIFESTS",
    "DemoOptions",
    "OpsCenterDemo",
    "main",
    "parse_options",
    "run_demo",
]

MANIFESTS = Path(__file__).resolve().parents[2] / "examples" / "ops-center"
"""The fleet's manifests (a source checkout or an editable install)."""

DEFAULT_API_PORT = 9100
DEFAULT_WEBHOOK_PORT = 9101
SECRET_FILE = "webhook-secret"
SAMPLE_ROWS = (
    ("checkout", "latency_ms", "950"),
    ("payments", "error_rate", "0.07"),
    ("search", "latency_ms", "120"),
    ("storage", "disk_pct", "97"),
)
"""The readings of the CSV each run drops: three over their thresholds (one critical)."""

_READY_TIMEOUT = 30.0
_SAMPLE_ALERT = (b'{"service": "billing", "severity": "critical", '
                 b'"summary": "card payments failing"}')


@dataclass(frozen=True)
class DemoOptions:
    """The demo's command-line options (see `parse_options`)."""

    directory: Path = Path("greenroom-demo")
    port: int = DEFAULT_API_PORT
    duration: float = 0.0
    api: bool = True
    webhook_port: int = DEFAULT_WEBHOOK_PORT
    manifests: Path = field(default=MANIFESTS)


def parse_options(argv: Sequence[str] | None = None) -> DemoOptions:
    """Parse `greenroom demo` arguments; `SystemExit` on a bad one (argparse's usage error)."""
    parser = argparse.ArgumentParser(
        prog="greenroom demo",
        description="Run the ops-center demo fleet: a monitor, an analyst and a responder, "
                    "from the manifests in examples/ops-center/, narrated as they work.")
    parser.add_argument("--dir", dest="directory", type=Path, default=Path("greenroom-demo"),
                        help="work directory: inbox, journal, webhook secret "
                             "(default ./greenroom-demo; run again on it to resume)")
    parser.add_argument("--port", type=int, default=DEFAULT_API_PORT,
                        help=f"Orchestration API port on 127.0.0.1 (default {DEFAULT_API_PORT}"
                             "; 0 picks a free one)")
    parser.add_argument("--duration", type=float, default=0.0, metavar="SECONDS",
                        help="stop after this many seconds (default 0: until Ctrl-C)")
    parser.add_argument("--no-api", dest="api", action="store_false",
                        help="do not start the Orchestration API")
    parser.add_argument("--webhook-port", type=int, default=DEFAULT_WEBHOOK_PORT,
                        help=f"the responder's /alerts webhook port (default "
                             f"{DEFAULT_WEBHOOK_PORT}; 0 picks a free one)")
    parser.add_argument("--manifests", type=Path, default=MANIFESTS,
                        help="directory of the fleet's .agent manifests")
    args = parser.parse_args(argv)
    for name in ("port", "webhook_port"):
        if not 0 <= getattr(args, name) <= 65535:
            parser.error(f"--{name.replace('_', '-')}: expected a port from 0 to 65535")
    if args.duration < 0:
        parser.error("--duration: expected seconds >= 0")
    return DemoOptions(directory=args.directory, port=args.port, duration=args.duration,
                       api=args.api, webhook_port=args.webhook_port, manifests=args.manifests)


class OpsCenterDemo:
    """One run of the demo: `await start()`, let it work, `await stop()`.

    `clock` drives the runtime (a `ManualClock` in tests); `environ` is where `OPENAI_BASE_URL`
    and friends are read (default `os.environ`). `stopped` is set when the API's
    `POST /runtime/shutdown` asks the demo to end.
    """

    def __init__(self, options: DemoOptions, *, clock: Clock | None = None,
                 out: TextIO | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.options = options
        self.directory = options.directory.resolve()
        self.inbox = self.directory / "inbox"
        self.journal = self.directory / "journal"
        self.stopped = asyncio.Event()
        self.token = secrets.token_urlsafe(24)
        self.runtime: AgentRuntime | None = None
        self.api: OrchestrationAPI | None = None
        self.narrator: Narrator | None = None
        self._clock = clock
        self._out = out if out is not None else sys.stdout
        self._environ = os.environ if environ is None else environ
        self._fleet: OpsFleet | None = None
        self._client: OpenAIChatAgent | None = None
        self._samples = 0

    # Starting ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Set up the work directory, load and start the fleet (and the API), print what was
        recovered, and drop the first sample CSV. On failure, whatever started is stopped."""
        try:
            await self._start()
        except BaseException:
            await self.stop(quiet=True)
            raise

    async def _start(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.journal.mkdir(parents=True, exist_ok=True)
        resumed = any(self.journal.iterdir())
        secret = self._webhook_secret()
        runtime = self.runtime = AgentRuntime(clock=self._clock)
        decider, self._client = decider_from_env(self._environ)
        fleet = self._fleet = OpsFleet(runtime.event_bus, runtime.broker, decider=decider)
        fleet.register()
        narrator = self.narrator = Narrator(self._out, fleet.stories, runtime.system.clock.time)
        runtime.add_listener(narrator.listen(asyncio.get_running_loop()))
        self._print(f"greenroom ops-center demo in {self.directory}"
                    + (" (resuming from its journal)" if resumed else ""))
        if self._client is not None:
            self._print(f"agents decide with {self._client.model} at {self._client.base_url}")
        with _exported({"GREENROOM_DEMO_DIR": str(self.directory),
                        "GREENROOM_DEMO_WEBHOOK_PORT": str(self.options.webhook_port),
                        "GREENROOM_DEMO_WEBHOOK_SECRET": secret}):
            names = await runtime.load_directory(self.options.manifests)
        self._print(f"loaded {', '.join(names)} from {self.options.manifests}")
        if self.options.api:
            await self._start_api(runtime)
        await runtime.start_all()
        await _ready(runtime)
        await self._print_recovery(runtime)
        self._print_webhook(runtime, secret)
        await self.drop_sample()

    async def _start_api(self, runtime: AgentRuntime) -> None:
        from greenroom.api.server import OrchestrationAPI  # noqa: PLC0415 (only with the API)

        api = OrchestrationAPI(runtime, "127.0.0.1", self.options.port, self.token,
                               on_shutdown=self._shutdown_requested, data_dir=self.directory)
        await api.start()
        self.api = api
        self._print(f"API: {api.url}/api/v1  token: {self.token}")
        self._print(f"  try: greenroom ps --url {api.url} --token {self.token}")

    def _shutdown_requested(self, drain_timeout: float | None) -> None:
        del drain_timeout  # the demo stops with each process's own drain_timeout
        self.stopped.set()

    def _webhook_secret(self) -> str:
        """`GREENROOM_DEMO_WEBHOOK_SECRET`, else the one kept in the work directory, else a new
        one written there (owner-only)."""
        given = self._environ.get("GREENROOM_DEMO_WEBHOOK_SECRET")
        if given:
            return given
        path = self.directory / SECRET_FILE
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        secret = secrets.token_hex(16)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        return secret

    # While it runs -----------------------------------------------------------------------

    async def drop_sample(self) -> Path:
        """Write a CSV of `SAMPLE_ROWS` into the inbox (through a temporary name and a rename,
        so the monitor never reads half a file); returns its path."""
        self._samples += 1
        stamp = datetime.fromtimestamp(self._now(), UTC)
        name = f"metrics-{stamp:%Y%m%dT%H%M%S}-{self._samples}.csv"
        rows = ["time,service,metric,value"]
        rows += [f"{stamp.isoformat()},{service},{metric},{value}"
                 for service, metric, value in SAMPLE_ROWS]
        target = self.inbox / name
        temporary = self.inbox / f".{name}.tmp"
        temporary.write_text("\n".join(rows) + "\n", encoding="utf-8")
        temporary.replace(target)
        self._say("demo", f"dropped {target.relative_to(self.directory)} "
                          f"({len(SAMPLE_ROWS)} readings)")
        return target

    def webhook_url(self) -> str:
        """The responder's `/alerts` URL (once started)."""
        return _webhook_url(self._runtime())

    # Stopping ----------------------------------------------------------------------------

    async def stop(self, *, quiet: bool = False) -> None:
        """Stop the API, then every process (gracefully: each finishes its runs and writes a
        final checkpoint), and print the tally unless `quiet`."""
        if self.api is not None:
            await self.api.stop()
            self.api = None
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            await runtime.stop_all()
            if not quiet:
                await self._print_tally(runtime)
            await runtime.close()
        if self._fleet is not None:
            self._fleet.unregister()
            self._fleet = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # Printing ----------------------------------------------------------------------------

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def _say(self, who: str, text: str) -> None:
        if self.narrator is not None:
            self.narrator.say(who, text)

    def _now(self) -> float:
        return self._runtime().system.clock.time()

    def _runtime(self) -> AgentRuntime:
        if self.runtime is None:
            msg = "the demo is not running"
            raise RuntimeError(msg)
        return self.runtime

    async def _print_recovery(self, runtime: AgentRuntime) -> None:
        """What each process took back from its journal (nothing on a first run)."""
        for name, process in runtime.processes.items():
            status = process.status()
            recovery = status.get("recovery") or {}
            if recovery.get("checkpoint_seq") is None and not recovery.get("entries_replayed"):
                continue
            checkpoint = recovery.get("checkpoint_seq")
            since = "no checkpoint" if checkpoint is None else f"checkpoint #{checkpoint}"
            state = (await process.get_context())["state"]
            self._say(name, (
                f"resumed from its journal ({since} + {recovery.get('entries_replayed')} "
                f"entries): {len(recovery.get('requeued') or [])} event(s) requeued, "
                f"{_runs(status['invocation_count'])} so far" + _carried_over(name, state, status)))

    def _print_webhook(self, runtime: AgentRuntime, secret: str) -> None:
        """The `/alerts` URL and a ready-to-paste signed curl call."""
        url = _webhook_url(runtime)
        signature = sign("generic", secret, _SAMPLE_ALERT)["X-Webhook-Signature"]
        self._print(f"webhook: POST {url} (HMAC-SHA256 secret in {self.directory / SECRET_FILE})")
        self._print(f"  try: curl -i {url} -H 'Content-Type: application/json' "
                    f"-H 'X-Webhook-Signature: {signature}' -d '{_SAMPLE_ALERT.decode()}'")

    async def _print_tally(self, runtime: AgentRuntime) -> None:
        for name, process in runtime.processes.items():
            status = process.status()
            state = (await process.get_context())["state"]
            self._say(name, f"stopped after {_runs(status['invocation_count'])}"
                            + _carried_over(name, state, status))
        self._print(f"journal kept in {self.journal}; run the demo again with "
                    f"--dir {self.options.directory} to resume from it")


def _runs(count: int) -> str:
    """`1 run`, `2 runs`."""
    return f"{count} run" if count == 1 else f"{count} runs"


def _carried_over(name: str, state: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    """The facts worth showing for a process: the responder's incidents and mission, the
    monitor's checks."""
    if name == "responder":
        mission = status.get("mission_state")
        return (f"; {state.get('incident_count', 0)} incidents handled"
                + (f", mission {mission}" if mission else ""))
    if name == "monitor":
        return (f"; {state.get('checks', 0)} checks, {state.get('breaches_emitted', 0)} "
                "breaches emitted")
    return ""


def _webhook_url(runtime: AgentRuntime) -> str:
    for trigger in runtime.get_process("responder").status()["triggers"]:
        if trigger["type"] == "webhook":
            return str(trigger["url"])
    msg = "the responder has no webhook trigger"
    raise RuntimeError(msg)


@contextlib.contextmanager
def _exported(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the manifests' `${VAR}` references, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _ready(runtime: AgentRuntime) -> None:
    """Wait until every event and message trigger has subscribed and every file watch runs
    (they start asynchronously), so that nothing the demo does at once is missed."""
    events = {t.event_type for p in runtime.processes.values() for t in p.config.triggers
              if t.type == "event"}
    topics = {t.topic for p in runtime.processes.values() for t in p.config.triggers
              if t.type == "message"}

    async def patterns(source: Any) -> set[str]:
        return {subscription.pattern for subscription in await source.subscriptions()}

    def watching() -> bool:
        return all("watch_backend" in trigger
                   for process in runtime.processes.values()
                   for trigger in process.status()["triggers"] if trigger["type"] == "file_watch")

    async def settled() -> None:
        while not (events <= await patterns(runtime.event_bus)
                   and topics <= await patterns(runtime.broker) and watching()):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(settled(), _READY_TIMEOUT)


async def run_demo(options: DemoOptions, *, clock: Clock | None = None,
                   stop: asyncio.Event | None = None, out: TextIO | None = None) -> int:
    """Run the demo until `stop` is set, `options.duration` seconds pass (0: no limit) or the
    API asks for a shutdown; 0 when it ran, 1 when it could not start (the reason printed)."""
    demo = OpsCenterDemo(options, clock=clock, out=out)
    try:
        await demo.start()
    except (OSError, ValueError, RuntimeError, TimeoutError) as exc:
        print(f"greenroom demo: cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    waits = [asyncio.ensure_future(demo.stopped.wait())]
    if stop is not None:
        waits.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, timeout=options.duration or None,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await demo.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`greenroom demo [--dir D] [--port P] [--duration S] [--no-api] ...`; the exit code."""
    try:
        options = parse_options(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else 2
    return asyncio.run(_main(options))


async def _main(options: DemoOptions) -> int:
    """`run_demo` with Ctrl-C / SIGTERM as the stop: the first stops gracefully, a second exits
    at once (acknowledged events are already durable in the journal)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            print("second signal: exiting now; the journal keeps what was acknowledged",
                  file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(130)
        print("stopping (Ctrl-C again to exit at once)...", file=sys.stderr, flush=True)
        stop.set()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform
            loop.add_signal_handler(signum, on_signal)
            handled.append(signum)
    try:
        return await run_demo(options, stop=stop)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
