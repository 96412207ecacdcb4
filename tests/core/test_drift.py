"""Drift: snapshots that disagree with what the watcher wrote."""

from __future__ import annotations

from watcher.core import (
    DriftDetected,
    StrategyPhase,
    StrategyPolicy,
    StrategySnapshot,
)

from ._world import make_policy, only_reweight, reweights, started


def snap(region: str | None, at: float, version: int = 2) -> StrategySnapshot:
    return StrategySnapshot("s1", region, version, at)


def test_report_mode_reports_each_distinct_move_once_and_adopts_it() -> None:
    # SPEC 4.1: the watcher protects what the API routes to; a manual move is adopted, not ignored.
    shell = started()
    (drift,) = shell.feed(snap("b", 1.0))
    assert isinstance(drift, DriftDetected)
    assert (drift.expected_region, drift.actual_region) == ("a", "b")
    assert drift.explanation.summary.startswith(
        "s1 was moved behind the watcher's back: the API routes to b, not a; adopted (drift=report)"
    )
    status = shell.status()
    assert status.drift
    assert status.active_region == "b"
    assert status.version == 2
    assert shell.feed(snap("b", 2.0)) == ()
    assert shell.status().drift  # still where the watcher did not write
    (again,) = shell.feed(snap("c", 3.0))
    assert isinstance(again, DriftDetected)
    assert (again.expected_region, again.actual_region) == ("b", "c")
    assert shell.status().active_region == "c"


def test_an_adopted_move_is_failed_over_when_its_region_dies_and_not_failed_back() -> None:
    shell = started()
    shell.feed(snap("b", 1.0))
    # b dies while a is healthy: the region the API routes to is protected.
    write = only_reweight(shell.down("b", 2.0))
    assert (write.from_region, write.to_region, write.kind) == ("b", "a", "failover")
    shell.ack(write, 3.0)
    assert not shell.status().drift
    assert not shell.status().adopted


def test_an_adopted_move_away_from_the_primary_is_not_undone_by_failback() -> None:
    shell = started()
    shell.feed(snap("b", 1.0))
    assert reweights(shell.tick(10_000.0)) == []  # a healthy all along: the operator's move stands


def test_reconcile_mode_writes_back_the_expected_region() -> None:
    policy = make_policy(StrategyPolicy("s1", ("a", "b", "c"), drift="reconcile"))
    shell = started(policy)
    drift, write = shell.feed(snap("c", 1.0))
    assert isinstance(drift, DriftDetected)
    assert "reconciling back to a (drift=reconcile)" in drift.explanation.summary
    assert (write.from_region, write.to_region, write.kind) == ("c", "a", "reconcile")  # type: ignore[union-attr]
    shell.ack(write, 2.0)  # type: ignore[arg-type]
    status = shell.status()
    assert status.drift is None
    assert status.phase is StrategyPhase.STEADY


def test_reconcile_retries_after_a_failed_write() -> None:
    policy = make_policy(StrategyPolicy("s1", ("a", "b", "c"), drift="reconcile"))
    shell = started(policy)
    write = only_reweight(shell.feed(snap("c", 1.0)))
    shell.fail(write, 2.0)
    retry = only_reweight(shell.tick(7.0))
    assert (retry.from_region, retry.to_region, retry.kind) == ("c", "a", "reconcile")


def test_reconcile_mode_does_not_write_to_an_unconfirmed_region() -> None:
    policy = make_policy(StrategyPolicy("s1", ("a", "b", "c"), drift="reconcile"))
    shell = started(policy, healthy=("b",))
    (drift,) = shell.feed(snap("b", 1.0))
    assert isinstance(drift, DriftDetected)
    assert "cannot reconcile (drift=reconcile): a is not healthy" in drift.explanation.summary


def test_snapshots_while_a_write_is_in_flight_are_not_drift() -> None:
    shell = started()
    write = only_reweight(shell.down("a", 1.0))
    assert shell.feed(snap("a", 2.0)) == ()
    assert shell.feed(snap("b", 3.0)) == ()
    assert not shell.status().drift
    shell.ack(write, 4.0)
    assert shell.feed(snap("b", 5.0)) == ()


