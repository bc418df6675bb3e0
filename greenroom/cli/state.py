"""The state file `greenroom run` leaves for the other commands: where its API listens.

`$GREENROOM_HOME/runtime.json` (default `~/.greenroom/runtime.json`) holds the API's URL, its
bearer token and the runtime's pid. The token is a credential, so the directory is created
owner-only (0700) and the file is written owner-only (0600) before the token goes in, then moved
into place atomically. A file whose pid no longer runs is stale (a runtime that was killed) and
is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "HOME_ENV",
    "STATE_FILE",
    "RuntimeState",
    "pid_alive",
    "read_state",
    "remove_state",
    "state_home",
    "state_path",
    "write_state",
]

HOME_ENV = "GREENROOM_HOME"
"""Environment variable naming the directory of the state file (default `~/.greenroom`)."""

STATE_FILE = "runtime.json"

RuntimeState = dict[str, Any]
"""The state file's content: `url`, `token`, `pid`, `started_at`."""


def state_home() -> Path:
    """The directory of the state file."""
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser() if home else Path.home() / ".greenroom"


def state_path() -> Path:
    """Where `greenroom run` writes its state file."""
    return state_home() / STATE_FILE


def write_state(url: str, token: str, pid: int | None = None) -> Path:
    """Write the state file (owner-only) for a runtime serving at `url`; returns its path."""
    directory = state_home()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)  # mkdir's mode is masked by the umask, and an old dir may be wider
    state = {"url": url, "token": token, "pid": os.getpid() if pid is None else pid,
             "started_at": datetime.now(UTC).isoformat()}
    handle, temp = tempfile.mkstemp(prefix=".runtime-", suffix=".json", dir=directory)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(state, file, indent=2)
            file.write("\n")
        path = directory / STATE_FILE
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return path


def read_state() -> RuntimeState | None:
    """The state of a running runtime, or None (no file, unreadable, or its pid is gone)."""
    try:
        state = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("url"), str):
        return None
    pid = state.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    return state


def remove_state(pid: int | None = None) -> bool:
    """Remove the state file if it belongs to `pid` (default: this process); True if removed.
    Another runtime's file, written since, is left alone."""
    path = state_path()
    owner = os.getpid() if pid is None else pid
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or state.get("pid") != owner:
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one owned by another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
