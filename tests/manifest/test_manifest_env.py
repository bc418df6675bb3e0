"""`${VAR}` references: resolved at load time everywhere but under `secrets`."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenroom.manifest import ManifestValidationError, load_manifest, manifest_from_dict

TEXT = """\
name: env-agent
model: python:echo
instructions: "Work in ${WORK_DIR}, report to ${TEAM:-ops} (${EMPTY:-fallback})."
triggers:
  - webhook: ${HOOK_PATH}
    webhook_port: ${HOOK_PORT:-9091}
    hmac_secret: ${HOOK_SECRET}
world:
  region: ${REGION}
  literal: "$${NOT_A_REFERENCE}"
  nested: [{url: "http://${HOST}:8000/"}]
secrets:
  secrets:
    token: ${API_TOKEN}
    fallback: ${OTHER:-default-secret}
"""

ENV = {"WORK_DIR": "/srv/work", "EMPTY": "", "HOOK_PATH": "/in", "HOOK_SECRET": "hook-secret-1",
       "REGION": "eu", "HOST": "db.local", "API_TOKEN": "must-not-be-read"}


def test_references_are_resolved_at_load_time(tmp_path: Path) -> None:
    path = tmp_path / "env.agent"
    path.write_text(TEXT, encoding="utf-8")
    manifest = load_manifest(path, environ=ENV)
    assert manifest.instructions == "Work in /srv/work, report to ops (fallback)."
    [hook] = manifest.triggers
    assert (hook.webhook_path, hook.webhook_port) == ("/in", 9091)
    assert hook.hmac_secret == "hook-secret-1"
    assert manifest.world == {"region": "eu", "literal": "${NOT_A_REFERENCE}",
                              "nested": [{"url": "http://db.local:8000/"}]}


def test_secrets_keep_their_references_for_the_secret_scope(tmp_path: Path) -> None:
    path = tmp_path / "env.agent"
    path.write_text(TEXT, encoding="utf-8")
    manifest = load_manifest(path, environ=ENV)
    assert manifest.secrets is not None
    assert manifest.secrets.secrets == {"token": "${API_TOKEN}",
                                        "fallback": "${OTHER:-default-secret}"}


def test_an_empty_variable_without_default_is_the_empty_string() -> None:
    manifest = manifest_from_dict({"name": "e", "model": "python:echo",
                                   "instructions": "[${EMPTY}]"}, environ={"EMPTY": ""})
    assert manifest.instructions == "[]"


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENROOM_TEST_TEAM", "night-shift")
    manifest = manifest_from_dict({"name": "e", "model": "python:echo",
                                   "instructions": "${GREENROOM_TEST_TEAM}"})
    assert manifest.instructions == "night-shift"


def test_every_missing_variable_is_named_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "env.agent"
    path.write_text(TEXT, encoding="utf-8")
    with pytest.raises(ManifestValidationError) as caught:
        load_manifest(path, environ={"WORK_DIR": "/w", "HOOK_SECRET": "s", "REGION": "eu"})
    assert [(i["path"], i["message"].split(" (")[0], i["line"]) for i in caught.value.errors] == [
        ("triggers[0].webhook", "environment variable HOOK_PATH is not set", 5),
        ("world.nested[0].url", "environment variable HOST is not set", 11),
    ]


def test_an_empty_environment_refuses_every_reference() -> None:
    with pytest.raises(ManifestValidationError, match=r"<api>: instructions: environment "
                                                      r"variable HOME is not set"):
        manifest_from_dict({"name": "e", "model": "python:echo", "instructions": "${HOME}"},
                           source="<api>", environ={})
