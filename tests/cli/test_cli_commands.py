"""Every `greenroom` command through a real subprocess (`python -m greenroom ...`), the remote
ones against a real `greenroom run` subprocess on a free port, found through its state file."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_agents import ECHO, STUCK
from cli_support import WAIT, RunningRuntime, cli_env, greenroom, manifest, start_runtime


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """One `greenroom run` of a directory with two manifests: `echo` and `worker`."""
    cwd = tmp_path_factory.mktemp("fleet")
    (cwd / "fleet").mkdir()
    (cwd / "fleet" / "echo.agent").write_text(manifest("echo", ECHO))
    (cwd / "fleet" / "worker.agent").write_text(manifest("worker", ECHO))
    runtime = start_runtime(["fleet"], home=cwd / "home", cwd=cwd)
    yield runtime
    runtime.close()


def json_out(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# run ---------------------------------------------------------------------------------------------

def test_run_prints_the_url_and_token_and_writes_an_owner_only_state_file(fleet):
    log = fleet.log()
    url, token = fleet.state["url"], fleet.state["token"]
    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith(":0")
    assert f"API listening on {url}" in log
    assert f"token: {token}" in log
    assert "loaded echo from fleet/echo.agent" in log
    assert "worker: running" in log
    assert stat.S_IMODE(fleet.home.stat().st_mode) == 0o700
    assert stat.S_IMODE(fleet.state_file.stat().st_mode) == 0o600


def test_a_second_run_with_the_same_home_is_refused(fleet):
    result = fleet.cli("run", "fleet", "--port", "0")
    assert result.returncode == 1
    assert f"already serves {fleet.state['url']}" in result.stderr


# ps and status ----------------------------------------------------------------------------------

def test_ps_lists_the_processes_in_a_table(fleet):
    result = fleet.cli("ps")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "STATE", "RUNS", "FAILED", "QUEUE", "DEAD", "RESTARTS",
                              "UPTIME"]
    names = {row.split()[0] for row in rows}
    assert {"echo", "worker"} <= names
    assert header.index("STATE") == rows[0].index(rows[0].split()[1])  # aligned columns
    answer = json_out(fleet.cli("ps", "--json"))
    assert answer["processes"]["echo"]["state"] == "running"


def test_status_of_the_runtime_and_of_one_process(fleet):
    summary = fleet.cli("status")
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.startswith(f"runtime at {fleet.state['url']}:")
    one = fleet.cli("status", "echo")
    assert one.returncode == 0, one.stderr
    fields = dict(line.split(None, 1) for line in one.stdout.splitlines() if " " in line)
    assert fields["name"] == "echo"
    assert fields["journal_enabled"] == "True"
    assert json_out(fleet.cli("status", "echo", "--json"))["name"] == "echo"


# talking to agents -------------------------------------------------------------------------------

def test_inject_runs_once_per_key_and_journal_shows_the_result(fleet):
    first = fleet.cli("inject", "echo", '{"order": 7}', "--key", "order-7")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("echo: event ")
    assert first.stdout.rstrip().endswith("injected")
    again = json_out(fleet.cli("inject", "echo", '{"order": 7}', "--key", "order-7",
                               "--json"))
    assert again["status"] == "duplicate"

    def result_entries():
        answer = json_out(fleet.cli("journal", "echo", "--type", "invocation_result", "-n",
                                    "500", "--json"))
        return [e for e in answer["entries"] if e["data"].get("key") == "order-7"]

    [entry] = fleet.wait_for(result_entries, "the journaled result of the injected event")
    assert entry["entry_type"] == "invocation_result"
    table = fleet.cli("journal", "echo", "-n", "3")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["TIME", "TYPE", "DATA"]
    assert len(table.stdout.splitlines()) == 4


def test_inject_reads_the_payload_from_stdin(fleet):
    result = fleet.cli("inject", "echo", "-", "--json", stdin='{"from": "stdin"}')
    assert json_out(result)["status"] == "injected"
    refused = fleet.cli("inject", "echo", "not json")
    assert refused.returncode == 2
    assert "JSON object" in refused.stderr


def test_send_and_ask(fleet):
    sent = fleet.cli("send", "echo", "prefer short answers", "--priority", "high",
                     "--sender", "ops")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.rstrip().endswith("queued")
    asked = fleet.cli("ask", "echo", "are you there?", "--wait", "30")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == "pong\n"
    assert json_out(fleet.cli("ask", "echo", "again?", "--json"))["status"] == "answered"


# lifecycle ---------------------------------------------------------------------------------------

def test_lifecycle_commands(fleet):
    for verb, expected in (("suspend", "worker: suspended"), ("resume", "worker: running"),
                           ("stop", "worker: stopped (0 runs interrupted)"),
                           ("start", "worker: running"),
                           ("restart", "worker: restarted, running")):
        result = fleet.cli(verb, "worker")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == expected
    assert json_out(fleet.cli("ps", "--json"))["processes"]["worker"]["state"] == "running"


def test_stop_reports_progress_and_takes_a_drain_timeout(fleet):
    result = fleet.cli("stop", "worker", "--drain-timeout", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["stopping worker (runs in flight get 1 s)...",
                                          "worker: stopped (0 runs interrupted)"]
    assert json_out(fleet.cli("start", "worker", "--json"))["state"] == "running"


# deploy ------------------------------------------------------------------------------------------

def test_deploy_a_manifest_and_start_it(fleet):
    (fleet.cwd / "extra.agent").write_text(manifest("extra", ECHO))
    result = fleet.cli("deploy", "extra.agent", "--start")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("extra: deployed (running)")
    assert json_out(fleet.cli("status", "extra", "--json"))["state"] == "running"
    again = fleet.cli("deploy", "extra.agent")
    assert again.returncode == 1
    assert "[PROCESS_EXISTS]" in again.stderr
    renamed = json_out(fleet.cli("deploy", "extra.agent", "--name", "extra-2", "--json"))
    assert (renamed["name"], renamed["state"]) == ("extra-2", "created")


def test_deploy_refuses_an_invalid_manifest_before_calling_the_api(fleet):
    (fleet.cwd / "typo.agent").write_text('version: "1.0"\nname: typo\nmodel: python:x\n'
                                          "instrutions: hi\n")
    result = fleet.cli("deploy", "typo.agent")
    assert result.returncode == 1
    assert "typo.agent:4:1: instrutions: unknown key" in result.stderr
    assert "did you mean 'instructions'?" in result.stderr


# errors ------------------------------------------------------------------------------------------

def test_api_errors_exit_1_with_the_code(fleet):
    missing = fleet.cli("status", "nope")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == "greenroom: error: no process named 'nope' [PROCESS_NOT_FOUND]\n"
    wrong = fleet.cli("ps", "--token", "wrong")
    assert wrong.returncode == 1
    assert "[UNAUTHORIZED]" in wrong.stderr


def test_an_unreachable_api_is_named(tmp_path):
    result = greenroom("ps", "--url", "http://127.0.0.1:9", home=tmp_path / "home",
                       cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach http://127.0.0.1:9/api/v1/runtime/status" in result.stderr


# local commands ----------------------------------------------------------------------------------

def test_init_writes_templates_that_validate(tmp_path):
    home = tmp_path / "home"
    for kind in ("cron", "full"):
        made = greenroom("init", "--template", kind, "-o", f"{kind}.agent", home=home,
                         cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"wrote the {kind} template to {kind}.agent")
    shown = greenroom("init", home=home, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    (tmp_path / "basic.agent").write_text(shown.stdout)
    kept = greenroom("init", "-o", "full.agent", home=home, cwd=tmp_path)
    assert kept.returncode == 1
    assert "--force" in kept.stderr
    checked = greenroom("validate", ".", home=home, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.splitlines()[-1] == "3 valid, 0 invalid"


def test_validate_prints_every_error_with_file_and_line(tmp_path):
    (tmp_path / "good.agent").write_text(manifest("good", ECHO))
    (tmp_path / "bad.agent").write_text(
        'version: "1.0"\nname: bad\nmodel: python:x\ninstrutions: hi\n'
        'triggers:\n  - cron: "not a cron"\n')
    (tmp_path / "broken.agent").write_text('version: "1.0"\nname: [oops\n')
    result = greenroom("validate", "good.agent", "bad.agent", "broken.agent",
                       home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "good.agent: ok" in lines
    assert any(line.startswith("bad.agent:4:1: error: instrutions: unknown key")
               for line in lines)
    assert any(line.startswith("bad.agent:6:5: error: triggers[0].cron:") for line in lines)
    assert any(line.startswith("broken.agent:3:1: error: invalid YAML") for line in lines)
    assert lines[-1] == "1 valid, 2 invalid"
    results = json.loads(greenroom("validate", "bad.agent", "--json", home=tmp_path / "home",
                                   cwd=tmp_path).stdout)
    assert [e["path"] for e in results[0]["errors"]] == ["instrutions", "triggers[0].cron"]


def test_usage_errors_exit_2(tmp_path):
    result = greenroom("stop", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: greenroom stop" in result.stderr


def test_demo_hands_its_arguments_to_the_demo_module(tmp_path):
    result = greenroom("demo", "--help", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--duration" in result.stdout


def test_the_console_script_is_installed(tmp_path):
    script = Path(sys.executable).parent / "greenroom"  # pip install -e . puts it there
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0
    assert "usage: greenroom" in result.stdout


# stopping a run ----------------------------------------------------------------------------------

def test_sigint_stops_gracefully_and_removes_the_state_file(tmp_path):
    (tmp_path / "one.agent").write_text(manifest("one", ECHO))
    runtime = start_runtime(["one.agent"], home=tmp_path / "home", cwd=tmp_path)
    try:
        assert runtime.cli("ps").returncode == 0
        runtime.signal(signal.SIGINT)
        assert runtime.wait() == 0
    finally:
        runtime.close()
    log = runtime.log()
    assert "SIGINT: stopping gracefully" in log
    assert "one: stopped" in log
    assert log.rstrip().endswith("stopped")
    assert not runtime.state_file.exists()


def test_sigterm_drains_a_run_in_flight_and_a_second_signal_stops_at_once(tmp_path):
    (tmp_path / "stuck.agent").write_text(
        manifest("stuck", STUCK, extra="  drain_timeout: 600\n"))
    runtime = start_runtime(["stuck.agent"], home=tmp_path / "home", cwd=tmp_path)
    try:
        assert runtime.cli("inject", "stuck", "{}").returncode == 0
        runtime.wait_for(lambda: _status(runtime, "stuck")["in_flight"] == 1, "the run in flight")
        runtime.signal(signal.SIGTERM)
        runtime.wait_for_log("stopping 1 processes: stuck")
        assert runtime.process.poll() is None  # draining: the run has 600 s
        runtime.signal(signal.SIGINT)
        assert runtime.wait() == 0
    finally:
        runtime.close()
    log = runtime.log()
    assert "SIGTERM: stopping gracefully" in log
    assert "SIGINT: stopping at once, cancelling runs in flight" in log
    assert not runtime.state_file.exists()


def test_run_refuses_an_invalid_manifest_and_starts_nothing(tmp_path):
    (tmp_path / "good.agent").write_text(manifest("good", ECHO))
    (tmp_path / "bad.agent").write_text('version: "1.0"\nname: bad\nmodel: python:x\n'
                                        "bogus: 1\n")
    result = greenroom("run", "good.agent", "bad.agent", "--port", "0",
                       home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.agent:4:1: bogus: unknown key" in result.stderr
    assert not (tmp_path / "home" / "runtime.json").exists()


def test_run_reports_an_agent_that_is_not_registered(tmp_path):
    (tmp_path / "ghost.agent").write_text(manifest("ghost", "no-such-agent"))
    result = greenroom("run", "ghost.agent", "--port", "0", home=tmp_path / "home",
                       cwd=tmp_path)
    assert result.returncode == 1
    assert "ghost did not start" in result.stderr
    assert "no agent is registered as 'no-such-agent'" in result.stderr


def _status(runtime: RunningRuntime, name: str) -> dict:
    return json_out(runtime.cli("status", name, "--json"))


def test_run_reports_a_port_in_use(tmp_path):
    (tmp_path / "one.agent").write_text(manifest("one", ECHO))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = greenroom("run", "one.agent", "--port", str(port), "--import", "cli_agents",
                           home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot serve the API on 127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / "home" / "runtime.json").exists()


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(tmp_path: Path) -> None:
    """`greenroom ... | head`: once the reader has closed the pipe, the command stops with
    128 + SIGPIPE and no traceback."""
    child = subprocess.Popen(
        [sys.executable, "-m", "greenroom", "init", "-t", "full"], cwd=tmp_path,
        env=cli_env(tmp_path / "home"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    child.stdout.close()  # before the child writes: its first line finds no reader
    _out, err = child.communicate(timeout=WAIT)
    assert child.returncode == 141
    assert b"Traceback" not in err
    assert err == b""
