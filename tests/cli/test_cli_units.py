"""The CLI's and client's pieces that need no server: error mapping, SSE parsing, the state
file, connection resolution, output formatting and argument handling."""

from __future__ import annotations

import asyncio
import importlib.machinery
import os
import socket
import stat
import subprocess
import sys
import types
from collections.abc import AsyncIterator

import pytest

from greenroom.api import client_errors as errors
from greenroom.api.client import OrchestrationClient, ServerSentEvent, _parse_sse
from greenroom.cli import demo, state
from greenroom.cli.main import main
from greenroom.cli.output import duration, mapping_lines, table
from greenroom.cli.remote import DEFAULT_URL, resolve_connection


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private GREENROOM_HOME and no connection settings from the environment."""
    directory = tmp_path / "home"
    monkeypatch.setenv(state.HOME_ENV, str(directory))
    monkeypatch.delenv("GREENROOM_URL", raising=False)
    monkeypatch.delenv("GREENROOM_TOKEN", raising=False)
    return directory


def _body(code, message="m", **extra):
    return {"error": {"code": code, "message": message, **extra}}


# Typed errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "code", "cls"), [
    (400, "INVALID_JSON", errors.BadRequest),
    (401, "UNAUTHORIZED", errors.Unauthorized),
    (403, "CROSS_ORIGIN_REFUSED", errors.Forbidden),
    (403, "WRITE_DENIED", errors.WriteDenied),
    (403, "ENV_REFERENCES_NOT_ALLOWED", errors.DeployRefused),
    (404, "NOT_FOUND", errors.NotFound),
    (404, "PROCESS_NOT_FOUND", errors.ProcessNotFound),
    (404, "TRIGGER_NOT_FOUND", errors.TriggerNotFound),
    (404, "SECRET_NOT_FOUND", errors.SecretNotFound),
    (404, "EVENT_NOT_FOUND", errors.EventNotFound),
    (409, "PROCESS_EXISTS", errors.ProcessExists),
    (409, "INVALID_STATE", errors.InvalidState),
    (409, "MISSION_STATE", errors.MissionStateConflict),
    (409, "SOMETHING_NEW", errors.Conflict),
    (410, "QUESTION_REMOVED", errors.QuestionRemoved),
    (413, "PAYLOAD_TOO_LARGE", errors.PayloadTooLarge),
    (421, "MISDIRECTED_REQUEST", errors.MisdirectedRequest),
    (422, "UNKNOWN_FIELD", errors.ValidationFailed),
    (422, "INVALID_CONFIG", errors.ValidationFailed),
    (429, "RATE_LIMITED", errors.RateLimited),
    (429, "INBOX_FULL", errors.InboxFull),
    (500, "INTERNAL_ERROR", errors.ServerError),
    (501, "NOT_IMPLEMENTED", errors.NotImplementedByServer),
    (503, "UNAVAILABLE", errors.ServerError),
    (418, "TEAPOT", errors.OrchestrationError),
])
def test_error_class_follows_code_then_status(status, code, cls):
    error = errors.error_from_response(status, _body(code, "what went wrong"))
    assert type(error) is cls
    assert (error.code, error.message, error.status) == (code, "what went wrong", status)
    assert isinstance(error, errors.OrchestrationError)


def test_feature_disabled_names_the_feature():
    error = errors.error_from_response(409, _body("INBOX_DISABLED"))
    assert isinstance(error, errors.FeatureDisabled)
    assert isinstance(error, errors.Conflict)
    assert error.feature == "inbox"


def test_error_id_is_kept_and_a_non_json_body_still_maps_by_status():
    error = errors.error_from_response(500, _body("INTERNAL_ERROR", error_id="e-17"))
    assert error.error_id == "e-17"
    proxy = errors.error_from_response(502, "<html>Bad gateway</html>")
    assert isinstance(proxy, errors.ServerError)
    assert proxy.code == "HTTP_502"
    assert proxy.error_id is None


def test_timeouts_are_timeout_errors():
    assert issubclass(errors.OrchestrationTimeout, TimeoutError)
    assert issubclass(errors.AskTimeout, TimeoutError)


def test_connection_failure_names_the_url():
    with socket.socket() as probe:  # a port nobody listens on once the socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    async def call():
        async with OrchestrationClient(url, timeout=5.0) as client:
            await client.health()

    with pytest.raises(errors.OrchestrationConnectionError) as caught:
        asyncio.run(call())
    assert caught.value.url == f"{url}/api/v1/health"
    assert url in str(caught.value)
    assert caught.value.status is None


def test_base_url_accepts_the_api_prefix():
    assert OrchestrationClient("http://h:1/api/v1/").base_url == "http://h:1"
    assert OrchestrationClient("http://h:1/").base_url == "http://h:1"


# Server-sent events ------------------------------------------------------------------------------

def test_sse_parser_follows_the_event_stream_format():
    raw = (b": comment, ignored\n"
           b"event: process.started\nid: 1\ndata: {\"process\": \"a\"}\n\n"
           b"data: line one\r\ndata: line two\r\n\r\n"
           b"event: empty\n\n"
           b"data:no-space\n\n")

    async def lines() -> AsyncIterator[bytes]:
        for line in raw.splitlines(keepends=True):
            yield line

    async def collect():
        return [event async for event in _parse_sse(lines())]

    assert asyncio.run(collect()) == [
        ServerSentEvent("process.started", {"process": "a"}, "1"),
        ServerSentEvent("message", "line one\nline two", "1"),
        ServerSentEvent("message", "no-space", "1"),
    ]


# State file --------------------------------------------------------------------------------------

def test_state_file_is_owner_only_and_removed_only_by_its_owner(home):
    path = state.write_state("http://127.0.0.1:9", "secret-token")
    assert path == home / "runtime.json"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = state.read_state()
    assert saved is not None
    assert (saved["url"], saved["token"], saved["pid"]) == ("http://127.0.0.1:9",
                                                            "secret-token", os.getpid())
    assert not state.remove_state(pid=os.getpid() + 1)
    assert path.exists()
    assert state.remove_state()
    assert not path.exists()
    assert state.read_state() is None


def test_a_wider_existing_directory_is_narrowed(home):
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    state.write_state("http://127.0.0.1:9", "t")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_a_state_file_of_a_dead_process_is_ignored(home):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              check=True, capture_output=True, text=True)
    state.write_state("http://127.0.0.1:9", "t", pid=int(finished.stdout))
    assert state.read_state() is None


def test_an_unreadable_state_file_is_ignored(home):
    home.mkdir()
    (home / "runtime.json").write_text("{not json")
    assert state.read_state() is None


# Connection resolution ---------------------------------------------------------------------------

def test_connection_defaults_without_state_or_environment(home):
    connection = resolve_connection(None, None)
    assert (connection.url, connection.token) == (DEFAULT_URL, None)


def test_connection_from_state_file_then_environment(home, monkeypatch):
    monkeypatch.setenv("GREENROOM_URL", "http://10.0.0.1:9100")
    monkeypatch.setenv("GREENROOM_TOKEN", "env-token")
    assert _pair(resolve_connection(None, None)) == ("http://10.0.0.1:9100", "env-token")
    state.write_state("http://127.0.0.1:7", "file-token")
    assert _pair(resolve_connection(None, None)) == ("http://127.0.0.1:7", "file-token")
    assert _pair(resolve_connection(None, "flag")) == ("http://127.0.0.1:7", "flag")


def _pair(connection):
    return connection.url, connection.token


def test_the_state_files_token_never_goes_to_another_url(home, monkeypatch):
    state.write_state("http://127.0.0.1:7", "file-token")
    assert resolve_connection("http://elsewhere:9100", None).token is None
    assert resolve_connection("http://127.0.0.1:7/", None).token == "file-token"
    monkeypatch.setenv("GREENROOM_TOKEN", "env-token")
    assert resolve_connection("http://elsewhere:9100", None).token == "env-token"


# Output ------------------------------------------------------------------------------------------

def test_table_aligns_columns_and_shows_none_as_dash():
    assert table(("NAME", "STATE"), [["monitor", "running"], ["a", None]]) == [
        "NAME     STATE",
        "monitor  running",
        "a        -",
    ]


def test_mapping_lines_flatten_nested_keys():
    assert mapping_lines({"state": "running", "budget": {"enabled": False}, "tags": ["a", "b"]}
                         ) == ["state           running", "budget.enabled  False",
                               "tags            a, b"]


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0, "0s"), (45.9, "45s"), (185, "3m05s"), (7620, "2h07m"), (273600, "3d04h"),
])
def test_duration(seconds, text):
    assert duration(seconds) == text


# Arguments and the demo --------------------------------------------------------------------------

def test_usage_errors_exit_2_and_help_exits_0(capsys):
    assert main([]) == 2
    assert main(["no-such-command"]) == 2
    assert main(["ps", "--no-such-option"]) == 2
    assert main(["journal", "x", "-n", "0"]) == 2
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out


def test_demo_reports_a_missing_demo_with_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(demo, "DEMO_MODULE", "greenroom_cli_tests_no_such_demo")
    assert main(["demo"]) == 2
    assert "demo is not part of this installation" in capsys.readouterr().err


def test_demo_gets_its_arguments_unparsed(monkeypatch):
    seen = []
    module = types.ModuleType("greenroom_cli_tests_fake_demo")
    module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)
    module.main = lambda argv: seen.append(argv) or 3
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(demo, "DEMO_MODULE", module.__name__)
    assert main(["demo", "--minutes", "2", "-v"]) == 3
    assert seen == [["--minutes", "2", "-v"]]


def test_inject_refuses_a_payload_that_is_not_an_object(home, capsys):
    assert main(["inject", "p", "[1, 2]"]) == 2
    assert "JSON object" in capsys.readouterr().err


def test_a_demo_that_exits_through_its_parser_gives_its_code(monkeypatch):
    module = types.ModuleType("greenroom_cli_tests_exiting_demo")
    module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)

    def exiting(argv):
        raise SystemExit(0)

    module.main = exiting
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(demo, "DEMO_MODULE", module.__name__)
    assert main(["demo", "--help"]) == 0
