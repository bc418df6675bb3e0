"""The API's security model over real HTTP: the token on every route but health (and on unknown
paths), the loopback bind's Host and Origin guards, the refused public bind, `${VAR}` tokens,
the 1 MiB limit, JSON-object bodies, and a 500 that names an error id but no internals."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from api_support import TOKEN, P, echo, run_async, serve

from greenroom.api import OrchestrationAPI
from greenroom.runtime import AgentRuntime, ProcessConfig


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "x", path)


@run_async
async def test_every_route_but_health_needs_the_token(tmp_path: Path) -> None:
    async with serve(tmp_path) as s, aiohttp.ClientSession(s.api.url) as anonymous:
        assert len(s.api.routes) >= 45
        for route in s.api.routes:
            async with anonymous.request(route.method, _concrete(route.full_path)) as response:
                if route.public:
                    assert response.status == 200, route.full_path
                    continue
                body = await response.json()
                assert response.status == 401, (route.method, route.full_path)
                assert body["error"]["code"] == "UNAUTHORIZED"
                assert response.headers["WWW-Authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer not-the-token"}
        for headers in (wrong, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
            async with anonymous.get(f"{P}", headers=headers) as response:
                assert response.status == 401


@run_async
async def test_unknown_routes_are_401_then_404_and_wrong_methods_405(tmp_path: Path) -> None:
    async with serve(tmp_path) as s, aiohttp.ClientSession(s.api.url) as anonymous:
        async with anonymous.get("/api/v1/nothing-here") as response:
            assert response.status == 401
        assert await s.call("GET", "/api/v1/nothing-here") == (
            404, {"error": {"code": "NOT_FOUND", "message": "no route GET /api/v1/nothing-here"}})
        status, body = await s.call("PUT", "/api/v1/runtime/status")
        assert status == 405
        assert body["error"]["code"] == "METHOD_NOT_ALLOWED"


@run_async
async def test_host_and_origin_guards_on_a_loopback_bind(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        port = s.api.port
        status, body = await s.call("GET", "/api/v1/health", headers={"Host": "evil.example"})
        assert (status, body["error"]["code"]) == (421, "MISDIRECTED_REQUEST")
        status, _ = await s.call("GET", "/api/v1/health", headers={"Host": f"localhost:{port}"})
        assert status == 200
        for origin in ("http://evil.example", "null", f"http://127.0.0.1:{port + 1}",
                       f"https://127.0.0.1:{port}"):
            status, body = await s.call("POST", "/api/v1/runtime/start-all",
                                        headers={"Origin": origin})
            assert (status, body["error"]["code"]) == (403, "CROSS_ORIGIN_REFUSED"), origin
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            status, _ = await s.call("GET", "/api/v1/runtime/status", headers={"Origin": origin})
            assert status == 200


@run_async
async def test_a_public_bind_needs_a_token_and_tokens_read_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with AgentRuntime() as runtime:
        with pytest.raises(ValueError, match="auth_token is required"):
            OrchestrationAPI(runtime, host="0.0.0.0", port=0)
        monkeypatch.delenv("GREENROOM_TEST_TOKEN", raising=False)
        with pytest.raises(ValueError, match="GREENROOM_TEST_TOKEN is not set"):
            OrchestrationAPI(runtime, port=0, auth_token="${GREENROOM_TEST_TOKEN}")
        monkeypatch.setenv("GREENROOM_TEST_TOKEN", "from-env")
        api = OrchestrationAPI(runtime, port=0, auth_token="${GREENROOM_TEST_TOKEN}")
        async with api, aiohttp.ClientSession(api.url) as http:
            async with http.get(P, headers={"Authorization": "Bearer from-env"}) as response:
                assert response.status == 200
            async with http.get(P, headers={"Authorization": "Bearer ${GREENROOM_TEST_TOKEN}"}
                                ) as response:
                assert response.status == 401


@run_async
async def test_without_a_token_a_loopback_server_is_open(tmp_path: Path) -> None:
    async with serve(tmp_path, token=None) as s:
        assert (await s.call("GET", P))[0] == 200


@run_async
async def test_bodies_are_json_objects_of_at_most_one_mib(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        await s.runtime.add_process("a", ProcessConfig(model=echo))
        url = f"{P}/a/instructions"
        for raw in (b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b'{"instructions": NaN}'):
            async with s.http.patch(url, data=raw) as response:
                body = await response.json()
                assert (response.status, body["error"]["code"]) == (400, "INVALID_JSON"), raw
        big = b'{"instructions": "' + b"x" * (1024 * 1024) + b'"}'
        async with s.http.patch(url, data=big) as response:
            body = await response.json()
            assert (response.status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")

        async def chunks() -> AsyncIterator[bytes]:
            for part in (b'{"instructions": "', b"y" * (600 * 1024), b"y" * (600 * 1024), b'"}'):
                yield part

        async with s.http.patch(url, data=chunks()) as response:
            body = await response.json()
            assert (response.status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
        status, _ = await s.call("PATCH", url, {"instructions": "short and fine"})
        assert status == 200
        assert s.runtime.get_process("a").config.instructions == "short and fine"
        async with s.http.post(f"{P}/a/stop") as response:  # no body: the defaults
            assert response.status == 200


@run_async
async def test_an_unexpected_error_is_a_500_with_an_id_and_no_internals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(tmp_path) as s:
        def broken() -> dict[str, object]:
            raise RuntimeError("db password is hunter2")

        monkeypatch.setattr(s.runtime, "status", broken)
        with caplog.at_level(logging.ERROR, logger="greenroom.api"):
            status, body = await s.call("GET", "/api/v1/runtime/status")
        assert status == 500
        error = body["error"]
        assert error["code"] == "INTERNAL_ERROR"
        assert "hunter2" not in str(body)
        assert error["error_id"] in error["message"]
        assert error["error_id"] in caplog.text
        assert "hunter2" in caplog.text  # the operator's log has the traceback
