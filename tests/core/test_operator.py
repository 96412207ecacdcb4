"""Operator hold, pin and release."""

from __future__ import annotations

from watcher.core import (
    AllRegionsDown,
    OperatorHold,
    OperatorPin,
    OperatorRelease,
    Refused,
    RegionTransition,
    StrategyPhase,
)

from ._world import make_policy, only_reweight, reweights, started


def test_hold_freezes_writes_but_still_explains_and_alerts() -> None:
    shell = started(healthy=("a", "b"))
    assert shell.feed(OperatorHold("s1", until=100.0, at=5.0, reason="change window")) == ()
    held = shell.status()
    assert held.phase is StrategyPhase.HELD
    assert held.hold is not None
    assert held.hold.until == 100.0
    assert held.last_decision is not None
    assert held.last_decision.summary == "operator hold (change window): no writes to s1 for 95s"
    actions = shell.down("a", 10.0)
    assert reweights(actions) == []
    assert [type(a) for a in actions] == [RegionTransition]
    decision = shell.status().last_decision
    assert decision is not None
    assert decision.summary == (
        "a unhealthy after 2 consecutive bad observations (fall=2): status=DEGRADED; "
        "switching s1 to b, but s1 is held by an operator for another 90s; not writing"
    )
    shell.tick(20.0)
    assert shell.status().last_decision is decision  # explained once
    shell.down("b", 30.0)
    alerts = [a for a in shell.down("c", 31.0) if isinstance(a, AllRegionsDown)]
    assert len(alerts) == 1
    shell.up("b", 40.0)
    assert reweights(shell.history) == []
    write = only_reweight(shell.tick(100.0))
    assert write.to_region == "b"
    assert write.explanation.summary.startswith("operator hold on s1 expired; a unhealthy")
    assert shell.status().hold is None


def test_pin_routes_to_a_healthy_region_and_suppresses_failback() -> None:
    shell = started()
    actions = shell.feed(OperatorPin("s1", "c", until=500.0, at=10.0, reason="drill"))
    write = only_reweight(actions)
    assert (write.from_region, write.to_region, write.kind) == ("a", "c", "pin")
    assert write.order == ("c", "a", "b")
    assert write.explanation.summary.startswith("operator pin (drill): routing s1 to c for 490s")
    shell.ack(write, 11.0)
    status = shell.status()
    assert status.phase is StrategyPhase.PINNED
    assert status.pin is not None
    assert (status.pin.region, status.pin.until) == ("c", 500.0)
    assert reweights(shell.tick(499.0)) == []
    back = only_reweight(shell.tick(500.0))
    assert (back.to_region, back.kind) == ("a", "failback")
    assert back.explanation.summary.startswith("pin of s1 to c expired; a healthy for 500s")


def test_pin_to_an_unhealthy_region_is_refused_and_writes_nothing() -> None:
    shell = started()
    shell.down("b", 5.0)
    before = shell.status()
    (refused,) = shell.feed(OperatorPin("s1", "b", until=100.0, at=6.0))
    assert isinstance(refused, Refused)
    assert refused.explanation.summary == (
        "cannot pin s1 to b: b unhealthy after 2 consecutive bad observations (fall=2): status=DEGRADED"
    )
    assert shell.status() == before


def test_pin_to_a_region_outside_the_strategy_is_refused() -> None:
    shell = started()
    (refused,) = shell.feed(OperatorPin("s1", "zz", until=100.0, at=6.0))
    assert isinstance(refused, Refused)
    assert "not one of its regions" in refused.explanation.summary


def test_pin_to_an_unconfirmed_region_waits_for_it() -> None:
    shell = started(healthy=("a", "b"))
    assert shell.feed(OperatorPin("s1", "c", until=100.0, at=1.0)) == ()
    status = shell.status()
    assert status.phase is StrategyPhase.PINNED
    assert status.last_decision is not None
    assert status.last_decision.summary.endswith("waiting for c to be confirmed healthy")
    write = only_reweight(shell.up("c", 2.0))
    assert (write.to_region, write.kind) == ("c", "pin")


def test_a_pinned_region_that_fails_breaks_the_pin() -> None:
    shell = started()
    shell.ack(only_reweight(shell.feed(OperatorPin("s1", "c", 1000.0, 1.0))), 2.0)
    write = only_reweight(shell.down("c", 10.0))
    assert (write.to_region, write.kind) == ("a", "failover")
    assert write.explanation.summary.startswith("pin of s1 to c broken; c unhealthy after 2")
    assert shell.status().pin is None


