"""Manifests in a runtime: `python:` agents by name, `AgentRuntime.load_manifest`,
`load_directory` (all or nothing), and a manifest-loaded process that answers an event."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import greenroom.manifest.loader as loader_module
from greenroom.agents.invocation import Invocation
from greenroom.agents.openai import ModelConfigError, resolve_model
from greenroom.agents.registry import (
    lookup_agent,
    register_agent,
    registered_agents,
    unregister_agent,
)
from greenroom.manifest import ManifestError, ManifestValidationError
from greenroom.runtime.config import ProcessConfig
from greenroom.runtime.errors import RuntimeBaseError
from greenroom.runtime.lifecycle import ProcessState
from greenroom.runtime.runtime import AgentRuntime
from greenroom.triggers import TriggerEvent

AGENT = "manifest-test-greeter"


async def greeter(invocation: Invocation) -> str:
    """Answers with the event's payload, so the test can see the reply."""
    return f"hello {invocation.event.payload}"


@pytest.fixture
def registered() -> Iterator[str]:
    register_agent(AGENT, greeter)
    yield AGENT
    unregister_agent(AGENT)


def manifest(name: str, *, model: str = f"python:{AGENT}", extra: str = "") -> str:
    return f"name: {name}\nmodel: {model}\ninstructions: Greet.\n{extra}"


def write(folder: Path, file_name: str, text: str) -> Path:
    path = folder / file_name
    path.write_text(text, encoding="utf-8")
    return path


# The registry ------------------------------------------------------------------------------

def test_register_lookup_and_unregister() -> None:
    def sync_agent(invocation: Invocation) -> str:
        return "sync"

    register_agent("manifest-test-a", sync_agent)
    try:
        assert "manifest-test-a" in registered_agents()
        assert lookup_agent("manifest-test-a") is sync_agent
        with pytest.raises(ValueError, match="already registered"):
            register_agent("manifest-test-a", greeter)
        register_agent("manifest-test-a", greeter, overwrite=True)
        assert lookup_agent("manifest-test-a") is greeter
    finally:
        assert unregister_agent("manifest-test-a") is True
    assert unregister_agent("manifest-test-a") is False
    assert lookup_agent("manifest-test-a") is None


def test_registration_refuses_bad_names_and_non_callables() -> None:
    with pytest.raises(ValueError, match="name: expected a letter"):
        register_agent("has space", greeter)
    with pytest.raises(ValueError, match="name: expected a letter"):
        register_agent("python:nested", greeter)
    with pytest.raises(TypeError, match="agent: expected a callable, got str"):
        register_agent("manifest-test-b", "greeter")  # type: ignore[arg-type]


def test_python_models_resolve_to_the_registered_agent(registered: str) -> None:
    agent = resolve_model(f"python:{registered}")
    assert agent is greeter


def test_an_unknown_python_agent_lists_the_registered_names(registered: str) -> None:
    with pytest.raises(ModelConfigError) as caught:
        resolve_model("python:nobody")
    message = str(caught.value)
    assert "no agent is registered as 'nobody'" in message
    assert f"registered: {', '.join(registered_agents())}" in message
    assert registered in message


# AgentRuntime.load_manifest ----------------------------------------------------------------

def test_a_manifest_loaded_process_answers_an_injected_event(
    tmp_path: Path, registered: str
) -> None:
    path = write(tmp_path, "greeter.agent", manifest("greeter", extra="world: {shift: night}\n"))

    async def main() -> None:
        async with AgentRuntime() as runtime:
            loop = asyncio.get_running_loop()
            completed: asyncio.Future[dict[str, Any]] = loop.create_future()

            def settle(data: dict[str, Any]) -> None:
                if not completed.done():
                    completed.set_result(data)

            def listener(event_type: str, data: dict[str, Any]) -> None:
                if event_type == "invocation.completed":
                    loop.call_soon_threadsafe(settle, data)

            runtime.add_listener(listener)
            process = await runtime.load_manifest(path)
            assert runtime.get_process("greeter") is process
            assert process.config.context.initial_state == {"shift": "night"}
            await process.start()
            assert await process.inject(TriggerEvent("manual", "manual", payload="Ada"))
            await asyncio.wait_for(completed, timeout=30)
            assert process.record.conversation.get_messages()[-1] == {
                "role": "assistant", "content": "hello Ada"}

    asyncio.run(main())


def test_name_override_and_names_already_taken(tmp_path: Path, registered: str) -> None:
    path = write(tmp_path, "greeter.agent", manifest("greeter"))

    async def main() -> None:
        async with AgentRuntime() as runtime:
            first = await runtime.load_manifest(path)
            second = await runtime.load_manifest(path, name_override="greeter-2")
            assert (first.name, second.name) == ("greeter", "greeter-2")
            with pytest.raises(ManifestValidationError) as caught:
                await runtime.load_manifest(path)
            assert str(caught.value) == \
                f"{path}: name: a process named 'greeter' is already registered"
            with pytest.raises(ManifestValidationError, match="name_override 'bad name'"):
                await runtime.load_manifest(path, name_override="bad name")
            assert list(runtime.processes) == ["greeter", "greeter-2"]

    asyncio.run(main())


