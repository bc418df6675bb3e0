"""Starting and stopping a supervision tree, the proxy API, auto_shutdown and argument checks."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pykka
import pytest
from sup_support import (
    CRASH,
    STOP,
    Echo,
    PlainWorker,
    RecordingSupervisor,
    Worker,
    child,
    drain,
    echo,
    new_probe,
    refs,
    which,
    worker,
)

from greenroom.actors.actor import Actor
from greenroom.actors.errors import ActorKilled, ActorStartError
from greenroom.actors.messages import ActorFailed
from greenroom.actors.ref import ActorRef
from greenroom.actors.system import ActorSystem
from greenroom.supervision import (
    Backoff,
    ChildFailed,
    ChildSpec,
    ChildStarted,
    ChildStopped,
    Supervisor,
)
from greenroom.testing.probe import TestProbe


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The crashes in these tests are on purpose."""
    caplog.set_level(logging.CRITICAL)


def spawn_sup(
    system: ActorSystem, dispatcher: str, *specs: ChildSpec, **kwargs: Any
) -> ActorRef[Any]:
    kwargs.setdefault("name", "sup")
    return system.spawn(Supervisor, children=list(specs), dispatcher=dispatcher, **kwargs)


# Starting ----------------------------------------------------------------------------------


def test_children_start_in_list_order(actor_system: ActorSystem, dispatcher: str) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildStarted)
    sup = spawn_sup(actor_system, dispatcher,
                    *(worker(log, i, dispatcher=dispatcher) for i in ("c", "a", "b")))
    # spawn returns once every child's on_start has run.
    assert drain(log) == [("start", "c"), ("start", "a"), ("start", "b")]
    started = drain(events)
    assert [(e.supervisor, e.child_id) for e in started] == [
        ("/sup", "c"), ("/sup", "a"), ("/sup", "b")
    ]
    running = refs(sup)
    assert [e.ref for e in started] == [running["c"], running["a"], running["b"]]
    assert [r.path for r in running.values() if r is not None] == ["/sup/c", "/sup/a", "/sup/b"]


def test_start_failure_stops_started_children_and_names_the_child(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildStarted, ChildStopped)
    broken = threading.Event()
    broken.set()
    specs = [
        worker(log, "a", dispatcher=dispatcher),
        ChildSpec("b", Worker, (log.ref, "b", broken), dispatcher=dispatcher),
        worker(log, "c", dispatcher=dispatcher),
    ]
    with pytest.raises(ActorStartError, match="child 'b' failed to start") as info:
        spawn_sup(actor_system, dispatcher, *specs)
    assert "b cannot start" in str(info.value)
    assert drain(log) == [("start", "a"), ("stop", "a")]  # c was never started
    assert [(type(e), e.child_id) for e in drain(events)] == [
        (ChildStarted, "a"), (ChildStopped, "a")
    ]
    assert actor_system.lookup("/sup") is None
    assert actor_system.lookup("/sup/a") is None
    assert actor_system.actor_count() == 2  # only the probes are left
    # The name is free again.
    broken.clear()
    sup = spawn_sup(actor_system, dispatcher, *specs)
    assert [cid for cid, _ in which(sup)] == ["a", "b", "c"]


