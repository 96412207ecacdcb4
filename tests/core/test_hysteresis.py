"""Observation -> region state: fall/rise, the UNKNOWN start, settling, streaks and flaps."""

from __future__ import annotations

from watcher.core import Observation, RegionHealth, RegionState, RegionTransition, Thresholds

from ._world import Shell, make_policy

T = Thresholds(fall=2, rise=3)


def feed(h: RegionHealth, *oks: bool, at: float = 0.0, window: float = 600.0) -> RegionHealth:
    for i, ok in enumerate(oks):
        h, _ = h.observe(Observation(h.region, ok, at + i, "ok" if ok else f"bad{i}"), T, window)
    return h


def test_unknown_needs_rise_good_observations_to_become_healthy() -> None:
    h = feed(RegionHealth("a"), True, True)
    assert h.state is RegionState.UNKNOWN
    assert h.settling
    assert h.since is None
    h = feed(h, True, at=10.0)
    assert h.state is RegionState.HEALTHY
    assert h.since == 10.0
    assert not h.settling


def test_unknown_needs_fall_bad_observations_to_become_unhealthy_and_it_is_no_flap() -> None:
    h = feed(RegionHealth("a"), False)
    assert h.state is RegionState.UNKNOWN
    h = feed(h, False, at=5.0)
    assert h.state is RegionState.UNHEALTHY
    assert h.since == 5.0
    assert h.flaps == ()


def test_good_observation_breaks_a_bad_streak() -> None:
    h = feed(RegionHealth("a"), True, True, True)
    h = feed(h, False, True, False, True, False)
    assert h.state is RegionState.HEALTHY
    assert h.bad_streak == 1
    assert h.settling


def test_healthy_to_unhealthy_records_a_flap_and_keeps_the_crossing_streak() -> None:
    h = feed(RegionHealth("a"), True, True, True, True)
    h, changed = h.observe(Observation("a", False, 20.0, "status=DEGRADED"), T, 600.0)
    assert not changed
    assert h.settling
    h, changed = h.observe(Observation("a", False, 25.0, "timeout after 2.0s"), T, 600.0)
    assert changed
    assert h.state is RegionState.UNHEALTHY
    assert h.flaps == (25.0,)
    assert [o.reason for o in h.recent] == ["status=DEGRADED", "timeout after 2.0s"]
    assert not h.settling


def test_unhealthy_recovers_after_rise_and_is_settling_meanwhile() -> None:
    h = feed(RegionHealth("a"), False, False)
    h = feed(h, True, at=10.0)
    assert h.state is RegionState.UNHEALTHY
    assert h.settling
    h = feed(h, True, True, at=11.0)
    assert h.state is RegionState.HEALTHY
    assert h.since == 12.0


def test_recent_is_capped_at_the_larger_threshold() -> None:
    h = feed(RegionHealth("a"), *([True] * 10))
    assert len(h.recent) == 3
    assert h.good_streak == 10
    assert h.recent[-1].at == 9.0


def test_old_flaps_leave_the_window() -> None:
    h = RegionHealth("a")
    for start in (0.0, 100.0, 1000.0):
        h = feed(h, True, True, True, False, False, at=start, window=600.0)
    # flap at 4 and 104 are more than 600 s before the flap at 1004
    assert h.flaps == (1004.0,)


def test_flap_history_is_bounded() -> None:
    h = RegionHealth("a")
    for i in range(100):
        h = feed(h, True, True, True, False, False, at=i * 10.0, window=1e9)
    assert len(h.flaps) == 64


def test_region_transition_actions_explain_the_crossing() -> None:
    shell = Shell(make_policy())
    assert shell.observe("a", True, 0.0) == ()
    shell.observe("a", True, 1.0)
    (became,) = shell.observe("a", True, 2.0)
    assert isinstance(became, RegionTransition)
    assert became.healthy
    assert became.explanation.summary == "a healthy after 3 consecutive good observations (rise=3)"
    assert len(became.explanation.observations) == 3
    shell.observe("a", False, 3.0, "http 503")
    (fell,) = shell.observe("a", False, 4.0, "http 503")
    assert isinstance(fell, RegionTransition)
    assert not fell.healthy
    assert fell.explanation.summary == ("a unhealthy after 2 consecutive bad observations (fall=2): http 503")
    assert fell.explanation.thresholds == {"fall": 2, "rise": 3}


def test_observation_of_unknown_region_is_ignored() -> None:
    shell = Shell(make_policy())
    before = shell.world
    assert shell.observe("nowhere", False, 1.0) == ()
    assert shell.world == before
