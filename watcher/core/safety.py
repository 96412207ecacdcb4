"""The safety rules of SPEC §8, as AWS Route 53 ARC has them for its routing controls: a budget of
automatic switches of all strategies per window (`safety.max_switches`: a switch beyond it is not
written), and a minimum time between two automatic switches of one strategy
(`safety.min_seconds_between_switches`: the next one is delayed, never dropped).

`failover.py` asks `safety_gate` before it writes an automatic switch; `machine.py` tells the shell,
through `safety_news`, when a rule starts or stops holding a strategy back.
"""

from __future__ import annotations

from dataclasses import replace

from watcher.core import explain
from watcher.core.actions import Action, ReweightKind, SafetyHeld, SafetyReleased
from watcher.core.policy import CorePolicy, StrategyPolicy
from watcher.core.state import (
    MAX_SWITCHES,
    MIN_SECONDS_BETWEEN_SWITCHES,
    SafetyBlock,
    StrategyStatus,
    SwitchLedger,
)

# What the budget counts: the watcher's own switches (an operator's move or failback, a pin, a
# reconcile that puts back what the API should hold, are not).
AUTOMATIC: frozenset[ReweightKind] = frozenset({"failover", "failback"})


def safety_gate(
    previous: SafetyBlock | None,
    ledger: SwitchLedger,
    sp: StrategyPolicy,
    policy: CorePolicy,
    now: float,
    target: str,
    kind: ReweightKind,
) -> SafetyBlock | None:
    """The safety rule that holds back this automatic switch, if one does (SPEC §8): the budget of
    all strategies first (it blocks), then the wait between two switches of this one (it delays).
    The reason is worded without `now` so that a block that stands is the same record tick after
    tick."""
    rules = policy.safety
    block: SafetyBlock | None = None
    if rules.max_switches is not None:
        count = ledger.within(now, rules.window_seconds)
        if count >= rules.max_switches:
            reason = (
                f"{MAX_SWITCHES}: {count} automatic switches of all strategies within "
                f"{explain.seconds(rules.window_seconds)} (max {rules.max_switches}); not written until "
                "an operator acts (move, failback, release --override) or the window slides under the budget"
            )
            until = ledger.frees_at(now, rules.window_seconds, rules.max_switches)
            block = SafetyBlock(MAX_SWITCHES, target, kind, now, until, reason)
    wait = rules.min_seconds_between_switches
    last = ledger.last_of(sp.id)
    if block is None and wait > 0 and last is not None and now - last < wait:
        reason = (
            f"{MIN_SECONDS_BETWEEN_SWITCHES}: automatic switches of {sp.id} are at least "
            f"{explain.seconds(wait)} apart; delayed, not dropped"
        )
        block = SafetyBlock(MIN_SECONDS_BETWEEN_SWITCHES, target, kind, now, last + wait, reason)
    if block is None:
        return None
    if previous is not None and (previous.rule, previous.target) == (block.rule, block.target):
        block = replace(block, since=previous.since)  # the same hold, still standing
    return block


def held_back(
    block: SafetyBlock, decided: str, policy: CorePolicy, now: float
) -> tuple[str, dict[str, float | int | str]]:
    """The explanation of a switch (`decided`) a safety rule holds back, and the thresholds it names."""
    rules = policy.safety
    left = explain.seconds(max(0.0, block.until - now))
    if block.blocked:
        when = f"the window slides under the budget in {left} at the earliest"
    else:
        when = f"it goes in {left}"
    summary = f"{decided}; held back by {block.reason}; {when}"
    extra: dict[str, float | int | str] = {
        "safety_rule": block.rule,
        "window_seconds": rules.window_seconds,
        "min_seconds_between_switches": rules.min_seconds_between_switches,
    }
    if rules.max_switches is not None:
        extra["max_switches"] = rules.max_switches
    return summary, extra


def safety_news(
    before: StrategyStatus, after: StrategyStatus, now: float, policy: CorePolicy
) -> tuple[Action, ...]:
    """`SafetyHeld` when a safety rule starts holding a strategy back (or another rule, or another
    switch, takes over), `SafetyReleased` when none does any more: the shell's log, alert and audit."""
    was, now_held = before.safety, after.safety
    if now_held is not None:
        if was is not None and (was.rule, was.target) == (now_held.rule, now_held.target):
            return ()
        decision = after.last_decision
        if decision is None or now_held.rule not in decision.summary:
            decision = explain.explanation(now_held.reason, now, policy, safety_rule=now_held.rule)
        return (SafetyHeld(after.id, now_held.rule, now_held.target, now_held.blocked, decision),)
    if was is None:
        return ()
    if after.last_decision is not None and after.last_decision is not before.last_decision:
        why = after.last_decision.summary
    else:
        why = f"the switch of {after.id} to {was.target} is no longer wanted"
    summary = f"{was.rule} no longer holds {after.id} back: {why}"
    expl = explain.explanation(summary, now, policy, safety_rule=was.rule)
    return (SafetyReleased(after.id, was.rule, expl),)
