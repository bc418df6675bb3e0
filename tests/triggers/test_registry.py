"""The trigger registry, the shorthand constructors, stable ids and custom protocol triggers."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from trigger_support import RecordingHost

from greenroom.actors import ActorSystem
from greenroom.supervision import ChildRestarted
from greenroom.testing import TestProbe
from greenroom.triggers import (
    ActorTrigger,
    CronTrigger,
    EventTrigger,
    FileWatchTrigger,
    MessageTrigger,
    TriggerConfig,
    TriggerError,
    TriggerEvent,
    TriggerStats,
    TriggerSupervisor,
    WebhookTrigger,
    create_trigger,
    register_trigger_type,
    registered_trigger_types,
    trigger_child_spec,
    trigger_ids,
    unregister_trigger_type,
)
from greenroom.triggers import config as trigger_config
from greenroom.triggers.event_trigger import EventTriggerActor

BUILTINS = ["cron", "event", "file_watch", "message", "webhook"]


class QueueTrigger:
    """A custom trigger in the seed's protocol: events come from an asyncio queue."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.items: asyncio.Queue[Any] | None = None
        self.ready = threading.Event()
        self.started = 0
        self.stopped = 0
        self.fail_after = fail_after
        self.served = 0

    async def start(self) -> None:
        if self.items is None:  # kept across restarts, so nothing put meanwhile is lost
            self.items = asyncio.Queue()
        self.started += 1
        self.ready.set()

    async def stop(self) -> None:
        self.stopped += 1

    async def wait_for_next(self) -> TriggerEvent:
        assert self.items is not None
        if self.fail_after is not None and self.served == self.fail_after:
            self.served += 1  # fails once, after `fail_after` items
            msg = "source went away"
            raise ConnectionError(msg)
        item = await self.items.get()
        self.served += 1
        return TriggerEvent("own-id", "queue", payload=item)


@pytest.fixture
def queue_type() -> Iterator[list[QueueTrigger]]:
    made: list[QueueTrigger] = []

    def factory(config: TriggerConfig, *, event_bus: Any = None, broker: Any = None) -> Any:
        trigger = QueueTrigger(fail_after=config.custom_config.get("fail_after"))  # type: ignore[arg-type]
        made.append(trigger)
        return trigger

    register_trigger_type("queue", factory)
    yield made
    unregister_trigger_type("queue")


def test_builtins_are_registered_and_unknown_types_list_them() -> None:
    assert set(BUILTINS) <= set(registered_trigger_types())
    assert registered_trigger_types() == sorted(registered_trigger_types())
    with pytest.raises(TriggerError, match=r"unknown trigger type 'sqs'; registered: \['cron'"):
        create_trigger(TriggerConfig(type="sqs"))


def test_builtins_create_actor_triggers() -> None:
    trigger = create_trigger(EventTrigger("a.*"))
    assert isinstance(trigger, ActorTrigger)
    assert trigger.actor_class is EventTriggerActor


def test_registering_twice_needs_overwrite(queue_type: list[QueueTrigger]) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_trigger_type("queue", lambda config, **_: QueueTrigger())
    register_trigger_type("queue", lambda config, **_: QueueTrigger(), overwrite=True)
    assert isinstance(create_trigger(TriggerConfig(type="queue")), QueueTrigger)


@pytest.mark.parametrize("name", ["", "two words", "9lives", None])
def test_bad_type_names_are_refused(name: Any) -> None:
    with pytest.raises(ValueError, match="type_name"):
        register_trigger_type(name, lambda config, **_: QueueTrigger())
    assert name not in registered_trigger_types()


def test_unregister_is_a_no_op_for_unknown_types() -> None:
    assert unregister_trigger_type("never-registered") is False


def test_a_factory_must_return_a_trigger() -> None:
    register_trigger_type("broken", lambda config, **_: object())
    try:
        with pytest.raises(TriggerError, match="neither an ActorTrigger nor an object"):
            create_trigger(TriggerConfig(type="broken"))
    finally:
        unregister_trigger_type("broken")


def test_shorthand_constructors_build_trigger_configs() -> None:
    assert CronTrigger("*/5 * * * *").cron_expression == "*/5 * * * *"
    hook = WebhookTrigger("/alert", verify_hmac=True)
    assert (hook.type, hook.webhook_path, hook.verify_hmac) == ("webhook", "/alert", True)
    watch = FileWatchTrigger("/data/*.csv")
    assert (watch.watch_path, watch.watch_patterns) == ("/data", ["*.csv"])
    assert FileWatchTrigger("/data").watch_patterns == ["*"]
    assert EventTrigger("pipeline.*").event_type == "pipeline.*"
    message = MessageTrigger(topic="analysis.complete", from_agent="analyst")
    assert (message.topic, message.from_agent) == ("analysis.complete", "analyst")
    with pytest.raises(ValidationError, match="event_type"):
        EventTrigger("pipeline.#")


