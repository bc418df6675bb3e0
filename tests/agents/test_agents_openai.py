"""OpenAIChatAgent against a real local aiohttp server that speaks Chat Completions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from greenroom.agents import (
    DEFAULT_OPENAI_BASE_URL,
    Invocation,
    ModelConfigError,
    ModelError,
    OpenAIChatAgent,
    build_messages,
    resolve_model,
)
from greenroom.runtime import ProcessConfig
from greenroom.testing.scripted import ScriptedAgent

KEY = "sk-test-0123456789abcdef"
Step = Callable[[dict[str, Any]], Awaitable[web.Response]]


def completion(content: str | None = None, tool_calls: list[Any] | None = None) -> web.Response:
    """A Chat Completions response with one choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return web.json_response(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "test-model",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "test_error", "code": None}}
    return web.json_response(body, status=status, headers=headers)


def reply(content: str) -> Step:
    async def step(body: dict[str, Any]) -> web.Response:
        return completion(content)

    return step


def respond(response: Callable[[], web.Response]) -> Step:
    async def step(body: dict[str, Any]) -> web.Response:
        return response()

    return step


class ChatServer:
    """POST /v1/chat/completions on 127.0.0.1: checks the key and request shape, then answers
    each request with the next scripted step. `release` is set on exit to free hanging steps.
    """

    def __init__(self, steps: list[Step]) -> None:
        self.steps = list(steps)
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.release = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization", ""))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token != KEY:
            return error(401, f"Incorrect API key provided: {token}.")
        body = await request.json()
        self.bodies.append(body)
        problem = self.shape_problem(body)
        if problem:
            return error(400, problem)
        return await self.steps.pop(0)(body)

    @staticmethod
    def shape_problem(body: dict[str, Any]) -> str | None:
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
            return "model and messages are required"
        if not all(isinstance(m, dict) and m.get("role") for m in body["messages"]):
            return "every message needs a role"
        for tool in body.get("tools", []):
            if tool.get("type") != "function" or "name" not in tool.get("function", {}):
                return "tools must be functions with a name"
        return None

    async def __aenter__(self) -> ChatServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v1"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        assert self.runner is not None
        await self.runner.cleanup()


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def fail(reason: str) -> str:
    """A tool that always fails."""
    raise RuntimeError(reason)


def invocation(*tools: Callable[..., Any]) -> Invocation:
    event = {"trigger_type": "manual", "trigger_id": "t1", "event_id": "e1", "payload": "go"}
    return Invocation.direct(build_messages(event, instructions="Be terse."), tools, event=event)


async def run(
    steps: list[Step], inv: Invocation, **options: Any
) -> tuple[str | BaseException, ChatServer, list[float]]:
    """Run the agent once against a fresh server; returns the reply (or error), server, sleeps."""
    sleeps: list[float] = []

    async def record(delay: float) -> None:
        sleeps.append(delay)

    async with ChatServer(steps) as server:
        options = {"api_key": KEY, "sleep": record, **options}
        async with OpenAIChatAgent("test-model", base_url=server.base_url, **options) as agent:
            try:
                outcome: str | BaseException = await agent(inv)
            except ModelError as exc:
                outcome = exc
    return outcome, server, sleeps


def test_plain_reply() -> None:
    inv = invocation()
    outcome, server, sleeps = asyncio.run(run([reply("Hello there.")], inv, temperature=0.2))
    assert outcome == "Hello there."
    [body] = server.bodies
    assert body["model"] == "test-model"
    assert body["temperature"] == 0.2
    assert body["messages"] == inv.messages
    assert "tools" not in body
    assert server.auth == [f"Bearer {KEY}"]
    assert inv.gate.llm_turns == 1  # type: ignore[attr-defined]
    assert sleeps == []


