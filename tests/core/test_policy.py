"""Policy invariants and flap damping arithmetic."""

from __future__ import annotations

import math

import pytest

from watcher.core import CorePolicy, FailbackPolicy, StrategyPolicy, Thresholds


@pytest.mark.parametrize(("fall", "rise"), [(0, 1), (1, 0), (-1, 3)])
def test_thresholds_must_be_positive(fall: int, rise: int) -> None:
    with pytest.raises(ValueError, match="fall and rise"):
        Thresholds(fall, rise)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "sometimes", "hold_seconds": 1.0},
        {"mode": "auto", "hold_seconds": -1.0},
        {"mode": "auto", "hold_seconds": math.nan},
        {"mode": "auto", "hold_seconds": 1.0, "flap_window_seconds": math.inf},
        {"mode": "auto", "hold_seconds": 1.0, "max_hold_seconds": -5.0},
    ],
)
def test_failback_policy_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        FailbackPolicy(**kwargs)  # type: ignore[arg-type]


def test_strategy_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="at least one region"):
        StrategyPolicy("s", ())
    with pytest.raises(ValueError, match="twice"):
        StrategyPolicy("s", ("a", "a"))
    with pytest.raises(ValueError, match="drift"):
        StrategyPolicy("s", ("a",), drift="fix")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retry_seconds"):
        StrategyPolicy("s", ("a",), retry_seconds=-1)


def test_core_policy_rejects_duplicate_strategies_and_lists_regions_in_order() -> None:
    fb = FailbackPolicy("auto", 1.0)
    s1 = StrategyPolicy("s1", ("b", "a"))
    with pytest.raises(ValueError, match="unique"):
        CorePolicy(Thresholds(1, 1), fb, (s1, s1))
    policy = CorePolicy(Thresholds(1, 1), fb, (s1, StrategyPolicy("s2", ("c", "a"))))
    assert policy.regions == ("b", "a", "c")
    assert policy.strategy("s2") is policy.strategies[1]
    assert policy.strategy("nope") is None


def test_order_puts_the_active_region_first_then_preference() -> None:
    sp = StrategyPolicy("s", ("a", "b", "c", "d"))
    assert sp.order_for("c") == ("c", "a", "b", "d")
    assert sp.order_for("a") == ("a", "b", "c", "d")


def test_first_flap_carries_no_penalty_and_each_further_one_doubles() -> None:
    fb = FailbackPolicy("auto", 60.0, flap_window_seconds=600.0, max_hold_seconds=3600.0)
    assert fb.effective_hold((), 1000.0) == 60.0
    assert fb.effective_hold((990.0,), 1000.0) == 60.0
    assert fb.effective_hold((900.0, 990.0), 1000.0) == 120.0
    assert fb.effective_hold((500.0, 900.0, 990.0), 1000.0) == 240.0


def test_flaps_outside_the_window_or_after_recovery_do_not_count() -> None:
    fb = FailbackPolicy("auto", 60.0, flap_window_seconds=600.0)
    assert fb.counted_flaps((100.0, 399.0, 400.0, 990.0, 1001.0), 1000.0) == 2
    assert fb.effective_hold((100.0, 200.0, 300.0, 990.0), 1000.0) == 60.0


def test_damping_is_capped_and_never_overflows() -> None:
    fb = FailbackPolicy("auto", 60.0, flap_window_seconds=1e12, max_hold_seconds=900.0)
    assert fb.effective_hold(tuple(float(t) for t in range(5000)), 5000.0) == 900.0
    fb = FailbackPolicy("auto", 0.0)
    assert fb.effective_hold((1.0, 2.0, 3.0), 3.0) == 0.0
