"""`Supervisor`: starts children, restarts them by strategy, and gives up by escalating.

Semantics follow Erlang/OTP's supervisor. Children start in list order (a failure stops those
already started and fails the supervisor's start, naming the child); they stop in reverse order,
each given its `shutdown` seconds. When a child stops, its `restart` type decides whether to
restart it; the `strategy` decides which siblings restart with it. More than `max_restarts`
restarts within `within` seconds makes the supervisor stop its children and fail, which its own
supervisor sees as a child failure (escalation). An optional `Backoff` delays each restart on the
system clock. `child_ref(id)` gives a `ChildHandle` that follows the child across restarts.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from greenroom.actors.actor import Actor
from greenroom.actors.errors import ActorStartError
from greenroom.actors.signals import ChildTerminated
from greenroom.supervision.events import (
    ChildFailed,
    ChildRestarted,
    ChildStarted,
    ChildStopped,
    IntensityExceeded,
)
from greenroom.supervision.handle import ChildHandle
from greenroom.supervision.policy import RestartIntensity, affected_children, should_restart
from greenroom.supervision.spec import STRATEGIES, Backoff, ChildSpec, RestartStrategy, SiblingRef

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import pykka

__all__ = ["RestartIntensityExceeded", "Supervisor"]

logger = logging.getLogger("greenroom.supervision")

AutoShutdown = Literal["never", "any_significant", "all_significant"]
AUTO_SHUTDOWN: tuple[AutoShutdown, ...] = ("never", "any_significant", "all_significant")


class RestartIntensityExceeded(RuntimeError):
    """A supervisor restarted its children too often and gave up (its failure reason)."""


@dataclass(frozen=True, slots=True)
class _RestartDue:
    ids: tuple[str, ...]


class _Child:
    """A supervisor's record of one child."""

    __slots__ = ("attempts", "handle", "ref", "spec", "started_at", "status")

    def __init__(self, spec: ChildSpec, handle: ChildHandle) -> None:
        self.spec = spec
        self.handle = handle
        self.ref: pykka.ActorRef[Any] | None = None
        self.status = "starting"
        self.attempts = 0
        self.started_at = 0.0


