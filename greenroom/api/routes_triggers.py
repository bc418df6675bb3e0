"""Trigger routes: list, add, remove.

A trigger added over the API is a `TriggerConfig` (validated strictly, 422 naming the field),
checked by the deploy policy (a watched path inside `data_dir`, no `${VAR}`), refused with 409
TRIGGER_EXISTS when the process already has an identical trigger or the same `trigger_id`, and
started at once when the process runs. `DELETE .../triggers/static_<n>` (the reference API's
legacy form) removes the n-th trigger of the config, with a warning in the log.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from greenroom.api.errors import ApiError
from greenroom.api.routing import Call, Out, P, Route
from greenroom.runtime.lifecycle import ProcessState
from greenroom.runtime.process import AgentProcess
from greenroom.triggers.config import TriggerConfig, trigger_ids

__all__ = ["ROUTES"]

logger = logging.getLogger("greenroom.api")

_TAG = "triggers"
_LEGACY_ID = re.compile(r"^static_(\d+)$")


class TriggerView(Out):
    """One trigger: its id, type, where it came from and its config (secrets masked)."""

    id: str
    type: str
    source: Literal["config", "dynamic"]
    config: dict[str, Any]


class TriggerList(Out):
    """The process's triggers."""

    name: str
    triggers: list[TriggerView]
    count: int


class TriggerAdded(Out):
    """The trigger was added (and started, if the process runs)."""

    name: str
    trigger_added: Literal[True] = True
    trigger_id: str
    trigger_type: str
    live: bool
    effective_from: Literal["immediate", "next_start"]


class TriggerRemoved(Out):
    """The trigger was stopped and removed."""

    name: str
    trigger_removed: str
    live: bool
    effective_from: Literal["immediate", "next_start"]


def _live(process: AgentProcess) -> bool:
    return process.state in (ProcessState.RUNNING, ProcessState.SUSPENDED)


async def list_triggers(call: Call) -> TriggerList:
    """Every trigger of the process."""
    triggers = [TriggerView.model_validate(t) for t in call.process().list_triggers()]
    return TriggerList(name=call.name, triggers=triggers, count=len(triggers))


async def add_trigger(call: Call) -> TriggerAdded:
    """Add a trigger; it starts at once if the process runs."""
    config = call.body_as(TriggerConfig)
    process = call.process()
    call.services.policy.check_trigger(config)
    wanted = config.fingerprint()
    for trigger_id, slot in process.record.triggers.items():
        if trigger_id == config.trigger_id or slot.config.fingerprint() == wanted:
            msg = f"process {call.name!r} already has this trigger, as {trigger_id!r}"
            raise ApiError("TRIGGER_EXISTS", msg)
    trigger_id = await process.add_trigger(config)
    live = _live(process)
    return TriggerAdded(name=call.name, trigger_id=trigger_id, trigger_type=config.type,
                        live=live, effective_from="immediate" if live else "next_start")


async def remove_trigger(call: Call) -> TriggerRemoved:
    """Stop and remove a trigger (`static_<n>`: the n-th trigger of the config)."""
    process = call.process()
    trigger_id = call.request.match_info["trigger_id"]
    legacy = _LEGACY_ID.match(trigger_id)
    if legacy is not None and trigger_id not in process.record.triggers:
        ids = trigger_ids(process.config.triggers)
        index = int(legacy.group(1))
        if index < len(ids):
            logger.warning("api: trigger id %r is the legacy form of %r", trigger_id, ids[index])
            trigger_id = ids[index]
    try:
        await process.remove_trigger(trigger_id)
    except KeyError:
        msg = f"process {call.name!r} has no trigger {trigger_id!r}"
        raise ApiError("TRIGGER_NOT_FOUND", msg) from None
    live = _live(process)
    return TriggerRemoved(name=call.name, trigger_removed=trigger_id, live=live,
                          effective_from="immediate" if live else "next_start")


ROUTES = (
    Route("GET", f"{P}/triggers", list_triggers, "List triggers", _TAG,
          response=TriggerList),
    Route("POST", f"{P}/triggers", add_trigger, "Add a trigger", _TAG, status=201,
          response=TriggerAdded, body=TriggerConfig, errors=(403, 409)),
    Route("DELETE", f"{P}/triggers/{{trigger_id}}", remove_trigger, "Remove a trigger", _TAG,
          response=TriggerRemoved),
)
