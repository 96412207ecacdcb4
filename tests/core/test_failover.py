"""Failover, all-down, one write in flight, write failures and retries, dry run."""

from __future__ import annotations

import json

from watcher.core import (
    AllRegionsDown,
    AllRegionsDownCleared,
    Reweight,
    StrategyPhase,
    StrategyPolicy,
    StrategySnapshot,
    WriteFailed,
    WriteSucceeded,
)

from ._world import Shell, make_policy, only_reweight, reweights, started


def test_nothing_is_written_before_the_first_snapshot() -> None:
    shell = Shell(make_policy())
    shell.up("b", 0.0)
    shell.up("a", 0.0)
    assert reweights(shell.down("a", 1.0)) == []
    assert shell.status().phase is StrategyPhase.UNKNOWN


def test_snapshot_on_the_primary_is_steady() -> None:
    shell = started()
    status = shell.status()
    assert status.phase is StrategyPhase.STEADY
    assert status.active_region == "a"
    assert status.version == 1
    assert shell.history == [a for a in shell.history if not isinstance(a, Reweight)]


def test_active_region_crossing_fall_fails_over_with_the_documented_explanation() -> None:
    policy = make_policy(StrategyPolicy("strategy-1", ("us-east-1", "eu-west-1")))
    shell = started(policy, active="us-east-1", healthy=("us-east-1", "eu-west-1"))
    assert shell.observe("us-east-1", False, 10.0, "status=DEGRADED") == ()
    write = only_reweight(shell.observe("us-east-1", False, 15.0, "timeout after 2.0s"))
    assert write == Reweight(
        strategy="strategy-1",
        from_region="us-east-1",
        to_region="eu-west-1",
        order=("eu-west-1", "us-east-1"),
        kind="failover",
        explanation=write.explanation,
        dry_run=False,
    )
    assert write.explanation.summary == (
        "us-east-1 unhealthy after 2 consecutive bad observations (fall=2): "
        "status=DEGRADED, timeout after 2.0s; switching strategy-1 to eu-west-1"
    )
    assert [o.at for o in write.explanation.observations] == [10.0, 15.0]
    assert write.explanation.thresholds == {"fall": 2, "rise": 3}
    assert write.explanation.at == 15.0
    json.dumps(write.explanation.to_dict())
    status = shell.status("strategy-1")
    assert status.phase is StrategyPhase.FAILING_OVER
    assert status.write.target == "eu-west-1"
    assert status.write.kind == "failover"
    assert status.last_decision == write.explanation


def test_acknowledged_failover_moves_the_active_region() -> None:
    shell = started()
    write = only_reweight(shell.down("a", 10.0))
    assert shell.ack(write, 11.0, version=2) == ()
    status = shell.status()
    assert status.active_region == "b"
    assert status.write.target is None
    assert status.version == 2
    assert status.phase is StrategyPhase.FAILED_OVER


def test_target_skips_unhealthy_regions_in_preference_order() -> None:
    shell = started()
    shell.down("b", 5.0)
    write = only_reweight(shell.down("a", 10.0))
    assert write.to_region == "c"
    assert write.order == ("c", "a", "b")


def test_unknown_active_region_never_triggers_a_switch() -> None:
    shell = started(healthy=("b", "c"))
    shell.observe("a", False, 1.0)
    shell.observe("a", True, 2.0)
    for t in range(3, 30):
        shell.tick(float(t))
    assert reweights(shell.history) == []
    assert shell.region("a").settling


def test_never_routes_to_an_unknown_region_and_explains_why_it_waits() -> None:
    shell = started(healthy=("a",))
    assert reweights(shell.down("a", 10.0)) == []
    decision = shell.status().last_decision
    assert decision is not None
    assert decision.summary == (
        "a unhealthy after 2 consecutive bad observations (fall=2): status=DEGRADED; "
        "no healthy region to switch s1 to (b not yet confirmed (0/3 good, 0/2 bad "
        "observations); c not yet confirmed (0/3 good, 0/2 bad observations))"
    )
    # The standstill is explained once, not rewritten on every tick.
    shell.tick(20.0)
    assert shell.status().last_decision is decision
    shell.observe("b", True, 21.0)
    shell.observe("b", True, 22.0)
    write = only_reweight(shell.observe("b", True, 23.0))
    assert write.to_region == "b"
    assert write.explanation.summary.endswith("switching s1 to b")


def test_one_write_in_flight_per_strategy() -> None:
    shell = started()
    first = only_reweight(shell.down("a", 10.0))
    assert first.to_region == "b"
    # b fails while the write to it is in flight: nothing new until it is acknowledged.
    assert reweights(shell.down("b", 11.0)) == []
    assert reweights(shell.tick(12.0)) == []
    second = only_reweight(shell.ack(first, 13.0))
    assert (second.from_region, second.to_region) == ("b", "c")


