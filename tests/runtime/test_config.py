"""Configuration models: defaults, precise validation errors, aliases and JSON round trips."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from greenroom.runtime.config import (
    AutonomyBudget,
    BudgetConfig,
    ContextConfig,
    DistributedConfig,
    EscalationTarget,
    ExecutionMode,
    HealthConfig,
    InboxConfig,
    JournalConfig,
    MissionConfig,
    OpenModeConfig,
    ProcessConfig,
    RuntimeConfig,
    SecretScopeConfig,
    ToolCostAnnotation,
    ToolSpec,
    TriggerConfig,
    tool_spec,
)


def error_of(model: type[BaseModel], data: dict[str, Any]) -> tuple[str, str]:
    """The location and message of the single error raised when validating `data`."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return ".".join(str(part) for part in errors[0]["loc"]), errors[0]["msg"]


def forecast(city: str, days: int = 3, units: list[str] | None = None) -> str:
    """Weather forecast for a city.

    Uses the public weather service.

    Args:
        city: Name of the city,
            in English.
        days (int): How many days ahead.

    Returns:
        The forecast as text.
    """
    return f"{city}:{days}:{units}"


def ping() -> str:
    return "pong"


def test_process_defaults_follow_the_seed() -> None:
    config = ProcessConfig()
    assert config.concurrency == 1
    assert config.heartbeat_interval == 10.0
    assert config.idle_timeout == 0.0
    assert config.max_lifetime == 0.0
    assert config.max_consecutive_failures == 3
    assert config.restart_policy == "never"
    assert config.max_restarts == 3
    assert config.model is None
    assert config.triggers == []
    assert config.tools == []
    assert config.journal.level == "none"
    assert config.execution_mode is ExecutionMode.STRICT
    assert not config.budget.enabled
    assert not config.inbox.enabled


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 101}, "concurrency"),
        ({"heartbeat_interval": 0}, "heartbeat_interval"),
        ({"idle_timeout": -1}, "idle_timeout"),
        ({"max_lifetime": -1}, "max_lifetime"),
        ({"max_consecutive_failures": 0}, "max_consecutive_failures"),
        ({"restart_policy": "sometimes"}, "restart_policy"),
        ({"max_restarts": -1}, "max_restarts"),
        ({"execution_mode": "chaotic"}, "execution_mode"),
        ({"servers": {"api": {"url": {1, 2}}}}, "servers.api.url"),
    ],
)
def test_out_of_range_process_fields_name_the_field(data: dict[str, Any], loc: str) -> None:
    assert error_of(ProcessConfig, data)[0].startswith(loc)


@pytest.mark.parametrize("restart_policy", ["never", "on_failure", "always"])
def test_restart_policies(restart_policy: str) -> None:
    assert ProcessConfig(restart_policy=restart_policy).restart_policy == restart_policy  # type: ignore[arg-type]


def test_concurrency_bounds_are_inclusive() -> None:
    assert ProcessConfig(concurrency=100).concurrency == 100


@pytest.mark.parametrize(
    ("model", "data", "loc"),
    [
        (ProcessConfig, {"colour": "red"}, "colour"),
        (ProcessConfig, {"budget": {"max_per_day": 1}}, "budget.max_per_day"),
        (ProcessConfig, {"triggers": [{"type": "cron", "cron": "* * * * *"}]}, "triggers.0.cron"),
        (RuntimeConfig, {"processes": {"a": {"modle": "x:y"}}}, "processes.a.modle"),
        (RuntimeConfig, {"distributed": {"nodes": []}}, "distributed.nodes"),
        (ContextConfig, {"state": {}}, "state"),
        (HealthConfig, {"loop_detection": True}, "loop_detection"),
        (InboxConfig, {"size": 3}, "size"),
        (JournalConfig, {"rotate": True}, "rotate"),
        (OpenModeConfig, {"allow_everything": True}, "allow_everything"),
        (EscalationTarget, {"email": "x@y"}, "email"),
        (ToolCostAnnotation, {"cost": 1}, "cost"),
        (SecretScopeConfig, {"vault": "x"}, "vault"),
    ],
)
def test_unknown_fields_are_rejected_by_name(
    model: type[BaseModel], data: dict[str, Any], loc: str
) -> None:
    assert error_of(model, data) == (loc, "Extra inputs are not permitted")


