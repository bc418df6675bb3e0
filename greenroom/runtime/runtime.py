"""`AgentRuntime`: many agent processes in one actor system, under one supervisor (seed API).

The actor tree is DESIGN.md's: a `RuntimeSupervisor` (one_for_one) holds the `EventBus` and
`MessageBroker` actors (unless the user brings their own, which are adapted) and one
`ProcessSupervisor` per process (a temporary child: a process whose restarts are exhausted stays
FAILED, it does not take the runtime down). Every runtime event (`process.started`, ...,
`invocation.failed`) is emitted on `runtime.event_bus`, and so are the kernel's supervision
events (`supervision.child_restarted`, ...), relayed by a `SupervisionRelay` child.

To embed a runtime in a larger actor system, pass that system: `AgentRuntime(system=my_system)`.
The runtime's supervisor (`/runtime`) is then a top-level actor of it, which your own actors can
watch; the runtime is closed with `await runtime.close()`.
"""

from __future__ import annotations

import asyncio
import logging
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self

import pykka

from greenroom.actors.ref import ActorRef
from greenroom.actors.system import ActorSystem
from greenroom.runtime.adapters import BrokerLike, EventBusLike, as_broker, as_event_bus
from greenroom.runtime.broker import MessageBrokerActor
from greenroom.runtime.bus import EventBusActor
from greenroom.runtime.config import ProcessConfig, RuntimeConfig
from greenroom.runtime.errors import RuntimeBaseError
from greenroom.runtime.interest import Interest
from greenroom.runtime.journaling import Journals
from greenroom.runtime.process import AgentProcess
from greenroom.runtime.record import Listener, remove_listener
from greenroom.runtime.relay import SupervisionRelay
from greenroom.supervision.spec import ChildSpec
from greenroom.supervision.supervisor import Supervisor

if TYPE_CHECKING:
    from collections.abc import Mapping
    from os import PathLike
    from types import TracebackType

    from greenroom.actors.clock import Clock
    from greenroom.journal.provider import JournalProvider
    from greenroom.runtime.inbox import InboxResponse
    from greenroom.supervision.handle import ChildHandle

__all__ = ["AgentRuntime"]

logger = logging.getLogger("greenroom.runtime")

RUNTIME_SUPERVISOR = "runtime"


