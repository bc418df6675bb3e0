"""SecretScopeActor: resolution at start (a missing variable fails the start), audited access by
name only, TTL expiry on a timer, rotation, revocation (on stop too), the shared redactor, and no
value in any notice, status or snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from governance_actor_support import notice, notices, shows

from greenroom.actors import ActorRef, ActorStartError, ActorSystem, ManualClock
from greenroom.governance import (
    BudgetConfig,
    GetRedactor,
    GetSecret,
    GovernanceStatus,
    Reconfigure,
    Redactor,
    RevokeAll,
    Rotate,
    SecretResolutionError,
    SecretScopeActor,
    SecretScopeConfig,
    Snapshot,
)
from greenroom.testing import TestProbe

STRIPE = "sk_live_4f9a2b7c1d"
DB_DEFAULT = "dev-password-123"
TOKEN = "tok-abc123-static"
ROTATED = "sk_live_rotated_99"
ENV = {"STRIPE_API_KEY": STRIPE}
VALUES = (STRIPE, DB_DEFAULT, TOKEN, ROTATED)


def scope_config(**fields: Any) -> SecretScopeConfig:
    secrets = {"stripe_key": "${STRIPE_API_KEY}", "db_password": f"${{DB_PASSWORD:-{DB_DEFAULT}}}",
               "static_token": TOKEN}
    return SecretScopeConfig(enabled=True, secrets=secrets, **fields)


def spawn(
    system: ActorSystem, probe: TestProbe | None, config: SecretScopeConfig | None = None,
    **options: Any,
) -> ActorRef[Any]:
    owner = None if probe is None else probe.ref
    options.setdefault("environ", ENV)
    return system.spawn(SecretScopeActor, config or scope_config(), "payments", owner=owner,
                        **options)


def test_secrets_resolve_at_start_and_each_resolution_is_noticed_by_name(
    actor_system: ActorSystem,
) -> None:
    probe = TestProbe(actor_system)
    scope = spawn(actor_system, probe)
    resolved = notices(probe, 3)
    assert [(n.source, n.kind, n.action) for n in resolved] == [
        ("secrets", "secret_access", None)] * 3
    assert [n.data["secret"] for n in resolved] == ["stripe_key", "db_password", "static_token"]
    assert [n.data["source"] for n in resolved] == [
        "env:STRIPE_API_KEY", "default:DB_PASSWORD", "literal"]
    assert scope.ask(GetSecret("stripe_key", accessor="agent")) == STRIPE
    assert scope.ask(GetSecret("db_password")) == DB_DEFAULT
    access = notice(probe, "secret_access")
    assert access.data == {"action": "get", "secret": "stripe_key", "outcome": "granted",
                           "timestamp": access.data["timestamp"], "accessor": "agent"}
    assert not shows(STRIPE, resolved, access)


def test_missing_variables_fail_the_start_naming_every_one(actor_system: ActorSystem) -> None:
    config = SecretScopeConfig(enabled=True, secrets={
        "stripe_key": "${STRIPE_API_KEY}", "db_password": "${DB_PASSWORD}",
        "static_token": TOKEN})
    with pytest.raises(ActorStartError) as failed:
        spawn(actor_system, None, config, environ={})
    cause = failed.value.__cause__
    assert isinstance(cause, SecretResolutionError)
    text = str(cause)
    assert "environment variable STRIPE_API_KEY is not set" in text
    assert "environment variable DB_PASSWORD is not set" in text
    assert TOKEN not in text
    assert actor_system.actor_count() == 0


def test_an_unknown_or_expired_secret_is_none_and_audited(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    probe = TestProbe(actor_system)
    scope = spawn(actor_system, probe, scope_config(ttls={"stripe_key": 60.0}))
    notices(probe, 3)
    assert scope.ask(GetSecret("nope")) is None
    assert notice(probe, "secret_access").data["outcome"] == "unknown"
    manual_clock.advance(60)
    expired = notice(probe, "secret_access")  # told by the expiry timer, nobody asked
    assert expired.data["action"] == "expire"
    assert expired.data["secret"] == "stripe_key"
    assert scope.ask(GetSecret("stripe_key")) is None
    assert notice(probe, "secret_access").data["outcome"] == "expired"
    assert scope.ask(GovernanceStatus())["secrets"]["stripe_key"]["state"] == "expired"


def test_rotation_restarts_the_ttl_and_the_old_value_stays_redacted(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    probe = TestProbe(actor_system)
    scope = spawn(actor_system, probe, scope_config(default_ttl=100.0))
    notices(probe, 3)
    redactor = scope.ask(GetRedactor())
    manual_clock.advance(50)
    scope.ask(Rotate("stripe_key", ROTATED))
    rotated = notice(probe, "secret_access")
    assert rotated.data["action"] == "rotate"
    assert not shows(ROTATED, rotated)
    manual_clock.advance(60)  # the others expire at 100, the rotated one at 150
    expired = notices(probe, 2)
    assert {n.data["secret"] for n in expired} == {"db_password", "static_token"}
    assert scope.ask(GetSecret("stripe_key")) == ROTATED
    assert redactor.redact(f"old {STRIPE} new {ROTATED}") == (
        "old [REDACTED:stripe_key] new [REDACTED:stripe_key]")
    with pytest.raises(ValueError, match="shorter than the minimum"):
        scope.ask(Rotate("stripe_key", "short"))
    assert ROTATED not in repr(Rotate("stripe_key", ROTATED))


def test_revoke_all_forgets_every_value(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    scope = spawn(actor_system, probe)
    notices(probe, 3)
    redactor = scope.ask(GetRedactor())
    assert scope.ask(RevokeAll()) == 3
    assert [n.data["action"] for n in notices(probe, 3)] == ["revoke"] * 3
    assert scope.ask(GetSecret("static_token")) is None
    assert redactor.redact(TOKEN) == TOKEN
    assert scope.ask(GovernanceStatus())["active"] == []


def test_the_redactor_is_shared_and_follows_the_scope(actor_system: ActorSystem) -> None:
    scope = spawn(actor_system, None)
    redactor = scope.ask(GetRedactor())
    assert isinstance(redactor, Redactor)
    assert scope.ask(GetRedactor()) is redactor
    assert redactor.redact(f"Bearer {STRIPE}") == "Bearer [REDACTED:stripe_key]"
    scope.ask(Rotate("static_token", ROTATED))
    assert redactor.redact(ROTATED) == "[REDACTED:static_token]"  # no new ask needed


def test_revoke_on_stop_zero_fills_when_the_actor_stops(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    scope = spawn(actor_system, probe)
    notices(probe, 3)
    redactor = scope.ask(GetRedactor())
    actor_system.stop(scope)
    assert [n.data["action"] for n in notices(probe, 3)] == ["revoke"] * 3
    assert redactor.redact(STRIPE) == STRIPE


def test_without_revoke_on_stop_nothing_is_revoked(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    scope = spawn(actor_system, probe, scope_config(revoke_on_stop=False))
    notices(probe, 3)
    redactor = scope.ask(GetRedactor())
    actor_system.stop(scope)
    probe.expect_no_message(0.05)
    assert redactor.redact(STRIPE) == "[REDACTED:stripe_key]"


def test_status_and_snapshot_hold_names_states_and_times_never_values(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    scope = spawn(actor_system, None, scope_config(ttls={"stripe_key": 60.0}))
    scope.ask(Rotate("static_token", ROTATED))
    status = scope.ask(GovernanceStatus())
    snapshot = scope.ask(Snapshot())
    assert status["active"] == ["stripe_key", "db_password", "static_token"]
    assert status["active_count"] == 3
    assert status["next_expiry_in"] == 60.0
    assert status["secrets"]["stripe_key"] == {
        "state": "active", "expires_at": manual_clock.time() + 60.0, "rotated": False}
    assert status["secrets"]["static_token"]["rotated"] is True
    assert not any(shows(value, status, snapshot) for value in VALUES)


def test_a_snapshot_restores_expiry_times_and_loses_rotated_values(
    actor_system: ActorSystem, manual_clock: ManualClock,
) -> None:
    first = spawn(actor_system, None, scope_config(ttls={"stripe_key": 60.0}))
    first.ask(Rotate("static_token", ROTATED))
    snapshot = first.ask(Snapshot())
    actor_system.stop(first)
    manual_clock.advance(30)
    scope = spawn(actor_system, None, state=snapshot)
    assert scope.ask(GetSecret("stripe_key")) == STRIPE
    assert scope.ask(GetSecret("static_token")) is None
    status = scope.ask(GovernanceStatus())
    assert status["secrets"]["static_token"]["state"] == "lost"
    assert status["next_expiry_in"] == 30.0  # the crash did not extend the TTL


def test_reconfigure_only_changes_revoke_on_stop(actor_system: ActorSystem) -> None:
    probe = TestProbe(actor_system)
    scope = spawn(actor_system, probe)
    notices(probe, 3)
    scope.ask(Reconfigure(scope_config(revoke_on_stop=False)))
    with pytest.raises(ValueError, match="ttls cannot change on a running secret scope"):
        scope.ask(Reconfigure(scope_config(ttls={"stripe_key": 5.0})))
    with pytest.raises(TypeError, match="SecretScopeActor needs a SecretScopeConfig"):
        scope.ask(Reconfigure(BudgetConfig()))
    actor_system.stop(scope)
    probe.expect_no_message(0.05)  # revoke_on_stop is off now


def test_a_disabled_scope_resolves_nothing(actor_system: ActorSystem) -> None:
    scope = spawn(actor_system, None, SecretScopeConfig(secrets={"k": "${NOPE}"}))
    assert scope.ask(GetSecret("k")) is None
    assert scope.ask(GovernanceStatus())["enabled"] is False


def test_messages_refuse_bad_fields() -> None:
    with pytest.raises(ValueError, match="name: must not be empty"):
        GetSecret("")
    with pytest.raises(ValueError, match="accessor: must not be empty"):
        GetSecret("k", accessor="")
    with pytest.raises(TypeError, match="value: expected a string"):
        Rotate("k", b"bytes-value")  # type: ignore[arg-type]