def test_configs_are_frozen_so_bad_assignment_changes_nothing() -> None:
    config = ProcessConfig(concurrency=2)
    with pytest.raises(ValidationError, match="frozen"):
        config.concurrency = 0
    assert config.concurrency == 2


FULL_PROCESS = ProcessConfig(
    model="openai:gpt-4o-mini",
    instructions="Watch the pipelines.",
    servers={"api": {"url": "http://localhost:8080/mcp", "transport": "streamable-http"}},
    triggers=[
        TriggerConfig(type="cron", cron_expression="*/5 * * * *"),
        TriggerConfig(type="webhook", webhook_path="/hook", webhook_port=0, hmac_secret="k"),
        TriggerConfig(type="file_watch", watch_path="/data", watch_patterns=["*.csv"]),
        TriggerConfig(type="event", event_type="alert.*", event_source="monitor"),
        TriggerConfig(type="message", topic="reports.>", filter_expression="payload.ok"),
        TriggerConfig(type="sqs", custom_config={"queue_url": "https://q", "batch": [1, 2]}),
    ],
    journal=JournalConfig(level="full", backend="memory"),
    context=ContextConfig(
        writable_keys=["count"],
        memory_provider="in_memory",
        initial_state={"count": 0, "nested": {"list": [1, None, True, 1.5]}},
        file_mounts={"runbook": "/docs/runbook.md"},
    ),
    concurrency=3,
    restart_policy="on_failure",
    budget=BudgetConfig(
        enabled=True,
        max_tool_calls_per_run=5,
        max_cost_per_day=10.5,
        tool_costs={"pay": ToolCostAnnotation(cost_weight=5, irreversible=True)},
        on_exceeded="escalate",
        escalation=EscalationTarget(webhook_url="https://hooks.example/x", event_type="ops.alert"),
    ),
    health=HealthConfig(enabled=True, on_anomaly="pause", cooldown=0),
    mission=MissionConfig(enabled=True, objective="Migrate", success_criteria="All done"),
    secrets=SecretScopeConfig(enabled=True, secrets={"api": "${API_KEY:-dev}"}, ttls={"api": 60}),
    inbox=InboxConfig(enabled=True, rate_limit_per_sender=0),
    execution_mode=ExecutionMode.OPEN,
    open_mode=OpenModeConfig(max_rebuilds=2, allowed_mcp_urls=["https://mcp.example/sse"]),
)

ROUND_TRIP_CASES: list[BaseModel] = [
    FULL_PROCESS,
    ProcessConfig(),
    RuntimeConfig(
        processes={"monitor": FULL_PROCESS, "idle-1": ProcessConfig()},
        distributed=DistributedConfig(enabled=True, coordinator_url="http://c:9100"),
    ),
    *FULL_PROCESS.triggers,
    FULL_PROCESS.budget,
    FULL_PROCESS.context,
    FULL_PROCESS.mission,
    FULL_PROCESS.secrets,
    FULL_PROCESS.open_mode,
    HealthConfig(),
    InboxConfig(),
    JournalConfig(),
    EscalationTarget(),
    ToolCostAnnotation(),
    DistributedConfig(),
    tool_spec(forecast),
]


@pytest.mark.parametrize("config", ROUND_TRIP_CASES, ids=lambda c: type(c).__name__)
def test_json_round_trip_gives_an_equal_object(config: BaseModel) -> None:
    restored = type(config).model_validate_json(config.model_dump_json())
    assert restored == config


def test_tools_are_left_out_of_json_and_the_rest_survives() -> None:
    config = FULL_PROCESS.model_copy(update={"tools": [forecast, ping]})
    dumped = config.model_dump_json()
    assert "tools" not in json.loads(dumped)
    restored = ProcessConfig.model_validate_json(dumped)
    assert restored.tools == []
    assert restored == FULL_PROCESS
    assert config.tools == [forecast, ping]


