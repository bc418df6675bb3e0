"""One route table drives the router and the OpenAPI document: the three agree, every operation
is described with its bodies, responses and statuses; the shutdown route exists only with an
`on_shutdown` callback, answers 202 and then calls it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from api_support import echo, run_async, serve

from greenroom.api import OrchestrationAPI
from greenroom.runtime import AgentRuntime, ProcessConfig


def _router_routes(api: OrchestrationAPI) -> set[tuple[str, str]]:
    app = api.application()
    return {(route.method, route.resource.canonical) for route in app.router.routes()
            if route.resource is not None and route.method != "HEAD"}


@run_async
async def test_the_router_the_table_and_the_document_agree(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        status, document = await s.call("GET", "/api/v1/openapi.json")
        assert status == 200
        assert document["openapi"].startswith("3.1")
        table = {(route.method, route.full_path) for route in s.api.routes}
        described = {(method.upper(), path) for path, operations in document["paths"].items()
                     for method in operations}
        assert table == described == _router_routes(s.api)
        assert len(table) == len(s.api.routes)  # no route twice
        # the reference API's 40 routes, less shutdown (no callback), plus greenroom's 6 and
        # the document itself
        assert len(table) == 39 + 6 + 1
        ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
        assert len(ids) == len(set(ids))


@run_async
async def test_every_operation_describes_its_bodies_and_statuses(tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        _, document = await s.call("GET", "/api/v1/openapi.json")
        schemas = document["components"]["schemas"]
        for route in s.api.routes:
            operation = document["paths"][route.full_path][route.method.lower()]
            responses = operation["responses"]
            assert str(route.status) in responses
            assert {"421", "500"} <= set(responses)
            assert ("401" in responses) is not route.public
            for status, response in responses.items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse")
            if route.body is not None:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[1] in schemas
                assert {"400", "413", "422"} <= set(responses)
            if "{name}" in route.path:
                assert "404" in responses
                assert operation["parameters"][0]["name"] == "name"
        health = document["paths"]["/api/v1/health"]["get"]
        assert health["security"] == []
        deploy = schemas[document["paths"]["/api/v1/processes"]["post"]["requestBody"][
            "content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        assert set(deploy["required"]) == {"name"}
        journal = document["paths"]["/api/v1/processes/{name}/journal"]["get"]
        limit = next(p for p in journal["parameters"] if p["name"] == "limit")
        assert limit["schema"]["maximum"] == 500
        assert limit["in"] == "query"


@run_async
async def test_shutdown_exists_only_with_a_callback_and_calls_it_after_202(
        tmp_path: Path) -> None:
    async with serve(tmp_path) as s:
        assert all(route.path != "/runtime/shutdown" for route in s.api.routes)
        assert (await s.call("POST", "/api/v1/runtime/shutdown"))[0] == 404
    asked: asyncio.Queue[float | None] = asyncio.Queue()

    async def on_shutdown(drain: float | None) -> None:
        asked.put_nowait(drain)

    async with serve(tmp_path, on_shutdown=on_shutdown) as s:
        await s.runtime.add_process("a", ProcessConfig(model=echo))
        assert await s.call("POST", "/api/v1/runtime/shutdown", {"drain_timeout": 2.5}) == (
            202, {"status": "shutting_down", "drain_timeout": 2.5})
        assert await asyncio.wait_for(asked.get(), 10) == 2.5
        status, body = await s.call("POST", "/api/v1/runtime/shutdown", {"drain_timeout": 4000})
        assert (status, body["error"]["field"]) == (422, "drain_timeout")
        assert asked.empty()


@run_async
async def test_a_port_in_use_is_an_oserror_and_stop_is_idempotent() -> None:
    async with AgentRuntime() as runtime:
        first = OrchestrationAPI(runtime, port=0)
        await first.start()
        second = OrchestrationAPI(runtime, port=first.port)
        try:
            with pytest.raises(OSError, match="in use"):
                await second.start()
            assert not second.running
        finally:
            await first.stop()
            await first.stop()
        assert not first.running
