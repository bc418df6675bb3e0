"""`DeployPolicy`: what a process deployed (or a trigger added) over the API may ask for.

A token lets a caller deploy configs, not run arbitrary things on the host. By default a config
is refused (403) if it would:

- start a command: an MCP server with a `command` (stdio transport), or open mode with tool
  creation (`COMMANDS_NOT_ALLOWED`; allowed with `allow_command_deploys`);
- read the server's environment through a `${VAR}` reference, in a secret or an HMAC key
  (`ENV_REFERENCES_NOT_ALLOWED`; allowed with `allow_env_references`);
- read or write files outside `data_dir`: a file journal's path, a memory directory, a file
  mount, a watched path (`PATH_NOT_ALLOWED`). Paths are resolved as the runtime will resolve
  them (relative to the working directory), symbolic links included.

Configs given in Python (`AgentRuntime.add_process`) are not subject to this policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenroom.api.errors import ApiError
from greenroom.runtime.config import ExecutionMode, ProcessConfig, TriggerConfig

__all__ = ["DeployPolicy"]


@dataclass(frozen=True)
class DeployPolicy:
    """The limits of configs deployed over the API (see the module docstring)."""

    data_dir: Path
    allow_command_deploys: bool = False
    allow_env_references: bool = False

    def check_process(self, config: ProcessConfig, where: str = "config") -> None:
        """Raise `ApiError` (403) naming the first field the policy refuses."""
        if not self.allow_command_deploys:
            for name, server in config.servers.items():
                if "command" in server or server.get("transport") == "stdio":
                    self._refuse_command(f"{where}.servers.{name}", "a stdio server")
            if (config.execution_mode is ExecutionMode.OPEN
                    and config.open_mode.allow_tool_creation):
                self._refuse_command(f"{where}.open_mode.allow_tool_creation",
                                     "open mode with tool creation")
        self._check_references(config.model_dump(mode="json"), where)
        journal = config.journal
        if journal.level != "none" and journal.backend == "file":
            self._check_path(journal.path, f"{where}.journal.path")
        context = config.context
        if context.memory_persist_directory is not None:
            self._check_path(context.memory_persist_directory,
                             f"{where}.context.memory_persist_directory")
        for mount, path in context.file_mounts.items():
            self._check_path(path, f"{where}.context.file_mounts.{mount}")
        for index, trigger in enumerate(config.triggers):
            self.check_trigger(trigger, f"{where}.triggers.{index}")

    def check_trigger(self, trigger: TriggerConfig, where: str = "trigger") -> None:
        """Raise `ApiError` (403) naming the first field of `trigger` the policy refuses."""
        self._check_references(trigger.model_dump(mode="json"), where)
        if trigger.watch_path is not None:
            self._check_path(trigger.watch_path, f"{where}.watch_path")

    def _refuse_command(self, field: str, what: str) -> None:
        msg = (f"{field}: {what} would run a command on the server; the API refuses it "
               "unless started with allow_command_deploys=True")
        raise ApiError("COMMANDS_NOT_ALLOWED", msg, field=field)

    def _check_references(self, data: Any, where: str) -> None:
        if self.allow_env_references:
            return
        for field, text in _strings(data, where):
            if "${" in text:
                msg = (f"{field}: ${{VAR}} references read the server's environment; the API "
                       "refuses them unless started with allow_env_references=True")
                raise ApiError("ENV_REFERENCES_NOT_ALLOWED", msg, field=field)

    def _check_path(self, path: str, field: str) -> None:
        root = self.data_dir.resolve()
        target = Path(path).expanduser().resolve()
        if target != root and root not in target.parents:
            msg = f"{field}: paths must lie inside the API's data_dir {str(root)!r}"
            raise ApiError("PATH_NOT_ALLOWED", msg, field=field)


def _strings(data: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, with its dotted location."""
    if isinstance(data, str):
        yield where, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, f"{where}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, f"{where}.{index}")