def test_callable_model_is_accepted_and_written_as_null() -> None:
    def agent(messages: list[dict[str, str]]) -> str:
        return "ok"

    config = ProcessConfig(model=agent, instructions="x")
    assert config.model is agent
    restored = ProcessConfig.model_validate_json(config.model_dump_json())
    assert restored.model is None
    assert restored.instructions == "x"
    assert restored == config.model_copy(update={"model": None})


@pytest.mark.parametrize("model", ["gpt-4o", "openai:", ":gpt", "openai: gpt", 42])
def test_bad_model_names_the_field(model: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ProcessConfig(model=model)  # type: ignore[arg-type]
    assert {error["loc"][0] for error in caught.value.errors()} == {"model"}


def test_tool_spec_from_hints_and_docstring() -> None:
    spec = tool_spec(forecast)
    assert spec.name == "forecast"
    assert spec.description == "Weather forecast for a city.\n\nUses the public weather service."
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "Name of the city, in English."},
            "days": {"type": "integer", "description": "How many days ahead.", "default": 3},
            "units": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "default": None,
            },
        },
        "required": ["city"],
    }


def test_tool_spec_without_docstring_or_parameters() -> None:
    assert tool_spec(ping) == ToolSpec(
        name="ping", description="ping", parameters={"type": "object", "properties": {}}
    )


class Point(BaseModel):
    x: int
    y: int


def test_tool_spec_collects_nested_model_definitions() -> None:
    def plot(points: list[Point], label: str = "p") -> None:
        """Plot points."""

    parameters = tool_spec(plot).parameters
    assert parameters["properties"] == {
        "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
        "label": {"type": "string", "default": "p"},
    }
    definitions = parameters["$defs"]
    assert isinstance(definitions, dict)
    assert definitions["Point"] == Point.model_json_schema()
    assert parameters["required"] == ["points"]


SENTINEL = object()


def stamp(token: object = SENTINEL, ratio: float = float("nan"), count: int = 2) -> None:
    """Stamp."""


def test_tool_spec_leaves_out_defaults_that_are_not_json() -> None:
    properties = tool_spec(stamp).parameters["properties"]
    assert isinstance(properties, dict)
    assert properties["token"] == {}
    assert properties["ratio"] == {"type": "number"}
    assert properties["count"] == {"type": "integer", "default": 2}


def no_hint(city) -> str:  # type: ignore[no-untyped-def]
    return str(city)


def var_args(*cities: str) -> None:
    return None


def bad_hint(x: Undefined) -> None:  # type: ignore[name-defined] # noqa: F821
    return None


def not_schemable(callback: Callable[[], str]) -> None:
    return None


@pytest.mark.parametrize(
    ("tool", "text"),
    [
        (no_hint, "tool 'no_hint': parameter 'city': needs a type hint"),
        (var_args, "tool 'var_args': parameter 'cities': \\*args and \\*\\*kwargs"),
        (bad_hint, "tool 'bad_hint': cannot read its signature"),
        (not_schemable, "tool 'not_schemable': parameter 'callback': its type hint has no JSON"),
        (lambda x: x, "tool '<lambda>': needs a name"),
        (42, "tool: expected a callable, got int"),
    ],
)
def test_undescribable_tools_are_refused_by_name(tool: Any, text: str) -> None:
    with pytest.raises((TypeError, ValueError), match=text):
        tool_spec(tool)
    loc, message = error_of(ProcessConfig, {"tools": [ping, tool]})
    assert loc.startswith("tools")
    assert "tools[1]" in message or "callable" in message


def test_duplicate_tool_names_are_refused() -> None:
    loc, message = error_of(ProcessConfig, {"tools": [ping, ping]})
    assert (loc, message) == (
        "tools",
        "Value error, tools[1]: another tool is already named 'ping'",
    )


