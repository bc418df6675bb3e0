"""`SecretScope`: a process's own secrets, with TTLs, rotation, revocation and an access trail.

The pure policy of the secret-scope actor: no threads, no I/O, time from a `Clock`. The actor
shell calls it from its message handlers and journals the `SecretEvent`s it reports (through the
`on_event` callback) as `secret_access` entries. Events name secrets and never carry values.

Lifecycle of one secret (`SecretState`):

- `pending` until `resolve_initial()` (at process start) resolves it: a literal value, `${VAR}`
  or `${VAR:-default}` from the `environ` mapping (default `os.environ`). The default applies
  when `VAR` is unset or empty, as in a POSIX shell. If any secret cannot be resolved (a missing
  variable without default, a value shorter than `MIN_SECRET_LENGTH`), `SecretResolutionError`
  names every such secret and variable and nothing is resolved: the process must not start.
- `active` while it has a value; `get()` returns it. Its TTL (`ttls[name]`, else
  `default_ttl`, else none) runs on the monotonic clock from resolution or rotation.
- `expired` from the instant `resolved + ttl` on: `get()` returns None. Expiry is noticed lazily
  (by `get`, `prune`, `resolve_initial`); `next_expiry()` tells the shell when to call `prune()`.
- `rotate()` gives a secret a new value in any state and restarts its TTL.
- `revoked` after `revoke_all()` (on stop when `revoke_on_stop`): every buffer is zero-filled.
  The next `resolve_initial()` starts a new lifetime: every secret is resolved afresh.
- `lost` after a crash: a secret whose value came from `rotate()` cannot be re-read from the
  environment (which holds the value it replaced), so it stays unavailable until rotated again.

Checkpoints (`to_dict`) hold names, states, sources (`env:VAR`, `default:VAR`, `literal`,
`rotation`), TTLs and times, never values. `from_dict` restores them after a crash; the following
`resolve_initial()` re-reads the environment for the secrets that were active and keeps their
expiry times, so a crash never extends a secret's lifetime, and one that expired stays expired.

Values are kept as UTF-8 `bytearray`s so `revoke_all` can overwrite them. That is best effort,
and CPython limits it: the config's literal values and `os.environ` keep their own `str` copies;
every `get()` returns a new immutable `str` that lives until garbage-collected; encoding and
decoding make short-lived copies; and freed memory is not wiped. Zero-filling shortens how long
a value sits in this object's memory; it is not a guarantee that no copy remains in the process.

Redaction: the scope keeps its `Redactor` (`redactor`, `sanitize_text`, `sanitize`) in step
with its values. Values replaced by rotation or expiry stay redacted (the last
`RETIRED_VALUES_KEPT` per secret), since old conversation text may still hold them, until
`revoke_all` forgets everything. Whatever keeps text beyond a stop must redact it on the way in.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NoReturn

from greenroom.actors.clock import Clock, SystemClock
from greenroom.governance.config import SecretScopeConfig
from greenroom.governance.redaction import Redactor, check_secret_value
from greenroom.journal.entry import EntryType

__all__ = [
    "RETIRED_VALUES_KEPT",
    "ResolutionProblem",
    "SecretEvent",
    "SecretResolutionError",
    "SecretScope",
    "SecretState",
    "UnknownSecretError",
]

RETIRED_VALUES_KEPT = 10
"""Replaced values (by rotation or expiry) kept per secret, for redaction only."""

_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$")
_ENCODING = "utf-8"
_ERRORS = "surrogatepass"


class SecretState(StrEnum):
    """Where one secret is in its lifecycle (see the module docstring)."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOST = "lost"


@dataclass(frozen=True)
class ResolutionProblem:
    """Why one secret could not be resolved; `variable` is the referenced variable, if any."""

    secret: str
    variable: str | None
    reason: str

    def describe(self) -> str:
        """`secret 'name': reason`."""
        return f"secret {self.secret!r}: {self.reason}"


