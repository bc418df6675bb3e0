"""`SecretScopeActor`: the actor shell around `SecretScope` (the secrets of one process).

`on_start` resolves every `${VAR}` / `${VAR:-default}` reference: if any is missing (or too
short), the scope's `SecretResolutionError` names every such secret and variable, never a
value, `on_start` raises it, and `spawn` fails with an `ActorStartError` caused by it, so the
process does not start. `on_stop` revokes (zero-fills) every value when `revoke_on_stop` is set.

Every `SecretEvent` of the scope (resolution, access, rotation, expiry, revocation) becomes a
`secret_access` notice carrying the event's `to_dict()`: the secret's name, the outcome and who
asked, never a value. A timer prunes secrets when their TTL runs out, so an expiry is noticed on
time even if nobody asks for the secret.

`GetSecret` replies with the value itself: the only message that carries one, and only to the
asker. For redaction the actor never sends values around; `GetRedactor` hands out the scope's
live `Redactor` by reference instead. That is safe because the redactor stays inside this Python
process: an ask's reply is passed as an object reference, never serialised, and a `Redactor`
refuses to be pickled or copied, so it cannot be journaled or sent over a wire by mistake. Its
holders only read it (`redact`, `redact_data`); the scope updates it in place, with an atomic
snapshot swap, when a secret resolves, rotates, expires or is revoked, so every holder redacts
the current values (and recently replaced ones) without another message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pykka

from greenroom.governance.config import SecretScopeConfig
from greenroom.governance.log_guard import LOG_GUARD
from greenroom.governance.messages import GetRedactor, GetSecret, RevokeAll, Rotate
from greenroom.governance.secrets import SecretEvent, SecretScope
from greenroom.governance.shell import GovernanceActor, Handler

__all__ = ["SecretScopeActor"]

_FIXED_FIELDS = ("enabled", "secrets", "default_ttl", "ttls")


@dataclass(frozen=True, slots=True)
class _ExpiryDue:
    """Timer tick: a secret's TTL has run out."""


class SecretScopeActor(GovernanceActor[SecretScopeConfig]):
    """The secret scope of process `process_name`; see the module docstring.

    `state` is a `SecretScope.to_dict()` snapshot (holding no value) to restore after a crash:
    expiry times are kept and rotated values are `lost` (see `SecretScope.from_dict`).
    `environ` is where references are read (default `os.environ`).
    """

    source: ClassVar[str] = "secrets"

    def __init__(
        self,
        config: SecretScopeConfig,
        process_name: str,
        *,
        owner: pykka.ActorRef[Any] | None = None,
        state: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(process_name, owner=owner)
        clock = self.system.clock
        if state is None:
            self.scope = SecretScope(config, process_name, clock=clock, environ=environ,
                                     on_event=self._event)
        else:
            self.scope = SecretScope.from_dict(state, config, process_name, clock=clock,
                                               environ=environ, on_event=self._event)

    def config_type(self) -> type[SecretScopeConfig]:
        """`SecretScopeConfig`."""
        return SecretScopeConfig

    def protocol(self) -> dict[type, Handler]:
        """Secret scope messages."""
        scope = self.scope
        return {
            GetSecret: lambda m: self._after(scope.get(m.name, accessor=m.accessor)),
            Rotate: self._rotate,
            RevokeAll: lambda _m: self._after(scope.revoke_all()),
            GetRedactor: lambda _m: scope.redactor,
            _ExpiryDue: lambda _m: self._after(scope.prune()),
        }

    def on_start(self) -> None:
        """Resolve the secrets (a missing variable fails the start), then arm the expiry timer."""
        self.scope.resolve_initial()
        LOG_GUARD.add(self.scope.redactor)
        self._arm_expiry()

    def on_stop(self) -> None:
        """Zero-fill every value when `revoke_on_stop` is set; stop guarding the logs with
        this scope's values (a restarted scope guards them again)."""
        if self.scope.config.revoke_on_stop:
            self.scope.revoke_all()
        LOG_GUARD.remove(self.scope.redactor)

    def _rotate(self, message: Rotate) -> None:
        self.scope.rotate(message.name, message.value, ttl=message.ttl)
        self._arm_expiry()

    def _event(self, event: SecretEvent) -> None:
        """The scope's audit callback: one `secret_access` notice per event, by name only."""
        self.notice(event.entry_type, event.to_dict())

    def _after(self, result: Any) -> Any:
        """Re-arm the expiry timer after a change, and pass the handler's result through."""
        self._arm_expiry()
        return result

    def _arm_expiry(self) -> None:
        delay = self.scope.next_expiry()
        if delay is None:
            self.timers.cancel("expiry")
        else:
            self.timers.start_single_timer("expiry", _ExpiryDue(), delay)

    # Common asks --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """`SecretScope.to_dict()`: states, sources and times, no value."""
        return self.scope.to_dict()

    def status(self) -> dict[str, Any]:
        """The active secret names and, per secret, its state and expiry; never a value."""
        scope = self.scope
        secrets = scope.to_dict()["secrets"]
        return {
            "enabled": scope.config.enabled,
            "active": scope.active_secret_names,
            "active_count": scope.active_secret_count,
            "next_expiry_in": scope.next_expiry(),
            "secrets": {
                name: {"state": data["state"], "expires_at": data["expires_at"],
                       "rotated": data["rotated"]}
                for name, data in secrets.items()
            },
        }

    def reconfigure(self, config: SecretScopeConfig) -> None:
        """Only `revoke_on_stop` can change on a running scope.

        The declared secrets and their TTLs are fixed for the scope's lifetime: `SecretScope`
        resolves them once, at start, and re-resolving a running scope would re-read the
        environment over rotated values. Use `Rotate` for a new value, or restart the process
        with the new config. Any other change raises `ValueError` naming the fields.
        """
        old = self.scope.config
        changed = [name for name in _FIXED_FIELDS if getattr(old, name) != getattr(config, name)]
        if changed:
            msg = (f"config: {', '.join(changed)} cannot change on a running secret scope; "
                   "restart the process (or Rotate a secret)")
            raise ValueError(msg)
        self.scope.config = config
