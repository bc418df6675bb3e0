"""The pure supervision rules and the argument checks of `ChildSpec` and `Backoff`."""

from __future__ import annotations

import pytest

from greenroom.actors.actor import Actor
from greenroom.supervision import Backoff, ChildSpec
from greenroom.supervision.policy import RestartIntensity, affected_children, should_restart
from greenroom.supervision.spec import Restart, RestartStrategy


class Noop(Actor):
    """Never started here; only its class is needed."""


# should_restart ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "failed", "expected"),
    [
        ("permanent", False, True),
        ("permanent", True, True),
        ("transient", False, False),
        ("transient", True, True),
        ("temporary", False, False),
        ("temporary", True, False),
    ],
)
def test_should_restart_follows_otp(restart: Restart, failed: bool, expected: bool) -> None:
    assert should_restart(restart, failed) is expected


# affected_children --------------------------------------------------------------------------

ORDER = ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("strategy", "failed", "expected"),
    [
        ("one_for_one", "a", ["a"]),
        ("one_for_one", "c", ["c"]),
        ("one_for_all", "a", ["a", "b", "c", "d"]),
        ("one_for_all", "c", ["a", "b", "c", "d"]),
        ("rest_for_one", "a", ["a", "b", "c", "d"]),
        ("rest_for_one", "b", ["b", "c", "d"]),
        ("rest_for_one", "d", ["d"]),
    ],
)
def test_affected_children_by_strategy(
    strategy: RestartStrategy, failed: str, expected: list[str]
) -> None:
    assert affected_children(strategy, ORDER, failed) == expected


def test_affected_children_returns_a_fresh_list() -> None:
    order = ["a", "b"]
    result = affected_children("one_for_all", order, "a")
    result.append("x")
    assert order == ["a", "b"]


# RestartIntensity ---------------------------------------------------------------------------


def test_intensity_allows_max_restarts_within_the_window() -> None:
    intensity = RestartIntensity(max_restarts=3, within=5.0)
    assert [intensity.record(t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert intensity.recent == 3
    assert intensity.record(3.0) is False  # the fourth within 5 s is one too many


def test_intensity_window_slides() -> None:
    intensity = RestartIntensity(max_restarts=2, within=5.0)
    assert intensity.record(0.0)
    assert intensity.record(1.0)
    # At t=5.0 the restart at t=0.0 has left the window (it is exactly `within` old).
    assert intensity.record(5.0)
    assert intensity.recent == 2
    assert intensity.record(5.5) is False
    assert intensity.recent == 3


def test_intensity_of_zero_gives_up_on_the_first_restart() -> None:
    intensity = RestartIntensity(max_restarts=0, within=1.0)
    assert intensity.record(10.0) is False


def test_intensity_forgets_old_restarts_entirely() -> None:
    intensity = RestartIntensity(max_restarts=1, within=2.0)
    assert intensity.record(0.0)
    assert intensity.record(100.0)
    assert intensity.recent == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"max_restarts": -1, "within": 5.0}, "max_restarts"),
     ({"max_restarts": 1, "within": 0.0}, "within"),
     ({"max_restarts": 1, "within": -2.0}, "within")],
)
def test_intensity_rejects_bad_arguments(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        RestartIntensity(**kwargs)  # type: ignore[arg-type]


# Backoff.delay ------------------------------------------------------------------------------


def test_backoff_doubles_from_min_and_caps_at_max() -> None:
    backoff = Backoff(min=0.25, max=3.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_huge_attempt_numbers_stay_capped() -> None:
    backoff = Backoff(min=0.1, max=30.0, jitter=0.0)
    assert backoff.delay(10_000) == 30.0


@pytest.mark.parametrize(("unit", "expected"), [(0.0, 0.8), (0.5, 1.0), (0.75, 1.1), (1.0, 1.2)])
def test_backoff_jitter_spreads_around_the_base(unit: float, expected: float) -> None:
    backoff = Backoff(min=1.0, max=10.0, jitter=0.2)
    assert backoff.delay(0, unit) == pytest.approx(expected)


def test_backoff_jitter_applies_after_the_cap() -> None:
    backoff = Backoff(min=1.0, max=4.0, jitter=0.5)
    assert backoff.delay(5, 0.0) == pytest.approx(2.0)
    assert backoff.delay(5, 1.0) == pytest.approx(6.0)


def test_backoff_default_values() -> None:
    backoff = Backoff()
    assert (backoff.min, backoff.max, backoff.jitter, backoff.reset_after) == (
        0.1, 30.0, 0.2, 60.0
    )
    assert backoff.delay(0) == pytest.approx(0.1)


def test_backoff_zero_min_means_no_delay() -> None:
    assert Backoff(min=0.0, max=1.0, jitter=1.0).delay(3, 1.0) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"min": -0.1}, r"min=-0\.1"),
        ({"min": 2.0, "max": 1.0}, r"min=2\.0, max=1\.0"),
        ({"jitter": -0.1}, r"Backoff\.jitter"),
        ({"jitter": 1.5}, r"Backoff\.jitter"),
        ({"reset_after": -1.0}, r"Backoff\.reset_after"),
    ],
)
def test_backoff_rejects_bad_arguments(kwargs: dict[str, float], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        Backoff(**kwargs)


# ChildSpec ----------------------------------------------------------------------------------


def test_child_spec_defaults() -> None:
    spec = ChildSpec("w", Noop)
    assert (spec.args, spec.kwargs, spec.restart, spec.shutdown, spec.significant,
            spec.dispatcher) == ((), None, "permanent", 5.0, False, None)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"id": ""}, ValueError, r"ChildSpec\.id"),
        ({"id": "a/b"}, ValueError, r"ChildSpec\.id"),
        ({"actor_cls": object}, TypeError, r"ChildSpec\.actor_cls"),
        ({"actor_cls": "Noop"}, TypeError, r"ChildSpec\.actor_cls"),
        ({"restart": "sometimes"}, ValueError, r"ChildSpec\.restart"),
        ({"shutdown": -1.0}, ValueError, r"ChildSpec\.shutdown"),
        ({"significant": True}, ValueError, r"ChildSpec\.significant"),
        ({"dispatcher": "fibers"}, ValueError, r"ChildSpec\.dispatcher"),
    ],
)
def test_child_spec_rejects_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], pattern: str
) -> None:
    fields: dict[str, object] = {"id": "w", "actor_cls": Noop, **kwargs}
    with pytest.raises(error, match=pattern):
        ChildSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("restart", ["transient", "temporary"])
def test_child_spec_significant_needs_a_non_permanent_child(restart: Restart) -> None:
    assert ChildSpec("w", Noop, restart=restart, significant=True).significant
