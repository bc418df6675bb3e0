"""Manifests that load: every trigger shorthand, the conversion to a ProcessConfig, the save and
load round trip, the templates and the warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom.manifest import (
    TEMPLATE_KINDS,
    AgentManifestSchema,
    load_manifest,
    manifest_from_dict,
    manifest_template,
    manifest_to_process_config,
    manifest_to_yaml,
    manifest_warnings,
    save_manifest,
    validate_manifest,
)
from greenroom.runtime.config import (
    BudgetConfig,
    ExecutionMode,
    JournalConfig,
    ProcessConfig,
    TriggerConfig,
)

HEAD = "name: watcher\nmodel: python:echo\n"


def write(tmp_path: Path, text: str, name: str = "m.agent") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def triggers_of(tmp_path: Path, body: str) -> list[TriggerConfig]:
    return load_manifest(write(tmp_path, HEAD + "triggers:\n" + body), environ={}).triggers


# Shorthand ---------------------------------------------------------------------------------

def test_cron_shorthand_with_a_sibling_option(tmp_path: Path) -> None:
    [trigger] = triggers_of(tmp_path, '  - cron: "*/5 * * * *"\n    timezone: Europe/Paris\n')
    assert trigger == TriggerConfig(type="cron", cron_expression="*/5 * * * *",
                                    timezone="Europe/Paris")


def test_webhook_shorthand_with_verify_hmac(tmp_path: Path) -> None:
    [trigger] = triggers_of(tmp_path, "  - webhook: /alert\n    verify_hmac: true\n"
                                      "    hmac_secret: s3cret-value\n")
    assert trigger == TriggerConfig(type="webhook", webhook_path="/alert", verify_hmac=True,
                                    hmac_secret="s3cret-value")


def test_file_watch_shorthand_splits_a_glob_into_the_patterns(tmp_path: Path) -> None:
    glob, folder, bare = triggers_of(
        tmp_path, "  - file_watch: /data/*.csv\n  - file_watch: /data/in\n"
                  "  - file_watch: '*.json'\n")
    assert (glob.type, glob.watch_path, glob.watch_patterns) == ("file_watch", "/data", ["*.csv"])
    assert (folder.watch_path, folder.watch_patterns) == ("/data/in", ["*"])
    assert (bare.watch_path, bare.watch_patterns) == (".", ["*.json"])


def test_file_watch_shorthand_keeps_explicit_patterns_for_a_plain_directory(
    tmp_path: Path,
) -> None:
    [trigger] = triggers_of(tmp_path, "  - file_watch: /data\n    watch_patterns: ['*.csv']\n")
    assert (trigger.watch_path, trigger.watch_patterns) == ("/data", ["*.csv"])


def test_event_and_message_shorthand(tmp_path: Path) -> None:
    event, message = triggers_of(
        tmp_path, "  - event: pipeline.*\n    event_source: etl\n"
                  "  - message: analysis.complete\n    from_agent: analyst\n")
    assert event == TriggerConfig(type="event", event_type="pipeline.*", event_source="etl")
    assert message == TriggerConfig(type="message", topic="analysis.complete",
                                    from_agent="analyst")


def test_long_form_and_custom_types_pass_through(tmp_path: Path) -> None:
    cron, custom = triggers_of(
        tmp_path, '  - {type: cron, cron_expression: "0 9 * * 1-5", trigger_id: morning}\n'
                  "  - type: sqs\n    custom_config: {queue: jobs}\n")
    assert cron == TriggerConfig(type="cron", cron_expression="0 9 * * 1-5",
                                 trigger_id="morning")
    assert custom == TriggerConfig(type="sqs", custom_config={"queue": "jobs"})


def test_the_overview_trigger_list_loads(tmp_path: Path) -> None:
    cron, webhook = triggers_of(tmp_path, '- cron: "*/5 * * * *"\n- webhook: /alert\n'
                                          "  verify_hmac: true\n")
    assert cron.cron_expression == "*/5 * * * *"
    assert (webhook.webhook_path, webhook.verify_hmac) == ("/alert", True)


# To a ProcessConfig ------------------------------------------------------------------------

RICH = """\
version: "1.0"
name: ops
model: python:echo
instructions: |
  Watch the pipelines.
  Report anomalies.
triggers:
  - cron: "*/5 * * * *"
world:
  status: healthy
  counts: [1, 2]
memory:
  provider: in_memory
  max: 3
journal:
  level: full
  backend: memory
context:
  writable_keys: [status]
budget:
  max_tool_calls_per_invocation: 10
  max_daily_cost: 50.0
  on_exceeded: escalate
health:
  stuck_threshold: 5
mission:
  objective: Keep pipelines green
  success_criteria: No failures for a day
  max_duration: 4h
secrets:
  secrets:
    token: ${API_TOKEN}
config:
  concurrency: 2
  restart_policy: on_failure
  max_consecutive_failures: 3
  inbox:
    max_messages: 10