def test_tool_call_round_trip() -> None:
    async def ask_for_tool(body: dict[str, Any]) -> web.Response:
        return completion(None, [tool_call("call_abc", "add", '{"a": 2, "b": 3}')])

    async def check_tool_result(body: dict[str, Any]) -> web.Response:
        assistant, tool = body["messages"][-2:]
        if assistant.get("tool_calls", [{}])[0].get("id") != "call_abc":
            return error(400, "assistant message with the tool call is missing")
        if tool != {"role": "tool", "tool_call_id": "call_abc", "content": "5"}:
            return error(400, f"unexpected tool message {tool}")
        return completion("The sum is 5.")

    inv = invocation(add)
    outcome, server, _ = asyncio.run(run([ask_for_tool, check_tool_result], inv))
    assert outcome == "The sum is 5."
    offered = server.bodies[0]["tools"]
    assert offered[0]["type"] == "function"
    assert offered[0]["function"]["name"] == "add"
    assert offered[0]["function"]["description"] == "Add two integers."
    assert offered[0]["function"]["parameters"]["required"] == ["a", "b"]
    assert inv.gate.tool_calls == 1  # type: ignore[attr-defined]
    assert inv.gate.llm_turns == 2  # type: ignore[attr-defined]


def test_tool_calls_without_ids_and_with_object_arguments_work() -> None:
    async def ask_for_tool(body: dict[str, Any]) -> web.Response:
        call = {"type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 1}}}
        return completion(None, [call])

    async def answer(body: dict[str, Any]) -> web.Response:
        tool = body["messages"][-1]
        if body["messages"][-2]["tool_calls"][0]["id"] != tool["tool_call_id"]:
            return error(400, "tool_call_id does not match the assistant's call")
        return completion(f"{tool['tool_call_id']}={tool['content']}")

    outcome, _, _ = asyncio.run(run([ask_for_tool, answer], invocation(add)))
    assert outcome == "call_0_0=2"


def test_tool_errors_are_fed_back_and_the_loop_continues() -> None:
    async def ask_for_tools(body: dict[str, Any]) -> web.Response:
        calls = [
            tool_call("c1", "fail", '{"reason": "disk full"}'),
            tool_call("c2", "nope", "{}"),
            tool_call("c3", "add", "not json"),
        ]
        return completion(None, calls)

    async def answer(body: dict[str, Any]) -> web.Response:
        results = {m["tool_call_id"]: m["content"] for m in body["messages"] if m["role"] == "tool"}
        return completion(json.dumps(results))

    outcome, _, _ = asyncio.run(run([ask_for_tools, answer], invocation(add, fail)))
    assert isinstance(outcome, str)
    results = json.loads(outcome)
    assert "RuntimeError: disk full" in results["c1"]
    assert "unknown tool 'nope'" in results["c2"]
    assert "known tools: add, fail" in results["c2"]
    assert "not a JSON object" in results["c3"]


def test_429_with_retry_after_is_retried_then_succeeds() -> None:
    steps = [
        respond(lambda: error(429, "slow down", {"Retry-After": "2"})),
        respond(lambda: error(429, "slow down", {"Retry-After": "3600"})),
        reply("finally"),
    ]
    inv = invocation()
    outcome, server, sleeps = asyncio.run(run(steps, inv, max_backoff=10.0))
    assert outcome == "finally"
    assert sleeps == [2.0, 10.0]
    assert len(server.bodies) == 3
    assert inv.gate.llm_turns == 1  # type: ignore[attr-defined]


def test_repeated_500_gives_up_with_a_clear_error() -> None:
    steps = [respond(lambda: error(500, "the model crashed")) for _ in range(3)]
    outcome, server, sleeps = asyncio.run(run(steps, invocation(), max_retries=2, backoff=0.25))
    assert isinstance(outcome, ModelError)
    assert outcome.status == 500
    assert "answered 500: the model crashed" in str(outcome)
    assert "gave up after 3 attempts" in str(outcome)
    assert sleeps == [0.25, 0.5]
    assert len(server.bodies) == 3


def test_401_raises_model_error_with_the_server_message_but_not_the_key() -> None:
    outcome, server, sleeps = asyncio.run(run([], invocation(), api_key=f"{KEY}-wrong"))
    assert isinstance(outcome, ModelError)
    assert outcome.status == 401
    assert "Incorrect API key provided" in str(outcome)
    assert KEY not in str(outcome)
    assert KEY not in repr(outcome)
    assert len(server.auth) == 1
    assert sleeps == []


def test_a_request_that_never_answers_times_out() -> None:
    server_ref: list[ChatServer] = []

    async def hang(body: dict[str, Any]) -> web.Response:
        await server_ref[0].release.wait()
        return completion("too late")

    async def main() -> BaseException | str:
        async with ChatServer([hang]) as server:
            server_ref.append(server)
            agent = OpenAIChatAgent(
                "test-model", base_url=server.base_url, api_key=KEY, timeout=0.2, max_retries=0
            )
            async with agent:
                try:
                    return await agent(invocation())
                except ModelError as exc:
                    return exc

    outcome = asyncio.run(main())
    assert isinstance(outcome, ModelError)
    assert "within 0.2s" in str(outcome)
    assert isinstance(outcome.__cause__, TimeoutError)


def test_too_many_tool_rounds_is_an_error() -> None:
    async def again(body: dict[str, Any]) -> web.Response:
        return completion(None, [tool_call(f"c{len(body['messages'])}", "add", '{"a":1,"b":1}')])

    outcome, server, _ = asyncio.run(run([again, again, again], invocation(add), max_tool_rounds=2))
    assert isinstance(outcome, ModelError)
    assert "after 2 rounds" in str(outcome)
    assert len(server.bodies) == 3


def test_a_session_passed_in_is_left_open() -> None:
    async def main() -> bool:
        async with ChatServer([reply("ok")]) as server, aiohttp.ClientSession() as session:
            agent = OpenAIChatAgent(
                "test-model", base_url=server.base_url, api_key=KEY, session=session
            )
            assert await agent(invocation()) == "ok"
            await agent.aclose()
            return session.closed

    assert asyncio.run(main()) is False


def test_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelConfigError, match="OPENAI_API_KEY"):
        resolve_model("openai:gpt-4o-mini")
    with pytest.raises(ModelConfigError, match="OPENAI_API_KEY"):
        OpenAIChatAgent("gpt-4o-mini")


