"""What an idle process does not pay for: a process without triggers gets its `TriggerSupervisor`
with its first trigger, the facade learns its children's handles from the supervisor's
constructor (`Supervisor(share_handles=...)`), and queues, handles and restart windows make their
buffers on first use. Each keeps the behaviour it had when everything was made up front."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from process_support import EventLog, eventually, run_async

from greenroom.actors import Actor, ActorSystem
from greenroom.agents.invocation import Invocation
from greenroom.runtime.config import ProcessConfig
from greenroom.runtime.process import AgentProcess
from greenroom.runtime.record import DEAD_EVENT_LIMIT, RunQueue
from greenroom.runtime.runtime import AgentRuntime
from greenroom.supervision import ChildSpec, Supervisor
from greenroom.supervision.handle import ChildHandle
from greenroom.supervision.policy import RestartIntensity
from greenroom.triggers import EventTrigger, TriggerConfig, TriggerEvent


async def ok(invocation: Invocation) -> str:
    """A no-op agent."""
    del invocation
    return "ok"


def cron(minutes: int = 5) -> TriggerConfig:
    return TriggerConfig(type="cron", cron_expression=f"*/{minutes} * * * *")


async def process_children(runtime: AgentRuntime, name: str) -> dict[str, dict[str, Any]]:
    """The children of a process's supervisor in the runtime's tree, by id (in order)."""
    tree = await runtime.supervision_tree()
    [process] = [node for node in tree["children"] if node["id"] == f"process-{name}"]
    return {node["id"]: node for node in process["children"]}


async def subscribers(runtime: AgentRuntime, count: int) -> None:
    """Wait until the runtime's bus has `count` subscriptions."""
    async def enough() -> None:
        while len(await runtime.event_bus.subscriptions()) < count:  # type: ignore[attr-defined]
            await asyncio.sleep(0.001)

    await asyncio.wait_for(enough(), 10)


# The lazy TriggerSupervisor --------------------------------------------------------------------


@run_async
async def test_a_process_without_triggers_starts_without_a_trigger_supervisor() -> None:
    async with AgentRuntime() as runtime:
        await runtime.add_process("idle", ProcessConfig(model=ok))
        await runtime.start_process("idle")
        kids = await process_children(runtime, "idle")
        assert list(kids) == ["process"]
        assert runtime.process_status("idle")["triggers"] == []
        report = await runtime.stop_process("idle")  # no trigger supervisor to stop: fine
        assert report["state"] == "stopped"


@run_async
async def test_a_process_with_triggers_has_its_trigger_supervisor_last_as_before() -> None:
    async with AgentRuntime() as runtime:
        await runtime.add_process("clock", ProcessConfig(model=ok, triggers=[cron()]))
        await runtime.start_process("clock")
        kids = await process_children(runtime, "clock")
        assert list(kids) == ["process", "triggers"]
        assert kids["triggers"]["actor"] == "TriggerSupervisor"
        [trigger] = runtime.process_status("clock")["triggers"]
        assert [node["id"] for node in kids["triggers"]["children"]] == [trigger["id"]]


@run_async
async def test_the_first_added_trigger_starts_the_trigger_supervisor_and_fires() -> None:
    async with AgentRuntime() as runtime:
        log = EventLog()
        runtime.add_listener(log)
        process = await runtime.add_process("clerk", ProcessConfig(model=ok))
        await runtime.start_process("clerk")
        before = len(await runtime.event_bus.subscriptions())  # type: ignore[attr-defined]
        trigger_id = await process.add_trigger(EventTrigger("orders.*"))
        kids = await process_children(runtime, "clerk")
        assert list(kids) == ["process", "triggers"]
        assert [node["id"] for node in kids["triggers"]["children"]] == [trigger_id]
        await subscribers(runtime, before + 1)
        await runtime.event_bus.emit("orders.new", {"id": 1}, source="shop")
        await log.wait_for("invocation.completed")
        await process.remove_trigger(trigger_id)
        kids = await process_children(runtime, "clerk")
        assert kids["triggers"]["children"] == []  # the supervisor stays, empty


@run_async
async def test_triggers_added_at_once_share_one_trigger_supervisor() -> None:
    async with AgentRuntime() as runtime:
        process = await runtime.add_process("busy", ProcessConfig(model=ok))
        await runtime.start_process("busy")
        ids = await asyncio.gather(*(process.add_trigger(cron(m)) for m in (2, 3, 4)))
        kids = await process_children(runtime, "busy")
        assert list(kids) == ["process", "triggers"]
        assert sorted(node["id"] for node in kids["triggers"]["children"]) == sorted(ids)


@run_async
async def test_a_trigger_added_while_stopped_is_started_with_the_process() -> None:
    async with AgentRuntime() as runtime:
        process = await runtime.add_process("later", ProcessConfig(model=ok))
        await runtime.start_process("later")
        await runtime.stop_process("later")
        await runtime.remove_process("later")  # a fresh supervisor tree on the next start
        process = await runtime.add_process("later", ProcessConfig(model=ok))
        trigger_id = await process.add_trigger(cron())
        await runtime.start_process("later")
        kids = await process_children(runtime, "later")
        assert [node["id"] for node in kids["triggers"]["children"]] == [trigger_id]


