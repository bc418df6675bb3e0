"""`ProcessAdmin`: what an operator can read and change on a process, as `AgentProcess` methods.

These are the operations behind the orchestration API and the CLI: new instructions, new
governance limits, the inbox, the triggers, the secrets, the journal, the mission, the health
anomalies, the context and the dead letters. State the process actor owns is changed in its turn
(`admin_ops`); governance is changed by asking its actor. Every method validates first, so a bad
request raises and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from greenroom.governance.config import BudgetConfig, HealthConfig, MissionConfig
from greenroom.governance.messages import (
    ClearAnomalies,
    FailMission,
    GetRedactor,
    GovernanceStatus,
    PauseMission,
    Reconfigure,
    ResumeMission,
    RevokeAll,
    Rotate,
    Snapshot,
)
from greenroom.runtime import admin_ops
from greenroom.runtime.admin_ops import Administer
from greenroom.runtime.errors import FeatureDisabledError, ProcessNotAcceptingError
from greenroom.runtime.lifecycle import ProcessState

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

    from greenroom.governance.redaction import Redactor
    from greenroom.runtime.config import ProcessConfig
    from greenroom.runtime.journaling import Journals
    from greenroom.runtime.process_actor import ProcessActor
    from greenroom.runtime.record import ProcessRecord
    from greenroom.supervision.handle import ChildHandle

__all__ = ["ProcessAdmin"]

T = TypeVar("T")

_SECTIONS: dict[str, type[BudgetConfig | HealthConfig | MissionConfig]] = {
    "budget": BudgetConfig, "health": HealthConfig, "mission": MissionConfig,
}

_LIVE = (ProcessState.RUNNING, ProcessState.SUSPENDED, ProcessState.AWAITING)


class ProcessAdmin:
    """Operator methods of `AgentProcess` (see the module docstring)."""

    name: str
    config: ProcessConfig
    _record: ProcessRecord
    _handle: ChildHandle | None
    _governors: dict[str, ChildHandle]
    _journals: Journals

    @property
    def state(self) -> ProcessState:
        raise NotImplementedError

    # Configuration -----------------------------------------------------------------------------

    async def update_instructions(self, instructions: str) -> None:
        """New instructions for the agent, from its next run on."""
        if not isinstance(instructions, str) or not instructions.strip():
            msg = "instructions: expected a non-empty string"
            raise ValueError(msg)
        self._set_config(instructions=instructions)

    async def update_budget(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change budget limits (overview aliases accepted); see `_update_section`."""
        return await self._update_section("budget", changes)

    async def update_health(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change health thresholds; see `_update_section`."""
        return await self._update_section("health", changes)

    async def update_mission(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change the mission's settings; counters, state and history stay."""
        return await self._update_section("mission", changes)

    async def _update_section(self, part: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Validate `changes` over the current section (a `ValidationError` names the field and
        nothing changes), apply them to the running actor, and keep them in the config.

        Turning on a part the running process was started without raises
        `FeatureDisabledError`: its actor starts with the process, so stop and start it.
        """
        if not isinstance(changes, Mapping):
            msg = f"{part}: expected a mapping of fields, got {type(changes).__name__}"
            raise TypeError(msg)
        current: BaseModel = getattr(self.config, part)
        section = _SECTIONS[part]
        replaced = {section.ALIASES.get(key, key) for key in changes}  # an alias replaces
        # its field
        base = {k: v for k, v in current.model_dump().items() if k not in replaced}
        new = section.model_validate({**base, **changes})
        governor = self._governor(part)
        if governor is not None:
            await governor.ask(Reconfigure(new), block=False)
        elif self.state in _LIVE and getattr(new, "enabled", False):
            raise FeatureDisabledError(self.name, part)
        self._set_config(**{part: new})
        if governor is not None:
            await self._in_turn(lambda actor: actor.refresh_governance(part))
        dumped: dict[str, Any] = new.model_dump(mode="json")
        return dumped

    def _set_config(self, **update: Any) -> None:
        config = self.config.model_copy(update=update)
        self.config = config
        self._record.config = config

    # Inbox -------------------------------------------------------------------------------------

    async def inbox_status(self) -> dict[str, Any]:
        """Counts, the oldest message's age and one summary per message (never the content)."""
        return await self._on_record(admin_ops.inbox_status)

    async def clear_inbox(self) -> int:
        """Remove every message; a waiting `ask` fails with `InboxError`. Returns the count."""
        return await self._in_turn(admin_ops.clear_inbox)

    # Triggers ----------------------------------------------------------------------------------

    def list_triggers(self) -> list[dict[str, Any]]:
        """Every trigger: id, type, source (config or dynamic), config with secrets masked."""
        result = []
        for trigger_id, slot in self._record.triggers.items():
            result.append({"id": trigger_id, "type": slot.config.type,
                           "source": slot.stats.source, "config": slot.config.masked()})
        return result

    # Secrets -----------------------------------------------------------------------------------

    async def list_secrets(self) -> dict[str, Any]:
        """Per declared secret: state, whether active, source, TTL, expiry, rotated; no value."""
        scope = self._governor("secrets")
        if scope is None:
            return {"enabled": False, "secrets": []}
        snapshot: dict[str, Any] = await scope.ask(Snapshot(), block=False)
        return {"enabled": True, "secrets": [
            {"name": name, "active": data["state"] == "active", **data}
            for name, data in snapshot["secrets"].items()
        ]}

    async def rotate_secret(self, name: str, value: str, ttl: float | None = None
                            ) -> dict[str, Any]:
        """Replace a secret's value now (its TTL restarts); that secret's metadata.
        Raises `UnknownSecretError` (a `KeyError`) for an undeclared name, `ValueError` for a
        value too short or a bad `ttl`; nothing changes then."""
        scope = self._require_governor("secrets")
        await scope.ask(Rotate(name, value, ttl), block=False)
        await self._in_turn(lambda actor: actor.refresh_governance("secrets"))
        listing = await self.list_secrets()
        info: dict[str, Any] = next(s for s in listing["secrets"] if s["name"] == name)
        return info

    async def revoke_secrets(self) -> None:
        """Revoke every secret now (values zero-filled); the agent can read none after this."""
        scope = self._require_governor("secrets")
        await scope.ask(RevokeAll(), block=False)
        await self._in_turn(lambda actor: actor.refresh_governance("secrets"))

    # Journal -----------------------------------------------------------------------------------

    async def read_journal(self, *, limit: int = 50, entry_type: str | None = None
                           ) -> list[dict[str, Any]]:
        """The newest `limit` journal entries (of `entry_type`, if given), oldest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            msg = f"limit: expected an integer >= 1, got {limit!r}"
            raise ValueError(msg)
        journal = self.config.journal
        if journal.level == "none":
            raise FeatureDisabledError(self.name, "journal")
        link = self._journals.link(journal)
        await link.client.append()  # a barrier: what was sent before is on disk
        entries = await asyncio.to_thread(link.provider.read, self.name, entry_type=entry_type)
        return [entry.to_dict() for entry in entries[-limit:]]

    # Mission -----------------------------------------------------------------------------------

    async def mission_status(self) -> dict[str, Any]:
        """State, objective, progress and the evaluations so far."""
        mission = self._governor("mission")
        objective = self.config.mission.objective
        if mission is None:
            return {"enabled": False, "objective": objective, "evaluations": []}
        status: dict[str, Any] = await mission.ask(GovernanceStatus(), block=False)
        snapshot: dict[str, Any] = await mission.ask(Snapshot(), block=False)
        return {**status, "objective": objective,
                "evaluations": snapshot.get("evaluations", [])}

    async def pause_mission(self, reason: str = "paused by operator") -> dict[str, Any]:
        """Stop evaluating (runs go on); `MissionStateError` unless the mission is active."""
        return await self._move_mission(PauseMission(reason))

    async def resume_mission(self, reason: str = "resumed by operator") -> dict[str, Any]:
        """Back to active; `MissionStateError` unless the mission is paused."""
        return await self._move_mission(ResumeMission(reason))

    async def fail_mission(self, reason: str = "failed by operator") -> dict[str, Any]:
        """End the mission as failed; `MissionStateError` once it has ended."""
        return await self._move_mission(FailMission(reason))

    async def _move_mission(self, message: Any) -> dict[str, Any]:
        mission = self._require_governor("mission")
        state: str = await mission.ask(message, block=False)
        await self._in_turn(lambda actor: actor.refresh_governance("mission"))
        return {"state": state, "reason": message.reason}

    # Health ------------------------------------------------------------------------------------

    async def health_anomalies(self) -> dict[str, Any]:
        """The anomalies reported so far (oldest first) and the current health summary."""
        health = self._governor("health")
        if health is None:
            return {"enabled": False, "anomalies": []}
        snapshot: dict[str, Any] = await health.ask(Snapshot(), block=False)
        status: dict[str, Any] = await health.ask(GovernanceStatus(), block=False)
        anomalies = [{"type": a["anomaly_type"], **a} for a in snapshot.get("anomalies", [])]
        return {"enabled": True, "is_healthy": status["is_healthy"], "anomalies": anomalies}

    async def clear_anomalies(self) -> int:
        """Forget the anomalies and their evidence after the cause was fixed; how many."""
        health = self._require_governor("health")
        cleared: int = await health.ask(ClearAnomalies(), block=False)
        await self._in_turn(lambda actor: actor.refresh_governance("health"))
        return cleared

    # Context -----------------------------------------------------------------------------------

    async def get_context(self) -> dict[str, Any]:
        """The context state (secrets redacted), the writable keys, whether all are writable."""
        return await self._redacted(await self._on_record(admin_ops.context_view))

    async def update_context(self, state: Mapping[str, Any]) -> list[str]:
        """Write keys into the context, all or nothing (`ContextWriteDenied` names the keys
        that are not writable); journaled as `context_update`. Returns the keys written."""
        if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
            msg = "state: expected a mapping with string keys"
            raise TypeError(msg)
        values = dict(state)
        return await self._in_turn(lambda actor: admin_ops.update_context(actor, values),
                                   "update_context")

    # Dead letters ------------------------------------------------------------------------------

    async def dead_letters(self) -> list[dict[str, Any]]:
        """The kept dead letters, oldest first: event, trigger, reason, payload."""
        return await self._redacted(await self._on_record(admin_ops.dead_letters))

    async def redeliver_dead_letters(self, event_ids: list[str] | None = None) -> list[str]:
        """Queue dead letters again as new events (all when `event_ids` is None); the new ids.
        `KeyError` for an id that is not a dead letter; nothing moves then."""
        ids = None if event_ids is None else list(event_ids)
        return await self._in_turn(lambda actor: admin_ops.redeliver(actor, ids), "redeliver")

    async def clear_dead_letters(self) -> int:
        """Forget the kept dead letters; returns how many."""
        return await self._on_record(admin_ops.clear_dead_letters)

    # Plumbing ----------------------------------------------------------------------------------

    async def _redacted(self, data: T) -> T:
        """`data` with the secret values of a running scope replaced by their markers (asked of
        the scope itself, so nothing leaks before the process actor has its redactor)."""
        scope = self._governor("secrets")
        if scope is None:
            return data
        redactor: Redactor = await scope.ask(GetRedactor(), block=False)
        redacted: T = redactor.redact_data(data)
        return redacted

    async def _on_record(self, operation: Callable[[ProcessRecord], T]) -> T:
        """`operation(record)` in the process actor's turn, or directly when no actor runs."""
        if self._live_handle() is None:
            return operation(self._record)
        return await self._in_turn(lambda actor: operation(actor.record))

    def _live_handle(self) -> ChildHandle | None:
        handle = self._handle
        return handle if handle is not None and handle.is_alive() else None

    async def _in_turn(self, operation: Callable[[ProcessActor], T],
                       what: str = "this operation") -> T:
        """Run `operation` in the process actor's turn; `ProcessNotAcceptingError` if no
        actor runs."""
        handle = self._live_handle()
        if handle is None:
            raise ProcessNotAcceptingError(self.state.value, what,
                                           [s.value for s in _LIVE], self.name)
        result: T = await handle.ask(Administer(operation), block=False)
        return result

    def _governor(self, part: str) -> ChildHandle | None:
        """The running governance actor for `part`, or None."""
        handle = self._governors.get(part)
        return handle if handle is not None and handle.is_alive() else None

    def _require_governor(self, part: str) -> ChildHandle:
        handle = self._governor(part)
        if handle is None:
            if getattr(self.config, part).enabled:
                raise ProcessNotAcceptingError(self.state.value, f"{part} operation",
                                               [s.value for s in _LIVE], self.name)
            raise FeatureDisabledError(self.name, part)
        return handle