def test_process_tool_specs() -> None:
    config = ProcessConfig(tools=[forecast, ping])
    assert [spec.name for spec in config.tool_specs()] == ["forecast", "ping"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "cron"}, "cron_expression: required for 'cron' triggers"),
        (
            {"type": "cron", "cron_expression": "  "},
            "cron_expression: required for 'cron' triggers",
        ),
        ({"type": "file_watch"}, "watch_path: required for 'file_watch' triggers"),
        ({"type": "event"}, "event_type: required for 'event' triggers"),
        ({"type": "message"}, "topic: required for 'message' triggers"),
        (
            {"type": "cron", "cron_expression": "* * * * *", "topic": "a"},
            "topic: belongs to 'message' triggers, not 'cron'",
        ),
        (
            {"type": "message", "topic": "a", "webhook_port": 9999},
            "webhook_port: belongs to 'webhook' triggers, not 'message'",
        ),
        (
            {"type": "sqs", "watch_path": "/x"},
            "watch_path: belongs to 'file_watch' triggers, not 'sqs'",
        ),
    ],
)
def test_trigger_fields_are_checked_per_type(data: dict[str, Any], message: str) -> None:
    loc, text = error_of(TriggerConfig, data)
    assert loc == ""
    assert text == f"Value error, {message}"


@pytest.mark.parametrize(
    ("data", "loc", "text"),
    [
        ({"type": ""}, "type", "type: expected a name"),
        ({"type": "my trigger"}, "type", "type: expected a name"),
        ({"type": "webhook", "webhook_path": "hook"}, "webhook_path", "must start with '/'"),
        ({"type": "webhook", "webhook_port": 80}, "webhook_port", "must be above 1024"),
        ({"type": "webhook", "webhook_port": 70000}, "webhook_port", "less than or equal"),
        ({"type": "webhook", "hmac_secret": ""}, "hmac_secret", "at least 1 character"),
        (
            {"type": "file_watch", "watch_path": "/d", "watch_events": ["touched"]},
            "watch_events",
            "unknown ['touched']",
        ),
        (
            {"type": "file_watch", "watch_path": "/d", "watch_events": []},
            "watch_events",
            "watch_events",
        ),
        (
            {"type": "file_watch", "watch_path": "/d", "watch_patterns": []},
            "watch_patterns",
            "at least one",
        ),
        ({"type": "message", "topic": "a.>.b"}, "topic", "'>' may only be the last token"),
        ({"type": "event", "event_type": "alert*"}, "event_type", "wildcard inside token"),
        ({"type": "sqs", "custom_config": {"x": {1}}}, "custom_config.x", ""),
        ({"type": "sqs", "filter_expression": "x" * 2001}, "filter_expression", "at most 2000"),
    ],
)
def test_bad_trigger_values_name_the_field(data: dict[str, Any], loc: str, text: str) -> None:
    got_loc, message = error_of(TriggerConfig, data)
    assert got_loc.startswith(loc)
    assert text in message


def test_cron_syntax_is_checked_when_the_config_is_built() -> None:
    loc, text = error_of(TriggerConfig, {"type": "cron", "cron_expression": "not a cron"})
    assert loc == ""
    assert text.startswith("Value error, cron_expression: expected 5 fields")


def test_trigger_defaults() -> None:
    trigger = TriggerConfig(type="webhook")
    assert (trigger.webhook_path, trigger.webhook_port, trigger.webhook_host) == (
        "/webhook",
        9090,
        "127.0.0.1",
    )
    assert TriggerConfig(type="file_watch", watch_path="/d").watch_events == ["created", "modified"]


def test_trigger_in_process_reports_its_index() -> None:
    loc, message = error_of(ProcessConfig, {"triggers": [{"type": "cron"}]})
    assert (loc, message) == (
        "triggers.0",
        "Value error, cron_expression: required for 'cron' triggers",
    )


def test_hmac_secret_is_not_in_repr() -> None:
    assert "s3cret" not in repr(TriggerConfig(type="webhook", hmac_secret="s3cret"))


def test_budget_accepts_overview_spellings() -> None:
    budget = BudgetConfig(  # type: ignore[call-arg]
        max_tool_calls_per_invocation=10, max_daily_cost=50.0, on_budget_exceeded="escalate"
    )
    assert budget.max_tool_calls_per_run == 10
    assert budget.max_cost_per_day == 50.0
    assert budget.on_exceeded == "escalate"
    assert "max_daily_cost" not in budget.model_dump()


def test_budget_refuses_both_spellings() -> None:
    loc, message = error_of(BudgetConfig, {"max_daily_cost": 1, "max_cost_per_day": 2})
    assert loc == ""
    assert message == (
        "Value error, max_daily_cost: is an alias of max_cost_per_day; give only one of them"
    )