def test_a_successful_write_resolves_drift() -> None:
    shell = started()
    shell.feed(snap("c", 1.0))
    # The move to c was adopted: it is c's outage that is failed over, to the first healthy region.
    write = only_reweight(shell.down("c", 2.0))
    assert (write.from_region, write.to_region) == ("c", "a")
    shell.ack(write, 3.0)
    assert not shell.status().drift


def test_initial_snapshot_is_adopted_level_triggered() -> None:
    shell = started()
    shell.feed(snap("c", 1.0))
    write = only_reweight(shell.down("c", 2.0))
    assert shell.feed(StrategySnapshot("s1", "b", 9, 3.0, initial=True)) == ()
    status = shell.status()
    assert (status.active_region, status.write.target, status.drift, status.version) == ("b", None, None, 9)
    assert reweights(shell.ack(write, 4.0)) == []  # the old write's ack is stale now


def test_first_snapshot_is_adopted_even_if_not_marked_initial() -> None:
    shell = started(healthy=())
    fresh = type(shell)(shell.policy)
    assert fresh.feed(snap("b", 1.0)) == ()
    assert fresh.status().active_region == "b"
    assert fresh.status().phase is StrategyPhase.FAILED_OVER


def test_a_failed_write_that_landed_anyway_is_not_drift_until_its_retry() -> None:
    shell = started()
    write = only_reweight(shell.down("a", 1.0))
    shell.fail(write, 2.0, "timeout after 10s")
    assert shell.feed(snap("b", 3.0)) == ()  # the PUT did land; the retry will confirm it
    assert not shell.status().drift
    retry = only_reweight(shell.tick(7.0))
    assert retry.to_region == "b"
    shell.ack(retry, 8.0)
    assert shell.status().active_region == "b"


def test_after_the_retry_is_consumed_a_stray_snapshot_is_drift_again() -> None:
    shell = started()
    write = only_reweight(shell.down("a", 1.0))
    shell.fail(write, 2.0)
    shell.up("a", 3.0)  # a recovers before the retry: nothing left to retry
    assert reweights(shell.tick(7.0)) == []
    (drift,) = shell.feed(snap("b", 8.0))
    assert isinstance(drift, DriftDetected)


def test_reconcile_mode_adopts_a_move_into_the_preference_from_a_region_outside_it() -> None:
    # Found by hypothesis: the watcher believed c (none of s1's regions); the API was moved to a,
    # still unconfirmed. Reconciling back to c is never what the rules do, and failing over away from
    # a merely unknown a would move traffic off a region nobody saw fail.
    policy = make_policy(StrategyPolicy("s1", ("a", "b"), drift="reconcile"))
    shell = started(policy, active="c", healthy=())
    (drift,) = shell.feed(snap("a", 1.0))
    assert isinstance(drift, DriftDetected)
    assert (drift.expected_region, drift.actual_region) == ("c", "a")
    assert "not one of its regions" in drift.explanation.summary
    assert shell.status().active_region == "a"
    assert not shell.status().drift
    assert reweights(shell.up("b", 2.0)) == []  # a is unknown, not failed
    write = only_reweight(shell.down("a", 3.0))
    assert (write.from_region, write.to_region, write.kind) == ("a", "b", "failover")


def test_a_failover_target_the_api_already_routes_to_is_a_reconcile_not_a_failover() -> None:
    # The API was moved to b while a was unconfirmed (drift=reconcile cannot write a back); then a
    # fails. b is where the rules want to go, and where the API already is: nothing is failed away
    # from, the write only puts s1's order back.
    policy = make_policy(StrategyPolicy("s1", ("a", "b", "c"), drift="reconcile"))
    shell = started(policy, healthy=("b", "c"))
    (drift,) = shell.feed(snap("b", 1.0))
    assert isinstance(drift, DriftDetected)
    assert "cannot reconcile" in drift.explanation.summary
    write = only_reweight(shell.down("a", 2.0))
    assert (write.from_region, write.to_region, write.kind) == ("b", "b", "reconcile")
    assert "already routes s1 to b" in write.explanation.summary
