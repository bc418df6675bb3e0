"""SecretScope on a ManualClock: resolution, TTLs, rotation, revocation, events, checkpoints."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from greenroom.actors import ManualClock
from greenroom.governance.config import SecretScopeConfig
from greenroom.governance.secrets import (
    RETIRED_VALUES_KEPT,
    SecretEvent,
    SecretResolutionError,
    SecretScope,
    SecretState,
    UnknownSecretError,
)

STRIPE = "sk_live_stripe_0123456789"
DB = "db-password-very-long"
STATIC = "tok-abc123-static"
ENV = {"STRIPE_API_KEY": STRIPE, "DB_PASSWORD": DB}


def config(**fields: Any) -> SecretScopeConfig:
    """An enabled scope config with the tutorial's three secrets unless told otherwise."""
    fields.setdefault(
        "secrets",
        {"stripe_key": "${STRIPE_API_KEY}", "db_password": "${DB_PASSWORD}", "static": STATIC},
    )
    return SecretScopeConfig(enabled=True, **fields)


class Scope:
    """A scope with a manual clock and an event list, as its actor would hold it."""

    def __init__(
        self, cfg: SecretScopeConfig | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.clock = ManualClock()
        self.events: list[SecretEvent] = []
        self.env = dict(ENV if env is None else env)
        self.scope = SecretScope(
            cfg or config(), "payments", clock=self.clock, environ=self.env,
            on_event=self.events.append,
        )

    def actions(self) -> list[tuple[str, str, str]]:
        """(action, secret, outcome) of the events so far, then forgets them."""
        seen = [(e.action, e.secret, e.outcome) for e in self.events]
        self.events.clear()
        return seen


def assert_no_value(text: str, *values: str) -> None:
    for value in values or (STRIPE, DB, STATIC):
        assert value not in text


# Resolution ----------------------------------------------------------------------------------


def test_literals_and_references_resolve_at_start() -> None:
    s = Scope()
    assert s.scope.get("stripe_key") is None  # nothing before the start
    assert s.scope.resolve_initial() == ["stripe_key", "db_password", "static"]
    assert s.scope.get("stripe_key") == STRIPE
    assert s.scope.get("db_password") == DB
    assert s.scope.get("static") == STATIC
    resolves = [e for e in s.events if e.action == "resolve"]
    assert [(e.secret, e.source) for e in resolves] == [
        ("stripe_key", "env:STRIPE_API_KEY"), ("db_password", "env:DB_PASSWORD"),
        ("static", "literal"),
    ]


def test_the_environment_is_read_at_start_not_at_construction() -> None:
    s = Scope(env={})
    s.env.update(ENV)
    s.scope.resolve_initial()
    assert s.scope.get("stripe_key") == STRIPE


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENROOM_TEST_SECRET", STRIPE)
    scope = SecretScope(config(secrets={"k": "${GREENROOM_TEST_SECRET}"}), "p",
                        clock=ManualClock())
    scope.resolve_initial()
    assert scope.get("k") == STRIPE


@pytest.mark.parametrize(
    ("env", "expected", "source"),
    [
        ({"TOKEN": "from-the-environment"}, "from-the-environment", "env:TOKEN"),
        ({}, "fallback-value", "default:TOKEN"),
        ({"TOKEN": ""}, "fallback-value", "default:TOKEN"),  # like ${VAR:-x} in a shell
    ],
)
def test_a_default_applies_when_the_variable_is_unset_or_empty(
    env: dict[str, str], expected: str, source: str
) -> None:
    s = Scope(config(secrets={"t": "${TOKEN:-fallback-value}"}), env=env)
    s.scope.resolve_initial()
    assert s.scope.get("t") == expected
    assert s.events[0].source == source
    assert s.scope.to_dict()["secrets"]["t"]["source"] == source


def test_a_missing_variable_names_the_secret_and_variable_and_resolves_nothing() -> None:
    s = Scope(env={"DB_PASSWORD": DB})
    with pytest.raises(SecretResolutionError) as error:
        s.scope.resolve_initial()
    assert str(error.value) == (
        "process 'payments': cannot resolve 1 secret(s), none were resolved: "
        "secret 'stripe_key': environment variable STRIPE_API_KEY is not set"
    )
    assert isinstance(error.value, KeyError)  # the seed's type
    [problem] = error.value.problems
    assert (problem.secret, problem.variable) == ("stripe_key", "STRIPE_API_KEY")
    assert s.scope.active_secret_count == 0
    assert s.scope.get("db_password") is None
    assert s.scope.state("db_password") is SecretState.PENDING
    assert s.scope.redactor.names == []
    assert not [e for e in s.events if e.action == "resolve"]
    assert_no_value(str(error.value))


def test_every_problem_is_listed_at_once() -> None:
    cfg = config(secrets={"a": "${MISSING_A}", "b": "q7Zp", "c": "${SHORT_ENV}",
                          "d": "${MISSING_D:-tiny}", "ok": STATIC})
    s = Scope(cfg, env={"SHORT_ENV": "abc"})
    with pytest.raises(SecretResolutionError) as error:
        s.scope.resolve_initial()
    assert [p.describe() for p in error.value.problems] == [
        "secret 'a': environment variable MISSING_A is not set",
        "secret 'b': the literal value is shorter than the minimum of 8 characters",
        "secret 'c': environment variable SHORT_ENV is shorter than the minimum of 8 characters",
        "secret 'd': the default of ${MISSING_D:-...} is shorter than the minimum of 8 "
        "characters",
    ]
    assert [p.variable for p in error.value.problems] == [
        "MISSING_A", None, "SHORT_ENV", "MISSING_D"
    ]
    message = str(error.value)
    assert "q7Zp" not in message
    assert "abc" not in message
    assert "tiny" not in message
    assert s.scope.get("ok") is None


def test_an_empty_variable_without_default_is_refused_as_too_short() -> None:
    s = Scope(config(secrets={"k": "${EMPTY}"}), env={"EMPTY": ""})
    with pytest.raises(ValueError, match="environment variable EMPTY is shorter than the min"):
        s.scope.resolve_initial()


def test_a_disabled_scope_resolves_nothing() -> None:
    s = Scope(SecretScopeConfig(enabled=False, secrets={"k": "${MISSING}"}))
    assert s.scope.resolve_initial() == []
    assert s.scope.get("k") is None
    assert s.actions() == [("get", "k", "unavailable")]


def test_resolving_again_only_resolves_what_is_missing() -> None:
    s = Scope()
    s.scope.resolve_initial()
    s.scope.rotate("static", "rotated-static-value")
    assert s.scope.resolve_initial() == []
    assert s.scope.get("static") == "rotated-static-value"


def test_the_config_must_be_a_secret_scope_config() -> None:
    with pytest.raises(TypeError, match="config: expected a SecretScopeConfig, got dict"):
        SecretScope({"secrets": {}}, "p")  # type: ignore[arg-type]


def test_a_nan_ttl_is_refused_by_the_config_and_by_the_scope() -> None:
    with pytest.raises(ValueError, match=r"ttls\['static'\]: must be a finite number"):
        config(ttls={"static": float("nan")})
    unchecked = config().model_copy(update={"ttls": {"static": float("nan")}})
    with pytest.raises(ValueError, match=r"ttls\['static'\]: must be a number of seconds > 0"):
        Scope(unchecked)


# Access --------------------------------------------------------------------------------------


def test_every_access_is_reported_by_name_only() -> None:
    s = Scope()
    s.scope.resolve_initial()
    s.actions()
    s.scope.get("stripe_key", accessor="tool:charge")
    s.scope.get("nope")
    event = s.events[0]
    assert event.entry_type == "secret_access"
    assert event.to_dict() == {
        "action": "get", "secret": "stripe_key", "outcome": "granted",
        "timestamp": s.clock.time(), "accessor": "tool:charge",
    }
    assert s.actions() == [("get", "stripe_key", "granted"), ("get", "nope", "unknown")]


def test_get_takes_a_str_name() -> None:
    with pytest.raises(TypeError, match="name: expected a str, got int"):
        Scope().scope.get(3)  # type: ignore[arg-type]


def test_no_value_in_events_repr_str_or_checkpoint() -> None:
    s = Scope(config(ttls={"stripe_key": 10.0}))
    s.scope.resolve_initial()
    for name in s.scope.names:
        s.scope.get(name)
    s.scope.rotate("db_password", "another-database-password")
    s.clock.advance(11)
    s.scope.get("stripe_key")
    s.scope.revoke_all()
    everything = json.dumps([e.to_dict() for e in s.events]) + repr(s.events)
    everything += repr(s.scope) + str(s.scope) + json.dumps(s.scope.to_dict())
    assert_no_value(everything, STRIPE, DB, STATIC, "another-database-password")
    assert repr(s.scope) == (
        "SecretScope(process_id='payments', secrets=['stripe_key', 'db_password', 'static'], "
        "active=0)"
    )


def test_the_scope_cannot_be_pickled_or_copied() -> None:
    s = Scope()
    s.scope.resolve_initial()
    with pytest.raises(TypeError, match="cannot be pickled or copied; use to_dict"):
        pickle.dumps(s.scope)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.deepcopy(s.scope)


# TTL -----------------------------------------------------------------------------------------


def test_per_secret_and_default_ttls_expire_on_the_clock() -> None:
    s = Scope(config(default_ttl=3600, ttls={"stripe_key": 1800}))
    s.scope.resolve_initial()
    assert s.scope.next_expiry() == 1800
    s.clock.advance(1799.5)
    assert s.scope.get("stripe_key") == STRIPE
    s.clock.advance(0.5)  # the expiry instant itself is past the TTL
    s.actions()
    assert s.scope.get("stripe_key") is None
    assert s.actions() == [("expire", "stripe_key", "expired"), ("get", "stripe_key", "expired")]
    assert s.scope.get("db_password") == DB
    assert s.scope.get("static") == STATIC
    s.clock.advance(1800)
    assert s.scope.get("db_password") is None
    assert s.scope.get("static") is None
    assert s.scope.next_expiry() is None


def test_without_ttl_secrets_never_expire() -> None:
    s = Scope()
    s.scope.resolve_initial()
    s.clock.advance(10 * 365 * 86400)
    assert s.scope.active_secret_count == 3
    assert s.scope.next_expiry() is None


def test_an_infinite_default_ttl_means_no_expiry() -> None:
    with pytest.raises(ValueError, match="default_ttl"):
        config(default_ttl=float("inf"))
    s = Scope(config().model_copy(update={"default_ttl": float("inf")}))
    s.scope.resolve_initial()
    s.clock.advance(1e9)
    assert s.scope.get("static") == STATIC
    assert s.scope.to_dict()["secrets"]["static"]["ttl"] is None


def test_counts_and_states_see_expiry_without_an_access() -> None:
    s = Scope(config(ttls={"stripe_key": 60}))
    assert s.scope.active_secret_names == []
    s.scope.resolve_initial()
    assert s.scope.active_secret_names == ["stripe_key", "db_password", "static"]
    s.clock.advance(60)
    assert s.scope.active_secret_count == 2
    assert s.scope.list_names() == ["db_password", "static"]
    assert s.scope.state("stripe_key") is SecretState.EXPIRED
    assert s.scope.state("static") is SecretState.ACTIVE
    with pytest.raises(UnknownSecretError):
        s.scope.state("nope")


def test_prune_expires_what_is_due_and_next_expiry_says_when() -> None:
    s = Scope(config(ttls={"stripe_key": 60, "db_password": 90}))
    s.scope.resolve_initial()
    s.clock.advance(30)
    assert s.scope.next_expiry() == 30
    assert s.scope.prune() == []
    s.clock.advance(45)
    assert s.scope.next_expiry() == 0
    s.actions()
    assert s.scope.prune() == ["stripe_key"]
    assert s.actions() == [("expire", "stripe_key", "expired")]
    assert s.scope.prune() == []
    assert s.scope.next_expiry() == 15


def test_an_expired_value_stays_redacted() -> None:
    s = Scope(config(ttls={"stripe_key": 60}))
    s.scope.resolve_initial()
    s.clock.advance(60)
    s.scope.prune()
    assert s.scope.sanitize_text(f"old {STRIPE}") == "old [REDACTED:stripe_key]"


# Rotation ------------------------------------------------------------------------------------


def test_rotation_replaces_the_value_and_restarts_the_ttl() -> None:
    s = Scope(config(ttls={"stripe_key": 100}))
    s.scope.resolve_initial()
    s.clock.advance(80)
    s.actions()
    s.scope.rotate("stripe_key", "sk_live_rotated_value")
    assert s.actions() == [("rotate", "stripe_key", "rotated")]
    s.clock.advance(99)
    assert s.scope.get("stripe_key") == "sk_live_rotated_value"
    s.clock.advance(1)
    assert s.scope.get("stripe_key") is None


def test_rotation_may_override_the_ttl_for_the_new_value() -> None:
    s = Scope(config(default_ttl=100))
    s.scope.resolve_initial()
    s.scope.rotate("static", "rotated-static-value", ttl=10)
    assert s.scope.next_expiry() == 10
    s.clock.advance(10)
    assert s.scope.get("static") is None
    s.scope.rotate("static", "rotated-again-value")
    assert s.scope.to_dict()["secrets"]["static"]["ttl"] == 100


def test_rotation_revives_an_expired_secret_and_works_before_the_start() -> None:
    s = Scope(config(ttls={"stripe_key": 5}))
    s.scope.rotate("db_password", "rotated-before-start")
    s.scope.resolve_initial()
    assert s.scope.get("db_password") == "rotated-before-start"
    s.clock.advance(5)
    assert s.scope.get("stripe_key") is None
    s.scope.rotate("stripe_key", "sk_live_after_expiry")
    assert s.scope.get("stripe_key") == "sk_live_after_expiry"


def test_old_values_stay_redacted_after_rotation_within_a_window() -> None:
    s = Scope()
    s.scope.resolve_initial()
    values = [f"rotated-value-{n:03d}" for n in range(RETIRED_VALUES_KEPT + 1)]
    for value in values:
        s.scope.rotate("static", value)
    redacted = s.scope.sanitize_text(" ".join([STATIC, *values]))
    assert redacted.split() == [STATIC] + ["[REDACTED:static]"] * len(values)


@pytest.mark.parametrize("value", ["q7Zp", "", "abcdefg\0h"])
def test_rotating_to_a_bad_value_is_refused_without_quoting_it(value: str) -> None:
    s = Scope()
    s.scope.resolve_initial()
    with pytest.raises(ValueError, match=r"rotate\('static'\): the new value ") as error:
        s.scope.rotate("static", value)
    if value:
        assert value not in str(error.value)
    assert s.scope.get("static") == STATIC


def test_rotation_errors_name_the_argument() -> None:
    s = Scope()
    with pytest.raises(UnknownSecretError) as error:
        s.scope.rotate("nope", "a-long-enough-value")
    assert str(error.value) == (
        "no secret named 'nope' in this scope (declared: ['stripe_key', 'db_password', 'static'])"
    )
    assert isinstance(error.value, KeyError)
    with pytest.raises(TypeError, match="new_value must be a str, got bytes"):
        s.scope.rotate("static", b"a-long-enough-value")  # type: ignore[arg-type]
    for ttl in (0, -1, float("nan"), True, "10"):
        with pytest.raises(ValueError, match=r"rotate\('static'\): ttl must be a number"):
            s.scope.rotate("static", "a-long-enough-value", ttl=ttl)  # type: ignore[arg-type]
    assert s.events == []


# Revocation ----------------------------------------------------------------------------------


def test_revoke_all_zero_fills_and_forgets_every_value() -> None:
    s = Scope()
    s.scope.resolve_initial()
    s.scope.rotate("static", "rotated-static-value")
    held = [buffer for slot in s.scope._slots.values() for buffer in slot.buffers()]
    assert len(held) == 4  # three current values and one retired
    s.actions()
    assert s.scope.revoke_all() == 3
    assert all(buffer == bytes(len(buffer)) for buffer in held)
    assert s.actions() == [("revoke", n, "revoked") for n in ("stripe_key", "db_password",
                                                              "static")]
    assert s.scope.active_secret_count == 0
    assert s.scope.get("static") is None
    assert s.actions() == [("get", "static", "unavailable")]
    assert s.scope.state("static") is SecretState.REVOKED
    assert s.scope.redactor.names == []
    assert s.scope.sanitize_text(STATIC) == STATIC
    assert s.scope.revoke_all() == 0


def test_a_start_after_revocation_resolves_afresh_with_a_fresh_ttl() -> None:
    s = Scope(config(default_ttl=60))
    s.scope.resolve_initial()
    s.scope.rotate("static", "rotated-static-value")
    s.clock.advance(50)
    s.scope.revoke_all()
    s.clock.advance(50)
    assert s.scope.resolve_initial() == ["stripe_key", "db_password", "static"]
    assert s.scope.get("static") == STATIC  # the config is the truth again
    assert s.scope.next_expiry() == 60


# Redaction through the scope -----------------------------------------------------------------


def test_the_scope_sanitises_text_and_data() -> None:
    s = Scope()
    s.scope.resolve_initial()
    assert s.scope.sanitize_text(f"key={STRIPE}, pw={DB}") == (
        "key=[REDACTED:stripe_key], pw=[REDACTED:db_password]"
    )
    assert s.scope.sanitize({"messages": [{"content": STATIC}]}) == {
        "messages": [{"content": "[REDACTED:static]"}]
    }
    assert s.scope.redactor.names == ["db_password", "static", "stripe_key"]


# Checkpoints ---------------------------------------------------------------------------------


def restored(s: Scope, checkpoint: dict[str, Any], cfg: SecretScopeConfig | None = None,
             env: dict[str, str] | None = None) -> Scope:
    """A new scope restored from `checkpoint`, on the same clock (a restart after a crash)."""
    again = Scope(cfg, env)
    again.clock = s.clock
    again.scope = SecretScope.from_dict(
        json.loads(json.dumps(checkpoint)), cfg or config(), "payments", clock=s.clock,
        environ=again.env, on_event=again.events.append,
    )
    return again


def test_a_checkpoint_holds_names_ttls_and_times_only() -> None:
    s = Scope(config(ttls={"stripe_key": 1800}))
    s.scope.resolve_initial()
    start = s.clock.time()
    assert s.scope.to_dict() == {
        "secrets": {
            "stripe_key": {"state": "active", "source": "env:STRIPE_API_KEY", "ttl": 1800.0,
                           "expires_at": start + 1800, "resolved_at": start, "rotated": False},
            "db_password": {"state": "active", "source": "env:DB_PASSWORD", "ttl": None,
                            "expires_at": None, "resolved_at": start, "rotated": False},
            "static": {"state": "active", "source": "literal", "ttl": None, "expires_at": None,
                       "resolved_at": start, "rotated": False},
        }
    }


def test_after_a_crash_secrets_are_re_resolved_and_keep_their_expiry() -> None:
    s = Scope(config(ttls={"stripe_key": 100}))
    s.scope.resolve_initial()
    s.clock.advance(40)
    again = restored(s, s.scope.to_dict())
    assert again.scope.get("stripe_key") is None  # holds nothing before the start
    assert again.scope.resolve_initial() == ["stripe_key", "db_password", "static"]
    assert again.scope.get("stripe_key") == STRIPE
    assert again.scope.next_expiry() == 60
    s.clock.advance(60)
    assert again.scope.get("stripe_key") is None


def test_a_secret_that_expired_before_the_restart_stays_expired() -> None:
    s = Scope(config(ttls={"stripe_key": 100}))
    s.scope.resolve_initial()
    checkpoint = s.scope.to_dict()
    s.clock.advance(500)
    again = restored(s, checkpoint, env={"DB_PASSWORD": DB})  # STRIPE_API_KEY is gone too
    assert again.scope.resolve_initial() == ["db_password", "static"]
    assert again.scope.state("stripe_key") is SecretState.EXPIRED
    assert again.scope.get("stripe_key") is None
    assert ("expire", "stripe_key", "expired") in again.actions()


def test_an_expired_secret_in_the_checkpoint_stays_expired() -> None:
    s = Scope(config(ttls={"stripe_key": 100}))
    s.scope.resolve_initial()
    s.clock.advance(100)
    checkpoint = s.scope.to_dict()
    assert checkpoint["secrets"]["stripe_key"]["state"] == "expired"
    again = restored(s, checkpoint)
    again.scope.resolve_initial()
    assert again.scope.get("stripe_key") is None
    assert again.scope.to_dict()["secrets"]["stripe_key"] == checkpoint["secrets"]["stripe_key"]


def test_a_rotated_secret_is_lost_after_a_crash_not_revived_from_the_environment() -> None:
    s = Scope()
    s.scope.resolve_initial()
    s.scope.rotate("stripe_key", "sk_live_rotated_value")
    again = restored(s, s.scope.to_dict())
    again.scope.resolve_initial()
    assert again.scope.state("stripe_key") is SecretState.LOST
    assert again.scope.get("stripe_key") is None
    assert again.actions()[-1] == ("get", "stripe_key", "unavailable")
    assert restored(again, again.scope.to_dict()).scope.state("stripe_key") is SecretState.LOST
    again.scope.rotate("stripe_key", "sk_live_rotated_again")
    assert again.scope.get("stripe_key") == "sk_live_rotated_again"


def test_revoked_secrets_in_a_checkpoint_are_resolved_afresh() -> None:
    s = Scope(config(default_ttl=60))
    s.scope.resolve_initial()
    s.scope.rotate("stripe_key", "sk_live_rotated_value")
    s.scope.revoke_all()
    s.clock.advance(1000)
    again = restored(s, s.scope.to_dict(), config(default_ttl=60))
    assert again.scope.resolve_initial() == ["stripe_key", "db_password", "static"]
    assert again.scope.get("stripe_key") == STRIPE
    assert again.scope.next_expiry() == 60


def test_a_restart_with_a_missing_variable_does_not_start() -> None:
    s = Scope()
    s.scope.resolve_initial()
    again = restored(s, s.scope.to_dict(), env={"DB_PASSWORD": DB})
    with pytest.raises(SecretResolutionError, match="STRIPE_API_KEY is not set"):
        again.scope.resolve_initial()


def test_the_config_decides_which_secrets_exist_after_a_restore() -> None:
    s = Scope()
    s.scope.resolve_initial()
    cfg = config(secrets={"static": STATIC, "new": "brand-new-secret"})
    again = restored(s, s.scope.to_dict(), cfg)
    assert again.scope.names == ["static", "new"]
    assert again.scope.resolve_initial() == ["static", "new"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "secrets: expected a mapping"),
        ({}, "secrets: expected a mapping"),
        ({"secrets": {"static": 3}}, r"secrets\['static'\]: expected a mapping"),
        ({"secrets": {"static": {"state": "gone"}}}, r"secrets\['static'\].state: expected one"),
        ({"secrets": {"static": {"state": "active", "ttl": "x"}}},
         r"secrets\['static'\].ttl: expected a number or null"),
        ({"secrets": {"static": {"state": "active", "expires_at": True}}},
         r"secrets\['static'\].expires_at: expected a number"),
        ({"secrets": {"static": {"state": "active", "resolved_at": float("nan")}}},
         r"secrets\['static'\].resolved_at: expected a number"),
        ({"secrets": {"static": {"state": "active", "source": 1}}},
         r"secrets\['static'\].source: expected a str or null"),
        ({"secrets": {"static": {"state": "active", "rotated": "no"}}},
         r"secrets\['static'\].rotated: expected a bool"),
    ],
)
def test_a_malformed_checkpoint_is_refused_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SecretScope.from_dict(data, config(), "p", clock=ManualClock(), environ=ENV)