def test_budget_tool_cost_shorthand() -> None:
    budget = BudgetConfig.model_validate(
        {"tool_costs": {"search": 0.01, "pay": {"cost_weight": 5, "irreversible": True}}}
    )
    assert budget.tool_costs["search"] == ToolCostAnnotation(cost_weight=0.01)
    assert budget.tool_costs["pay"].irreversible


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"tool_costs": {"x": -1}}, "tool_costs.x.cost_weight"),
        ({"tool_costs": {"x": True}}, "tool_costs.x"),
        ({"max_runs_per_day": -1}, "max_runs_per_day"),
        ({"daily_reset_hour_utc": 24}, "daily_reset_hour_utc"),
        ({"on_exceeded": "panic"}, "on_exceeded"),
        ({"on_budget_exceeded": "panic"}, "on_exceeded"),
        ({"warning_threshold": 0}, "warning_threshold"),
        ({"escalation": {"webhook_url": "ftp://x"}}, "escalation.webhook_url"),
    ],
)
def test_bad_budget_values_name_the_field(data: dict[str, Any], loc: str) -> None:
    assert error_of(BudgetConfig, data)[0] == loc


def test_autonomy_budget_is_an_enabled_budget_config() -> None:
    budget = AutonomyBudget(max_tool_calls_per_invocation=10, max_daily_cost=50.0)
    assert isinstance(budget, BudgetConfig)
    assert budget.enabled
    assert budget.max_tool_calls_per_run == 10
    assert not AutonomyBudget(enabled=False).enabled
    with pytest.raises(ValidationError, match="max_lifetime"):
        AutonomyBudget(max_lifetime=1)


@pytest.mark.parametrize(
    ("duration", "hours"),
    [
        ("4h", 4.0),
        ("30m", 0.5),
        ("90s", 0.025),
        ("1d", 24.0),
        ("1.5h", 1.5),
        (7200, 2.0),
        (timedelta(hours=3), 3.0),
    ],
)
def test_mission_max_duration_alias(duration: object, hours: float) -> None:
    mission = MissionConfig.model_validate({"max_duration": duration})
    assert mission.timeout_hours == pytest.approx(hours)


def test_mission_check_interval_alias() -> None:
    assert MissionConfig.model_validate({"check_interval": 5}).eval_every == 5
    message = error_of(MissionConfig, {"check_interval": 5, "eval_every": 3})[1]
    assert "check_interval: is an alias of eval_every" in message


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"max_duration": "4 weeks"}, "max_duration: expected a duration"),
        ({"max_duration": "4h", "timeout_hours": 4}, "max_duration: is an alias of timeout_hours"),
        ({"enabled": True, "success_criteria": "x"}, "objective: required when the mission"),
        ({"enabled": True, "objective": "x"}, "success_criteria: required when the mission"),
    ],
)
def test_bad_mission_values(data: dict[str, Any], text: str) -> None:
    assert text in error_of(MissionConfig, data)[1]


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"eval_every": 0}, "eval_every"),
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
        ({"max_invocations": -1}, "max_invocations"),
        ({"eval_model": "gpt"}, "eval_model"),
        ({"on_complete": "notify"}, "on_complete"),
    ],
)
def test_mission_ranges(data: dict[str, Any], loc: str) -> None:
    assert error_of(MissionConfig, data)[0] == loc


def test_health_defaults_and_ranges() -> None:
    health = HealthConfig()
    assert (health.stuck_threshold, health.loop_window, health.loop_min_repeats) == (3, 20, 2)
    assert (health.empty_threshold, health.empty_max_chars, health.error_window) == (3, 10, 10)
    assert (health.error_rate_threshold, health.on_anomaly, health.cooldown) == (0.5, "log", 300)
    assert error_of(HealthConfig, {"error_rate_threshold": 1.1})[0] == "error_rate_threshold"
    assert error_of(HealthConfig, {"loop_min_repeats": 1})[0] == "loop_min_repeats"