@run_async
async def test_a_process_on_its_own_system_adds_its_trigger_supervisor_too() -> None:
    async with AgentProcess("solo", ProcessConfig(model=ok)) as process:
        assert process._trigger_supervisor() is None
        trigger_id = await process.add_trigger(cron())
        supervisor = process._trigger_supervisor()
        assert supervisor is not None
        assert await supervisor.call("running_triggers") == [trigger_id]
        assert [t["id"] for t in process.list_triggers()] == [trigger_id]


# Handles shared by the supervisor's constructor -------------------------------------------------


class Echo(Actor):
    """Answers every message with itself."""

    def on_receive(self, message: Any) -> Any:
        return message


def test_share_handles_gives_each_initial_childs_stable_handle_once() -> None:
    shared: list[dict[str, ChildHandle]] = []
    with ActorSystem(name="share") as system:
        sup = system.spawn(Supervisor, name="sup", share_handles=shared.append, children=[
            ChildSpec("a", Echo), ChildSpec("b", Echo)])
        assert len(shared) == 1
        handles = shared[0]
        assert list(handles) == ["a", "b"]
        for child_id, handle in handles.items():
            assert handle is sup.call("child_ref", child_id).get(timeout=10)
            assert handle.ask(child_id, timeout=10) == child_id
        sup.call("start_child", ChildSpec("c", Echo)).get(timeout=10)
        assert len(shared) == 1  # only the initial children, only once


def test_a_supervisor_that_fails_to_start_shares_handles_that_are_then_gone() -> None:
    class Broken(Actor):
        def on_start(self) -> None:
            raise RuntimeError("no")

    shared: list[dict[str, ChildHandle]] = []
    with ActorSystem(name="share-fail") as system, pytest.raises(Exception, match="no"):
        system.spawn(Supervisor, share_handles=shared.append, children=[ChildSpec("x", Broken)])
    [handles] = shared
    assert not handles["x"].is_alive()


# Buffers made on first use ----------------------------------------------------------------------


def event(n: int) -> TriggerEvent:
    return TriggerEvent(trigger_id="t", trigger_type="manual", payload={"n": n})


def test_an_unused_run_queue_behaves_as_an_empty_one() -> None:
    queue = RunQueue(2)
    assert (len(queue), queue.full(), queue.events(), queue.take()) == (0, False, [], None)
    assert queue.remove("nope") is None
    assert queue.bury_all("stopped") == []
    assert list(queue.dead) == []
    assert queue.dead.maxlen == DEAD_EVENT_LIMIT
    queue.requeue_first([])
    assert len(queue) == 0


def test_a_run_queue_keeps_order_refuses_overflow_and_takes_a_new_dead_deque() -> None:
    queue = RunQueue(2)
    first, second, third = event(1), event(2), event(3)
    assert queue.offer(first)
    assert queue.offer(second)
    assert not queue.offer(third)
    assert [d.event for d in queue.dead] == [third]
    assert queue.take() is first
    queue.requeue_first([first])
    assert queue.remove(second.event_id) is second
    assert queue.events() == [first]
    queue.dead = type(queue.dead)([], maxlen=DEAD_EVENT_LIMIT)  # as clearing by id does
    assert list(queue.dead) == []
    assert queue.dead_count == 1


def test_a_restart_window_counts_nothing_until_the_first_restart() -> None:
    window = RestartIntensity(1, 10.0)
    assert window.recent == 0
    assert window.record(0.0)
    assert not window.record(1.0)
    assert window.recent == 2
    assert window.record(20.0)  # the old ones slid out
    assert window.recent == 1


def test_a_handle_holds_in_order_until_attached_and_makes_its_urn_on_demand() -> None:
    with ActorSystem(name="hold") as system:
        sup = system.spawn(Supervisor, name="sup", children=[ChildSpec("echo", Echo)])
        handle: ChildHandle = sup.call("child_ref", "echo").get(timeout=10)
        assert handle.empty()
        urn = handle.actor_urn
        assert urn.startswith("urn:uuid:")
        assert handle.actor_urn == urn
        handle.restarting()
        answers = [handle.ask(n, block=False) for n in range(3)]
        assert not handle.empty()
        assert handle.current is None
        ref = sup.call("which_children").get(timeout=10)[0][1]
        handle.attach(ref)
        assert handle.empty()
        assert [answer.get(timeout=10) for answer in answers] == [0, 1, 2]


@run_async
async def test_many_idle_processes_start_and_stop_cleanly() -> None:
    async with AgentRuntime() as runtime:
        names = [f"p{i}" for i in range(20)]
        for name in names:
            await runtime.add_process(name, ProcessConfig(model=ok))
        await runtime.start_all()
        assert runtime.status()["running"] == len(names)
        await runtime.stop_all()
        await eventually(lambda: all(runtime.process_status(n)["state"] == "stopped"
                                     for n in names))


def test_concurrent_add_trigger_calls_with_one_config_get_distinct_ids() -> None:
    async def main() -> None:
        async with AgentRuntime() as runtime:
            process = await runtime.add_process("p", ProcessConfig(model=ok))
            await runtime.start_process("p")
            config = TriggerConfig(type="cron", cron_expression="*/5 * * * *")
            ids = await asyncio.gather(*(process.add_trigger(config) for _ in range(3)))
            assert len(set(ids)) == 3
            assert sorted(t["id"] for t in process.list_triggers()) == sorted(ids)

    asyncio.run(main())
