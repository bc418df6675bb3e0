"""AgentContext: audited state, writable keys, env, mounts, checkpoints and memory."""

from __future__ import annotations

import asyncio
import json

import pytest

from greenroom.runtime.context import (
    AgentContext,
    InMemoryMemoryProvider,
    MemoryProvider,
    StateEntry,
)


class FakeClock:
    """Wall time that moves only when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def make(**kwargs: object) -> tuple[AgentContext, FakeClock]:
    clock = FakeClock()
    return AgentContext(clock=clock, **kwargs), clock  # type: ignore[arg-type]


def test_get_and_put_with_audit_trail() -> None:
    context, clock = make()
    assert context.get("count") is None
    assert context.get("count", 0) == 0
    context.put("count", 1)
    clock.now = 1005.0
    entry = context.put("count", 2, source="external")
    assert entry == StateEntry("count", 2, 1005.0, "external")
    assert context.get("count") == 2
    assert context.state_history("count") == [
        StateEntry("count", 1, 1000.0, "agent"),
        StateEntry("count", 2, 1005.0, "external"),
    ]
    assert context.state_history("missing") == []


def test_initial_state_is_loaded_and_audited() -> None:
    context, _ = make(initial_state={"alerts": 0}, writable_keys=["other"])
    assert context.get("alerts") == 0
    assert context.state_history("alerts") == [StateEntry("alerts", 0, 1000.0, "initial")]


def test_writable_keys_are_enforced_naming_the_key() -> None:
    context, _ = make(writable_keys=["count", "notes"], initial_state={"mode": "safe"})
    context.put("count", 1)
    with pytest.raises(KeyError, match=r"state key 'mode' is not writable \(writable keys: count"):
        context.put("mode", "unsafe")
    assert context.get("mode") == "safe"
    assert len(context.state_history("mode")) == 1
    assert context.is_writable("count")
    assert not context.is_writable("mode")
    assert context.writable_keys == ["count", "notes"]


def test_empty_writable_keys_allows_everything() -> None:
    context, _ = make(writable_keys=[])
    context.put("anything", True)
    assert context.is_writable("whatever")


def test_update_is_all_or_nothing() -> None:
    context, _ = make(writable_keys=["a", "b"])
    with pytest.raises(KeyError, match="'c'"):
        context.update({"a": 1, "c": 2})
    assert context.state_keys() == []
    with pytest.raises(TypeError, match=r"value of 'b': set is not JSON-compatible"):
        context.update({"a": 1, "b": {1}})
    assert context.state_keys() == []
    entries = context.update({"a": 1, "b": [2]}, source="api")
    assert [(e.key, e.source) for e in entries] == [("a", "api"), ("b", "api")]
    assert context.state_snapshot() == {"a": 1, "b": [2]}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (object(), "value of 'k': object is not JSON-compatible"),
        ({"nested": (1, 2)}, r"value of 'k'\['nested'\]: tuple is not JSON-compatible"),
        ({1: "x"}, "value of 'k': dict keys must be strings, got int"),
        ([1, {2}], r"value of 'k'\[1\]: set is not JSON-compatible"),
    ],
)
def test_non_json_values_are_refused(value: object, text: str) -> None:
    context, _ = make()
    with pytest.raises(TypeError, match=text):
        context.put("k", value)
    assert context.state_keys() == []
    assert context.state_history("k") == []


@pytest.mark.parametrize("key", ["", 3, None])
def test_bad_keys_are_refused(key: object) -> None:
    context, _ = make()
    with pytest.raises(TypeError, match="state key must be a non-empty string"):
        context.put(key, 1)  # type: ignore[arg-type]


def test_empty_source_is_refused() -> None:
    context, _ = make()
    with pytest.raises(ValueError, match="source: expected a non-empty string"):
        context.put("k", 1, source="")
    assert context.state_keys() == []


def test_values_are_copied_in_and_out() -> None:
    context, _ = make()
    value = {"items": [1]}
    context.put("k", value)
    value["items"].append(2)
    context.get("k")["items"].append(3)
    context.state_snapshot()["k"]["items"].append(4)
    context.state_history("k")[0].value["items"].append(5)
    assert context.get("k") == {"items": [1]}
    assert context.state_history("k")[0].value == {"items": [1]}


def test_state_keys_snapshot_and_clear() -> None:
    context, _ = make(initial_state={"a": 1, "b": 2})
    assert context.state_keys() == ["a", "b"]
    assert context.state_snapshot() == {"a": 1, "b": 2}
    context.clear_state()
    assert context.state_snapshot() == {}
    assert context.state_history("a") == []


def test_history_limit_keeps_newest_writes() -> None:
    context = AgentContext(clock=FakeClock(), history_limit=2)
    for n in range(5):
        context.put("k", n)
    assert [e.value for e in context.state_history("k")] == [3, 4]


def test_state_view_spelling() -> None:
    context, _ = make()
    context.state.set("error_count", 1)
    assert context.state.get("error_count") == 1
    assert context.state.get("absent", 0) == 0
    assert [e.value for e in context.state.history("error_count")] == [1]


def test_env_is_filtered_by_prefix_and_keeps_it() -> None:
    environ = {"AGENT_MODE": "fast", "AGENT_X": "1", "PATH": "/bin", "agent_lower": "no"}
    context, _ = make(environ=environ)
    assert context.env == {"AGENT_MODE": "fast", "AGENT_X": "1"}
    custom, _ = make(environ=environ, env_prefix="PATH")
    assert custom.env == {"PATH": "/bin"}
    assert custom.env_prefix == "PATH"


def test_env_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRTEST_VALUE", "42")
    assert AgentContext(env_prefix="GRTEST_").env == {"GRTEST_VALUE": "42"}


def test_env_is_a_copy() -> None:
    context, _ = make(environ={"AGENT_A": "1"})
    context.env["AGENT_B"] = "2"
    assert context.env == {"AGENT_A": "1"}


def test_empty_env_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="env_prefix: expected a non-empty string"):
        AgentContext(env_prefix="")


def test_file_mounts() -> None:
    context, _ = make(file_mounts={"config": "/etc/app.yaml"})
    assert context.files == {"config": "/etc/app.yaml"}
    context.files["other"] = "/tmp/x"
    assert context.files == {"config": "/etc/app.yaml"}


@pytest.mark.parametrize(
    ("mounts", "text"),
    [
        ({"": "/x"}, "file_mounts: mount names must be non-empty strings"),
        ({"cfg": ""}, r"file_mounts\['cfg'\]: expected a non-empty path string"),
    ],
)
def test_bad_file_mounts(mounts: dict[str, str], text: str) -> None:
    with pytest.raises(ValueError, match=text):
        AgentContext(file_mounts=mounts)


def test_bad_history_limit() -> None:
    with pytest.raises(ValueError, match="history_limit: must be >= 1"):
        AgentContext(history_limit=0)


def checkpointed() -> tuple[AgentContext, FakeClock]:
    context, clock = make(
        writable_keys=["count", "notes"],
        file_mounts={"runbook": "/docs/runbook.md"},
        env_prefix="OPS_",
        initial_state={"count": 0},
    )
    clock.now = 1010.0
    context.put("count", 1)
    context.put("notes", {"last": ["ok"]}, source="external")
    return context, clock


def test_dict_round_trip_through_json() -> None:
    context, clock = checkpointed()
    data = json.loads(json.dumps(context.to_dict()))
    restored = AgentContext.from_dict(data, clock=clock)
    assert restored.to_dict() == context.to_dict()
    assert restored.state_history("count") == context.state_history("count")
    assert restored.writable_keys == ["count", "notes"]
    assert restored.files == {"runbook": "/docs/runbook.md"}
    assert restored.env_prefix == "OPS_"
    with pytest.raises(KeyError, match="'mode'"):
        restored.put("mode", 1)


def test_from_dict_reattaches_memory_provider() -> None:
    context, _ = checkpointed()
    provider = InMemoryMemoryProvider()
    assert "memory" not in json.dumps(context.to_dict())
    restored = AgentContext.from_dict(context.to_dict(), memory_provider=provider)
    assert restored.memory is provider


@pytest.mark.parametrize(
    ("field", "value", "error", "text"),
    [
        ("state", [], TypeError, "state: expected a mapping, got list"),
        ("state", {"k": {1, 2}}, TypeError, r"state\['k'\]: set is not JSON-compatible"),
        ("history", {"count": {}}, TypeError, r"history\['count'\]: expected a list, got dict"),
        ("writable_keys", "count", TypeError, "writable_keys: expected a list, got str"),
        ("env_prefix", "", ValueError, "env_prefix: expected a non-empty string"),
        ("file_mounts", [], TypeError, "file_mounts: expected a mapping, got list"),
    ],
)
def test_bad_checkpoint_names_the_field(
    field: str, value: object, error: type[Exception], text: str
) -> None:
    data = checkpointed()[0].to_dict()
    data[field] = value
    with pytest.raises(error, match=text):
        AgentContext.from_dict(data)


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        ({"timestamp": "noon"}, TypeError, "timestamp: expected a number, got 'noon'"),
        ({"source": None}, TypeError, "source: expected a string, got None"),
        ({"key": "other"}, ValueError, r"history\['count'\]: holds an entry for another key"),
    ],
)
def test_bad_history_entry_names_the_field(
    change: dict[str, object], error: type[Exception], text: str
) -> None:
    data = checkpointed()[0].to_dict()
    data["history"]["count"][0].update(change)
    with pytest.raises(error, match=text):
        AgentContext.from_dict(data)


def test_state_entry_dict_round_trip() -> None:
    entry = StateEntry("k", {"a": [1]}, 12.5, "api")
    assert StateEntry.from_dict(entry.to_dict()) == entry


def test_memory_provider_add_search_delete() -> None:
    async def scenario() -> None:
        memory = InMemoryMemoryProvider()
        assert isinstance(memory, MemoryProvider)
        migration = await memory.add("Database migration to v2 failed", {"run": 1})
        await memory.add("Weekly report sent to the team")
        backup = await memory.add("Database backup finished")
        results = await memory.search("database migration")
        assert [r.memory_id for r in results] == [migration, backup]
        assert [r.score for r in results] == [1.0, 0.5]
        assert results[0].metadata == {"run": 1}
        assert results[0].content == "Database migration to v2 failed"
        assert [r.memory_id for r in await memory.search("database migration", min_score=0.75)] == [
            migration
        ]
        assert len(await memory.search("database", limit=1)) == 1
        assert await memory.search("unrelated words") == []
        assert await memory.search("   ") == []
        assert await memory.delete(migration)
        assert not await memory.delete(migration)
        assert [r.memory_id for r in await memory.search("database migration")] == [backup]
        assert len(memory) == 2

    asyncio.run(scenario())


def test_memory_ties_prefer_the_newest() -> None:
    async def scenario() -> None:
        memory = InMemoryMemoryProvider()
        older = await memory.add("deploy finished")
        newer = await memory.add("deploy started")
        assert [r.memory_id for r in await memory.search("deploy")] == [newer, older]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"limit": 0}, "limit: expected an int >= 1"),
        ({"min_score": 1.5}, r"min_score: expected a number in \[0, 1\]"),
    ],
)
def test_memory_search_arguments_are_checked(kwargs: dict[str, float], text: str) -> None:
    with pytest.raises(ValueError, match=text):
        asyncio.run(InMemoryMemoryProvider().search("x", **kwargs))  # type: ignore[arg-type]


def test_memory_refuses_empty_content() -> None:
    memory = InMemoryMemoryProvider()
    with pytest.raises(ValueError, match="content: expected a non-empty string"):
        asyncio.run(memory.add("  "))
    assert len(memory) == 0


def test_context_memory_passthrough() -> None:
    async def scenario() -> None:
        context = AgentContext(memory_provider=InMemoryMemoryProvider())
        memory_id = await context.add_memory("pipeline three is flaky", metadata={"p": 3})
        assert memory_id is not None
        found = await context.search_memory("flaky pipeline", limit=5, min_score=0.5)
        assert [r.memory_id for r in found] == [memory_id]
        assert await context.delete_memory(memory_id)
        assert await context.search_memory("flaky") == []

    asyncio.run(scenario())


def test_context_without_memory_is_harmless() -> None:
    async def scenario() -> None:
        context = AgentContext()
        assert context.memory is None
        assert await context.add_memory("x") is None
        assert await context.search_memory("x") == []
        assert not await context.delete_memory("id")

    asyncio.run(scenario())
