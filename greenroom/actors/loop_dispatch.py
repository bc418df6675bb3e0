"""`LoopDispatcher` ("loop"): actors whose turns run on the system's io loop thread.

An actor whose handlers are short and never block, and which mostly trades with coroutines (hands
them to the loop, gets their outcome back), pays a thread wake-up and a GIL hand-off at each
crossing between a pool worker and the loop. On the "loop" dispatcher its turns run on the loop
thread itself: a coroutine that asks it, the turn that answers, and the coroutine resuming all
happen on one thread, with no wake-up in between.

How a turn gets onto the loop. The actor keeps a `PooledMailbox`, whose run queue is the
dispatcher: when work arrives for an idle actor, the actor is appended to the loop's ready deque
(`_LoopQueue`, one per asyncio loop, shared by every system on that loop) and, if no drain is
pending, one drain callback is scheduled (`call_soon` on the loop thread, `call_soon_threadsafe`
elsewhere). Work that arrives from a plain callback on the loop thread (no actor turn, no task
running: a coroutine's done-callback telling its actor the outcome) is drained at once instead,
which saves a trip around the loop on every agent run; inside a turn or a task it is scheduled,
so a turn never runs nested in another turn or in a user's coroutine. A drain runs one turn
(`run_turn`, at most `THROUGHPUT` messages) for each actor that was ready when it began, then
reschedules itself if more are ready, so the loop's own I/O and coroutines get their share
between drains.

When the loop is gone. A turn may run on any thread (the mailbox's scheduled flag already makes
turns of one actor sequential), so an actor that cannot be run on the loop goes to the system's
pool instead: when the loop is closed or not running at scheduling time, and for good once the
loop ends. The end is noticed through a parked task on the loop: `asyncio.run` (and the system's
own loop, when it closes) cancels every task before closing the loop, and that task's cancellation
hands whatever waits to the pool while the loop still runs, so no scheduled turn is lost.

Blocking on the loop thread ("caller runs"). A `Future.get()` on the loop thread would otherwise
wait for turns that only that thread can run. The dispatcher installs a wait helper there
(`future.set_wait_helper`): while the get waits, the thread runs the ready loop-actor turns itself,
and sleeps on a condition that both new ready work and the future's completion (from any thread)
signal. What still deadlocks is what deadlocks in any actor system: an actor asking itself
synchronously, or a cycle of synchronous asks between actors that are all mid-turn. Waits that
are not a `Future.get()` (a `threading.Event`, a `TestProbe` expectation) get no help and must not
be made on the loop thread for loop actors' work.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from greenroom.actors.dispatch import PooledDispatcher, run_turn, start_in_caller
from greenroom.actors.envelope import current_actor_ref, set_current_actor_ref
from greenroom.actors.future import set_wait_helper
from greenroom.actors.mailbox import Mailbox, Overflow, PooledMailbox

if TYPE_CHECKING:
    from greenroom.actors.actor import Actor
    from greenroom.actors.future import Future
    from greenroom.actors.ioloop import IoLoop

__all__ = ["THROUGHPUT", "LoopDispatcher"]

logger = logging.getLogger("greenroom.actors")

THROUGHPUT = 64
"""Messages an actor handles per turn before the next ready actor gets the loop (as the pool)."""

_get_running_loop = asyncio._get_running_loop
_current_task = asyncio.current_task


class LoopDispatcher:
    """Runs its actors' turns on the io loop thread; falls back to `pool` when the loop is gone."""

    def __init__(self, io: IoLoop, pool: PooledDispatcher) -> None:
        self._io = io
        self.pool = pool
        self._lock = threading.Lock()
        self._runq: _LoopQueue | None = None
        self._attached = False
        self._left = False  # gave the loop up: every turn runs on the pool from now on

    def mailbox(self, capacity: int | None, overflow: Overflow) -> Mailbox:
        """A pooled mailbox whose run queue is this dispatcher (`put` schedules on the loop)."""
        return PooledMailbox(self, capacity, overflow)

    def start(self, actor: Actor) -> None:
        """Run `on_start` in the spawning thread, then release the actor to the loop."""
        self._attach()
        start_in_caller(actor)
        inbox = actor.actor_inbox
        assert isinstance(inbox, PooledMailbox)
        if inbox.release():
            self.put(actor)

    def put(self, actor: Actor, /) -> None:
        """Schedule one turn of `actor` (called by its mailbox when work arrives for it idle)."""
        runq = self._runq
        if runq is None or self._left:
            self.pool.schedule(actor)
            return
        runq.put(actor)
        if self._left:  # gave the loop up while this put was under way: take it back
            runq.hand_over(self)

    def hand_over_if_on_loop(self) -> None:
        """Give the loop up for good if the caller runs it and is about to block for long.

        `ActorSystem.shutdown` calls this before it waits for every actor to stop: that wait is
        not a future, so no turn would run on the loop thread until it returns. The actors of
        this dispatcher then finish (stop, `on_stop`) on the pool instead.
        """
        runq = self._runq
        if runq is None or _get_running_loop() is not runq.loop:
            return
        self._left = True
        runq.hand_over(self)

    def shutdown(self) -> None:
        """Leave the loop's queue (after the actors are gone); the last one out retires it."""
        with self._lock:
            runq, self._runq = self._runq, None
            self._left = True
        if runq is not None:
            _detach(runq)

    def _attach(self) -> None:
        if self._attached:
            return
        with self._lock:
            if self._attached:
                return
            loop = self._io.loop
            if not loop.is_closed():
                self._runq = _attach(loop)
            self._attached = True


