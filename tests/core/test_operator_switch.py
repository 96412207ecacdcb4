"""The operator's way back and way elsewhere: `failback` and `move` (SPEC §5)."""

from __future__ import annotations

from watcher.core import (
    OperatorFailback,
    OperatorHold,
    OperatorMove,
    OperatorPin,
    OperatorRelease,
    Refused,
    Reweight,
    StrategyPhase,
    StrategyPolicy,
)

from ._world import Shell, make_policy, only_reweight, reweights, started


def refusal(actions: tuple[object, ...]) -> str:
    assert reweights(a for a in actions if isinstance(a, Reweight)) == []
    refused = [a for a in actions if isinstance(a, Refused)]
    assert len(refused) == 1, actions
    return refused[0].explanation.summary


def failed_over(mode: str = "manual") -> Shell:
    """s1 (a, b, c) failed over from a to b; a is healthy again since t=20."""
    shell = started(make_policy(mode=mode, hold=60.0))  # type: ignore[arg-type]
    shell.ack(only_reweight(shell.down("a", 5.0)), 6.0)
    assert shell.status().active_region == "b"
    shell.up("a", 20.0)
    return shell


def test_manual_failback_returns_to_the_preferred_region_only_when_asked() -> None:
    shell = failed_over("manual")
    assert reweights(shell.tick(5000.0)) == []  # manual: a healthy for ages, nothing moves
    assert shell.status().phase is StrategyPhase.FAILED_OVER
    write = only_reweight(shell.feed(OperatorFailback("s1", at=5001.0, reason="incident closed")))
    assert (write.from_region, write.to_region, write.kind, write.order) == (
        "b",
        "a",
        "failback",
        ("a", "b", "c"),
    )
    assert write.explanation.summary.startswith(
        "operator failback (incident closed): switching s1 from b back to its preferred region a; a healthy"
    )
    assert shell.status().phase is StrategyPhase.FAILING_OVER
    shell.ack(write, 5002.0)
    status = shell.status()
    assert (status.active_region, status.phase, status.adopted) == ("a", StrategyPhase.STEADY, False)


def test_failback_skips_the_automatic_hold() -> None:
    shell = failed_over("auto")
    assert reweights(shell.tick(21.0)) == []
    assert shell.status().failback_eligible_at == 80.0
    write = only_reweight(shell.feed(OperatorFailback("s1", at=22.0)))
    assert (write.to_region, write.kind) == ("a", "failback")


def test_failback_is_refused_while_the_preferred_region_is_not_healthy() -> None:
    shell = started(make_policy(mode="manual"))
    shell.ack(only_reweight(shell.down("a", 5.0)), 6.0)
    why = refusal(shell.feed(OperatorFailback("s1", at=7.0)))
    assert why == (
        "cannot fail back s1 to a: a unhealthy after 2 consecutive bad observations (fall=2): status=DEGRADED"
    )
    shell.observe("a", True, 8.0)  # recovering, not yet confirmed
    why = refusal(shell.feed(OperatorFailback("s1", at=9.0)))
    assert why == "cannot fail back s1 to a: a unhealthy, recovering (1/3 good observations)"
    assert shell.status().active_region == "b"


def test_failback_on_the_preferred_region_has_nothing_to_do() -> None:
    shell = started()
    assert shell.feed(OperatorFailback("s1", at=3.0)) == ()
    status = shell.status()
    assert status.active_region == "a"
    assert status.last_decision is not None
    assert status.last_decision.summary == "operator failback: s1 already routes to its preferred region a"


def test_a_move_stands_until_its_region_must_be_failed_over() -> None:
    shell = started(make_policy(mode="auto", hold=10.0))
    write = only_reweight(shell.feed(OperatorMove("s1", "c", at=5.0, reason="drill")))
    assert (write.from_region, write.to_region, write.kind, write.order) == (
        "a",
        "c",
        "move",
        ("c", "a", "b"),
    )
    shell.ack(write, 6.0)
    status = shell.status()
    assert (status.active_region, status.adopted, status.phase) == ("c", True, StrategyPhase.FAILED_OVER)
    assert reweights(shell.tick(10_000.0)) == []  # auto failback does not undo the operator's choice
    back = only_reweight(shell.down("c", 10_001.0))  # c fails: the watcher must fail over
    assert (back.to_region, back.kind) == ("a", "failover")
    shell.ack(back, 10_002.0)
    assert not shell.status().adopted


def test_release_after_a_move_lets_the_automatic_failback_resume() -> None:
    shell = started(make_policy(mode="auto", hold=10.0))
    shell.ack(only_reweight(shell.feed(OperatorMove("s1", "b", at=5.0))), 6.0)
    assert reweights(shell.tick(500.0)) == []
    write = only_reweight(shell.feed(OperatorRelease("s1", at=501.0)))
    assert (write.to_region, write.kind) == ("a", "failback")


