"""`GovernanceActor`: what the four governance actors share around their pure policies.

Each governance actor owns one policy object and turns messages into calls on it. This base gives
them the same plumbing: a dispatch table on message type, the common asks (`Snapshot`,
`GovernanceStatus`, `Reconfigure`), notices to the owner, and escalation on the io loop.

Escalation never blocks the actor: `escalate` hands `Escalator.escalate` to the io loop with
`pipe_to`, and the outcome comes back as a message, which the actor reports to its owner as an
`escalation` notice. The `Escalator` never raises a delivery failure; anything else that goes
wrong in the coroutine is caught there and reported the same way, so an escalation can never
fail the actor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import pykka

from greenroom.actors.actor import Actor
from greenroom.actors.messages import Failure
from greenroom.governance.config import EscalationTarget
from greenroom.governance.escalation import DEFAULT_TIMEOUT, Escalator
from greenroom.governance.messages import (
    GovernanceNotice,
    GovernanceStatus,
    Reconfigure,
    Snapshot,
)
from greenroom.governance.redaction import Redactor

__all__ = ["GovernanceActor", "Handler"]

logger = logging.getLogger("greenroom.governance")

Handler = Callable[[Any], Any]
"""A message handler of a governance actor: takes the message, returns the reply (if asked)."""

C = TypeVar("C")
"""The config type of one governance actor."""


@dataclass(frozen=True, slots=True)
class _Escalated:
    """The outcome of one escalation, back from the io loop."""

    about: str
    outcome: dict[str, Any]


class GovernanceActor(Actor, Generic[C]):
    """Base of the governance actors: dispatch, notices to `owner`, escalation, common asks.

    `process_name` names the process on notices, escalations and events. `owner` (the process
    actor) receives every `GovernanceNotice`; without one, notices are only logged at debug
    level. `event_bus`, `redactor` and `escalation_timeout` configure the `Escalator`; with a
    redactor (the secret scope's), notice data and escalation payloads are redacted too.
    """

    source: ClassVar[str]
    """The notice source of the subclass: budget, health, mission or secrets."""

    def __init__(
        self,
        process_name: str,
        *,
        owner: pykka.ActorRef[Any] | None = None,
        event_bus: object | None = None,
        redactor: Redactor | None = None,
        escalation_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__()
        if not isinstance(process_name, str) or not process_name:
            msg = f"process_name: expected a non-empty string, got {process_name!r}"
            raise ValueError(msg)
        if owner is not None and not isinstance(owner, pykka.ActorRef):
            msg = f"owner: expected an ActorRef or None, got {type(owner).__name__}"
            raise TypeError(msg)
        if redactor is not None and not isinstance(redactor, Redactor):
            msg = f"redactor: expected a Redactor or None, got {type(redactor).__name__}"
            raise TypeError(msg)
        self.process_name = process_name
        self.owner = owner
        self._redactor = redactor
        self._escalator = Escalator(
            event_bus=event_bus, source=process_name, timeout=escalation_timeout,
            redactor=redactor,
        )
        self._protocol: dict[type, Handler] | None = None

    # What subclasses provide ------------------------------------------------------------------

    def protocol(self) -> dict[type, Handler]:
        """The subclass's own messages and their handlers."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """The policy's `to_dict()`."""
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        """A JSON-ready status dict."""
        raise NotImplementedError

    def reconfigure(self, config: C) -> None:
        """Apply `config` (already checked to be a `config_type`) to the policy."""
        raise NotImplementedError

    def config_type(self) -> type[C]:
        """The config class `Reconfigure` must carry for this actor."""
        raise NotImplementedError

    # Dispatch -----------------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        """Dispatch on the message type; unknown messages go to pykka (which logs them)."""
        if self._protocol is None:  # built on first use: subclasses make their policy last
            self._protocol = {
                Snapshot: lambda _m: self.snapshot(),
                GovernanceStatus: lambda _m: self.status(),
                Reconfigure: self._reconfigure,
                _Escalated: self._escalated,
                Failure: self._piped_failure,
                **self.protocol(),
            }
        handler = self._protocol.get(type(message))
        if handler is None:
            return super().on_receive(message)
        return handler(message)

    def _reconfigure(self, message: Reconfigure) -> dict[str, Any]:
        expected = self.config_type()
        config = message.config
        if not isinstance(config, expected):
            msg = (f"config: {type(self).__name__} needs a {expected.__name__}, got "
                   f"{type(config).__name__}")
            raise TypeError(msg)
        self.reconfigure(config)
        return self.status()

    # Notices and escalation ---------------------------------------------------------------------

    def notice(self, kind: str, data: Mapping[str, Any], action: str | None = None) -> None:
        """Tell the owner a `GovernanceNotice` (data redacted when a redactor is set)."""
        payload = dict(data)
        if self._redactor is not None:
            payload = self._redactor.redact_data(payload)
        notice = GovernanceNotice(self.source, kind, payload, action)
        if self.owner is None:
            logger.debug("%s %s notice without owner: %s", self.process_name, self.source, kind)
            return
        self.owner.tell(notice)

    def escalate(
        self, target: EscalationTarget | None, about: str, data: Mapping[str, Any]
    ) -> None:
        """Send `data` to `target` on the io loop; its outcome comes back as an `escalation`
        notice (`about` names what was escalated). Never blocks, never raises."""
        payload = {"type": about, "process_id": self.process_name, "source": self.source,
                   **data}
        self.pipe_to(self._send(target, about, payload))

    async def _send(
        self, target: EscalationTarget | None, about: str, payload: dict[str, Any]
    ) -> _Escalated:
        try:
            result = await self._escalator.escalate(target, payload)
        except Exception as exc:
            detail = f"escalation failed ({type(exc).__name__})"
            logger.warning("%s: %s escalation of %s: %s", self.process_name, self.source, about,
                           detail)
            return _Escalated(about, {"ok": False, "attempted": True, "detail": detail})
        return _Escalated(about, {**result.to_dict(), "attempted": result.attempted})

    def _escalated(self, message: _Escalated) -> None:
        self.notice("escalation", {"about": message.about, **message.outcome})

    def _piped_failure(self, message: Failure) -> None:
        """A piped coroutine was cancelled (the only way one of ours ends in a `Failure`)."""
        logger.debug("%s: %s coroutine ended with %r", self.process_name, self.source,
                     message.exception)