def test_trigger_ids_are_stable_masked_and_unique() -> None:
    a = WebhookTrigger("/a", hmac_secret="s3cr3t-1")
    b = WebhookTrigger("/a", hmac_secret="s3cr3t-2")  # differs only by its secret
    ids = trigger_ids([a, b, CronTrigger("@hourly"), TriggerConfig(type="x", trigger_id="mine")])
    assert ids[0].startswith("webhook-")
    assert len(ids[0]) == len("webhook-") + 10
    assert ids[1] == f"{ids[0]}-2"
    assert ids[2].startswith("cron-")
    assert ids[3] == "mine"
    assert trigger_ids([a])[0] == ids[0]  # the same config gives the same id
    assert "s3cr3t" not in a.fingerprint()
    with pytest.raises(ValueError, match="trigger_id: 'x' is used by two triggers"):
        trigger_ids([TriggerConfig(type="q", trigger_id="x"),
                     TriggerConfig(type="r", trigger_id="x")])


def test_a_fingerprint_is_remembered_per_config_object_while_it_lives() -> None:
    """Each process with this config derives its trigger id from the fingerprint: it is
    computed once per (frozen) config object, a changed copy has its own, and the memo does
    not keep configs alive."""
    cron = CronTrigger("*/5 * * * *")
    text = cron.fingerprint()
    assert cron.fingerprint() is text
    changed = cron.model_copy(update={"cron_expression": "*/7 * * * *"})
    assert '"*/7 * * * *"' in changed.fingerprint()
    assert changed.fingerprint() != text
    assert trigger_ids([CronTrigger("*/5 * * * *")]) == trigger_ids([cron])
    key = id(changed)
    del changed
    gc.collect()
    assert key not in trigger_config._FINGERPRINTS


def test_a_callable_filter_is_named_in_the_fingerprint() -> None:
    def only_big(event: TriggerEvent) -> bool:
        return bool(event.payload)

    config = EventTrigger("a.b", filter_expression=only_big)
    assert "callable:test_registry." in config.fingerprint()
    assert "filter_expression" not in {k for k, v in config.model_dump(mode="json").items() if v}


def test_a_custom_protocol_trigger_runs_inside_an_actor(
    actor_system: ActorSystem, queue_type: list[QueueTrigger]
) -> None:
    host = RecordingHost()
    config = TriggerConfig(type="queue", filter_expression=lambda event: event.payload != "skip")
    stats = TriggerStats("q1", "queue")
    supervisor = actor_system.spawn(TriggerSupervisor)
    supervisor.proxy().start_trigger(trigger_child_spec(config, "q1", host, stats)).get(timeout=5)
    trigger = queue_type[0]
    assert trigger.ready.wait(5)
    for item in ("a", "skip", "b"):
        actor_system.io.loop.call_soon_threadsafe(_put, trigger, item)
    first, second = host.next_event(), host.next_event()
    assert [first.payload, second.payload] == ["a", "b"]
    assert first.trigger_id == "q1"  # re-stamped with the stable id
    assert (stats.fired, stats.filtered) == (2, 1)
    supervisor.proxy().stop_trigger("q1").get(timeout=5)
    assert trigger.stopped == 1


def _put(trigger: QueueTrigger, item: Any) -> None:
    assert trigger.items is not None
    trigger.items.put_nowait(item)


def test_a_crashing_custom_trigger_is_restarted_by_its_supervisor(
    actor_system: ActorSystem, queue_type: list[QueueTrigger], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)
    host = RecordingHost()
    config = TriggerConfig(type="queue", custom_config={"fail_after": 1})
    stats = TriggerStats("q1", "queue")
    restarts = TestProbe(actor_system)
    actor_system.event_stream.subscribe(restarts.ref, ChildRestarted)
    supervisor = actor_system.spawn(TriggerSupervisor, backoff=None)
    supervisor.proxy().start_trigger(trigger_child_spec(config, "q1", host, stats)).get(timeout=5)
    trigger = queue_type[0]
    assert trigger.ready.wait(5)
    actor_system.io.loop.call_soon_threadsafe(_put, trigger, "first")
    assert host.next_event().payload == "first"
    restarts.expect_message_type(ChildRestarted)  # wait_for_next raised: the actor crashed
    assert stats.errors == 1
    actor_system.io.loop.call_soon_threadsafe(_put, trigger, "second")
    assert host.next_event().payload == "second"
    assert trigger.started == 2
    assert trigger.stopped == 1
