"""Helpers of the CLI tests: `python -m greenroom` subprocesses, and a `greenroom run` runtime
started on a free port with its own GREENROOM_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

HERE = Path(__file__).resolve().parent
WAIT = 60.0
"""Seconds to wait for a subprocess or a condition (generous: a loaded 2-core machine)."""


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a CLI subprocess: its own GREENROOM_HOME, tests/cli importable (for
    `--import cli_agents`), and no connection settings inherited from the caller."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("GREENROOM_URL", "GREENROOM_TOKEN", "OPENAI_BASE_URL")}
    env["GREENROOM_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    return env


def greenroom(*args: str, home: Path, cwd: Path, stdin: str | None = None
              ) -> subprocess.CompletedProcess[str]:
    """Run `python -m greenroom ARGS` to completion; its exit code and output."""
    return subprocess.run([sys.executable, "-m", "greenroom", *args], env=cli_env(home),
                          cwd=cwd, input=stdin, capture_output=True, text=True, timeout=WAIT,
                          check=False)


RECHECK = 1.0
"""Seconds between two checks when no file changed (a missed event only delays a check)."""


def wait_for(condition: Callable[[], Any], what: str, *, watch: Sequence[Path],
             timeout: float = WAIT) -> Any:
    """Check `condition` until it returns something truthy (returned), again after each change
    in the `watch` directories (where the runtime writes its state file, log and journal);
    AssertionError naming `what` after `timeout` seconds."""
    changed = threading.Event()

    class Wake(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            changed.set()

    observer = Observer()
    for directory in watch:
        directory.mkdir(parents=True, exist_ok=True)
        observer.schedule(Wake(), str(directory), recursive=True)
    observer.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            changed.clear()
            value = condition()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"timed out after {timeout:g} s waiting for {what}"
                raise AssertionError(msg)
            changed.wait(min(remaining, RECHECK))
    finally:
        observer.stop()
        observer.join(WAIT)


@dataclass
class RunningRuntime:
    """A `greenroom run` subprocess and what it wrote: its state file and its output log."""

    process: subprocess.Popen[bytes]
    home: Path
    cwd: Path
    log_path: Path
    state: dict[str, Any]

    @property
    def state_file(self) -> Path:
        return self.home / "runtime.json"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a CLI command against this runtime (found through the state file)."""
        return greenroom(*args, home=self.home, cwd=self.cwd, stdin=stdin)

    def wait_for(self, condition: Callable[[], Any], what: str) -> Any:
        """`wait_for`, woken by what this runtime writes (state file, log, journal)."""
        return wait_for(condition, what, watch=[self.home, self.cwd])

    def wait_for_log(self, text: str) -> None:
        self.wait_for(lambda: text in self.log(), f"{text!r} in the run log")

    def signal(self, signum: int = signal.SIGINT) -> None:
        self.process.send_signal(signum)

    def wait(self) -> int:
        """The exit code, once the subprocess has exited (killed after `WAIT` seconds)."""
        try:
            return self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=WAIT)
            raise

    def close(self) -> None:
        """Stop the runtime if a test left it running (SIGINT, then kill)."""
        if self.process.poll() is None:
            self.signal(signal.SIGINT)
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WAIT)


def start_runtime(paths: list[str], *, home: Path, cwd: Path, extra: tuple[str, ...] = ()
                  ) -> RunningRuntime:
    """Start `greenroom run PATHS --port 0 --import cli_agents` and wait for its state file."""
    log_path = cwd / f"run-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "greenroom", "run", *paths, "--port", "0",
             "--import", "cli_agents", *extra],
            env=cli_env(home), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
        )
    runtime = RunningRuntime(process, home, cwd, log_path, {})

    def ready() -> dict[str, Any] | None:
        if process.poll() is not None:
            msg = f"greenroom run exited with {process.returncode}:\n{runtime.log()}"
            raise AssertionError(msg)
        try:
            state = json.loads(runtime.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # not written yet, or being replaced
            return None
        return state if state.get("pid") == process.pid else None

    try:
        runtime.state = runtime.wait_for(ready, "the state file of greenroom run")
    except BaseException:
        runtime.close()
        raise
    return runtime


def manifest(name: str, agent: str, *, extra: str = "") -> str:
    """A manifest for a `python:` test agent, with a file journal and the inbox on."""
    return (f'version: "1.0"\nname: {name}\nmodel: python:{agent}\n'
            f"instructions: Handle what you are given.\n"
            f"journal:\n  level: full\n  path: .greenroom/journal\n"
            f"config:\n  inbox:\n    enabled: true\n{extra}")
