"""Where region health becomes a decision for one strategy: fail over, fail back, follow a pin,
reconcile drift, or stand still, and whether a write may go out now.

Rules, in order (SPEC §4):

1. A pin to a HEALTHY region routes there. A pin whose region turns UNHEALTHY is broken and
   normal rules apply; a pin to a region not yet confirmed waits for it (normal failover still
   applies meanwhile, failback does not).
2. Failover: the active region is UNHEALTHY (crossed `fall`; never merely UNKNOWN) or is not one
   of the strategy's regions -> the first HEALTHY region in preference order. Two waits, each
   no longer than one region's next verdicts: a candidate whose latest answer was bad is not
   switched to (it may be going down with the active one), and an active region whose latest
   answers are good is not left (it is coming back, as after an outage both shared).
3. Failback (`auto` only, not while pinned): the first more preferred HEALTHY region whose
   effective hold has elapsed since it recovered. While one is waiting, `failback_eligible_at`
   says when.
4. Reconcile: drift with `drift="reconcile"` and a HEALTHY believed region -> write it back.

A write goes out only if the strategy has been snapshotted, nothing is in flight, a failed write's
retry delay has passed, no operator hold is in force, and, for an automatic switch (a failover or a
failback), the safety rules let it go (SPEC §8: the switch budget of all strategies, the wait between
two switches of one strategy); otherwise the decision is explained (once) and nothing is written.
Targets are always HEALTHY; every region UNHEALTHY means nothing is written and `AllRegionsDown` is
raised once (fail-open).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from watcher.core import explain
from watcher.core.actions import (
    Action,
    AllRegionsDown,
    AllRegionsDownCleared,
    Reweight,
    ReweightKind,
)
from watcher.core.hysteresis import RegionHealth
from watcher.core.inputs import Observation
from watcher.core.policy import CorePolicy, StrategyPolicy
from watcher.core.safety import AUTOMATIC, held_back, safety_gate
from watcher.core.state import StrategyPhase, StrategyStatus, SwitchLedger

Regions = Mapping[str, RegionHealth]


@dataclass(frozen=True)
class _Plan:
    """What the rules want: a write to `target`, or (target None) a standstill worth explaining.
    `key` identifies a standstill so that it is explained once, not on every tick."""

    target: str | None
    kind: ReweightKind
    summary: str
    from_region: str | None
    key: str
    observations: tuple[Observation, ...] = ()
    extra: dict[str, float | int | str] = field(default_factory=dict)


def health(regions: Regions, region: str) -> RegionHealth:
    return regions.get(region) or RegionHealth(region)


def settle(
    status: StrategyStatus,
    regions: Regions,
    ledger: SwitchLedger,
    sp: StrategyPolicy,
    policy: CorePolicy,
    now: float,
    notes: tuple[str, ...] = (),
) -> tuple[StrategyStatus, SwitchLedger, tuple[Action, ...]]:
    """Bring one strategy up to date with the world at `now`: expire operator commands, raise
    or clear the all-down alert, and emit at most one Reweight (counted in `ledger` when the
    safety rules count it)."""
    said = list(notes)
    before = status
    status = _expire(status, now, said)
    status, alerts = _all_down(status, regions, sp, policy, now)
    status, ledger, writes = _write(status, regions, ledger, sp, policy, now, said)
    phase = phase_of(status, sp)
    if status.phase is not phase:
        status = replace(status, phase=phase)
    # Unchanged means the same object: the shell tells what changed by identity (gauges). The
    # regular tick settles every strategy, and at steady state it changes nothing: no copy is made.
    return (before if status is before or status == before else status), ledger, (*alerts, *writes)


def phase_of(status: StrategyStatus, sp: StrategyPolicy) -> StrategyPhase:
    if not status.snapshot_seen:
        return StrategyPhase.UNKNOWN
    if status.write.target is not None or status.write.retry_at is not None:
        return StrategyPhase.FAILING_OVER
    if status.all_down:
        return StrategyPhase.ALL_DOWN
    if status.held:
        return StrategyPhase.HELD
    if status.pinned:
        return StrategyPhase.PINNED
    if status.failback_eligible_at is not None:
        return StrategyPhase.FAILING_BACK
    if status.active_region == sp.preference[0]:
        return StrategyPhase.STEADY
    return StrategyPhase.FAILED_OVER


def _expire(status: StrategyStatus, now: float, said: list[str]) -> StrategyStatus:
    if status.hold is not None and now >= status.hold.until:
        said.append(f"operator hold on {status.id} expired")
        status = replace(status, hold=None, note=None)
    if status.pin is not None and now >= status.pin.until:
        said.append(f"pin of {status.id} to {status.pin.region} expired")
        status = replace(status, pin=None, note=None)
    return status


def _all_down(
    status: StrategyStatus, regions: Regions, sp: StrategyPolicy, policy: CorePolicy, now: float
) -> tuple[StrategyStatus, tuple[Action, ...]]:
    healths = [health(regions, r) for r in sp.preference]
    down = all(h.unhealthy for h in healths)
    if down and not status.all_down:
        states = "; ".join(explain.region(h, policy) for h in healths)
        expl = explain.explanation(
            f"all regions of {sp.id} unhealthy ({states}); changing nothing (fail-open)",
            now,
            policy,
            (o for h in healths for o in h.recent),
        )
        status = replace(status, all_down=True, last_decision=expl, note=None)
        return status, (AllRegionsDown(sp.id, expl),)
    if status.all_down and not down:
        back = [h for h in healths if h.healthy]
        states = "; ".join(explain.region(h, policy) for h in back)
        expl = explain.explanation(
            f"{states}; {sp.id} no longer has every region down",
            now,
            policy,
            (o for h in back for o in h.recent),
        )
        status = replace(status, all_down=False, last_decision=expl, note=None)
        return status, (AllRegionsDownCleared(sp.id, expl),)
    return status, ()


def _write(
    status: StrategyStatus,
    regions: Regions,
    ledger: SwitchLedger,
    sp: StrategyPolicy,
    policy: CorePolicy,
    now: float,
    said: list[str],
) -> tuple[StrategyStatus, SwitchLedger, tuple[Action, ...]]:
    if not status.snapshot_seen or status.write.target is not None:
        return status, ledger, ()
    if status.failback_eligible_at is not None:
        status = replace(status, failback_eligible_at=None)
    # The retry of a failed write that was counted goes to the same region: it is not counted again.
    retried: tuple[str | None, float] | None = None
    if status.write.retry_at is not None:
        if now < status.write.retry_at:
            return status, ledger, ()
        if status.write.counted_at is not None:
            retried = (status.write.failed_target, status.write.counted_at)
        status = replace(status, write=status.write.idle())
    # A safety rule holds the strategy back only while it decides so now; an override is for the
    # decision at hand, not for a later storm.
    previous, override = status.safety, status.override
    if previous is not None or override:
        status = replace(status, safety=None, override=False)
    status, plan = _plan(status, regions, sp, policy, now, said)
    if plan is None:
        return (status if status.note is None else replace(status, note=None)), ledger, ()
    prefix = "".join(f"{s}; " for s in said)

    def record(summary: str, key: str, **extra: float | int | str) -> StrategyStatus:
        if status.note == key:
            return status
        thresholds = {**plan.extra, **extra}
        expl = explain.explanation(prefix + summary, now, policy, plan.observations, **thresholds)
        return replace(status, last_decision=expl, note=key)

    if plan.target is None:
        # The all-down alert already explains this standstill; do not overwrite it.
        return (status if status.all_down else record(plan.summary, plan.key)), ledger, ()
    if status.hold is not None:
        left = explain.seconds(status.hold.until - now)
        summary = f"{plan.summary}, but {sp.id} is held by an operator for another {left}"
        return record(summary + "; not writing", f"held:{plan.kind}:{plan.target}"), ledger, ()
    skipped = status.skipped
    if skipped is not None and plan.target == skipped.target and (policy.dry_run or skipped.follower):
        why = "dry run: not written" if policy.dry_run else "another instance leads: not written"
        return record(f"{plan.summary}; {why}", f"skipped:{plan.kind}:{plan.target}"), ledger, ()
    counted_at: float | None = None
    # A dry run writes nothing, so it spends no budget and is held back by none: it shows what the
    # rules decide, and turning it off acts on the world at once.
    if plan.kind in AUTOMATIC and policy.safety.limited and not policy.dry_run:
        if retried is not None and retried[0] == plan.target:
            counted_at = retried[1]
        else:
            block = (
                None if override else safety_gate(previous, ledger, sp, policy, now, plan.target, plan.kind)
            )
            if block is not None:
                status = replace(status, safety=block)
                summary, extra = held_back(block, plan.summary, policy, now)
                return record(summary, f"safety:{block.rule}:{plan.kind}:{plan.target}", **extra), ledger, ()
            ledger = ledger.counted(sp.id, now, policy.safety)
            counted_at = now
    extra = dict(plan.extra)
    if override:
        said.append(f"the safety rules overridden by an operator for {sp.id}")
        prefix = "".join(f"{s}; " for s in said)
        extra["safety_override"] = "true"
    expl = explain.explanation(prefix + plan.summary, now, policy, plan.observations, **extra)
    reweight = Reweight(
        strategy=sp.id,
        from_region=plan.from_region,
        to_region=plan.target,
        order=sp.order_for(plan.target),
        kind=plan.kind,
        explanation=expl,
        dry_run=policy.dry_run,
    )
    write = status.write.sent(plan.target, plan.kind, counted_at)
    status = replace(status, write=write, last_decision=expl, note=None)
    return status, ledger, (reweight,)


def _plan(
    status: StrategyStatus,
    regions: Regions,
    sp: StrategyPolicy,
    policy: CorePolicy,
    now: float,
    said: list[str],
) -> tuple[StrategyStatus, _Plan | None]:
    active = status.active_region
    current = health(regions, active) if active in sp.preference else None
    source = status.drift.actual if status.drift else active
    hold_failback = False

    if (pinned := status.pin) is not None:
        pin = health(regions, pinned.region)
        if pin.unhealthy:
            why = "" if pin.region == active else f": {explain.region(pin, policy)}"
            said.append(f"pin of {sp.id} to {pin.region} broken{why}")
            status = replace(status, pin=None)
        elif pin.healthy and pin.region != active:
            left = explain.seconds(pinned.until - now)
            reason = f" ({pinned.reason})" if pinned.reason else ""
            summary = (
                f"operator pin{reason}: routing {sp.id} to {pin.region} for {left}; "
                f"{explain.region(pin, policy)}"
            )
            return status, _Plan(pin.region, "pin", summary, source, "pin", pin.recent)
        else:
            hold_failback = True

    if current is None or current.unhealthy:
        healthy = [r for r in sp.preference if health(regions, r).healthy]
        # A healthy region whose latest observation was bad may be going down with the active one
        # (a zone-wide outage seen by two polls a few ms apart): switching to it would be a wasted
        # write at best. Wait for its next verdict; it is either clean again or unhealthy soon.
        target = next((r for r in healthy if health(regions, r).bad_streak == 0), None)
        if current is None:
            where = "no region" if active is None else active
            cause = f"{sp.id} routes to {where}, which is not one of its regions {sp.preference}"
            seen = health(regions, target).recent if target else ()
        else:
            cause = explain.region(current, policy)
            seen = current.recent
        if target is None and healthy:
            wobbling = ", ".join(
                f"{r} ({health(regions, r).bad_streak} bad observation(s) in a row)" for r in healthy
            )
            summary = f"{cause}; not switching {sp.id} yet: every candidate is failing too: {wobbling}"
            return status, _Plan(None, "failover", summary, source, f"wait:{active}", seen)
        if target is None:
            others = "; ".join(
                explain.region(health(regions, r), policy) for r in sp.preference if r != active
            )
            summary = f"{cause}; no healthy region to switch {sp.id} to ({others})"
            return status, _Plan(None, "failover", summary, source, f"stuck:{active}", seen)
        if target == source:
            # The API already routes there (a drift the watcher was told of): nothing is left,
            # so this is no failover; the write only puts the strategy's own order back.
            summary = f"{cause}; the API already routes {sp.id} to {target}: writing its order back"
            return status, _Plan(target, "reconcile", summary, source, "reconcile", seen)
        if current is not None and current.good_streak:
            # The mirror of the rule above: the active region's latest answers are good, it is
            # coming back, likely from the same outage as the candidate (one shared cause ending,
            # its polls a few ms behind). Switching now is a failover and, after the hold, a
            # failback. Its next verdict decides: good ones make it healthy within `rise - 1`
            # polls (at the settling pace), one bad one ends the wait with the failover.
            rise = policy.thresholds.rise
            summary = (
                f"{cause}; not switching {sp.id} yet: {active} is coming back "
                f"({current.good_streak}/{rise} good observations) and its next answers decide"
            )
            return status, _Plan(None, "failover", summary, source, f"rising:{active}", seen)
        summary = f"{cause}; switching {sp.id} to {target}"
        return status, _Plan(target, "failover", summary, source, "failover", seen)

    if policy.failback.mode == "auto" and not hold_failback and not status.adopted and active is not None:
        status, plan = _failback(status, regions, sp, policy, now, active, source)
        if plan is not None:
            return status, plan

    if status.drift and sp.drift == "reconcile" and current.healthy and status.drift.actual != active:
        summary = (
            f"{sp.id} was changed behind the watcher's back to {status.drift.actual}; "
            f"reconciling back to {active} (drift=reconcile); {explain.region(current, policy)}"
        )
        return status, _Plan(active, "reconcile", summary, source, "reconcile", current.recent)
    return status, None


def _failback(
    status: StrategyStatus,
    regions: Regions,
    sp: StrategyPolicy,
    policy: CorePolicy,
    now: float,
    active: str,
    source: str | None,
) -> tuple[StrategyStatus, _Plan | None]:
    rules = policy.failback
    earliest: float | None = None
    for region in sp.preference[: sp.preference.index(active)]:
        h = health(regions, region)
        if not h.healthy or h.since is None or h.bad_streak:
            continue
        hold = rules.effective_hold(h.flaps, h.since)
        due = h.since + hold
        if now < due:
            earliest = due if earliest is None else min(earliest, due)
            continue
        flaps = rules.counted_flaps(h.flaps, h.since)
        damped = (
            f", damped for {flaps} flaps within {explain.seconds(rules.flap_window_seconds)}"
            if flaps > 1
            else ""
        )
        summary = (
            f"{region} healthy for {explain.seconds(now - h.since)} "
            f"(hold {explain.seconds(hold)}{damped}); failing {sp.id} back from {active} "
            f"to {region}"
        )
        extra: dict[str, float | int | str] = {
            "failback": rules.mode,
            "hold_seconds": rules.hold_seconds,
            "effective_hold_seconds": hold,
            "flap_window_seconds": rules.flap_window_seconds,
            "recent_flaps": flaps,
        }
        return status, _Plan(region, "failback", summary, source, "failback", h.recent, extra)
    if status.failback_eligible_at != earliest:
        status = replace(status, failback_eligible_at=earliest)
    return status, None