def test_an_entrypoint_is_never_imported(
    tmp_path: Path, registered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "manifest_test_hooks.py", "raise SystemExit('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, "hooked.agent",
                 manifest("hooked", extra="entrypoint: manifest_test_hooks\n"))

    async def main() -> None:
        async with AgentRuntime() as runtime:
            process = await runtime.load_manifest(path)
            await process.start()
            assert process.state is ProcessState.RUNNING

    asyncio.run(main())
    assert "manifest_test_hooks" not in sys.modules


def test_an_unregistered_python_agent_fails_at_start(tmp_path: Path) -> None:
    path = write(tmp_path, "ghost.agent", manifest("ghost", model="python:manifest-test-ghost"))

    async def main() -> None:
        async with AgentRuntime() as runtime:
            process = await runtime.load_manifest(path)
            with pytest.raises(ModelConfigError, match="no agent is registered as "
                                                        "'manifest-test-ghost'"):
                await process.start()
            assert process.state is ProcessState.FAILED

    asyncio.run(main())


# AgentRuntime.load_directory ---------------------------------------------------------------

def test_load_directory_registers_every_manifest_in_file_order(
    tmp_path: Path, registered: str
) -> None:
    write(tmp_path, "b.agent", manifest("beta", extra="triggers:\n  - event: jobs.*\n"))
    write(tmp_path, "a.agent", manifest("alpha", extra="triggers:\n  - cron: '0 * * * *'\n"))
    write(tmp_path, "notes.txt", "not a manifest")
    (tmp_path / "sub.agent").mkdir()

    async def main() -> None:
        async with AgentRuntime() as runtime:
            assert await runtime.load_directory(tmp_path) == ["alpha", "beta"]
            assert runtime.get_process("beta").config.triggers[0].event_type == "jobs.*"
            assert {p.state for p in runtime.processes.values()} == {ProcessState.CREATED}

    asyncio.run(main())


def test_one_invalid_manifest_registers_none_and_names_the_file(
    tmp_path: Path, registered: str
) -> None:
    write(tmp_path, "a.agent", manifest("alpha"))
    bad = write(tmp_path, "b.agent", manifest("beta", extra="triggers:\n  - cron: nope\n"))
    write(tmp_path, "c.agent", manifest("gamma"))

    async def main() -> None:
        async with AgentRuntime() as runtime:
            with pytest.raises(ManifestValidationError) as caught:
                await runtime.load_directory(tmp_path)
            assert caught.value.file_path == str(bad)
            assert str(caught.value).startswith(f"{bad}:5:5: triggers[0].cron: expected 5")
            assert dict(runtime.processes) == {}

    asyncio.run(main())


def test_several_failures_are_listed_together(tmp_path: Path, registered: str) -> None:
    write(tmp_path, "a.agent", manifest("alpha"))
    broken = write(tmp_path, "b.agent", "name: [\n")
    twin = write(tmp_path, "c.agent", manifest("alpha"))

    async def main() -> None:
        async with AgentRuntime() as runtime:
            with pytest.raises(ManifestError) as caught:
                await runtime.load_directory(tmp_path)
            lines = str(caught.value).splitlines()
            assert lines[0] == "2 of 3 manifests are invalid; none was loaded"
            assert lines[1].startswith(f"  {broken}:2:1: invalid YAML")
            assert lines[2] == f"  {twin}: name: 'alpha' is also the name in " \
                               f"{tmp_path / 'a.agent'}"
            assert dict(runtime.processes) == {}

    asyncio.run(main())


def test_a_name_taken_while_loading_rolls_the_directory_back(
    tmp_path: Path, registered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "a.agent", manifest("alpha"))
    write(tmp_path, "b.agent", manifest("beta"))
    real = loader_module.load_process_configs

    def blind_to_taken_names(paths: Any, taken: Any = (), **kwargs: Any) -> Any:
        return real(paths, (), **kwargs)  # as if "beta" was registered after the check

    monkeypatch.setattr(loader_module, "load_process_configs", blind_to_taken_names)

    async def main() -> None:
        async with AgentRuntime() as runtime:
            await runtime.add_process("beta", ProcessConfig(model=greeter))
            with pytest.raises(RuntimeBaseError, match="'beta' already exists"):
                await runtime.load_directory(tmp_path)
            assert list(runtime.processes) == ["beta"]

    asyncio.run(main())


def test_a_missing_directory_is_a_manifest_error(tmp_path: Path) -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            with pytest.raises(ManifestError, match="cannot list the manifests"):
                await runtime.load_directory(tmp_path / "absent")

    asyncio.run(main())
