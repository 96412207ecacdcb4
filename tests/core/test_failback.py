"""Failback: auto after the hold, reset by a bad crossing, flap damping, manual mode."""

from __future__ import annotations

from watcher.core import StrategyPhase, StrategyPolicy

from ._world import Shell, make_policy, only_reweight, reweights, started


def failed_over(shell: Shell, at: float) -> None:
    """Take the primary `a` down and acknowledge the failover to `b`."""
    shell.ack(only_reweight(shell.down("a", at)), at)


def test_auto_failback_waits_out_the_hold_then_writes() -> None:
    shell = started()
    failed_over(shell, 10.0)
    assert reweights(shell.up("a", 100.0)) == []
    status = shell.status()
    assert status.phase is StrategyPhase.FAILING_BACK
    assert status.failback_eligible_at == 160.0
    assert reweights(shell.tick(159.9)) == []
    write = only_reweight(shell.tick(160.0))
    assert (write.from_region, write.to_region, write.kind) == ("b", "a", "failback")
    assert write.order == ("a", "b", "c")
    assert write.explanation.summary == "a healthy for 60s (hold 60s); failing s1 back from b to a"
    assert write.explanation.thresholds == {
        "fall": 2,
        "rise": 3,
        "failback": "auto",
        "hold_seconds": 60.0,
        "effective_hold_seconds": 60.0,
        "flap_window_seconds": 600.0,
        "recent_flaps": 1,
    }
    shell.ack(write, 161.0)
    assert shell.status().phase is StrategyPhase.STEADY
    assert shell.status().failback_eligible_at is None


def test_a_bad_crossing_resets_the_wait_but_a_single_bad_observation_does_not() -> None:
    shell = started()
    failed_over(shell, 10.0)
    shell.up("a", 100.0)
    shell.observe("a", False, 120.0)  # one bad, below fall: still healthy since 100
    shell.observe("a", True, 121.0)
    assert shell.status().failback_eligible_at == 160.0
    shell.down("a", 130.0)  # crossing: the wait is over
    assert shell.status().failback_eligible_at is None
    assert shell.status().phase is StrategyPhase.FAILED_OVER
    assert reweights(shell.tick(200.0)) == []
    shell.up("a", 300.0)
    # second flap within the window doubles the hold
    assert shell.status().failback_eligible_at == 420.0
    assert reweights(shell.tick(419.0)) == []
    write = only_reweight(shell.tick(420.0))
    assert "hold 120s, damped for 2 flaps within 600s" in write.explanation.summary


def test_a_region_that_flaps_repeatedly_waits_longer_each_time() -> None:
    shell = started(make_policy(max_hold=400.0))
    failed_over(shell, 0.0)
    holds = []
    for start in (10.0, 20.0, 30.0, 40.0):
        shell.up("a", start)
        eligible = shell.status().failback_eligible_at
        assert eligible is not None
        holds.append(eligible - start)
        shell.down("a", start + 1)
    assert holds == [60.0, 120.0, 240.0, 400.0]


def test_old_flaps_decay_out_of_the_window() -> None:
    shell = started()
    failed_over(shell, 0.0)
    shell.up("a", 10.0)
    shell.down("a", 20.0)
    shell.up("a", 1000.0)  # the flaps at 0 and 20 are more than 600 s old
    assert shell.status().failback_eligible_at == 1060.0


def test_failback_goes_to_the_most_preferred_region_whose_hold_has_elapsed() -> None:
    shell = started()
    shell.ack(only_reweight(shell.down("a", 0.0)), 0.0)
    shell.ack(only_reweight(shell.down("b", 1.0)), 1.0)
    assert shell.status().active_region == "c"
    shell.up("b", 10.0)
    shell.up("a", 50.0)
    assert shell.status().failback_eligible_at == 70.0
    write = only_reweight(shell.tick(70.0))
    assert (write.from_region, write.to_region) == ("c", "b")
    shell.ack(write, 71.0)
    assert shell.status().failback_eligible_at == 110.0
    assert only_reweight(shell.tick(110.0)).to_region == "a"


def test_zero_hold_fails_back_as_soon_as_the_region_is_healthy() -> None:
    shell = started(make_policy(hold=0.0))
    failed_over(shell, 0.0)
    write = only_reweight(shell.up("a", 5.0))
    assert write.kind == "failback"


def test_failback_from_an_unconfirmed_active_region_at_start_up() -> None:
    shell = started(active="b", healthy=())
    shell.up("a", 10.0)
    assert shell.status().phase is StrategyPhase.FAILING_BACK
    assert only_reweight(shell.tick(70.0)).to_region == "a"


def test_manual_mode_stays_until_an_operator_acts() -> None:
    shell = started(make_policy(mode="manual"))
    failed_over(shell, 0.0)
    shell.up("a", 10.0)
    for t in range(11, 5000, 500):
        assert reweights(shell.tick(float(t))) == []
    status = shell.status()
    assert status.phase is StrategyPhase.FAILED_OVER
    assert status.failback_eligible_at is None


def test_failover_from_a_non_preferred_region_still_applies_in_manual_mode() -> None:
    shell = started(make_policy(StrategyPolicy("s1", ("a", "b", "c")), mode="manual"))
    failed_over(shell, 0.0)
    shell.up("a", 10.0)
    write = only_reweight(shell.down("b", 20.0))
    assert (write.to_region, write.kind) == ("a", "failover")