class Supervisor(Actor):
    """An actor whose job is to keep its children running. Spawn it like any actor.

    `system.spawn(Supervisor, strategy="one_for_one", children=[ChildSpec(...)], max_restarts=3,
    within=5.0, backoff=None, auto_shutdown="never", name="app")`.

    `share_handles`, if given, is called once, in the constructor (so in the spawning thread,
    before the children start), with the stable handles of the initial children by id: whoever
    starts the supervisor can then address its children without asking it for each handle.
    """

    def __init__(
        self,
        strategy: RestartStrategy = "one_for_one",
        children: Iterable[ChildSpec] = (),
        max_restarts: int = 3,
        within: float = 5.0,
        backoff: Backoff | None = None,
        auto_shutdown: AutoShutdown = "never",
        share_handles: Callable[[dict[str, ChildHandle]], None] | None = None,
    ) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            msg = f"strategy: must be one of {STRATEGIES}, got {strategy!r}"
            raise ValueError(msg)
        if auto_shutdown not in AUTO_SHUTDOWN:
            msg = f"auto_shutdown: must be one of {AUTO_SHUTDOWN}, got {auto_shutdown!r}"
            raise ValueError(msg)
        specs = list(children)
        for spec in specs:
            if not isinstance(spec, ChildSpec):
                msg = f"children: expected ChildSpec items, got {spec!r}"
                raise TypeError(msg)
        if backoff is not None and not isinstance(backoff, Backoff):
            msg = f"backoff: expected a Backoff or None, got {backoff!r}"
            raise TypeError(msg)
        ids = [spec.id for spec in specs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            msg = f"children: duplicate child ids {duplicates}"
            raise ValueError(msg)
        self.strategy: RestartStrategy = strategy
        self.intensity = RestartIntensity(max_restarts, within)
        self.backoff = backoff
        self.auto_shutdown: AutoShutdown = auto_shutdown
        self._children: dict[str, _Child] = {}
        for spec in specs:
            self._add(spec)
        if share_handles is not None:
            share_handles({child_id: c.handle for child_id, c in self._children.items()})

    # Proxy-callable API -----------------------------------------------------------------------

    def start_child(self, spec: ChildSpec) -> ChildHandle:
        """Add and start a child; returns its handle. Raises if the id is taken or start fails."""
        if not isinstance(spec, ChildSpec):
            msg = f"spec: expected a ChildSpec, got {spec!r}"
            raise TypeError(msg)
        if spec.id in self._children:
            msg = f"child id {spec.id!r} is already in use under {self.path}"
            raise ValueError(msg)
        child = self._add(spec)
        try:
            self._start_child(child)
        except ActorStartError:
            del self._children[spec.id]
            child.handle.gone(f"child {spec.id!r} failed to start")
            raise
        return child.handle

    def terminate_child(self, child_id: str) -> None:
        """Stop a child (it is not restarted); a temporary child's spec is deleted too."""
        child = self._get(child_id)
        self._stop_child(child, why=f"child {child_id!r} was terminated by {self.path}")
        if child.spec.restart == "temporary":
            self._delete(child)

    def restart_child(self, child_id: str) -> ChildHandle:
        """Start a child that is not running (after `terminate_child` or a normal exit)."""
        child = self._get(child_id)
        if child.ref is not None:
            msg = f"child {child_id!r} is running; terminate it first"
            raise ValueError(msg)
        self._start_child(child)
        return child.handle

    def delete_child(self, child_id: str) -> None:
        """Forget a child that is not running."""
        child = self._get(child_id)
        if child.ref is not None:
            msg = f"child {child_id!r} is running; terminate it first"
            raise ValueError(msg)
        self._delete(child)

    def which_children(self) -> list[tuple[str, pykka.ActorRef[Any] | None, str]]:
        """`(id, ref of the running incarnation or None, status)` for each child, in order."""
        return [(c.spec.id, c.ref, c.status) for c in self._children.values()]

    def count_children(self) -> dict[str, int]:
        """Counts: `specs`, `active` (running), `supervisors`, `workers`."""
        kids = list(self._children.values())
        sups = sum(1 for c in kids if issubclass(c.spec.actor_cls, Supervisor))
        return {
            "specs": len(kids),
            "active": sum(1 for c in kids if c.ref is not None),
            "supervisors": sups,
            "workers": len(kids) - sups,
        }

    def child_ref(self, child_id: str) -> ChildHandle:
        """The stable handle of a child (follows it across restarts)."""
        return self._get(child_id).handle

    def restart_counts(self) -> dict[str, int]:
        """How many times each child has been restarted since it last ran long enough."""
        return {c.spec.id: c.attempts for c in self._children.values()}

    # Lifecycle ---------------------------------------------------------------------------------

    def on_start(self) -> None:
        """Start the children in order; if one fails, stop the others and fail."""
        for child in list(self._children.values()):
            try:
                self._start_child(child)
            except ActorStartError as exc:
                msg = f"{self.path}: child {child.spec.id!r} failed to start: {exc.__cause__!r}"
                raise ActorStartError(msg) from exc.__cause__

    def on_receive(self, message: Any) -> Any:
        """Handles the supervisor's own restart timers."""
        if isinstance(message, _RestartDue):
            self._restart(list(message.ids))
            return None
        return super().on_receive(message)

    def _gr_child_terminated(self, notice: ChildTerminated) -> None:
        """Apply the restart type and strategy to a child that stopped by itself."""
        reason = notice.reason
        child = next((c for c in self._children.values() if c.ref is notice.ref), None)
        if child is None:
            self._gr_refuse_orphans(notice)
            return
        child.ref = None
        spec = child.spec
        event = (ChildStopped(self.path, spec.id) if reason is None
                 else ChildFailed(self.path, spec.id, reason))
        self.system.event_stream.publish(event)
        if not should_restart(spec.restart, reason is not None):
            self._gr_refuse_orphans(notice)
            self._settle(child, f"child {spec.id!r} exited and is {spec.restart}")
            return
        child.handle.restarting()
        child.handle.hold_first(notice.pending)
        now = self.system.clock.monotonic()
        if not self.intensity.record(now):
            self._give_up(child)
        if self.backoff is not None and now - child.started_at >= self.backoff.reset_after:
            child.attempts = 0
        ids = affected_children(self.strategy, list(self._children), spec.id)
        siblings = [self._children[i] for i in ids if i != spec.id]
        for sibling in reversed(siblings):
            if sibling.spec.restart == "temporary":  # never restarted, even along with a sibling
                self._stop_child(sibling, why=f"child {sibling.spec.id!r} is temporary and was "
                                 f"stopped along with {spec.id!r}")
                self._delete(sibling)
            else:
                self._stop_child(sibling, why="", restarting=True)
        ids = [i for i in ids if i in self._children]
        for i in ids:
            self._children[i].handle.restarting()
            self._children[i].status = "restarting"
        self._schedule_restart(child, ids, retry=False)

    def _schedule_restart(self, child: _Child, ids: list[str], *, retry: bool) -> None:
        """Count an attempt of `child`, announce it, and restart `ids` after the backoff.

        Without a delay, a first restart happens now; a retry after a failed restart is queued
        as a message, so that a child failing to start cannot recurse inside one turn.
        """
        delay = 0.0 if self.backoff is None else self.backoff.delay(child.attempts,
                                                                    random.random())
        child.attempts += 1
        due = _RestartDue(tuple(ids))
        if delay > 0:  # armed before it is announced, so a listener may move the clock at once
            self.timers.start_single_timer(("restart", child.spec.id), due, delay)
        for i in ids:
            self.system.event_stream.publish(ChildRestarted(self.path, i, child.attempts, delay))
        if delay > 0:
            return
        if retry:
            self.actor_ref.tell(due)
        else:
            self._restart(ids)

    def _gr_stop_children(self) -> None:
        for child in reversed(list(self._children.values())):
            if child.ref is not None:
                self._stop_child(child, why=f"supervisor {self.path} stopped")

    def _gr_on_dead(self, reason: BaseException | None) -> None:
        why = f"supervisor {self.path} stopped" if reason is None else \
            f"supervisor {self.path} failed: {reason!r}"
        for child in self._children.values():
            child.handle.gone(why)
            self.system.notify_terminated(child.handle, reason)

    # Internals ---------------------------------------------------------------------------------

    def _add(self, spec: ChildSpec) -> _Child:
        handle = ChildHandle(f"{self.path}/{spec.id}", spec.actor_cls,
                             self.system.dead_letters.publish)
        child = _Child(spec, handle)
        self._children[spec.id] = child
        return child

    def _get(self, child_id: str) -> _Child:
        try:
            return self._children[child_id]
        except KeyError:
            msg = f"no child {child_id!r} under {self.path}"
            raise KeyError(msg) from None

    def _sibling(self, value: Any, child_id: str) -> Any:
        """`value`, or the handle a `SiblingRef` names."""
        if not isinstance(value, SiblingRef):
            return value
        sibling = self._children.get(value.child_id)
        if sibling is None:
            msg = f"{self.path}/{child_id}: SiblingRef({value.child_id!r}) names no child here"
            raise ValueError(msg)
        return sibling.handle

    def _start_child(self, child: _Child) -> None:
        spec = child.spec
        try:
            args = [self._sibling(arg, spec.id) for arg in spec.args]
            kwargs = {key: self._sibling(arg, spec.id) for key, arg in (spec.kwargs or {}).items()}
            ref = self.spawn(
                spec.actor_cls, *args, name=spec.id, dispatcher=spec.dispatcher or "pooled",
                shutdown=spec.shutdown, **kwargs,
            )
        except ActorStartError:
            raise
        except Exception as exc:  # the constructor raised (bad args), or spawn refused
            msg = f"{self.path}/{spec.id}: could not be created: {exc!r}"
            raise ActorStartError(msg) from exc
        child.ref = ref
        child.status = "running"
        child.started_at = self.system.clock.monotonic()
        child.handle.attach(ref)
        self.system.event_stream.publish(ChildStarted(self.path, spec.id, ref))

    def _restart(self, ids: list[str]) -> None:
        for i in ids:
            child = self._children.get(i)
            if child is None or child.ref is not None or child.status != "restarting":
                continue  # deleted, restarted by hand, or terminated meanwhile
            try:
                self._start_child(child)
            except ActorStartError as exc:
                logger.error("%s: restart of %r failed: %r", self.path, i, exc.__cause__)
                child.status = "restarting"
                self.system.event_stream.publish(
                    ChildFailed(self.path, i, exc.__cause__ or exc)
                )
                if not self.intensity.record(self.system.clock.monotonic()):
                    self._give_up(child)
                self._schedule_restart(child, [i], retry=True)

    def _stop_child(self, child: _Child, *, why: str, restarting: bool = False) -> None:
        ref, child.ref = child.ref, None
        if restarting:
            child.handle.restarting()
        else:
            child.handle.down(why)
            child.status = "stopped"
        if ref is not None:
            self.system._stop_and_wait(ref, child.spec.shutdown)
            self.system.event_stream.publish(ChildStopped(self.path, child.spec.id))

    def _settle(self, child: _Child, why: str) -> None:
        """A child stopped for good by its restart type: forget or park it, maybe shut down."""
        if child.spec.restart == "temporary":
            self._delete(child)
        else:
            child.status = "stopped"
            child.handle.down(why)
        if child.spec.significant and self._auto_shutdown_due():
            self.stop()

    def _auto_shutdown_due(self) -> bool:
        if self.auto_shutdown == "any_significant":
            return True
        if self.auto_shutdown == "all_significant":
            return all(c.ref is None for c in self._children.values() if c.spec.significant)
        return False

    def _delete(self, child: _Child) -> None:
        del self._children[child.spec.id]
        why = f"child {child.spec.id!r} was removed from {self.path}"
        child.handle.gone(why)
        self.system.notify_terminated(child.handle, None)

    def _give_up(self, child: _Child) -> None:
        self.system.event_stream.publish(IntensityExceeded(
            self.path, child.spec.id, self.intensity.max_restarts, self.intensity.within
        ))
        msg = (f"{self.path}: more than {self.intensity.max_restarts} restarts within "
               f"{self.intensity.within} s (last: child {child.spec.id!r})")
        raise RestartIntensityExceeded(msg)
