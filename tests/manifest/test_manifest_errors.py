"""Invalid manifests: each names its precise error (the field path, the message, the line), and a
file that cannot be read or parsed says where."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from greenroom.manifest import ManifestError, ManifestValidationError, load_manifest
from greenroom.runtime.errors import RuntimeBaseError

HEAD = "name: a\nmodel: python:echo\n"  # lines 1 and 2; each case's text starts on line 3


def load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.agent"
    path.write_text(text, encoding="utf-8")
    load_manifest(path, environ={"HOME_DIR": "/home/a"})


# (id, manifest text, path, a fragment of the message, line of the key at fault)
CASES = [
    ("misspelt-top-level-key", HEAD + "instruction: hi\n",
     "instruction", "unknown key 'instruction'; did you mean 'instructions'?", 3),
    ("missing-name", "model: python:echo\n", "name", "required", None),
    ("missing-model", "name: a\n", "model", "required", None),
    ("bad-name", "name: my agent\nmodel: python:echo\n",
     "name", "expected a letter, then at most 63 letters, digits, '_' or '-'", 1),
    ("bad-model", "name: a\nmodel: gpt4\n",
     "model", "expected 'provider:model' such as 'openai:gpt-4o-mini'", 2),
    ("unsupported-version", 'version: "2.0"\n' + HEAD,
     "version", "unsupported version '2.0'; this release reads version '1.0'", 1),
    ("unquoted-version", "version: 1.0\n" + HEAD,
     "version", 'expected the string "1.0" (quote it in YAML: version: "1.0")', 1),
    ("bad-cron-shorthand", HEAD + "triggers:\n  - cron: 'every minute'\n",
     "triggers[0].cron", "expected 5 fields", 4),
    ("long-form-without-its-field", HEAD + "triggers:\n  - type: cron\n",
     "triggers[0].cron_expression", "required for 'cron' triggers", 4),
    ("misspelt-shorthand", HEAD + "triggers:\n  - crom: '* * * * *'\n",
     "triggers[0].crom", "unknown key 'crom'; did you mean 'cron'?", 4),
    ("two-shorthand-keys", HEAD + "triggers:\n  - cron: '* * * * *'\n    webhook: /x\n",
     "triggers[0].webhook", "one trigger takes one shorthand key, got 'cron' and 'webhook'", 5),
    ("shorthand-with-type", HEAD + "triggers:\n  - type: cron\n    cron: '* * * * *'\n",
     "triggers[0].cron", "a shorthand key cannot be combined with 'type'", 5),
    ("webhook-path-without-slash", HEAD + "triggers:\n  - webhook: alert\n",
     "triggers[0].webhook", "must start with '/' and contain no whitespace", 4),
    ("misspelt-webhook-option", HEAD + "triggers:\n  - webhook: /alert\n    verify_hmc: true\n",
     "triggers[0].verify_hmc", "unknown key 'verify_hmc'; did you mean 'verify_hmac'?", 5),
    ("glob-in-a-watched-directory", HEAD + "triggers:\n  - file_watch: /data/*/x.csv\n",
     "triggers[0].file_watch", "only the last path component may be a glob pattern", 4),
    ("bad-event-pattern", HEAD + "triggers:\n  - event: pipeline..done\n",
     "triggers[0].event", "empty token", 4),
    ("trigger-not-a-mapping", HEAD + "triggers:\n  - '*/5 * * * *'\n",
     "triggers[0]", "expected a mapping, got a str", 4),
    ("duplicate-trigger-id", HEAD + "triggers:\n  - {event: a, trigger_id: t}\n"
                                    "  - {event: b, trigger_id: t}\n",
     "triggers[1].trigger_id", "'t' is already used by triggers[0]", 5),
    ("field-of-another-trigger-type", HEAD + "triggers:\n  - cron: '* * * * *'\n"
                                             "    webhook_port: 9999\n",
     "triggers[0].webhook_port", "belongs to 'webhook' triggers, not 'cron'", 5),
    ("filter-of-the-wrong-type", HEAD + "triggers:\n  - event: a\n    filter_expression: 5\n",
     "triggers[0].filter_expression", "Input should be a valid string", 5),
    ("negative-budget-via-alias", HEAD + "budget:\n  max_daily_cost: -1\n",
     "budget.max_daily_cost", "greater than or equal to 0", 4),
    ("misspelt-budget-key", HEAD + "budget:\n  max_tool_calls_per_rn: 3\n",
     "budget.max_tool_calls_per_rn", "did you mean 'max_tool_calls_per_run'?", 4),
    ("process-setting-in-health", HEAD + "health:\n  restart_policy: on_failure\n",
     "health.restart_policy", "did you mean 'config.restart_policy'?", 4),
    ("process-setting-at-top-level", HEAD + "concurrency: 2\n",
     "concurrency", "did you mean 'config.concurrency'?", 3),
    ("section-inside-config", HEAD + "config:\n  budget: {}\n",
     "config.budget", "'budget' is a top-level key of the manifest", 4),
    ("config-value-out-of-range", HEAD + "config:\n  concurrency: 0\n",
     "config.concurrency", "greater than or equal to 1", 4),
    ("mission-without-objective", HEAD + "mission:\n  success_criteria: done\n",
     "mission.objective", "required when the mission is enabled", 3),
    ("mission-alias-twice", HEAD + "mission:\n  objective: o\n  success_criteria: c\n"
                                   "  max_duration: 4h\n  timeout_hours: 4\n",
     "mission.max_duration", "is an alias of timeout_hours; give only one of them", 6),
    ("callable-only-mission-check", HEAD + "mission:\n  objective: o\n  success_criteria: c\n"
                                           "  success_check: my_module.check\n",
     "mission.success_check", "a manifest cannot give a Python callable here", 6),
    ("malformed-secret-reference", HEAD + "secrets:\n  secrets:\n    key: ${BAD\n",
     "secrets.secrets.key", "malformed reference; use ${VAR} or ${VAR:-default}", 5),
    ("ttl-for-an-unknown-secret", HEAD + "secrets:\n  secrets: {key: v}\n  ttls: {other: 5}\n",
     "secrets.ttls.other", "no secret with that name", 5),
    ("world-and-initial-state", HEAD + "world: {a: 1}\ncontext:\n  initial_state: {b: 2}\n",
     "world", "is the manifest's name for context.initial_state; give only one of them", 3),
    ("memory-key-of-another-framework", HEAD + "memory:\n  provider: chroma\n  timeout: 5\n",
     "memory.timeout", "unknown key 'timeout' (allowed: auto_store, collection, max,", 5),
    ("http-server-without-url", HEAD + "servers:\n  tools:\n    type: http\n",
     "servers.tools.url", "required for an 'http' server", 4),
    ("bad-journal-level", HEAD + "journal:\n  level: everything\n",
     "journal.level", "Input should be 'none', 'checkpoint' or 'full'", 4),
    ("bad-execution-mode", HEAD + "execution_mode: wild\n",
     "execution_mode", "Input should be 'strict' or 'open'", 3),
    ("bad-escalation-url", HEAD + "health:\n  escalation:\n    webhook_url: ftp://x\n",
     "health.escalation.webhook_url", "expected an http:// or https:// URL with a host", 5),
    ("unquoted-date", HEAD + "world:\n  since: 2024-05-01\n",
     "world.since", "YAML read this as a date; quote it to keep it as text", 4),
    ("missing-environment-variable", HEAD + "instructions: Work in ${WORK_DIR}\n",
     "instructions", "environment variable WORK_DIR is not set (write ${WORK_DIR:-default}", 3),
    ("malformed-reference", HEAD + "instructions: ${1X}\n",
     "instructions", "malformed reference; write ${VAR} or ${VAR:-default}", 3),
    ("list-instead-of-mapping", HEAD + "budget: [1, 2]\n",
     "budget", "expected a mapping, got a list", 3),
    ("duplicate-key", HEAD + "name: b\n", "name", "duplicate key (first given on line 1)", 3),
    ("non-string-key", HEAD + "1: one\n", "", "keys must be strings; quote this key", 3),
    ("empty-file", "", "", "the manifest is empty", None),
    ("not-a-mapping", "- name: a\n", "",
     "expected a mapping of keys such as name, model and triggers, got list", None),
]


@pytest.mark.parametrize(("text", "path", "message", "line"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_an_invalid_manifest_names_its_error(
    tmp_path: Path, text: str, path: str, message: str, line: int | None
) -> None:
    with pytest.raises(ManifestValidationError) as caught:
        load(tmp_path, text)
    error = caught.value
    assert len(error.errors) == 1, error.errors
    [issue] = error.errors
    assert issue["path"] == path
    assert message in issue["message"]
    assert issue["line"] == line
    assert error.file_path == str(tmp_path / "bad.agent")
    where = f"{tmp_path / 'bad.agent'}:{line}:" if line is not None else \
        f"{tmp_path / 'bad.agent'}: "
    assert str(error).startswith(where)


def test_every_error_is_reported_at_once_in_source_order(tmp_path: Path) -> None:
    text = HEAD + "instruction: x\ntriggers:\n  - cron: 'no'\nconfig:\n  concurrency: -1\n"
    with pytest.raises(ManifestValidationError) as caught:
        load(tmp_path, text)
    error = caught.value
    assert [(i["path"], i["line"], i["column"]) for i in error.errors] == [
        ("instruction", 3, 1), ("triggers[0].cron", 5, 5), ("config.concurrency", 7, 3),
    ]
    lines = str(error).splitlines()
    assert lines[0] == f"{tmp_path / 'bad.agent'}: 3 errors in the manifest"
    assert lines[1].startswith(f"  {tmp_path / 'bad.agent'}:3:1: instruction: unknown key")
    assert (error.line, error.column) == (3, 1)


def test_a_yaml_syntax_error_gives_its_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, HEAD + "triggers:\n  - cron: '* * * * *'\n   oops: [\n")
    error = caught.value
    assert not isinstance(error, ManifestValidationError)
    assert (error.line, error.column) == (5, 4)
    assert str(error).startswith(f"{tmp_path / 'bad.agent'}:5:4: invalid YAML: expected")


def test_an_unterminated_quote_points_at_the_end(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"bad\.agent:4:1: invalid YAML: found unexpected "
                                            r"end of stream"):
        load(tmp_path, HEAD + "instructions: 'never closed\n")


def test_python_tags_are_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = HEAD + f"world:\n  x: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(ManifestError, match=r"bad\.agent:4:6: invalid YAML: could not "
                                            r"determine a constructor for the tag"):
        load(tmp_path, text)
    assert not marker.exists()


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read the manifest: No such file") as caught:
        load_manifest(tmp_path / "absent.agent")
    assert caught.value.file_path == str(tmp_path / "absent.agent")
    binary = tmp_path / "binary.agent"
    binary.write_bytes(b"name: a\n\xff\xfe\n")
    with pytest.raises(ManifestError, match=r"binary\.agent: not UTF-8 text \(byte 8\)"):
        load_manifest(binary)


def test_aliases_that_expand_without_end_are_refused(tmp_path: Path) -> None:
    bomb = HEAD + "world:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        bomb += f"  {level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, " \
                f"*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
    with pytest.raises(ManifestError, match="more than 100000 nodes once its aliases"):
        load(tmp_path, bomb)


def test_nesting_without_end_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="nests more than 100 levels deep"):
        load(tmp_path, HEAD + "world: " + "[" * 120 + "]" * 120 + "\n")
    with pytest.raises(ManifestError, match="nests more than 100 levels deep"):
        load(tmp_path, HEAD + "world: &loop [*loop]\n")


def test_manifest_errors_are_runtime_errors_and_pickle(tmp_path: Path) -> None:
    with pytest.raises(ManifestValidationError) as caught:
        load(tmp_path, HEAD + "instruction: hi\n")
    error = caught.value
    assert isinstance(error, RuntimeBaseError)
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.errors, copy.file_path) == (str(error), error.errors,
                                                        error.file_path)
    plain = ManifestError("invalid YAML: x", file_path="f.agent", line=2, column=3)
    assert str(pickle.loads(pickle.dumps(plain))) == "f.agent:2:3: invalid YAML: x"
