"""SPEC §8 safety rules in the core: the switch budget of all strategies (`safety.max_switches`) and
the wait between two automatic switches of one strategy (`safety.min_seconds_between_switches`).
Fake time throughout: `at` is what the test says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from watcher.core import (
    MAX_SWITCHES,
    MIN_SECONDS_BETWEEN_SWITCHES,
    CorePolicy,
    OperatorFailback,
    OperatorHold,
    OperatorMove,
    OperatorRelease,
    SafetyHeld,
    SafetyPolicy,
    SafetyReleased,
    StrategyPolicy,
    WriteSkipped,
)

from ._world import Shell, make_policy, only_reweight, reweights, started

WINDOW = 3600.0


def policy(
    *strategies: StrategyPolicy,
    max_switches: int | None = 1,
    window: float = WINDOW,
    wait: float = 0.0,
    **kw: object,
) -> CorePolicy:
    base = make_policy(*strategies, **kw)  # type: ignore[arg-type]
    return replace(base, safety=SafetyPolicy(max_switches, window, wait))


def two_on_a(**kw: object) -> Shell:
    """s1 and s2, both preferring `a` over `b`, both routing to `a`; a and b healthy at t=0."""
    p = policy(StrategyPolicy("s1", ("a", "b")), StrategyPolicy("s2", ("a", "b")), **kw)
    return started(p, active="a", healthy=("a", "b"))


def held(actions: tuple[object, ...]) -> list[SafetyHeld]:
    return [a for a in actions if isinstance(a, SafetyHeld)]


def released(actions: tuple[object, ...]) -> list[SafetyReleased]:
    return [a for a in actions if isinstance(a, SafetyReleased)]


def blocked_storm() -> tuple[Shell, float]:
    """`a` dies at t=10: s1 fails over (the budget's one switch), s2 is blocked."""
    shell = two_on_a()
    actions = shell.down("a", 10.0)
    write = only_reweight(actions)
    assert (write.strategy, write.kind, write.to_region) == ("s1", "failover", "b")
    shell.ack(write, 10.5)
    return shell, 10.0


def test_a_switch_beyond_the_budget_is_not_written_and_says_which_rule_held_it() -> None:
    shell = two_on_a()
    actions = shell.down("a", 10.0)
    assert [(w.strategy, w.to_region) for w in reweights(actions)] == [("s1", "b")]
    [hold] = held(actions)
    assert (hold.strategy, hold.rule, hold.target, hold.blocked) == ("s2", MAX_SWITCHES, "b", True)
    assert MAX_SWITCHES in hold.explanation.summary
    assert hold.explanation.thresholds["safety_rule"] == MAX_SWITCHES
    assert hold.explanation.thresholds["max_switches"] == 1
    s2 = shell.status("s2")
    assert s2.safety is not None
    assert s2.safety.blocked
    assert s2.safety.rule == MAX_SWITCHES
    assert MAX_SWITCHES in s2.safety.reason
    assert s2.last_decision is not None
    summary = s2.last_decision.summary
    assert "a unhealthy" in summary, summary
    assert "switching s2 to b" in summary, summary
    assert "held back by safety.max_switches: 1 automatic switches of all strategies within 3600s" in summary
    assert "release --override" in summary
    assert "the window slides under the budget in 3600s at the earliest" in summary, summary
    assert s2.active_region == "a"  # stranded on a dead region, visibly


def test_a_blocked_switch_stays_blocked_tick_after_tick_without_new_explanations() -> None:
    shell, _ = blocked_storm()
    before = shell.status("s2")
    for t in (20.0, 100.0, 3000.0, 3609.0):
        actions = shell.tick(t)
        assert reweights(actions) == [], actions
        assert held(actions) == [], actions
    assert shell.status("s2") is before  # the same record: nothing copied, nothing re-explained


def test_a_blocked_switch_goes_by_itself_once_the_window_slides_under_the_budget() -> None:
    shell, t0 = blocked_storm()
    assert reweights(shell.tick(t0 + WINDOW - 0.5)) == []
    actions = shell.tick(t0 + WINDOW)
    write = only_reweight(actions)
    assert (write.strategy, write.kind, write.to_region) == ("s2", "failover", "b")
    [done] = released(actions)
    assert done.rule == MAX_SWITCHES
    assert "safety.max_switches no longer holds s2 back: a unhealthy" in done.explanation.summary
    assert shell.status("s2").safety is None


def test_a_release_with_override_lets_the_blocked_switch_go_and_a_plain_release_does_not() -> None:
    shell, _ = blocked_storm()
    assert reweights(shell.feed(OperatorRelease("s2", 20.0))) == []
    status = shell.status("s2")
    assert status.safety is not None
    assert status.safety.blocked
    actions = shell.feed(OperatorRelease("s2", 21.0, override=True))
    write = only_reweight(actions)
    assert (write.strategy, write.kind, write.to_region) == ("s2", "failover", "b")
    assert "operator released s2 with --override of safety.max_switches" in write.explanation.summary
    assert write.explanation.thresholds["safety_override"] == "true"
    assert [r.rule for r in released(actions)] == [MAX_SWITCHES]
    status = shell.status("s2")
    assert status.safety is None
    assert not status.override


def test_an_override_is_for_the_switch_at_hand_not_for_a_later_storm() -> None:
    shell = two_on_a()
    shell.feed(OperatorRelease("s2", 1.0, override=True))  # nothing held back: nothing to override
    assert not shell.status("s2").override
    assert shell.status("s2").last_decision is not None
    assert "nothing to override" in shell.status("s2").last_decision.summary  # type: ignore[union-attr]
    actions = shell.down("a", 10.0)
    assert [w.strategy for w in reweights(actions)] == ["s1"]
    assert [h.strategy for h in held(actions)] == ["s2"]


def test_an_operator_move_ends_the_hold_and_is_not_counted() -> None:
    shell, _ = blocked_storm()
    budget = shell.world.ledger
    actions = shell.feed(OperatorMove("s2", "b", 30.0))
    write = only_reweight(actions)
    assert write.kind == "move"
    [done] = released(actions)
    assert done.rule == MAX_SWITCHES
    assert "operator move: switching s2 from a to b" in done.explanation.summary
    assert shell.status("s2").safety is None
    shell.ack(write, 30.5)
    assert shell.world.ledger == budget  # operator commands do not count against the budget


def test_an_operator_failback_ends_a_blocked_failback_and_is_not_counted() -> None:
    p = policy(StrategyPolicy("s1", ("a", "b")), StrategyPolicy("s2", ("a", "b")), hold=5.0)
    shell = started(p, active="b", healthy=("a", "b"))
    actions = shell.tick(10.0)
    write = only_reweight(actions)
    assert (write.strategy, write.kind) == ("s1", "failback")
    assert [(h.strategy, h.target) for h in held(actions)] == [("s2", "a")]
    budget = shell.world.ledger
    actions = shell.feed(OperatorFailback("s2", 30.0))
    write = only_reweight(actions)
    assert (write.strategy, write.kind, write.to_region) == ("s2", "failback", "a")
    assert [r.rule for r in released(actions)] == [MAX_SWITCHES]
    shell.ack(write, 30.5)
    assert shell.world.ledger == budget


def test_operator_commands_do_not_spend_the_budget() -> None:
    p = policy(StrategyPolicy("s1", ("a", "b")), mode="manual")
    shell = started(p, active="a", healthy=("a", "b"))
    shell.ack(only_reweight(shell.feed(OperatorMove("s1", "b", 1.0))), 1.5)
    shell.ack(only_reweight(shell.feed(OperatorFailback("s1", 2.0))), 2.5)
    assert shell.world.ledger.switches == ()
    write = only_reweight(shell.down("a", 10.0))
    assert write.kind == "failover"  # the budget of one is still whole


def test_failbacks_count_as_automatic_switches() -> None:
    p = policy(StrategyPolicy("s1", ("a", "b")), max_switches=2, hold=5.0, rise=1, fall=1)
    shell = started(p, active="a", healthy=("a", "b"))
    shell.ack(only_reweight(shell.down("a", 10.0)), 10.1)
    shell.up("a", 20.0)
    write = only_reweight(shell.tick(25.0))
    assert write.kind == "failback"
    shell.ack(write, 25.1)
    actions = shell.down("a", 30.0)
    assert reweights(actions) == []
    [hold] = held(actions)
    assert (hold.rule, hold.target) == (MAX_SWITCHES, "b")
    assert "2 automatic switches of all strategies" in hold.explanation.summary
    # The window slides from the first switch: the failover goes at 10 + window.
    assert reweights(shell.tick(10.0 + WINDOW - 0.1)) == []
    assert only_reweight(shell.tick(10.0 + WINDOW)).to_region == "b"


def test_the_retry_of_a_failed_switch_is_not_counted_again() -> None:
    p = policy(StrategyPolicy("s1", ("a", "b")))
    shell = started(p, active="a", healthy=("a", "b"))
    write = only_reweight(shell.down("a", 10.0))
    shell.fail(write, 10.5)
    retry = only_reweight(shell.tick(10.5 + p.strategies[0].retry_seconds))
    assert (retry.kind, retry.to_region) == ("failover", "b")
    assert len(shell.world.ledger.switches) == 1


def test_a_switch_that_is_not_written_gives_its_count_back() -> None:
    shell = two_on_a()
    actions = shell.down("a", 10.0)
    write = only_reweight(actions)
    assert write.strategy == "s1"
    assert [h.strategy for h in held(actions)] == ["s2"]
    shell.feed(WriteSkipped("s1", "b", 10.1, follower=True))  # another instance leads: not written
    assert shell.world.ledger.switches == ()
    # The next tick re-evaluates s2: the budget is whole again.
    actions = shell.tick(10.5)
    assert [w.strategy for w in reweights(actions)] == ["s2"]


def test_a_dry_run_spends_no_budget_and_is_held_back_by_none() -> None:
    shell = two_on_a(dry_run=True, wait=30.0)
    actions = shell.down("a", 10.0)
    assert sorted(w.strategy for w in reweights(actions)) == ["s1", "s2"]
    assert held(actions) == []
    assert shell.world.ledger.switches == ()


def test_the_wait_between_switches_delays_the_next_one_and_never_drops_it() -> None:
    p = policy(StrategyPolicy("s1", ("a", "b", "c")), max_switches=None, wait=30.0)
    shell = started(p, active="a", healthy=("a", "b", "c"))
    shell.ack(only_reweight(shell.down("a", 10.0)), 10.1)
    actions = shell.down("b", 15.0)
    assert reweights(actions) == []
    [hold] = held(actions)
    assert (hold.rule, hold.target, hold.blocked) == (MIN_SECONDS_BETWEEN_SWITCHES, "c", False)
    summary = hold.explanation.summary
    assert "held back by safety.min_seconds_between_switches" in summary
    assert "it goes in 25s" in summary, summary
    status = shell.status("s1")
    assert status.safety is not None
    assert status.safety.until == 40.0
    assert not status.safety.blocked
    assert reweights(shell.tick(39.9)) == []
    actions = shell.tick(40.0)
    assert only_reweight(actions).to_region == "c"
    assert [r.rule for r in released(actions)] == [MIN_SECONDS_BETWEEN_SWITCHES]


def test_the_wait_is_per_strategy() -> None:
    shell = two_on_a(max_switches=None, wait=30.0)
    assert sorted(w.strategy for w in reweights(shell.down("a", 10.0))) == ["s1", "s2"]


def test_an_operator_hold_takes_over_from_a_safety_rule_and_hands_back() -> None:
    shell, _ = blocked_storm()
    actions = shell.feed(OperatorHold("s2", 100.0, 20.0))
    assert [r.rule for r in released(actions)] == [MAX_SWITCHES]
    assert shell.status("s2").safety is None
    actions = shell.tick(100.0)  # the hold ends; the budget is still spent: blocked again
    assert [h.rule for h in held(actions)] == [MAX_SWITCHES]
    assert reweights(actions) == []


def test_a_switch_no_longer_wanted_is_released_by_the_rule() -> None:
    shell, _ = blocked_storm()
    actions = shell.up("a", 50.0)
    assert reweights(actions) == []
    [done] = released(actions)
    assert "safety.max_switches no longer holds s2 back: a unhealthy, recovering" in done.explanation.summary
    assert held(actions) == []
    assert shell.status("s2").safety is None
    actions = shell.tick(60.0)
    assert reweights(actions) == []
    assert held(actions) == []
    assert released(actions) == []


def test_no_rule_no_memory() -> None:
    shell = two_on_a(max_switches=None)
    shell.down("a", 10.0)
    assert shell.world.ledger.switches == ()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"max_switches": 0}, "max_switches must be >= 1"),
        ({"window_seconds": 0.0}, "window_seconds must be a finite number > 0"),
        ({"min_seconds_between_switches": -1.0}, "min_seconds_between_switches must be"),
    ],
)
def test_the_policy_refuses_nonsense(kw: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SafetyPolicy(**kw)  # type: ignore[arg-type]
