"""`OrchestrationClient` against a real `OrchestrationAPI` over HTTP on loopback: every method
at least once, and the typed errors it raises."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from cli_agents import ECHO, STUCK

from greenroom.api import OrchestrationAPI
from greenroom.api import client_errors as errors
from greenroom.api.client import OrchestrationClient, ServerSentEvent
from greenroom.runtime import (
    AgentRuntime,
    BudgetConfig,
    ContextConfig,
    HealthConfig,
    InboxConfig,
    JournalConfig,
    MissionConfig,
    ProcessConfig,
    SecretScopeConfig,
)

TOKEN = "client-test-token"
WAIT = 30.0
"""Seconds a test waits for something the runtime does asynchronously."""


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body in a fresh loop, bounded so a hang fails instead of stalling."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 90))

    return wrapper


@contextlib.asynccontextmanager
async def serving(**processes: ProcessConfig) -> AsyncIterator[OrchestrationClient]:
    """A runtime with `processes` started, its API on a free loopback port, and a client."""
    async with AgentRuntime() as runtime:
        for name, config in processes.items():
            await runtime.add_process(name, config)
        await runtime.start_all()
        async with OrchestrationAPI(runtime, port=0, auth_token=TOKEN) as api, \
                OrchestrationClient(api.url, token=TOKEN, timeout=WAIT) as client:
            yield client


def echo_config(**fields: Any) -> ProcessConfig:
    return ProcessConfig(model=f"python:{ECHO}", inbox=InboxConfig(enabled=True), **fields)


async def wait_until(probe: Callable[[], Coroutine[Any, Any, bool]], what: str) -> None:
    """Poll `probe` until it is true; fail after `WAIT` seconds."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@run_async
async def test_runtime_routes():
    async with serving(echo=echo_config()) as client:
        assert await client.health() == {"status": "healthy", "process_count": 1}
        status = await client.runtime_status()
        assert status["process_count"] == 1
        assert status["processes"]["echo"]["state"] == "running"
        listed = await client.list_processes()
        assert listed["total"] == 1
        assert [p["name"] for p in listed["processes"]] == ["echo"]
        tree = await client.supervision()
        assert tree["children"]
        document = await client.openapi()
        assert "/api/v1/processes/{name}/events" in document["paths"]
        stopped = await client.stop_all(drain_timeout=0)
        assert stopped["status"] == "stopped"
        assert (await client.get_process("echo"))["state"] == "stopped"
        assert (await client.start_all())["status"] == "started"
        assert (await client.get_process("echo"))["state"] == "running"


@run_async
async def test_a_client_without_the_token_reaches_only_health():
    async with serving() as client:
        async with OrchestrationClient(client.base_url) as anonymous:
            assert (await anonymous.health())["status"] == "healthy"
            with pytest.raises(errors.Unauthorized) as caught:
                await anonymous.runtime_status()
        assert caught.value.status == 401
        async with OrchestrationClient(client.base_url, token="wrong") as wrong:
            with pytest.raises(errors.Unauthorized):
                await wrong.list_processes()


@run_async
async def test_process_lifecycle_routes():
    async with serving() as client:
        created = await client.deploy("worker", {"model": f"python:{ECHO}"})
        assert (created["name"], created["state"]) == ("worker", "created")
        with pytest.raises(errors.ProcessExists):
            await client.deploy("worker", {"model": f"python:{ECHO}"})
        with pytest.raises(errors.ValidationFailed) as caught:
            await client.deploy("other", {"model": f"python:{ECHO}", "concurency": 2})
        assert "concurency" in caught.value.message
        assert (await client.start_process("worker"))["state"] == "running"
        with pytest.raises(errors.InvalidState):
            await client.start_process("worker")
        assert (await client.suspend_process("worker"))["state"] == "suspended"
        assert (await client.resume_process("worker"))["state"] == "running"
        assert (await client.restart_process("worker"))["state"] == "running"
        assert (await client.get_metrics("worker"))["name"] == "worker"
        stopped = await client.stop_process("worker", drain_timeout=0)
        assert stopped["state"] == "stopped"
        started = await client.deploy("starter", {"model": f"python:{ECHO}"}, start=True)
        assert started["state"] == "running"
        assert await client.remove_process("worker") is None
        with pytest.raises(errors.ProcessNotFound) as missing:
            await client.get_process("worker")
        assert missing.value.code == "PROCESS_NOT_FOUND"


@run_async
async def test_inbox_events_and_journal_routes():
    journal = JournalConfig(level="full", backend="memory")
    async with serving(echo=echo_config(journal=journal), quiet=ProcessConfig(
            model=f"python:{ECHO}")) as client:
        queued = await client.send_message("echo", "prefer short answers", priority="high",
                                           sender_id="ops")
        assert queued["status"] == "queued"
        inbox = await client.get_inbox("echo")
        assert inbox["enabled"] is True
        assert await client.clear_inbox("echo") is None
        assert (await client.get_inbox("echo"))["pending_messages"] == 0
        answer = await client.ask("echo", "ping?", timeout=WAIT)
        assert (answer["status"], answer["response"]) == ("answered", "pong")
        with pytest.raises(errors.FeatureDisabled) as disabled:
            await client.send_message("quiet", "hello")
        assert disabled.value.feature == "inbox"

        first = await client.inject_event("echo", {"n": 1}, idempotency_key="order-1")
        assert first["status"] == "injected"
        again = await client.inject_event("echo", {"n": 1}, idempotency_key="order-1")
        assert again["status"] == "duplicate"

        async def handled() -> bool:
            entries = (await client.get_journal("echo", entry_type="invocation_result",
                                                limit=500))["entries"]
            return any(entry["data"]["event_id"] == first["event_id"] for entry in entries)

        await wait_until(handled, "the injected event's invocation_result")
        recent = await client.get_journal("echo", limit=2)
        assert recent["count"] == len(recent["entries"]) == 2


