"""`HealthActor`: the actor shell around `HealthMonitor` (behavioural health of one process).

The process (and the governed tool gate) tell it what the agent did: `ToolCalled` for every tool
call the agent asked for, `Responded` with each final reply, and one of `RunSucceeded`,
`RunFailed` or `RunDiscarded` when a run ends. Each `Anomaly` the monitor reports becomes an
`anomaly` notice whose action is `on_anomaly` (`pause`, `escalate` or `stop`; `log` gives no
action), and each `Recovery` a `recovery` notice. With `on_anomaly="escalate"` the actor sends
the anomaly to `config.escalation` itself, on the io loop; the monitor's cooldown already keeps
a lasting condition from being reported (and so escalated) more than once per `cooldown`.

Tool arguments reach the monitor only to be hashed; reply texts only to be measured. Neither is
kept, reported or put in a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pykka

from greenroom.governance.config import HealthConfig
from greenroom.governance.escalation import DEFAULT_TIMEOUT
from greenroom.governance.health import Anomaly, HealthEvent, HealthMonitor
from greenroom.governance.messages import (
    ClearAnomalies,
    Responded,
    RunDiscarded,
    RunFailed,
    RunSucceeded,
    ToolCalled,
)
from greenroom.governance.redaction import Redactor
from greenroom.governance.shell import GovernanceActor, Handler

__all__ = ["HealthActor"]


class HealthActor(GovernanceActor[HealthConfig]):
    """The health monitor of process `process_name`; see the module docstring.

    `state` is a `HealthMonitor.to_dict()` snapshot (a journal checkpoint) to restore.
    """

    source: ClassVar[str] = "health"

    def __init__(
        self,
        config: HealthConfig,
        process_name: str,
        *,
        owner: pykka.ActorRef[Any] | None = None,
        state: Mapping[str, Any] | None = None,
        event_bus: object | None = None,
        redactor: Redactor | None = None,
        escalation_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(process_name, owner=owner, event_bus=event_bus, redactor=redactor,
                         escalation_timeout=escalation_timeout)
        clock = self.system.clock
        if state is None:
            self.monitor = HealthMonitor(config, process_name, clock=clock)
        else:
            self.monitor = HealthMonitor.from_dict(state, config, clock=clock)

    def config_type(self) -> type[HealthConfig]:
        """`HealthConfig`."""
        return HealthConfig

    def protocol(self) -> dict[type, Handler]:
        """Health messages."""
        monitor = self.monitor  # never replaced: Reconfigure updates it in place
        return {
            ToolCalled: lambda m: self._report(
                monitor.record_tool_call(m.tool, m.arguments, run_id=m.run_id)),
            Responded: lambda m: self._report(monitor.record_response(m.content)),
            RunSucceeded: lambda m: self._report(monitor.record_success(run_id=m.run_id)),
            RunFailed: lambda m: self._report(monitor.record_error(run_id=m.run_id)),
            RunDiscarded: lambda m: self._report(monitor.discard_run(run_id=m.run_id)),
            ClearAnomalies: lambda _m: monitor.clear_anomalies(),
        }

    def _report(self, events: list[HealthEvent]) -> None:
        """One notice per event, in order; escalate an anomaly when configured to."""
        for event in events:
            if not isinstance(event, Anomaly):
                self.notice("recovery", event.to_dict())
                continue
            data = event.to_dict()
            action = None if event.action == "log" else event.action
            self.notice("anomaly", data, action)
            if action == "escalate":
                self.escalate(self.monitor.config.escalation, "anomaly", data)

    # Common asks --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """`HealthMonitor.to_dict()`."""
        return self.monitor.to_dict()

    def status(self) -> dict[str, Any]:
        """`HealthMonitor.health_status()`."""
        return self.monitor.health_status()

    def reconfigure(self, config: HealthConfig) -> None:
        """New thresholds from the next observation on (see `HealthMonitor.update_config`)."""
        self.monitor.update_config(config)