def test_resolve_model_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    agent = resolve_model(ProcessConfig(model="openai:gpt-4o-mini").model)
    assert isinstance(agent, OpenAIChatAgent)
    assert agent.model == "gpt-4o-mini"
    assert agent.base_url == DEFAULT_OPENAI_BASE_URL
    assert KEY not in repr(agent)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1/")
    local = resolve_model("openai:llama3")
    assert isinstance(local, OpenAIChatAgent)
    assert local.endpoint == "http://127.0.0.1:11434/v1/chat/completions"
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8000")
    with pytest.raises(ModelConfigError, match="http:// or https://"):
        resolve_model("openai:llama3")


def test_resolve_model_names_what_is_wrong() -> None:
    with pytest.raises(ModelConfigError, match=r"unknown provider 'acme'.*known providers: openai"):
        resolve_model("acme:big-model")
    with pytest.raises(ModelConfigError, match="not set"):
        resolve_model(None)
    with pytest.raises(ModelConfigError, match="no model name"):
        resolve_model("openai:")


def test_resolve_model_accepts_callables() -> None:
    async def agent(inv: Invocation) -> str:
        return "async"

    assert resolve_model(agent) is agent
    scripted = ScriptedAgent(["scripted"])
    assert resolve_model(scripted) is scripted
    threaded = resolve_model(lambda inv: "sync")
    wrong = resolve_model(lambda inv: 42)

    async def call(resolved: Callable[[Invocation], Awaitable[str]]) -> str:
        return await resolved(invocation())

    assert asyncio.run(call(threaded)) == "sync"
    with pytest.raises(TypeError, match="returned int, expected str"):
        asyncio.run(call(wrong))
