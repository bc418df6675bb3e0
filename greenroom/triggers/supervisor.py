"""`TriggerSupervisor`: the one_for_one supervisor of a process's trigger actors.

A trigger that crashes is restarted after a backoff (1 s doubling to 60 s), for as long as it
keeps failing: one broken trigger must never take its process down, so the intensity limit is
set high and only stops a trigger that crashes at full speed. Triggers are added and removed
while the process runs (`start_trigger`, `stop_trigger`, `stop_triggers`).
"""

from __future__ import annotations

from typing import Any

from greenroom.supervision.spec import Backoff, ChildSpec
from greenroom.supervision.supervisor import Supervisor

__all__ = ["TRIGGER_BACKOFF", "TriggerSupervisor"]

TRIGGER_BACKOFF = Backoff(min=1.0, max=60.0, jitter=0.1, reset_after=300.0)
"""Delay before restarting a crashed trigger."""


class TriggerSupervisor(Supervisor):
    """Supervises trigger actors (children are `trigger_child_spec` specs)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_restarts", 1000)
        kwargs.setdefault("within", 3600.0)
        kwargs.setdefault("backoff", TRIGGER_BACKOFF)
        super().__init__(strategy="one_for_one", **kwargs)

    def start_trigger(self, spec: ChildSpec) -> None:
        """Start one trigger actor (a no-op if it already runs)."""
        if spec.id not in self.running_triggers():
            self.start_child(spec)

    def stop_trigger(self, trigger_id: str) -> bool:
        """Stop and forget one trigger; False if it was not there."""
        if trigger_id not in {child_id for child_id, _, _ in self.which_children()}:
            return False
        self.terminate_child(trigger_id)
        self.delete_child(trigger_id)
        return True

    def stop_triggers(self) -> None:
        """Stop and forget every trigger, in reverse start order."""
        for child_id, _, _ in reversed(self.which_children()):
            self.stop_trigger(child_id)

    def running_triggers(self) -> list[str]:
        """The ids of the triggers under this supervisor."""
        return [child_id for child_id, _, _ in self.which_children()]
