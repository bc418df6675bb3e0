"""Starter manifests for `greenroom init`: `basic`, `cron`, `webhook` and `full`.

Each is YAML text that loads and validates as it is; comments say what to change. `full`
shows every section this release acts on.
"""

from __future__ import annotations

__all__ = ["TEMPLATE_KINDS", "manifest_template"]

_HEADER = """\
# A greenroom agent manifest: docs/manifests.md describes every key.
# Check it with `greenroom validate <file>`; run it with `greenroom run <file>`.
version: "1.0"
"""

_MODEL = """\
# "openai:<model>" needs OPENAI_API_KEY (and OPENAI_BASE_URL for a local server);
# "python:<name>" runs an agent your program registered with register_agent(name, fn).
model: openai:gpt-4o-mini
"""

_TEMPLATES = {
    "basic": _HEADER + """\
name: assistant
""" + _MODEL + """\
instructions: |
  You are a helpful assistant. Answer each request briefly.
""",
    "cron": _HEADER + """\
name: data-watcher
""" + _MODEL + """\
instructions: |
  You check the data pipeline every five minutes and report anything unusual.
triggers:
  - cron: "*/5 * * * *"
    timezone: UTC
world:
  pipeline_status: healthy
journal:
  level: checkpoint
  path: .greenroom/journal
config:
  concurrency: 1
  restart_policy: on_failure
""",
    "webhook": _HEADER + """\
name: alert-handler
""" + _MODEL + """\
instructions: |
  You receive alerts as JSON and decide whether a human must look at them.
triggers:
  - webhook: /alert
    webhook_port: 9090
    # To accept signed calls only:
    # verify_hmac: true
    # hmac_secret: ${ALERT_HMAC_SECRET}   # read from the environment when the manifest loads
journal:
  level: checkpoint
config:
  max_queue_size: 100
""",
    "full": _HEADER + """\
name: ops-agent
""" + _MODEL + """\
instructions: |
  You run first-line operations: read alerts, check the pipelines, and report
  what you found and what you did.
triggers:
  - cron: "0 9 * * 1-5"            # weekdays at 09:00
    timezone: Europe/London
  - webhook: /incident
    webhook_port: 9090
  - file_watch: ./inbox/*.csv       # watch_path ./inbox, watch_patterns ["*.csv"]
    watch_events: [created]
  - event: pipeline.*               # events on the runtime's event bus
  - message: analysis.complete      # broker messages from another agent
    from_agent: analyst
world:                              # the context's initial state
  open_incidents: 0
context:
  writable_keys: [open_incidents]
  conversation_max_messages: 50
journal:
  level: full
  backend: file
  path: .greenroom/journal
  fsync: always
  checkpoint_every: 100
budget:                             # a section that is present is enabled
  max_tool_calls_per_run: 10
  max_runs_per_day: 200
  max_daily_cost: 50.0
  on_exceeded: pause
health:
  stuck_threshold: 5
  on_anomaly: log
mission:
  objective: Keep every pipeline green.
  success_criteria: No failed pipeline run for 24 hours.
  eval_every: 10
secrets:
  secrets:
    api_token: ${OPS_API_TOKEN}     # resolved when the process starts, never at load time
  default_ttl: 3600
config:
  concurrency: 2
  restart_policy: on_failure
  max_restarts: 5
  drain_timeout: 10
  inbox:
    max_messages: 20
execution_mode: strict
# Accepted but not acted on by this release (validate_manifest warns): servers, memory,
# execution_mode: open with open_mode, and entrypoint (reserved, never imported).
""",
}

TEMPLATE_KINDS = tuple(_TEMPLATES)
"""The template names, in the order `greenroom init --help` lists them."""


def manifest_template(kind: str = "basic") -> str:
    """The YAML text of the `kind` template; `ValueError` listing the kinds for another."""
    try:
        return _TEMPLATES[kind]
    except KeyError:
        msg = f"unknown template {kind!r}; choose one of {', '.join(TEMPLATE_KINDS)}"
        raise ValueError(msg) from None