"""


def test_a_manifest_becomes_the_process_config_it_describes(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, RICH), environ={})
    config = manifest_to_process_config(manifest)
    assert isinstance(config, ProcessConfig)
    assert config.model == "python:echo"
    assert config.instructions == "Watch the pipelines.\nReport anomalies.\n"
    assert config.triggers == [TriggerConfig(type="cron", cron_expression="*/5 * * * *")]
    assert config.context.initial_state == {"status": "healthy", "counts": [1, 2]}
    assert config.context.writable_keys == ["status"]
    assert (config.context.memory_provider, config.context.memory_max) == ("in_memory", 3)
    assert config.journal == JournalConfig(level="full", backend="memory")
    assert config.budget == BudgetConfig(enabled=True, max_tool_calls_per_run=10,
                                         max_cost_per_day=50.0, on_exceeded="escalate")
    assert config.health.enabled
    assert config.health.stuck_threshold == 5
    assert config.mission.enabled
    assert config.mission.timeout_hours == 4.0
    assert config.secrets.enabled
    assert config.secrets.secrets == {"token": "${API_TOKEN}"}
    assert (config.concurrency, config.restart_policy) == (2, "on_failure")
    assert config.inbox.enabled
    assert config.inbox.max_messages == 10


def test_sections_left_out_keep_the_process_defaults(tmp_path: Path) -> None:
    config = manifest_to_process_config(load_manifest(write(tmp_path, HEAD), environ={}))
    assert config == ProcessConfig(model="python:echo")
    assert config.journal.level == "none"
    assert not config.budget.enabled


def test_enabled_false_keeps_a_written_section_off(tmp_path: Path) -> None:
    manifest = load_manifest(
        write(tmp_path, HEAD + "budget:\n  enabled: false\n  max_runs_per_day: 5\n"), environ={})
    assert manifest.budget == BudgetConfig(enabled=False, max_runs_per_day=5)


# Round trip --------------------------------------------------------------------------------

def test_save_then_load_gives_the_same_manifest(tmp_path: Path) -> None:
    original = load_manifest(write(tmp_path, RICH), environ={})
    saved = tmp_path / "saved.agent"
    save_manifest(original, saved)
    assert load_manifest(saved, environ={}) == original
    assert "max_cost_per_day: 50.0" in saved.read_text()


def test_round_trip_keeps_disabled_sections_and_literal_references(tmp_path: Path) -> None:
    text = HEAD + ("instructions: 'costs $${PRICE} per run'\n"
                   "budget: {enabled: false}\nconfig:\n  inbox: {enabled: false, max_messages: 9}\n"
                   "secrets:\n  secrets: {key: '${KEY:-fallback-value}'}\n")
    original = load_manifest(write(tmp_path, text), environ={"PRICE": "unused"})
    assert original.instructions == "costs ${PRICE} per run"
    saved = tmp_path / "saved.agent"
    save_manifest(original, saved)
    assert load_manifest(saved, environ={"PRICE": "unused"}) == original


def test_a_manifest_built_in_python_round_trips(tmp_path: Path) -> None:
    manifest = AgentManifestSchema(
        name="built", model="python:echo", execution_mode=ExecutionMode.OPEN,
        triggers=[TriggerConfig(type="event", event_type="a.>")], world={"n": 1.5},
    )
    path = tmp_path / "built.agent"
    save_manifest(manifest, path)
    assert load_manifest(path, environ={}) == manifest


def test_a_callable_cannot_be_saved() -> None:
    manifest = AgentManifestSchema(
        name="built", model="python:echo",
        triggers=[TriggerConfig(type="event", event_type="a", filter_expression=lambda e: True)],
    )
    with pytest.raises(ValueError, match=r"triggers\[0\]\.filter_expression: holds a Python"):
        manifest_to_yaml(manifest)


def test_manifest_from_dict_accepts_the_same_data() -> None:
    manifest = manifest_from_dict({"name": "d", "model": "python:echo",
                                   "triggers": [{"message": "jobs.*"}]}, environ={})
    assert manifest.triggers == [TriggerConfig(type="message", topic="jobs.*")]


# Templates and warnings --------------------------------------------------------------------

@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_every_template_loads_validates_and_round_trips(tmp_path: Path, kind: str) -> None:
    assert kind in ("basic", "cron", "webhook", "full")
    path = write(tmp_path, manifest_template(kind), f"{kind}.agent")
    environ = {"OPENAI_API_KEY": "sk-test", "OPS_API_TOKEN": "a-long-token"}
    assert validate_manifest(path, environ=environ) == []
    manifest = load_manifest(path, environ=environ)
    manifest_to_process_config(manifest)
    save_manifest(manifest, tmp_path / "again.agent")
    assert load_manifest(tmp_path / "again.agent", environ=environ) == manifest


def test_an_unknown_template_names_the_kinds() -> None:
    with pytest.raises(ValueError, match="choose one of basic, cron, webhook, full"):
        manifest_template("huge")


def test_warnings_name_what_will_not_work_as_written(tmp_path: Path) -> None:
    text = ("name: w\nmodel: python:nobody-registered-this\nentrypoint: my_hooks\n"
            "servers:\n  tools: {type: http, url: 'http://localhost:8000/mcp'}\n"
            "memory: {provider: chroma}\nexecution_mode: open\n"
            "secrets:\n  secrets: {token: '${MISSING_TOKEN}'}\n")
    warnings = validate_manifest(write(tmp_path, text), environ={})
    assert [w.split(":")[0] for w in warnings] == [
        "model", "servers", "memory", "execution_mode", "entrypoint", "secrets.secrets.token",
    ]
    assert "no Python agent is registered as 'nobody-registered-this'" in warnings[0]
    assert "not supported by this release; tools will not be connected" in warnings[1]
    assert "never imports code" in warnings[4]
    assert "MISSING_TOKEN is not set" in warnings[5]


def test_openai_without_a_key_and_open_mode_settings_in_strict_mode_warn() -> None:
    manifest = manifest_from_dict({"name": "o", "model": "openai:gpt-4o-mini",
                                   "open_mode": {"max_custom_tools": 2}}, environ={})
    assert manifest_warnings(manifest, environ={}) == [
        "model: OPENAI_API_KEY is not set; the process fails to start without it",
        "open_mode: ignored because execution_mode is 'strict'",
    ]
    assert manifest_warnings(manifest, environ={"OPENAI_API_KEY": "k"})[0].startswith("open_mode")