class SecretResolutionError(KeyError, ValueError):
    """Secrets could not be resolved at start; nothing was. Lists every problem, no value.

    A `KeyError` (the seed's type for an unresolvable reference) and a `ValueError` (a value too
    short is bad input), with a plain message instead of `KeyError`'s quoted one.
    """

    def __init__(self, process_id: str, problems: tuple[ResolutionProblem, ...]) -> None:
        self.process_id = process_id
        self.problems = problems
        details = "; ".join(problem.describe() for problem in problems)
        self.message = (
            f"process {process_id!r}: cannot resolve {len(problems)} secret(s), none were "
            f"resolved: {details}"
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UnknownSecretError(KeyError):
    """A secret name the scope's config does not declare."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.message = f"no secret named {name!r} in this scope (declared: {known})"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SecretEvent:
    """Something that happened to a secret, by name only; journal it as `secret_access`.

    `action` and its `outcome`s:
    - `resolve`: `resolved` (with `source`: `env:VAR`, `default:VAR` or `literal`);
    - `get`: `granted`, `expired`, `unavailable` (pending, revoked or lost) or `unknown`;
    - `rotate`: `rotated`; `expire`: `expired`; `revoke`: `revoked`.
    `timestamp` and `expires_at` are epoch seconds; `accessor` says who asked, if given.
    """

    entry_type: ClassVar[str] = EntryType.SECRET_ACCESS.value

    action: str
    secret: str
    outcome: str
    timestamp: float
    accessor: str | None = None
    source: str | None = None
    expires_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The journal entry's data (JSON-ready; unset optional fields left out)."""
        data: dict[str, Any] = {
            "action": self.action,
            "secret": self.secret,
            "outcome": self.outcome,
            "timestamp": self.timestamp,
        }
        for key in ("accessor", "source", "expires_at"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(eq=False)
class _Slot:
    """One declared secret. `deadline` is on the monotonic clock."""

    state: SecretState = SecretState.PENDING
    value: bytearray | None = field(default=None, repr=False)
    retired: list[bytearray] = field(default_factory=list, repr=False)
    ttl: float | None = None
    deadline: float | None = None
    resolved_at: float | None = None
    source: str | None = None
    rotated: bool = False
    keep_deadline: bool = False  # restored after a crash: resolve with the old deadline

    def buffers(self) -> list[bytearray]:
        """Every value buffer held: the current one first, then the retired ones."""
        return ([] if self.value is None else [self.value]) + self.retired


def _zero(buffers: list[bytearray]) -> None:
    """Overwrite each buffer in place with NUL bytes (same length, no reallocation)."""
    for buffer in buffers:
        buffer[:] = bytes(len(buffer))


def _ttl_or_none(ttl: float | None) -> float | None:
    """An infinite TTL means no expiry."""
    return None if ttl is None or math.isinf(ttl) else float(ttl)


class SecretScope:
    """Per-process secret vault: resolution at start, TTLs, rotation, revocation, audit events.

    `on_event` receives a `SecretEvent` for every resolution, access (found or not), rotation,
    expiry and revocation; without it nothing is reported. Values never appear in `repr()`,
    `str()`, `to_dict()` or events, and the scope refuses to be pickled or copied.
    """

    def __init__(
        self,
        config: SecretScopeConfig,
        process_id: str,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        on_event: Callable[[SecretEvent], object] | None = None,
    ) -> None:
        if not isinstance(config, SecretScopeConfig):
            msg = f"config: expected a SecretScopeConfig, got {type(config).__name__}"
            raise TypeError(msg)
        ttls = [("default_ttl", config.default_ttl)]
        ttls += [(f"ttls[{name!r}]", ttl) for name, ttl in config.ttls.items()]
        for where, ttl in ttls:
            if ttl is not None and math.isnan(ttl):  # `ttl <= 0` in the config misses NaN
                msg = f"{where}: must be a number of seconds > 0, got NaN"
                raise ValueError(msg)
        self.config = config
        self.process_id = process_id
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._on_event = on_event
        self._slots = {name: _Slot() for name in config.secrets}
        self._redactor = Redactor()

    def __repr__(self) -> str:
        return (
            f"SecretScope(process_id={self.process_id!r}, secrets={self.names!r}, "
            f"active={self.active_secret_count})"
        )

    def __reduce__(self) -> NoReturn:
        msg = "a SecretScope holds secret values and cannot be pickled or copied; use to_dict()"
        raise TypeError(msg)

    # Reading -----------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Every declared secret name, in config order."""
        return list(self._slots)

    @property
    def active_secret_names(self) -> list[str]:
        """Names of the secrets `get` would return now (active and not past their TTL)."""
        now = self.clock.monotonic()
        return [name for name, slot in self._slots.items() if self._live(slot, now)]

    @property
    def active_secret_count(self) -> int:
        """How many secrets `get` would return now."""
        return len(self.active_secret_names)

    def list_names(self) -> list[str]:
        """The active secret names (the seed's spelling of `active_secret_names`)."""
        return self.active_secret_names

    def state(self, name: str) -> SecretState:
        """The state of secret `name` now (an active secret past its TTL reads as expired)."""
        slot = self._slot(name)
        if slot.state is SecretState.ACTIVE and not self._live(slot, self.clock.monotonic()):
            return SecretState.EXPIRED
        return slot.state

    def get(self, name: str, *, accessor: str | None = None) -> str | None:
        """The value of secret `name`, or None if it is unknown, not resolved, or expired.

        Every call reports a `get` event (name, outcome and `accessor`, never the value).
        """
        if not isinstance(name, str):
            msg = f"name: expected a str, got {type(name).__name__}"
            raise TypeError(msg)
        slot = self._slots.get(name)
        if slot is None:
            self._emit("get", name, "unknown", accessor=accessor)
            return None
        self._expire_if_due(name, slot, self.clock.monotonic())
        if slot.state is SecretState.ACTIVE and slot.value is not None:
            self._emit("get", name, "granted", accessor=accessor)
            return slot.value.decode(_ENCODING, _ERRORS)
        outcome = "expired" if slot.state is SecretState.EXPIRED else "unavailable"
        self._emit("get", name, outcome, accessor=accessor)
        return None

    def next_expiry(self) -> float | None:
        """Seconds until the next active secret expires (0 if one is due), None if none will."""
        now = self.clock.monotonic()
        deadlines = [
            slot.deadline
            for slot in self._slots.values()
            if slot.state is SecretState.ACTIVE and slot.deadline is not None
        ]
        return max(0.0, min(deadlines) - now) if deadlines else None

    # Changing ----------------------------------------------------------------------------------

    def resolve_initial(self) -> list[str]:
        """Resolve every pending or revoked secret; returns the names resolved now.

        Secrets restored after a crash keep their expiry time (one already past it becomes
        expired without being read). Does nothing when the config is disabled. Raises
        `SecretResolutionError` listing every secret that cannot be resolved; nothing changes
        then.
        """
        if not self.config.enabled:
            return []
        now = self.clock.monotonic()
        problems: list[ResolutionProblem] = []
        resolved: list[tuple[str, str, str]] = []
        overdue: list[str] = []
        for name, slot in self._slots.items():
            if slot.state not in (SecretState.PENDING, SecretState.REVOKED):
                continue
            if slot.keep_deadline and slot.deadline is not None and slot.deadline <= now:
                overdue.append(name)
                continue
            outcome = self._lookup(name, self.config.secrets[name])
            if isinstance(outcome, ResolutionProblem):
                problems.append(outcome)
            else:
                resolved.append((name, *outcome))
        if problems:
            raise SecretResolutionError(self.process_id, tuple(problems))
        for name in overdue:
            slot = self._slots[name]
            slot.state = SecretState.EXPIRED
            slot.keep_deadline = False
            self._emit("expire", name, "expired", expires_at=self._wall(slot.deadline))
        for name, value, source in resolved:
            slot = self._slots[name]
            if not slot.keep_deadline:
                slot.ttl = self._configured_ttl(name)
                slot.deadline = None if slot.ttl is None else now + slot.ttl
            slot.keep_deadline = False
            slot.value = bytearray(value, _ENCODING, _ERRORS)
            slot.state = SecretState.ACTIVE
            slot.resolved_at = self.clock.time()
            slot.source = source
            slot.rotated = False
            self._sync(name, slot, [])
            self._emit(
                "resolve", name, "resolved", source=source, expires_at=self._wall(slot.deadline)
            )
        return [name for name, _, _ in resolved]

    def rotate(self, name: str, new_value: str, *, ttl: float | None = None) -> None:
        """Replace secret `name`'s value now, in any state; its TTL restarts.

        `ttl` overrides the configured TTL for this value. The old value stays redacted (see
        `RETIRED_VALUES_KEPT`). Raises `UnknownSecretError` for an undeclared name, `ValueError`
        for a value too short (never quoting it) or a bad `ttl`; nothing changes then.
        """
        slot = self._slot(name)
        if not isinstance(new_value, str):
            msg = f"rotate({name!r}): new_value must be a str, got {type(new_value).__name__}"
            raise TypeError(msg)
        problem = check_secret_value(new_value)
        if problem is not None:
            msg = f"rotate({name!r}): the new value {problem}"
            raise ValueError(msg)
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0
        ):
            msg = f"rotate({name!r}): ttl must be a number of seconds > 0 or None"
            raise ValueError(msg)
        buffer = bytearray(new_value, _ENCODING, _ERRORS)
        discard: list[bytearray] = []
        if slot.value is not None and slot.value == buffer:
            discard.append(slot.value)
        elif slot.value is not None:
            slot.retired.append(slot.value)
        while len(slot.retired) > RETIRED_VALUES_KEPT:
            discard.append(slot.retired.pop(0))
        slot.value = buffer
        slot.ttl = _ttl_or_none(ttl) if ttl is not None else self._configured_ttl(name)
        slot.deadline = None if slot.ttl is None else self.clock.monotonic() + slot.ttl
        slot.state = SecretState.ACTIVE
        slot.resolved_at = self.clock.time()
        slot.source = "rotation"
        slot.rotated = True
        slot.keep_deadline = False
        self._sync(name, slot, discard)
        self._emit("rotate", name, "rotated", expires_at=self._wall(slot.deadline))

    def prune(self) -> list[str]:
        """Expire every active secret past its TTL now; returns their names."""
        now = self.clock.monotonic()
        return [name for name, slot in self._slots.items() if self._expire_if_due(name, slot, now)]

    def revoke_all(self) -> int:
        """Zero-fill and forget every value (retired ones too); returns how many secrets had one.

        Every secret becomes `revoked`; the next `resolve_initial()` resolves them afresh.
        """
        discard: list[bytearray] = []
        revoked: list[str] = []
        for name, slot in self._slots.items():
            buffers = slot.buffers()
            if buffers:
                revoked.append(name)
                discard.extend(buffers)
            self._slots[name] = _Slot(state=SecretState.REVOKED)
        self._redactor.clear()
        _zero(discard)
        for name in revoked:
            self._emit("revoke", name, "revoked")
        return len(revoked)

    # Redaction ---------------------------------------------------------------------------------

    @property
    def redactor(self) -> Redactor:
        """The redactor that knows this scope's current and recently replaced values."""
        return self._redactor

    def sanitize_text(self, text: str) -> str:
        """`text` with every known secret value replaced by `[REDACTED:name]`."""
        return self._redactor.redact(text)

    def sanitize(self, data: Any) -> Any:
        """JSON-ready `data` with every string in it sanitised (keys too)."""
        return self._redactor.redact_data(data)

    # Checkpoints -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready checkpoint: per secret its state, source, TTL and times; no value."""
        secrets: dict[str, Any] = {}
        for name, slot in self._slots.items():
            secrets[name] = {
                "state": self.state(name).value,
                "source": slot.source,
                "ttl": slot.ttl,
                "expires_at": self._wall(slot.deadline),
                "resolved_at": slot.resolved_at,
                "rotated": slot.rotated,
            }
        return {"secrets": secrets}

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        config: SecretScopeConfig,
        process_id: str,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        on_event: Callable[[SecretEvent], object] | None = None,
    ) -> SecretScope:
        """A scope restored from `to_dict()` output, holding no value yet.

        Call `resolve_initial()` next: secrets that were active are re-read from the
        environment with their old expiry time, unless their value came from `rotate()` (then
        `lost`); expired, revoked and lost ones stay so. The config decides which secrets
        exist: checkpointed names it no longer declares are ignored, new ones are pending.
        Raises `ValueError` naming the first malformed field.
        """
        scope = cls(config, process_id, clock=clock, environ=environ, on_event=on_event)
        if not isinstance(data, Mapping) or not isinstance(data.get("secrets"), Mapping):
            msg = "secrets: expected a mapping of secret names to their checkpoint"
            raise ValueError(msg)
        for name, raw in data["secrets"].items():
            if name in scope._slots:
                scope._slots[name] = scope._restore(name, raw)
        return scope

    def _restore(self, name: str, raw: Any) -> _Slot:
        where = f"secrets[{name!r}]"
        if not isinstance(raw, Mapping):
            msg = f"{where}: expected a mapping"
            raise ValueError(msg)
        try:
            state = SecretState(raw.get("state", ""))
        except ValueError:
            msg = f"{where}.state: expected one of {[s.value for s in SecretState]}"
            raise ValueError(msg) from None
        ttl = _optional_number(raw.get("ttl"), f"{where}.ttl")
        expires_at = _optional_number(raw.get("expires_at"), f"{where}.expires_at")
        resolved_at = _optional_number(raw.get("resolved_at"), f"{where}.resolved_at")
        source = raw.get("source")
        if source is not None and not isinstance(source, str):
            msg = f"{where}.source: expected a str or null"
            raise ValueError(msg)
        rotated = raw.get("rotated", False)
        if not isinstance(rotated, bool):
            msg = f"{where}.rotated: expected a bool"
            raise ValueError(msg)
        deadline = None
        if expires_at is not None:
            deadline = self.clock.monotonic() + (expires_at - self.clock.time())
        if state in (SecretState.ACTIVE, SecretState.PENDING):
            if rotated:
                return _Slot(state=SecretState.LOST, source=source, rotated=True)
            return _Slot(
                state=SecretState.PENDING,
                ttl=_ttl_or_none(ttl),
                deadline=deadline,
                source=source,
                keep_deadline=deadline is not None,
            )
        if state is SecretState.EXPIRED:
            return _Slot(
                state=state,
                ttl=ttl,
                deadline=deadline,
                resolved_at=resolved_at,
                source=source,
                rotated=rotated,
            )
        if state is SecretState.LOST:
            return _Slot(state=state, source=source, rotated=True)
        return _Slot(state=SecretState.REVOKED)

    # Internals ---------------------------------------------------------------------------------

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            raise UnknownSecretError(name, self.names)
        return slot

    @staticmethod
    def _live(slot: _Slot, now: float) -> bool:
        return slot.state is SecretState.ACTIVE and (slot.deadline is None or now < slot.deadline)

    def _configured_ttl(self, name: str) -> float | None:
        return _ttl_or_none(self.config.ttls.get(name, self.config.default_ttl))

    def _wall(self, deadline: float | None) -> float | None:
        """A monotonic deadline as epoch seconds."""
        if deadline is None:
            return None
        return self.clock.time() + (deadline - self.clock.monotonic())

    def _lookup(self, name: str, raw: str) -> tuple[str, str] | ResolutionProblem:
        """(value, source) of one secret from the config, or why it cannot be resolved."""
        match = _REFERENCE.match(raw)
        if match is None:
            value, source, what, variable = raw, "literal", "the literal value", None
        else:
            variable, default = match.group(1), match.group(2)
            found = self._environ.get(variable)
            if found is None or (found == "" and default is not None):
                if default is None:
                    return ResolutionProblem(
                        name, variable, f"environment variable {variable} is not set"
                    )
                value, source = default, f"default:{variable}"
                what = f"the default of ${{{variable}:-...}}"
            else:
                value, source = found, f"env:{variable}"
                what = f"environment variable {variable}"
        problem = check_secret_value(value)
        if problem is not None:
            return ResolutionProblem(name, variable, f"{what} {problem}")
        return value, source

    def _expire_if_due(self, name: str, slot: _Slot, now: float) -> bool:
        if slot.state is not SecretState.ACTIVE or self._live(slot, now):
            return False
        discard: list[bytearray] = []
        if slot.value is not None:
            slot.retired.append(slot.value)
            slot.value = None
        while len(slot.retired) > RETIRED_VALUES_KEPT:
            discard.append(slot.retired.pop(0))
        slot.state = SecretState.EXPIRED
        self._sync(name, slot, discard)
        self._emit("expire", name, "expired", expires_at=self._wall(slot.deadline))
        return True

    def _sync(self, name: str, slot: _Slot, discard: list[bytearray]) -> None:
        """Tell the redactor `name`'s buffers, then zero-fill the ones it no longer has."""
        self._redactor.set(name, slot.buffers())
        _zero(discard)

    def _emit(
        self,
        action: str,
        name: str,
        outcome: str,
        *,
        accessor: str | None = None,
        source: str | None = None,
        expires_at: float | None = None,
    ) -> None:
        if self._on_event is not None:
            self._on_event(
                SecretEvent(action, name, outcome, self.clock.time(), accessor, source, expires_at)
            )


def _optional_number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        msg = f"{where}: expected a number or null"
        raise ValueError(msg)
    return float(value)