def test_a_failback_after_a_move_ends_the_operator_choice() -> None:
    shell = started(make_policy(mode="manual"))
    shell.ack(only_reweight(shell.feed(OperatorMove("s1", "b", at=5.0))), 6.0)
    shell.ack(only_reweight(shell.feed(OperatorFailback("s1", at=7.0))), 8.0)
    assert (shell.status().active_region, shell.status().adopted) == ("a", False)


def test_a_move_where_it_already_routes_keeps_it_there() -> None:
    shell = failed_over("auto")
    assert shell.feed(OperatorMove("s1", "b", at=21.0)) == ()
    assert shell.status().adopted
    assert reweights(shell.tick(1000.0)) == []  # the automatic failback to a no longer happens


def test_a_move_is_refused_for_a_region_of_another_strategy_or_an_unconfirmed_one_unless_forced() -> None:
    shell = started(make_policy(StrategyPolicy("s1", ("a", "b", "c"))), healthy=("a", "b"))
    why = refusal(shell.feed(OperatorMove("s1", "mars-1", at=1.0)))
    assert why == "cannot move s1 to mars-1: not one of its regions ('a', 'b', 'c')"
    why = refusal(shell.feed(OperatorMove("s1", "c", at=1.0)))
    assert why == (
        "cannot move s1 to c: c not yet confirmed (0/3 good, 0/2 bad observations); --force moves it anyway"
    )
    write = only_reweight(shell.feed(OperatorMove("s1", "c", at=2.0, force=True)))
    assert (write.to_region, write.kind) == ("c", "move")
    assert "switching s1 from a to c (forced)" in write.explanation.summary
    shell.ack(write, 3.0)
    assert reweights(shell.tick(100.0)) == []  # an unconfirmed region is not failed away from


def test_a_forced_move_to_an_unhealthy_region_needs_a_hold_to_keep_it_there() -> None:
    shell = started(make_policy(mode="manual"))
    shell.down("c", 1.0)
    assert refusal(shell.feed(OperatorMove("s1", "c", at=2.0))).startswith(
        "cannot move s1 to c: c unhealthy after 2 consecutive bad observations"
    )
    why = refusal(shell.feed(OperatorMove("s1", "c", at=2.0, force=True)))
    assert why.endswith("; only a hold keeps s1 there: hold it first")
    shell.feed(OperatorHold("s1", until=100.0, at=3.0))
    write = only_reweight(shell.feed(OperatorMove("s1", "c", at=4.0, force=True)))
    assert write.explanation.summary.endswith("; the hold on s1 stays in force")
    shell.ack(write, 5.0)
    assert reweights(shell.tick(99.0)) == []  # held there
    away = only_reweight(shell.tick(100.0))  # the hold ends: never left on an unhealthy region
    assert (away.to_region, away.kind) == ("a", "failover")


def test_a_hold_does_not_block_the_operators_own_move_and_stays() -> None:
    shell = started()
    shell.feed(OperatorHold("s1", until=100.0, at=1.0))
    shell.ack(only_reweight(shell.feed(OperatorMove("s1", "b", at=2.0))), 3.0)
    status = shell.status()
    assert (status.active_region, status.phase) == ("b", StrategyPhase.HELD)
    assert status.hold is not None


def test_operator_switches_are_refused_in_dry_run_while_pinned_in_flight_or_unread() -> None:
    dry = started(make_policy(dry_run=True))
    assert refusal(dry.feed(OperatorMove("s1", "b", at=1.0))) == (
        "cannot move s1 to b: dry run is on: nothing is written"
    )
    shell = started()
    pin = only_reweight(shell.feed(OperatorPin("s1", "c", until=500.0, at=1.0)))
    assert refusal(shell.feed(OperatorFailback("s1", at=2.0))) == (
        "cannot fail back s1 to a: a write to c is in flight; try again once it has landed"
    )
    shell.ack(pin, 3.0)
    assert refusal(shell.feed(OperatorMove("s1", "b", at=4.0))) == (
        "cannot move s1 to b: it is pinned to c for another 496s; release it first"
    )
    unread = Shell(make_policy())
    unread.up("b", 1.0)
    assert refusal(unread.feed(OperatorMove("s1", "b", at=2.0))) == (
        "cannot move s1 to b: it has not been read from the API yet"
    )


def test_a_command_for_an_unknown_strategy_changes_nothing() -> None:
    shell = started()
    before = shell.world
    assert shell.feed(OperatorMove("nope", "b", at=1.0)) == ()
    assert shell.feed(OperatorFailback("nope", at=1.0)) == ()
    assert shell.world is before