class _LoopQueue:
    """The actors waiting for a turn on one asyncio loop, and the drain that gives them one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.users = 0  # attached dispatchers
        self.ended = False  # the loop ended (or the last dispatcher left): all turns go to pools
        self._ready: deque[Actor] = deque()
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # a helper waits here for work or its answer
        self._pending = False  # a drain callback is queued on the loop
        self._helping = 0  # caller-runs waits under way on the loop thread
        self._watch: asyncio.Task[None] | None = None

    # Scheduling -------------------------------------------------------------------------------

    def put(self, actor: Actor) -> None:
        """Queue a turn; make sure a drain is coming, or hand the actor to its pool."""
        loop = self.loop
        lock = self._lock
        lock.acquire()
        try:
            if self.ended:
                schedule = False
            else:
                self._ready.append(actor)
                if self._helping:
                    self._work.notify()
                if self._pending:
                    return
                self._pending = schedule = True
        finally:
            lock.release()
        if not schedule:
            _to_pool(actor)
        elif _get_running_loop() is loop:
            if current_actor_ref() is None and _current_task(loop) is None and not self._helping:
                self._drain()  # a plain loop callback (a run's done-callback): no turn to wait for
            else:
                loop.call_soon(self._drain)
        elif not self._schedule_from_outside():
            self._spill()

    def _schedule_from_outside(self) -> bool:
        loop = self.loop
        if not loop.is_running():
            return False
        try:
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # closed since the check
            return False
        return True

    def _drain(self) -> None:
        ready = self._ready
        try:
            for _ in range(len(ready)):
                try:
                    actor = ready.popleft()
                except IndexError:  # a helper or a hand-over took the rest
                    break
                self._turn(actor)
        finally:
            with self._lock:
                again = bool(ready) and not self.ended
                self._pending = again
            if again:
                self.loop.call_soon(self._drain)

    def _turn(self, actor: Actor) -> None:
        caller = current_actor_ref()
        set_current_actor_ref(actor._gr_ref)
        try:
            again = run_turn(actor, THROUGHPUT)
        except Exception:
            logger.exception("loop dispatcher: unexpected error running %s", actor.path)
            again = False
        finally:
            set_current_actor_ref(caller)
        if again:
            with self._lock:
                if not self.ended and not _dispatcher(actor)._left:
                    self._ready.append(actor)
                    return
            _to_pool(actor)

    # Leaving the loop ----------------------------------------------------------------------------

    def _spill(self) -> None:
        """The loop cannot run turns now: hand every waiting actor to its pool."""
        stranded = []
        with self._lock:
            ready = self._ready
            while ready:
                try:
                    stranded.append(ready.popleft())
                except IndexError:  # a drain still running (a retire from outside) took it
                    break
            self._pending = False
        for actor in stranded:
            _to_pool(actor)

    def hand_over(self, dispatcher: LoopDispatcher) -> None:
        """Move the waiting actors of one dispatcher to its pool; the others stay."""
        mine = []
        with self._lock:
            ready = self._ready
            for _ in range(len(ready)):
                try:
                    actor = ready.popleft()
                except IndexError:  # a drain took the rest meanwhile
                    break
                if actor._gr_dispatcher is dispatcher:
                    mine.append(actor)
                else:
                    ready.append(actor)
        for actor in mine:
            dispatcher.pool.schedule(actor)

    def end(self) -> None:
        """Turns no longer run on this loop: unregister, and send what waits to the pools."""
        with _queues_lock:
            if _queues.get(self.loop) is self:
                del _queues[self.loop]
        with self._lock:
            if self.ended:
                return
            self.ended = True
            self._work.notify_all()
        self._spill()

    # Watching the loop end -----------------------------------------------------------------------

    def watch(self) -> None:
        """Park a task on the loop whose cancellation ends this queue; install the helper."""
        if _get_running_loop() is self.loop:
            set_wait_helper(_caller_runs)
            self._park()
            return
        try:
            self.loop.call_soon_threadsafe(self._park)
        except RuntimeError:  # closed meanwhile
            self.end()

    def _park(self) -> None:
        set_wait_helper(_caller_runs)
        if self.ended:
            return
        task = self.loop.create_task(_parked(), name="greenroom-loop-dispatcher")
        task.add_done_callback(self._unparked)
        self._watch = task

    def _unparked(self, _task: asyncio.Task[None]) -> None:
        self.end()

    def retire(self) -> None:
        """The last dispatcher left: end the queue and remove the parked task from the loop."""
        self.end()
        if _get_running_loop() is self.loop:
            self._unpark()
            return
        try:
            self.loop.call_soon_threadsafe(self._unpark)
        except RuntimeError:  # the loop is closed: its tasks are gone with it
            return

    def _unpark(self) -> None:
        if self._watch is not None:
            self._watch.cancel()

    # Caller runs ----------------------------------------------------------------------------------

    def help_until(self, future: Future[Any], timeout: float | None) -> bool:
        """On the loop thread: run ready turns until `future` is done; False after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        future.add_done_callback(self._answered)
        ready = self._ready
        with self._lock:
            self._helping += 1
        try:
            while not future.done():
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                try:
                    actor = ready.popleft()
                except IndexError:
                    self._wait_for_work(future, deadline)
                    continue
                self._turn(actor)
            return True
        finally:
            with self._lock:
                self._helping -= 1

    def _wait_for_work(self, future: Future[Any], deadline: float | None) -> None:
        """Sleep until work is ready, `future` is done, or `deadline` (monotonic) passes."""
        with self._lock:
            if future.done() or self._ready:
                return
            if deadline is None:
                self._work.wait()
            else:
                self._work.wait(max(0.0, deadline - time.monotonic()))

    def _answered(self, _future: Future[Any]) -> None:
        with self._lock:
            self._work.notify_all()