def test_secret_values_stay_out_of_repr_and_errors() -> None:
    config = SecretScopeConfig(secrets={"api": "tok-abc123"})
    assert "tok-abc123" not in repr(config)
    with pytest.raises(ValidationError) as caught:
        SecretScopeConfig.model_validate({"secrets": {"api": "${broken-secret"}})
    assert "broken-secret" not in str(caught.value)
    assert "secrets['api']: malformed reference" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        ProcessConfig.model_validate({"secrets": {"secrets": {"api": 123456789}}})
    assert "123456789" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"secrets": {"a": "v"}, "ttls": {"b": 5}}, "ttls['b']: no secret with that name"),
        ({"secrets": {"a": "v"}, "ttls": {"a": 0}},
         "ttls['a']: must be a finite number of seconds > 0"),
        ({"secrets": {"": "v"}}, "secrets: secret names must be non-empty"),
        ({"default_ttl": 0}, "greater than 0"),
    ],
)
def test_bad_secret_scope(data: dict[str, Any], text: str) -> None:
    assert text in error_of(SecretScopeConfig, data)[1]


def test_literal_secrets_and_references_are_accepted() -> None:
    secrets = {"a": "${A}", "b": "${B:-fallback}", "c": "literal"}
    assert SecretScopeConfig(secrets=secrets).secrets == secrets


def test_inbox_defaults_and_ttl_order() -> None:
    inbox = InboxConfig()
    assert (inbox.max_messages, inbox.max_message_length, inbox.default_ttl) == (50, 2000, 3600)
    assert (inbox.max_ttl, inbox.rate_limit_per_sender) == (86400, 20)
    assert (
        "default_ttl: 100 exceeds max_ttl 50"
        in error_of(InboxConfig, {"default_ttl": 100, "max_ttl": 50})[1]
    )


def test_context_config_checks() -> None:
    assert ContextConfig().env_prefix == "AGENT_"
    assert ContextConfig().conversation_max_messages == 100
    assert error_of(ContextConfig, {"env_prefix": ""})[0] == "env_prefix"
    assert error_of(ContextConfig, {"memory_provider": "redis"})[0] == "memory_provider"
    assert error_of(ContextConfig, {"writable_keys": [""]})[0] == "writable_keys"
    assert error_of(ContextConfig, {"file_mounts": {"x": ""}})[0] == "file_mounts"
    assert error_of(ContextConfig, {"initial_state": {"when": object()}})[0].startswith(
        "initial_state.when"
    )
    assert error_of(ContextConfig, {"initial_state": {"": 1}}) == (
        "initial_state",
        "Value error, initial_state: keys must be non-empty strings (an empty key cannot be "
        "written)",
    )


def test_journal_defaults() -> None:
    journal = JournalConfig()
    assert (journal.level, journal.backend) == ("checkpoint", "file")
    assert error_of(JournalConfig, {"level": "verbose"})[0] == "level"


def test_open_mode_and_distributed_checks() -> None:
    assert not OpenModeConfig().allow_process_spawn
    assert error_of(OpenModeConfig, {"allowed_mcp_urls": ["mcp.local"]})[1].endswith(
        "allowed_mcp_urls[0]: expected an http:// or https:// URL with a host"
    )
    assert DistributedConfig().transport_port == 9100
    assert error_of(DistributedConfig, {"discovery_method": "multicast"})[0] == "discovery_method"
    assert error_of(DistributedConfig, {"coordinator_url": "c:9100"})[0] == "coordinator_url"
    assert error_of(DistributedConfig, {"heartbeat_interval": 0})[0] == "heartbeat_interval"


def test_escalation_event_type_must_be_a_concrete_topic() -> None:
    assert "wildcards" in error_of(EscalationTarget, {"event_type": "ops.*"})[1]


@pytest.mark.parametrize("name", ["1st", "has space", "x" * 65, "", "dot.name"])
def test_bad_process_names_are_refused(name: str) -> None:
    loc, message = error_of(RuntimeConfig, {"processes": {name: {}}})
    assert loc == "processes"
    assert f"processes[{name!r}]" in message


def test_runtime_config_accepts_good_names() -> None:
    config = RuntimeConfig(processes={"monitor": ProcessConfig(), "a_b-2": ProcessConfig()})
    assert list(config.processes) == ["monitor", "a_b-2"]