def test_write_failure_retries_no_sooner_than_retry_seconds_on_the_next_event() -> None:
    policy = make_policy(StrategyPolicy("s1", ("a", "b", "c"), retry_seconds=5.0))
    shell = started(policy)
    write = only_reweight(shell.down("a", 10.0))
    assert shell.fail(write, 11.0, "http 409 version conflict") == ()
    status = shell.status()
    assert status.write.target is None
    assert status.write.retry_at == 16.0
    assert status.write.last_error == "http 409 version conflict"
    assert status.last_decision is not None
    assert status.last_decision.summary == (
        "writing s1 to b failed: http 409 version conflict; re-planning no sooner than 5s from now"
    )
    assert status.phase is StrategyPhase.FAILING_OVER
    assert reweights(shell.tick(15.9)) == []
    assert reweights(shell.observe("c", True, 15.95)) == []
    retry = only_reweight(shell.tick(16.0))
    assert (retry.from_region, retry.to_region, retry.kind) == ("a", "b", "failover")
    assert shell.status().write.retry_at is None


def test_retry_replans_from_current_health() -> None:
    shell = started()
    write = only_reweight(shell.down("a", 10.0))
    shell.fail(write, 11.0)
    shell.down("b", 12.0)
    retry = only_reweight(shell.tick(20.0))
    assert retry.to_region == "c"


def test_zero_retry_delay_still_waits_for_the_next_event() -> None:
    policy = make_policy(StrategyPolicy("s1", ("a", "b"), retry_seconds=0.0))
    shell = started(policy, healthy=("a", "b"))
    write = only_reweight(shell.down("a", 10.0))
    assert shell.fail(write, 11.0) == ()
    assert only_reweight(shell.tick(11.0)).to_region == "b"


def test_stale_acknowledgements_are_ignored() -> None:
    shell = started()
    before = shell.world
    assert shell.feed(WriteSucceeded("s1", "b", 1.0)) == ()
    assert shell.feed(WriteFailed("s1", "b", 1.0, "boom")) == ()
    assert shell.world == before
    write = only_reweight(shell.down("a", 10.0))
    assert shell.feed(WriteSucceeded("s1", "c", 11.0)) == ()
    assert shell.status().write.target == write.to_region


def test_all_regions_down_changes_nothing_and_alerts_once() -> None:
    shell = started(healthy=("a", "b"))
    shell.down("c", 1.0)
    shell.down("b", 2.0)
    actions = shell.down("a", 3.0)
    assert reweights(actions) == []
    (alert,) = [a for a in actions if isinstance(a, AllRegionsDown)]
    assert alert.strategy == "s1"
    assert alert.explanation.summary.startswith("all regions of s1 unhealthy (a unhealthy after 2")
    assert alert.explanation.summary.endswith("changing nothing (fail-open)")
    status = shell.status()
    assert status.phase is StrategyPhase.ALL_DOWN
    assert status.active_region == "a"
    assert status.last_decision == alert.explanation
    more = shell.down("a", 4.0) + shell.tick(5.0) + shell.down("b", 6.0)
    assert more == ()
    assert shell.status().last_decision == alert.explanation


def test_all_down_clears_with_a_reweight_when_the_active_region_is_still_down() -> None:
    shell = started(healthy=("a", "b", "c"))
    for region in ("c", "b", "a"):
        shell.down(region, 1.0)
    actions = shell.up("b", 10.0)
    cleared = [a for a in actions if isinstance(a, AllRegionsDownCleared)]
    assert len(cleared) == 1
    assert cleared[0].explanation.summary == (
        "b healthy after 3 consecutive good observations (rise=3); s1 no longer has every region down"
    )
    write = only_reweight(actions)
    assert (write.from_region, write.to_region) == ("a", "b")
    assert actions.index(cleared[0]) < actions.index(write)


def test_all_down_clears_without_a_write_when_the_active_region_recovers() -> None:
    shell = started(healthy=("a", "b"))
    shell.down("b", 1.0)
    shell.down("c", 1.0)
    shell.down("a", 1.0)
    actions = shell.up("a", 10.0)
    assert [type(a).__name__ for a in actions] == ["RegionTransition", "AllRegionsDownCleared"]
    assert shell.status().phase is StrategyPhase.STEADY


def test_snapshot_routing_outside_the_preference_fails_over_to_the_first_healthy() -> None:
    for actual in ("zz", None):
        shell = started(active=actual, healthy=())
        assert shell.status().phase is StrategyPhase.FAILED_OVER
        shell.up("c", 1.0)
        write = only_reweight(shell.history)
        assert (write.from_region, write.to_region, write.kind) == (actual, "c", "failover")
        assert "which is not one of its regions ('a', 'b', 'c')" in write.explanation.summary


def test_dry_run_marks_every_write() -> None:
    shell = started(make_policy(dry_run=True))
    write = only_reweight(shell.down("a", 1.0))
    assert write.dry_run
    shell.ack(write, 2.0)
    assert shell.status().active_region == "b"