async def _parked() -> None:
    """Wait forever: the task exists to be cancelled when the loop ends."""
    await asyncio.get_running_loop().create_future()


def _dispatcher(actor: Actor) -> LoopDispatcher:
    dispatcher = actor._gr_dispatcher
    assert isinstance(dispatcher, LoopDispatcher)
    return dispatcher


def _to_pool(actor: Actor) -> None:
    _dispatcher(actor).pool.schedule(actor)


_queues: dict[asyncio.AbstractEventLoop, _LoopQueue] = {}
_queues_lock = threading.Lock()


def _attach(loop: asyncio.AbstractEventLoop) -> _LoopQueue:
    """The loop's queue (made, and its end watched, by the first dispatcher on that loop)."""
    with _queues_lock:
        runq = _queues.get(loop)
        created = runq is None
        if runq is None:
            runq = _queues[loop] = _LoopQueue(loop)
        runq.users += 1
    if created:
        runq.watch()
    return runq


def _detach(runq: _LoopQueue) -> None:
    with _queues_lock:
        runq.users -= 1
        last = runq.users == 0
        if last and _queues.get(runq.loop) is runq:  # a later dispatcher gets a fresh queue
            del _queues[runq.loop]
    if last:
        runq.retire()


def _caller_runs(future: Future[Any], timeout: float | None) -> bool | None:
    """The loop thread's wait helper: help with the running loop's turns, if it has a queue."""
    loop = _get_running_loop()
    if loop is None:
        return None
    runq = _queues.get(loop)
    if runq is None or runq.ended:
        return None
    return runq.help_until(future, timeout)