@run_async
async def test_event_stream_delivers_runtime_events():
    async with serving(echo=echo_config()) as client:
        received: list[ServerSentEvent] = []

        async def listen() -> None:
            async for event in client.events(types=["invocation.*"]):
                received.append(event)
                return

        listener = asyncio.create_task(listen())
        deadline = asyncio.get_running_loop().time() + WAIT
        while not listener.done():  # the stream subscribes when its request arrives: retry
            assert asyncio.get_running_loop().time() < deadline, "no event streamed"
            await client.inject_event("echo", {"ping": True})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(listener), 0.5)
        await listener
        assert received[0].event == "invocation.completed"
        assert received[0].data["data"]["process"] == "echo"
        assert received[0].id is not None


@run_async
async def test_trigger_and_dead_letter_routes():
    stuck = ProcessConfig(model=f"python:{STUCK}", drain_timeout=0)
    async with serving(echo=echo_config(), stuck=stuck) as c:
        added = await c.add_trigger("echo", {"type": "cron", "cron_expression": "0 0 1 1 *"})
        trigger_id = added["trigger_id"]
        listed = await c.list_triggers("echo")
        assert [t["id"] for t in listed["triggers"]] == [trigger_id]
        assert (await c.remove_trigger("echo", trigger_id))["trigger_removed"] == trigger_id
        with pytest.raises(errors.TriggerNotFound):
            await c.remove_trigger("echo", trigger_id)

        await c.inject_event("stuck", {"first": True})  # runs for ever
        await c.inject_event("stuck", {"second": True})  # waits in the queue
        await c.stop_process("stuck", drain_timeout=0)
        letters = (await c.list_dead_letters("stuck"))["dead_letters"]
        [second] = [letter for letter in letters if letter["payload"] == {"second": True}]
        await c.start_process("stuck")
        with pytest.raises(errors.EventNotFound):
            await c.redeliver_dead_letters("stuck", ["no-such-event"])
        redelivered = await c.redeliver_dead_letters("stuck", [second["event_id"]])
        assert redelivered["redelivered"] == 1
        assert (await c.clear_dead_letters("stuck"))["cleared"] == len(letters) - 1


@run_async
async def test_governance_and_context_routes():
    governed = echo_config(
        budget=BudgetConfig(enabled=True, max_runs_per_day=100),
        health=HealthConfig(enabled=True),
        mission=MissionConfig(enabled=True, objective="keep billing up",
                              success_criteria="no open incident", eval_every=100),
        secrets=SecretScopeConfig(enabled=True, secrets={"api_key": "s3cret-value-1"}),
        context=ContextConfig(writable_keys=["mode"]),
    )
    async with serving(ops=governed) as client:
        changed = await client.update_instructions("ops", "Answer in one line.")
        assert changed["instructions_updated"] is True
        assert (await client.update_budget("ops", max_runs_per_day=50))["budget_updated"]
        with pytest.raises(errors.ValidationFailed) as caught:
            await client.update_budget("ops", max_runs_per_dya=5)
        assert "max_runs_per_dya" in caught.value.message
        assert (await client.update_health("ops", stuck_threshold=4))["health_updated"]
        assert (await client.update_mission("ops", eval_every=50))["mission_updated"]

        secrets = await client.list_secrets("ops")
        assert [s["name"] for s in secrets["secrets"]] == ["api_key"]
        assert "s3cret-value-1" not in str(secrets)
        rotated = await client.rotate_secret("ops", "api_key", "s3cret-value-2", ttl=600)
        assert rotated["secret_rotated"] == "api_key"
        with pytest.raises(errors.SecretNotFound):
            await client.rotate_secret("ops", "no_such_secret", "x")
        assert (await client.revoke_secrets("ops"))["secrets_revoked"] is True

        assert (await client.get_mission("ops"))["mission"]["state"] == "active"
        assert (await client.pause_mission("ops"))["mission_paused"] is True
        assert (await client.resume_mission("ops"))["mission_resumed"] is True
        failed = await client.fail_mission("ops", reason="operator gave up")
        assert failed["mission_failed"] is True
        with pytest.raises(errors.MissionStateConflict):
            await client.pause_mission("ops")

        assert (await client.get_anomalies("ops"))["count"] == 0
        assert (await client.clear_anomalies("ops"))["anomalies_cleared"] == 0

        assert (await client.update_context("ops", {"mode": "calm"}))["updated_keys"] == [
            "mode"]
        assert (await client.get_context("ops"))["state"]["mode"] == "calm"
        with pytest.raises(errors.WriteDenied):
            await client.update_context("ops", {"owner": "me"})


@run_async
async def test_timeouts_and_oversized_bodies_are_typed():
    stuck = ProcessConfig(model=f"python:{STUCK}", inbox=InboxConfig(enabled=True))
    async with serving(stuck=stuck) as client:
        with pytest.raises(errors.AskTimeout) as unanswered:
            await client.ask("stuck", "are you there?", timeout=0.5)
        assert isinstance(unanswered.value, TimeoutError)
        with pytest.raises(errors.PayloadTooLarge):
            await client.send_message("stuck", "x" * (2 << 20))
        async with OrchestrationClient(client.base_url, token=TOKEN, timeout=0.3) as hasty:
            with pytest.raises(errors.OrchestrationTimeout) as slow:
                await hasty.stop_process("stuck", drain_timeout=2)  # the stuck run drains 2 s
        assert "/processes/stuck/stop" in slow.value.url