def test_strategies_are_independent_and_unknown_ids_are_ignored() -> None:
    policy = make_policy(StrategyPolicy("s1", ("a", "b")), StrategyPolicy("s2", ("b", "a")))
    shell = started(policy, healthy=("a", "b"))
    shell.feed(StrategySnapshot("s2", "b", 7, 0.5, initial=True))
    write = only_reweight(shell.down("a", 1.0))
    assert write.strategy == "s1"
    assert shell.status("s2").phase is StrategyPhase.STEADY
    before = shell.world
    assert shell.feed(StrategySnapshot("nope", "a", 1, 2.0, initial=True)) == ()
    assert shell.world == before


def test_a_world_missing_a_strategy_is_completed_not_crashed() -> None:
    shell = started(make_policy(StrategyPolicy("s1", ("a", "b"))), healthy=("a", "b"))
    shell.world = type(shell.world)(shell.world.regions, {})
    assert shell.tick(1.0) == ()
    assert shell.status().phase is StrategyPhase.UNKNOWN


def test_step_ignores_something_that_is_not_an_event() -> None:
    shell = started()
    before = shell.world
    assert shell.feed("garbage") == ()  # type: ignore[arg-type]
    assert shell.world == before


def test_a_candidate_failing_at_the_same_time_is_not_switched_to() -> None:
    # a and b fail together; b's first bad poll lands before a crosses fall.
    shell = started(make_policy(StrategyPolicy("s1", ("a", "b"))), active="a", healthy=("a", "b"))
    shell.observe("b", False, 9.0)
    assert reweights(shell.down("a", 10.0)) == []
    assert "failing too" in (shell.status().last_decision.summary if shell.status().last_decision else "")
    # b goes down too: all down, still nothing written.
    shell.observe("b", False, 11.0)
    assert reweights(shell.history) == []
    assert shell.status().all_down


def test_a_candidate_that_recovers_from_one_bad_poll_becomes_the_target() -> None:
    shell = started(make_policy(StrategyPolicy("s1", ("a", "b"))), active="a", healthy=("a", "b"))
    shell.observe("b", False, 9.0)
    assert reweights(shell.down("a", 10.0)) == []
    write = only_reweight(shell.observe("b", True, 11.0))
    assert write.to_region == "b"


def test_leaving_all_down_waits_for_an_active_region_that_is_coming_back_too() -> None:
    # One shared outage ends: b's polls land a few ms before a's, so b crosses rise while a is one
    # good observation short. Switching now would be a failover and, after the hold, a failback.
    shell = started(make_policy(StrategyPolicy("s1", ("a", "b"))), active="a", healthy=("a", "b"))
    shell.down("b", 1.0)
    shell.down("a", 1.0)
    assert shell.status().all_down
    for at in (10.0, 11.0):
        shell.observe("b", True, at)
        shell.observe("a", True, at + 0.01)
    actions = shell.observe("b", True, 12.0)
    assert reweights(actions) == []
    assert [type(a).__name__ for a in actions] == ["RegionTransition", "AllRegionsDownCleared"]
    shell.tick(12.005)
    summary = shell.status().last_decision.summary if shell.status().last_decision else ""
    assert "not switching s1 yet: a is coming back (2/3 good observations)" in summary, summary
    # a's next answer is good: it is healthy, s1 never moved.
    shell.observe("a", True, 12.01)
    assert reweights(shell.history) == []
    assert shell.status().phase is StrategyPhase.STEADY


def test_an_active_region_whose_recovery_breaks_is_failed_away_from_at_once() -> None:
    shell = started(make_policy(StrategyPolicy("s1", ("a", "b"))), active="a", healthy=("a", "b"))
    shell.down("b", 1.0)
    shell.down("a", 1.0)
    shell.observe("a", True, 9.0)
    assert reweights(shell.up("b", 10.0)) == []
    # The wait lasts no longer than a's next verdict: a bad one ends it with the failover.
    write = only_reweight(shell.observe("a", False, 11.0))
    assert (write.from_region, write.to_region, write.kind) == ("a", "b", "failover")


def test_while_the_active_region_is_coming_back_unanswered_polls_move_nothing() -> None:
    # A 429 storm or an API blackout during the wait: polls that were not answered reach the core
    # as no observation at all (SPEC §4.1, evidence), only time passes. Nothing is written on time
    # alone; the next answer about the active region decides.
    shell = started(make_policy(StrategyPolicy("s1", ("a", "b"))), active="a", healthy=("a", "b"))
    shell.down("b", 1.0)
    shell.down("a", 1.0)
    shell.observe("a", True, 9.0)
    shell.up("b", 10.0)
    for at in (11.0, 30.0, 300.0):
        assert reweights(shell.tick(at)) == []
    write = only_reweight(shell.observe("a", False, 301.0))
    assert (write.from_region, write.to_region) == ("a", "b")
