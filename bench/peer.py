"""The peer runtime in the same run: a virtualenv with promptise 1.10.1, and its figures.

`python -m bench.runtime --peer auto` (and `bench.journal`) runs the peer on the same scenarios,
between greenroom's repeats, and prints its figures beside greenroom's: on a shared 2-CPU VM the
same code measures up to 2x apart from one hour to the next, so only figures taken in the same
run compare. `--peer auto` makes (once) a virtualenv in `.peer/` at the repository root and
installs `PEER_REQUIREMENT` from the package index into it; `--peer PATH` uses the interpreter
at PATH, which must have promptise installed. The peer's scenarios live in
`bench/promptise_side.py`, run by that interpreter in a subprocess: greenroom and promptise
never share a process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.kernel import Runs

ROOT = Path(__file__).resolve().parents[1]
SIDE = Path(__file__).with_name("promptise_side.py")
PEER_REQUIREMENT = "promptise==1.10.1"
PEER_LABEL = "promptise 1.10.1 (this run)"
VENV = ROOT / ".peer"
TIMEOUT = 1_800.0
"""Seconds one peer run (or the install) may take."""


class PeerError(RuntimeError):
    """The peer could not be installed or run; the message holds its output."""


def peer_python(spec: str) -> str:
    """The interpreter to run the peer with: `spec` itself, or for "auto" the one in `VENV`,
    made and filled first if it is not there yet."""
    if spec != "auto":
        return spec
    marker = VENV / "installed"
    if marker.is_file() and marker.read_text() == PEER_REQUIREMENT:
        return str(VENV / "bin" / "python")
    return str(_install())


def _install() -> Path:
    """A fresh virtualenv with the peer, built beside `VENV` and moved into place when whole."""
    print(f"  installing {PEER_REQUIREMENT} into {VENV} (once)", file=sys.stderr)
    building = Path(tempfile.mkdtemp(prefix=".peer-", dir=ROOT))
    try:
        _check([sys.executable, "-m", "venv", str(building)], "making the peer's virtualenv")
        _check([str(building / "bin" / "python"), "-m", "pip", "install", "-q",
                PEER_REQUIREMENT], f"installing {PEER_REQUIREMENT}")
        (building / "installed").write_text(PEER_REQUIREMENT)
        shutil.rmtree(VENV, ignore_errors=True)
        building.rename(VENV)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return VENV / "bin" / "python"


def _check(command: list[str], what: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        msg = f"{what} failed: {err}"
        raise PeerError(msg) from err
    if done.returncode != 0:
        msg = f"{what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}"
        raise PeerError(msg)
    return done.stdout


def run_peer(python: str, scenario: str, sizes: dict[str, Any],
             base: Path | None = None) -> dict[str, float]:
    """The peer's figures for `scenario` ("runtime" or "journal") at `sizes`; its journals go
    in a fresh directory under `base` (default: the system temp directory)."""
    with tempfile.TemporaryDirectory(prefix="peer-", dir=base) as directory:
        output = _check([python, str(SIDE), scenario, json.dumps(sizes), directory],
                        f"the peer's {scenario} scenarios")
    figures: dict[str, float] = json.loads(output)
    return figures


SAME_RUN = "peer_run"
"""The results column of the peer's figures in this run."""
OURS = "greenroom"
"""The results column of greenroom's figures (`GR` in the benches that compare)."""


def add_repeat(runs: Runs, python: str, scenario: str, sizes: dict[str, Any],
               failures: list[str], repeat: int, base: Path | None = None) -> None:
    """Run the peer's scenarios once and record each figure under `SAME_RUN` in `runs`; a
    failure is reported in `failures`, and its cells stay empty."""
    print(f"  peer repeat {repeat + 1}: {scenario} scenarios", file=sys.stderr)
    try:
        figures = run_peer(python, scenario, sizes, base)
    except PeerError as err:
        failures.append(f"peer {scenario} scenarios (repeat {repeat + 1})")
        print(err, file=sys.stderr)
        return
    for key, value in figures.items():
        runs.add(key, SAME_RUN, value)


HEADER = [PEER_LABEL, "cost vs peer"]
"""The two columns `cells` fills."""


def cells(figures: Mapping[str, float | None], fmt: Callable[[float], str], *,
          higher_is_better: bool) -> list[str]:
    """A row's two peer columns, from the row's figures by column: the peer's figure in this
    run (`SAME_RUN`, as `fmt` prints it, "-" if there is none) and greenroom's (`OURS`) cost
    over the peer's ("0.50x": greenroom takes half the time, or runs twice as fast)."""
    ours, theirs = figures.get(OURS), figures.get(SAME_RUN)
    if theirs is None:  # a row the peer has no scenario for (or its run failed: reported)
        return ["-", "-"]
    if ours is None or min(ours, theirs) <= 0:
        return [fmt(theirs), "-"]
    return [fmt(theirs), f"{(theirs / ours if higher_is_better else ours / theirs):.2f}x"]