def test_child_that_cannot_be_constructed_fails_the_start_naming_the_child(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    bad = ChildSpec("bad", Worker, (), dispatcher=dispatcher)  # Worker needs (log, id)
    with pytest.raises(ActorStartError, match="bad") as info:
        spawn_sup(actor_system, dispatcher, worker(log, "a", dispatcher=dispatcher), bad)
    cause = info.value.__cause__
    assert isinstance(cause, ActorStartError)
    assert str(cause).startswith("/sup: child 'bad' failed to start: TypeError(")
    assert drain(log) == [("start", "a"), ("stop", "a")]
    assert actor_system.lookup("/sup") is None


# Stopping ----------------------------------------------------------------------------------


def test_shutdown_goes_in_reverse_order_children_before_parents(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildStopped)
    inner = ChildSpec(
        "inner", RecordingSupervisor, (log.ref, "inner"), dispatcher=dispatcher,
        kwargs={"children": [worker(log, "x", dispatcher=dispatcher),
                             worker(log, "y", dispatcher=dispatcher)]},
    )
    outer = actor_system.spawn(
        RecordingSupervisor, log.ref, "outer", name="outer", dispatcher=dispatcher,
        children=[worker(log, "a", dispatcher=dispatcher), inner,
                  worker(log, "b", dispatcher=dispatcher)],
    )
    assert drain(log) == [("start", "a"), ("start", "x"), ("start", "y"), ("start", "b")]
    assert actor_system.stop(outer) is True
    assert drain(log) == [("stop", "b"), ("stop", "y"), ("stop", "x"), ("stop", "inner"),
                          ("stop", "a"), ("stop", "outer")]
    assert [(e.supervisor, e.child_id) for e in drain(events)] == [
        ("/outer", "b"), ("/outer/inner", "y"), ("/outer/inner", "x"), ("/outer", "inner"),
        ("/outer", "a"),
    ]
    assert actor_system.lookup("/outer/inner/x") is None


def test_child_ignoring_stop_is_killed_after_its_shutdown_time(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildStopped, ActorFailed)
    release = threading.Event()
    sup = spawn_sup(
        actor_system, dispatcher, worker(log, "calm", dispatcher=dispatcher),
        worker(log, "stubborn", dispatcher=dispatcher, shutdown=0.2),
    )
    try:
        assert log.receive_messages(2) == [("start", "calm"), ("start", "stubborn")]
        stubborn = refs(sup)["stubborn"]
        assert stubborn is not None
        stubborn.tell(("block", release))
        log.expect_message(("blocked", "stubborn"))
        began = time.monotonic()
        sup.proxy().terminate_child("stubborn").get(timeout=10)
        waited = time.monotonic() - began
        assert 0.19 <= waited < 4.0  # its own 0.2 s, not the 5 s default
        failed = events.expect_message_type(ActorFailed)
        assert failed.path == "/sup/stubborn"
        assert isinstance(failed.reason, ActorKilled)
        assert events.expect_message_type(ChildStopped).child_id == "stubborn"
        assert not stubborn.is_alive()
        assert actor_system.lookup("/sup/stubborn") is None
        assert which(sup) == [("calm", "running"), ("stubborn", "stopped")]
        assert drain(log) == []  # killed: no on_stop
    finally:
        release.set()


def test_stopping_the_supervisor_kills_a_stubborn_child_and_stops_the_rest(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    release = threading.Event()
    sup = spawn_sup(
        actor_system, dispatcher, worker(log, "first", dispatcher=dispatcher),
        worker(log, "stubborn", dispatcher=dispatcher, shutdown=0.2),
    )
    try:
        assert log.receive_messages(2) == [("start", "first"), ("start", "stubborn")]
        handle = child(sup, "stubborn")
        handle.tell(("block", release))
        log.expect_message(("blocked", "stubborn"))
        began = time.monotonic()
        assert actor_system.stop(sup, timeout=10) is True
        assert time.monotonic() - began >= 0.19
        assert drain(log) == [("stop", "first")]  # after the kill, before the supervisor
        assert actor_system.lookup("/sup") is None
        assert actor_system.lookup("/sup/stubborn") is None
    finally:
        release.set()


# Plain pykka actors ------------------------------------------------------------------------


def test_plain_pykka_actor_is_supervised_and_restarted(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildFailed, ChildStopped, ChildStarted)
    spec = ChildSpec("plain", PlainWorker, (log.ref, "plain"))
    assert not issubclass(PlainWorker, Actor)  # a plain pykka actor
    sup = spawn_sup(actor_system, dispatcher, spec)
    log.expect_message(("start", "plain"))
    assert events.expect_message_type(ChildStarted).child_id == "plain"
    handle = child(sup, "plain")
    first: Echo = echo(handle, 1)
    assert first.child_id == "plain"
    assert first.ref is actor_system.lookup("/sup/plain")

    handle.tell(CRASH)
    failed = events.expect_message_type(ChildFailed)
    assert isinstance(failed.reason, RuntimeError)
    log.expect_message(("start", "plain"))
    second: Echo = echo(handle, 2)
    assert second.ref is not first.ref
    assert not first.ref.is_alive()

    handle.tell(STOP)  # a normal exit: permanent, so restarted too
    log.expect_message(("stop", "plain"))
    log.expect_message(("start", "plain"))
    third: Echo = echo(handle, 3)
    assert third.ref is not second.ref
    assert sup.proxy().count_children().get(timeout=10) == {
        "specs": 1, "active": 1, "supervisors": 0, "workers": 1
    }
    assert pykka.ActorRegistry.get_all() == []  # not registered as a free pykka actor


# Inspecting and changing children ------------------------------------------------------------


def test_which_children_and_count_children(actor_system: ActorSystem, dispatcher: str) -> None:
    log = TestProbe(actor_system)
    inner = ChildSpec("inner", Supervisor, dispatcher=dispatcher,
                      kwargs={"children": [worker(log, "x", dispatcher=dispatcher)]})
    sup = spawn_sup(
        actor_system, dispatcher, worker(log, "a", dispatcher=dispatcher), inner,
        worker(log, "t", dispatcher=dispatcher, restart="temporary"),
    )
    proxy = sup.proxy()
    children = proxy.which_children().get(timeout=10)
    assert [(cid, ref.path, status) for cid, ref, status in children] == [
        ("a", "/sup/a", "running"), ("inner", "/sup/inner", "running"), ("t", "/sup/t", "running")
    ]
    assert all(ref.is_alive() for _, ref, _ in children)
    assert proxy.count_children().get(timeout=10) == {
        "specs": 3, "active": 3, "supervisors": 1, "workers": 2
    }

    proxy.terminate_child("a").get(timeout=10)
    assert proxy.which_children().get(timeout=10)[0] == ("a", None, "stopped")
    assert proxy.count_children().get(timeout=10) == {
        "specs": 3, "active": 2, "supervisors": 1, "workers": 2
    }
    proxy.terminate_child("t").get(timeout=10)  # a temporary child's spec goes with it
    assert which(sup) == [("a", "stopped"), ("inner", "running")]
    proxy.delete_child("a").get(timeout=10)
    assert proxy.count_children().get(timeout=10) == {
        "specs": 1, "active": 1, "supervisors": 1, "workers": 0
    }
    assert drain(log) == [("start", "a"), ("start", "x"), ("start", "t"),
                          ("stop", "a"), ("stop", "t")]


def test_start_restart_terminate_and_delete_child(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    events = new_probe(actor_system, ChildStarted, ChildStopped)
    sup = spawn_sup(actor_system, dispatcher, worker(log, "a", dispatcher=dispatcher))
    proxy = sup.proxy()
    log.expect_message(("start", "a"))
    events.expect_message_type(ChildStarted)

    handle = proxy.start_child(worker(log, "b", dispatcher=dispatcher)).get(timeout=10)
    log.expect_message(("start", "b"))
    started = events.expect_message_type(ChildStarted)
    assert started.child_id == "b"
    assert started.ref is actor_system.lookup("/sup/b")
    assert which(sup) == [("a", "running"), ("b", "running")]
    assert echo(handle, 1).ref is started.ref

    with pytest.raises(ValueError, match="'b' is already in use"):
        proxy.start_child(worker(log, "b")).get(timeout=10)
    with pytest.raises(ValueError, match="'b' is running"):
        proxy.restart_child("b").get(timeout=10)
    with pytest.raises(ValueError, match="'b' is running"):
        proxy.delete_child("b").get(timeout=10)

    proxy.terminate_child("b").get(timeout=10)
    log.expect_message(("stop", "b"))
    assert events.expect_message_type(ChildStopped).child_id == "b"
    assert which(sup) == [("a", "running"), ("b", "stopped")]

    assert proxy.restart_child("b").get(timeout=10) is handle
    log.expect_message(("start", "b"))
    restarted = events.expect_message_type(ChildStarted)
    assert echo(handle, 2).ref is restarted.ref is not started.ref

    proxy.terminate_child("b").get(timeout=10)
    log.expect_message(("stop", "b"))
    proxy.delete_child("b").get(timeout=10)
    assert which(sup) == [("a", "running")]
    assert not handle.is_alive()
    # The supervisor itself was never disturbed by the errors above.
    assert sup.is_alive()


@pytest.mark.parametrize(
    "call",
    ["terminate_child", "restart_child", "delete_child", "child_ref"],
)
def test_unknown_child_id_is_a_key_error_naming_it(
    actor_system: ActorSystem, dispatcher: str, call: str
) -> None:
    sup = spawn_sup(actor_system, dispatcher)
    with pytest.raises(KeyError, match="no child 'ghost' under /sup"):
        getattr(sup.proxy(), call)("ghost").get(timeout=10)
    assert sup.is_alive()


def test_start_child_failure_raises_and_leaves_no_spec(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    sup = spawn_sup(actor_system, dispatcher)
    broken = threading.Event()
    broken.set()
    spec = ChildSpec("b", Worker, (log.ref, "b", broken), dispatcher=dispatcher)
    with pytest.raises(ActorStartError, match="b cannot start"):
        sup.proxy().start_child(spec).get(timeout=10)
    assert which(sup) == []
    with pytest.raises(ActorStartError, match=r"^/sup/bad: could not be created: TypeError"):
        sup.proxy().start_child(ChildSpec("bad", Worker, ())).get(timeout=10)
    assert which(sup) == []
    broken.clear()
    sup.proxy().start_child(spec).get(timeout=10)  # the id is free again
    log.expect_message(("start", "b"))
    assert which(sup) == [("b", "running")]


# auto_shutdown -----------------------------------------------------------------------------


def significant_tree(
    system: ActorSystem, log: TestProbe, dispatcher: str, auto_shutdown: str,
    restart: str = "transient",
) -> Any:
    return spawn_sup(
        system, dispatcher,
        worker(log, "p", dispatcher=dispatcher),
        worker(log, "s1", dispatcher=dispatcher, restart=restart, significant=True),
        worker(log, "s2", dispatcher=dispatcher, restart=restart, significant=True),
        auto_shutdown=auto_shutdown,
    )


def test_auto_shutdown_any_significant(actor_system: ActorSystem, dispatcher: str) -> None:
    log = TestProbe(actor_system)
    watcher = TestProbe(actor_system)
    sup = significant_tree(actor_system, log, dispatcher, "any_significant")
    assert log.receive_messages(3) == [("start", "p"), ("start", "s1"), ("start", "s2")]
    watcher.watch(sup)
    child(sup, "s1").tell(STOP)
    assert watcher.expect_terminated(sup).reason is None  # a normal stop, not a failure
    assert drain(log) == [("stop", "s1"), ("stop", "s2"), ("stop", "p")]


def test_auto_shutdown_all_significant(actor_system: ActorSystem, dispatcher: str) -> None:
    log = TestProbe(actor_system)
    watcher = TestProbe(actor_system)
    sup = significant_tree(actor_system, log, dispatcher, "all_significant")
    assert log.receive_messages(3) == [("start", "p"), ("start", "s1"), ("start", "s2")]
    watcher.watch(sup)
    child(sup, "s1").tell(STOP)
    log.expect_message(("stop", "s1"))
    assert which(sup) == [("p", "running"), ("s1", "stopped"), ("s2", "running")]
    child(sup, "s2").tell(STOP)
    assert watcher.expect_terminated(sup).reason is None
    assert drain(log) == [("stop", "s2"), ("stop", "p")]


def test_auto_shutdown_never_keeps_running(actor_system: ActorSystem, dispatcher: str) -> None:
    log = TestProbe(actor_system)
    sup = significant_tree(actor_system, log, dispatcher, "never")
    assert log.receive_messages(3) == [("start", "p"), ("start", "s1"), ("start", "s2")]
    for child_id in ("s1", "s2"):
        child(sup, child_id).tell(STOP)
        log.expect_message(("stop", child_id))
    assert which(sup) == [("p", "running"), ("s1", "stopped"), ("s2", "stopped")]
    assert sup.is_alive()


def test_significant_transient_failure_restarts_instead_of_shutting_down(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    sup = significant_tree(actor_system, log, dispatcher, "any_significant")
    assert log.receive_messages(3) == [("start", "p"), ("start", "s1"), ("start", "s2")]
    child(sup, "s1").tell(CRASH)
    log.expect_message(("start", "s1"))
    assert which(sup) == [("p", "running"), ("s1", "running"), ("s2", "running")]


def test_significant_temporary_failure_shuts_down(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    watcher = TestProbe(actor_system)
    sup = significant_tree(actor_system, log, dispatcher, "any_significant", "temporary")
    assert log.receive_messages(3) == [("start", "p"), ("start", "s1"), ("start", "s2")]
    watcher.watch(sup)
    child(sup, "s1").tell(CRASH)
    assert watcher.expect_terminated(sup).reason is None
    assert drain(log) == [("stop", "s2"), ("stop", "p")]


def test_terminating_a_significant_child_does_not_shut_down(
    actor_system: ActorSystem, dispatcher: str
) -> None:
    log = TestProbe(actor_system)
    sup = significant_tree(actor_system, log, dispatcher, "any_significant")
    assert log.receive_messages(3) == [("start", "p"), ("start", "s1"), ("start", "s2")]
    sup.proxy().terminate_child("s1").get(timeout=10)
    assert which(sup) == [("p", "running"), ("s1", "stopped"), ("s2", "running")]
    assert sup.is_alive()


# Argument checks ---------------------------------------------------------------------------


class NotAnActor:
    pass


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"strategy": "one_for_some"}, ValueError, r"^strategy:"),
        ({"auto_shutdown": "sometimes"}, ValueError, r"^auto_shutdown:"),
        ({"max_restarts": -1}, ValueError, r"^max_restarts:"),
        ({"within": 0}, ValueError, r"^within:"),
        ({"backoff": 0.5}, TypeError, r"^backoff:"),
        ({"children": [NotAnActor]}, TypeError, r"^children:"),
    ],
)
def test_supervisor_rejects_bad_arguments(
    actor_system: ActorSystem, kwargs: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        actor_system.spawn(Supervisor, name="sup", **kwargs)
    assert actor_system.lookup("/sup") is None
    actor_system.spawn(Supervisor, name="sup")  # the name was not kept


def test_supervisor_rejects_duplicate_child_ids(actor_system: ActorSystem) -> None:
    log = TestProbe(actor_system)
    with pytest.raises(ValueError, match=r"^children: duplicate child ids \['a'\]"):
        actor_system.spawn(
            Supervisor, children=[worker(log, "a"), worker(log, "b"), worker(log, "a")]
        )
    assert drain(log) == []  # nothing was started


def test_supervisor_accepts_a_backoff(actor_system: ActorSystem) -> None:
    sup = actor_system.spawn(Supervisor, backoff=Backoff(jitter=0.0), name="sup")
    assert which(sup) == []