class AgentRuntime:
    """A registry of named `AgentProcess`es sharing an actor system and its supervisor."""

    def __init__(
        self,
        config: RuntimeConfig | None = None,
        *,
        event_bus: Any = None,
        broker: Any = None,
        system: ActorSystem | None = None,
        clock: Clock | None = None,
        journal: JournalProvider | None = None,
    ) -> None:
        self.config = config if config is not None else RuntimeConfig()
        self._owns_system = system is None
        self.system = system if system is not None else ActorSystem(name="greenroom", clock=clock)
        # what our own bus's subscribers want, for emitters to check (a user's bus: unknown)
        interest = Interest() if event_bus is None else None
        self._own_services = [
            ChildSpec(child_id, actor_cls, args=args, dispatcher="loop")
            for child_id, actor_cls, args, given in (
                ("event-bus", EventBusActor, (interest,), event_bus),
                ("message-broker", MessageBrokerActor, (), broker))
            if given is None
        ]
        self._processes: dict[str, AgentProcess] = {}
        self._journals = Journals(self._start_journal_actor, provider=journal)
        self._supervisor: ActorRef[Any] | None = None
        self._listeners: list[Listener] = []
        sup = self._runtime_supervisor()
        self.event_bus: EventBusLike = as_event_bus(
            event_bus if event_bus is not None else sup.call("child_ref", "event-bus").get(),
            self.system, interest=interest,
        )
        self.broker: BrokerLike = as_broker(
            broker if broker is not None else sup.call("child_ref", "message-broker").get(),
            self.system,
        )
        sup.call(
            "start_child",
            ChildSpec("supervision-relay", SupervisionRelay,
                      args=(self.event_bus, interest)),
        ).get()

    def __repr__(self) -> str:
        return f"<AgentRuntime processes={len(self._processes)}>"

    @classmethod
    async def from_config(
        cls, config: RuntimeConfig, *, event_bus: Any = None, broker: Any = None
    ) -> AgentRuntime:
        """A runtime with every process of `config.processes` registered (not started)."""
        runtime = cls(config, event_bus=event_bus, broker=broker)
        for name, process_config in config.processes.items():
            await runtime.add_process(name, process_config)
        return runtime

    # Registry ----------------------------------------------------------------------------------

    @property
    def processes(self) -> Mapping[str, AgentProcess]:
        """A read-only view of the registered processes."""
        return MappingProxyType(self._processes)

    async def add_process(
        self, name: str, config: ProcessConfig, *, process_id: str | None = None
    ) -> AgentProcess:
        """Register a process (CREATED). Raises `RuntimeBaseError` if the name is taken."""
        if name in self._processes:
            msg = f"a process named {name!r} already exists"
            raise RuntimeBaseError(msg)
        if not isinstance(config, ProcessConfig):
            msg = f"config: expected a ProcessConfig, got {type(config).__name__}"
            raise TypeError(msg)
        process = AgentProcess(name, config, process_id=process_id, runtime=self,
                               event_bus=self.event_bus, broker=self.broker)
        process.add_listener(self._emit)
        self._processes[name] = process
        return process

    async def remove_process(self, name: str) -> None:
        """Stop (if needed) and unregister a process. Raises `KeyError` for an unknown name."""
        process = self.get_process(name)
        await process.stop()
        await asyncio.to_thread(self._stop_process_supervisor, process)
        del self._processes[name]

    def get_process(self, name: str) -> AgentProcess:
        """The process named `name`; `KeyError` naming it if there is none."""
        try:
            return self._processes[name]
        except KeyError:
            msg = f"no process named {name!r}"
            raise KeyError(msg) from None

    # Lifecycle ---------------------------------------------------------------------------------

    async def start_process(self, name: str) -> None:
        """Start one process."""
        await self.get_process(name).start()

    async def stop_process(self, name: str, drain_timeout: float | None = None) -> dict[str, Any]:
        """Stop one process gracefully; returns its stop report."""
        return await self.get_process(name).stop(drain_timeout)

    async def restart_process(self, name: str) -> None:
        """Stop a process (no drain) and start it again."""
        process = self.get_process(name)
        await process.stop(drain_timeout=0)
        await process.start()

    async def start_all(self) -> None:
        """Start every process that is not running, all at once (as `stop_all` stops them).

        The starts are issued in registration order and overlap, so N processes do not wait for
        N round trips to the supervisors one after another. If some cannot start, the others
        still do; once every start has ended, the first failure in registration order is raised
        and the later ones are logged.
        """
        startable = [process for process in self._processes.values()
                     if process.state.value in ("created", "stopped", "failed")]
        outcomes = await asyncio.gather(*(process.start() for process in startable),
                                        return_exceptions=True)
        failures = [(process, outcome) for process, outcome in zip(startable, outcomes, strict=True)
                    if isinstance(outcome, BaseException)]
        for process, failure in failures[1:]:
            logger.error("start_all: process %r did not start: %r", process.name, failure)
        if failures:
            raise failures[0][1]

    async def stop_all(self, drain_timeout: float | None = None) -> None:
        """Stop every process (concurrently)."""
        await asyncio.gather(*(p.stop(drain_timeout) for p in self._processes.values()))

    async def close(self) -> None:
        """Stop every process and the runtime's actors (and its own system)."""
        await self.stop_all()
        if self._supervisor is not None and self._supervisor.is_alive():
            await asyncio.to_thread(self.system.stop, self._supervisor)
        self._journals.close()
        if self._owns_system:
            await asyncio.to_thread(self.system.shutdown)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # Inbox -----------------------------------------------------------------------------------

    async def send_message(self, name: str, content: str, **kwargs: Any) -> str:
        """`AgentProcess.send_message` on the process named `name`."""
        return await self.get_process(name).send_message(content, **kwargs)

    async def ask(self, name: str, content: str, **kwargs: Any) -> InboxResponse:
        """`AgentProcess.ask` on the process named `name`."""
        return await self.get_process(name).ask(content, **kwargs)

    # Status ------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Every process's status, keyed by name, with runtime totals."""
        processes = {name: p.status() for name, p in self._processes.items()}
        states = [s["state"] for s in processes.values()]
        return {
            "process_count": len(processes),
            "running": states.count("running"),
            "processes": processes,
        }

    def process_status(self, name: str) -> dict[str, Any]:
        """One process's status; `KeyError` for an unknown name."""
        return self.get_process(name).status()

    def list_processes(self) -> list[dict[str, Any]]:
        """A summary (name, state, uptime) of every process."""
        result = []
        for name, process in self._processes.items():
            status = process.status()
            result.append({"name": name, "state": status["state"],
                           "uptime_seconds": status["uptime_seconds"]})
        return result

    # Events ------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event_type, data)` for every runtime event (from actor threads)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling `listener` (`ValueError` if it was not added). An event being delivered
        at that moment may still reach it once."""
        remove_listener(self._listeners, listener)

    def _emit(self, event_type: str, data: dict[str, Any]) -> None:
        self.event_bus.emit_nowait(event_type, data, source=f"process:{data.get('process', '')}")
        for listener in list(self._listeners):
            listener(event_type, data)

    # Supervision -------------------------------------------------------------------------------

    async def supervision_tree(self) -> dict[str, Any]:
        """The runtime's actor tree from its root supervisor: per node its id, actor class,
        status and restart count, and a supervisor's children (an empty root before any
        process started)."""
        if self._supervisor is None or not self._supervisor.is_alive():
            return {"id": RUNTIME_SUPERVISOR, "actor": "Supervisor", "status": "stopped",
                    "restarts": 0, "children": []}
        return {"id": RUNTIME_SUPERVISOR, "actor": "Supervisor", "status": "running",
                "restarts": 0, "children": await _children_of(self._supervisor)}

    # Manifests ---------------------------------------------------------------------------------

    async def load_manifest(
        self, path: str | PathLike[str], name_override: str | None = None
    ) -> AgentProcess:
        """Register a process (CREATED) from the `.agent` manifest at `path`, named as the
        manifest says or `name_override`. Raises `ManifestError` (a `ManifestValidationError`
        for a manifest that breaks the schema or a name already registered), naming the file.
        """
        from greenroom.manifest.loader import load_process_configs  # noqa: PLC0415 (imports us)

        taken = set(self._processes)
        [(name, config)] = await asyncio.to_thread(
            load_process_configs, [path], taken, name_override=name_override
        )
        return await self.add_process(name, config)

    async def load_directory(self, directory: str | PathLike[str]) -> list[str]:
        """Register a process from every `*.agent` file in `directory` (sorted by file name);
        returns their names. Every manifest is validated before any is registered: if one
        fails, none is, and the `ManifestError` names the file (or lists every failing file).
        """
        from greenroom.manifest.loader import (  # noqa: PLC0415 (the manifest package imports us)
            load_process_configs,
            manifest_files,
        )

        taken = set(self._processes)
        configs = await asyncio.to_thread(
            lambda: load_process_configs(manifest_files(directory), taken)
        )
        names: list[str] = []
        try:
            for name, config in configs:
                await self.add_process(name, config)
                names.append(name)
        except Exception:
            for name in names:  # a name taken meanwhile: leave the registry as it was
                await self.remove_process(name)
            raise
        return names

    # Actors ------------------------------------------------------------------------------------

    async def _start_process_supervisor(self, spec: ChildSpec) -> ChildHandle:
        """Start a process's supervisor under the runtime's, replacing an old one (the id is
        taken: ValueError); returns the supervisor's handle. The spec is temporary, so
        terminating the old one also forgets it.
        """
        sup = self._runtime_supervisor()
        try:
            handle: ChildHandle = await sup.call("start_child", spec)
        except ValueError:
            await sup.call("terminate_child", spec.id)
            handle = await sup.call("start_child", spec)
        return handle

    def _start_journal_actor(self, spec: ChildSpec) -> ChildHandle:
        """Start a `JournalActor` under the runtime's supervisor; its handle outlives restarts."""
        handle: ChildHandle = self._runtime_supervisor().call("start_child", spec).get()
        return handle

    def _stop_process_supervisor(self, process: AgentProcess) -> None:
        if self._supervisor is None:
            return
        sup = self._runtime_supervisor()
        child_id = f"process-{process.name}"
        if child_id in {child_id for child_id, _, _ in sup.call("which_children").get()}:
            sup.call("terminate_child", child_id).get()

    def _runtime_supervisor(self) -> ActorRef[Any]:
        if self._supervisor is None or not self._supervisor.is_alive():
            self._supervisor = self.system.spawn(
                Supervisor, name=RUNTIME_SUPERVISOR, children=self._own_services
            )
        return self._supervisor


async def _children_of(supervisor: ActorRef[Any]) -> list[dict[str, Any]]:
    """The subtree under a running supervisor (a child that stops meanwhile is shown as is)."""
    children = await supervisor.call("which_children")
    restarts: dict[str, int] = await supervisor.call("restart_counts")
    nodes: list[dict[str, Any]] = []
    for child_id, ref, status in children:
        node: dict[str, Any] = {
            "id": child_id,
            "actor": ref.actor_class.__name__ if ref is not None else None,
            "status": status,
            "restarts": restarts.get(child_id, 0),
        }
        if isinstance(ref, ActorRef) and issubclass(ref.actor_class, Supervisor):
            try:
                node["children"] = await _children_of(ref)
            except pykka.ActorDeadError:
                node["children"] = []
        nodes.append(node)
    return nodes