def test_pin_to_an_unconfirmed_region_that_fails_is_broken_with_its_reason() -> None:
    shell = started(healthy=("a", "b"))
    shell.feed(OperatorPin("s1", "c", 1000.0, 1.0))
    shell.down("c", 2.0)
    assert shell.status().pin is None
    write = only_reweight(shell.down("a", 3.0))
    assert write.to_region == "b"


def test_pin_during_hold_waits_for_the_hold() -> None:
    shell = started()
    shell.feed(OperatorHold("s1", until=50.0, at=1.0))
    assert reweights(shell.feed(OperatorPin("s1", "b", until=500.0, at=2.0))) == []
    assert shell.status().phase is StrategyPhase.HELD
    write = only_reweight(shell.tick(50.0))
    assert (write.to_region, write.kind) == ("b", "pin")


def test_pin_on_the_active_region_writes_nothing_and_blocks_failback() -> None:
    shell = started()
    shell.ack(only_reweight(shell.down("a", 0.0)), 0.0)
    assert shell.feed(OperatorPin("s1", "b", until=1000.0, at=1.0)) == ()
    shell.up("a", 2.0)
    assert reweights(shell.tick(900.0)) == []
    assert shell.status().failback_eligible_at is None


def test_release_in_auto_mode_resumes_failback() -> None:
    shell = started()
    shell.ack(only_reweight(shell.feed(OperatorPin("s1", "b", 1000.0, 1.0))), 2.0)
    write = only_reweight(shell.feed(OperatorRelease("s1", at=100.0)))
    assert (write.to_region, write.kind) == ("a", "failback")
    assert write.explanation.summary.startswith("operator released s1; a healthy for 100s")


def test_release_in_manual_mode_stays_unless_the_active_region_is_unhealthy() -> None:
    shell = started(make_policy(mode="manual"))
    shell.ack(only_reweight(shell.down("a", 0.0)), 0.0)
    shell.up("a", 1.0)
    pin = only_reweight(shell.feed(OperatorPin("s1", "a", 1000.0, 2.0)))
    shell.ack(pin, 3.0)
    assert shell.feed(OperatorRelease("s1", 4.0)) == ()
    assert shell.status().active_region == "a"
    assert shell.status().phase is StrategyPhase.STEADY
    shell.ack(only_reweight(shell.feed(OperatorPin("s1", "c", 1000.0, 5.0))), 6.0)
    assert shell.feed(OperatorRelease("s1", 7.0)) == ()
    assert shell.status().active_region == "c"
    decision = shell.status().last_decision
    assert decision is not None
    assert decision.summary == "operator released s1; normal rules resume"


def test_release_clears_hold_and_pin() -> None:
    shell = started()
    shell.feed(OperatorHold("s1", 100.0, 1.0))
    shell.feed(OperatorPin("s1", "b", 100.0, 1.0))
    shell.feed(OperatorRelease("s1", 2.0))
    status = shell.status()
    assert (status.hold, status.pin) == (None, None)
    assert status.phase is StrategyPhase.STEADY


def test_operator_commands_for_unknown_strategies_are_ignored() -> None:
    shell = started()
    before = shell.world
    assert shell.feed(OperatorHold("nope", 100.0, 1.0)) == ()
    assert shell.feed(OperatorPin("nope", "a", 100.0, 1.0)) == ()
    assert shell.feed(OperatorRelease("nope", 1.0)) == ()
    assert shell.world == before


def test_pin_explanation_mentions_a_bad_streak_underway() -> None:
    shell = started()
    shell.observe("c", False, 1.0, "http 503")
    write = only_reweight(shell.feed(OperatorPin("s1", "c", until=100.0, at=2.0)))
    assert write.explanation.summary == (
        "operator pin: routing s1 to c for 98s; c healthy, 1/2 bad observations: http 503"
    )


def test_dry_run_decides_against_the_truth_and_acts_when_turned_off() -> None:
    from dataclasses import replace as _replace

    from watcher.core import WriteSkipped

    shell = started()
    shell.policy = _replace(shell.policy, dry_run=True)
    decided = only_reweight(shell.down("a", 1.0))
    assert decided.dry_run
    shell.feed(WriteSkipped("s1", decided.to_region, 1.5))
    status = shell.status()
    assert (status.active_region, status.write.target, status.drift) == ("a", None, None)
    assert reweights(shell.tick(2.0)) == []  # the same decision is not sent again
    shell.policy = _replace(shell.policy, dry_run=False)
    real = only_reweight(shell.tick(2.5))
    assert (real.from_region, real.to_region, real.dry_run) == ("a", "b", False)
