"""The operators' commands, as the core carries them out: hold, pin, release (with `--override` of
a safety rule), and an operator's `move` or `failback` (a drill's moves are these too).

Each is a strategy-level handler for `machine.step`: pure, planned from the state the command
finds, refused with the reason (a `Refused` action) when the core would not carry it out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from watcher.core import explain
from watcher.core.actions import Action, Refused, Reweight, ReweightKind
from watcher.core.failover import health
from watcher.core.inputs import (
    Observation,
    OperatorFailback,
    OperatorHold,
    OperatorMove,
    OperatorPin,
    OperatorRelease,
)
from watcher.core.policy import CorePolicy, StrategyPolicy
from watcher.core.state import Hold, Pin, StrategyStatus, WorldState

# A strategy-level handler: the new status, actions of its own, and notes that prefix the
# explanation of whatever `settle` decides next (None: do not settle, e.g. after a failed write).
Handled = tuple[StrategyStatus, tuple[Action, ...], tuple[str, ...] | None]
Handler = Callable[[StrategyStatus, StrategyPolicy, WorldState, CorePolicy], Handled]


def hold(ev: OperatorHold) -> Handler:
    def handle(s: StrategyStatus, sp: StrategyPolicy, w: WorldState, p: CorePolicy) -> Handled:
        reason = f" ({ev.reason})" if ev.reason else ""
        summary = f"operator hold{reason}: no writes to {s.id} for {explain.seconds(ev.until - ev.at)}"
        expl = explain.explanation(summary, ev.at, p)
        held = replace(s, hold=Hold(ev.until, ev.reason), last_decision=expl, note=None)
        return held, (), ()

    return handle


def pin(ev: OperatorPin) -> Handler:
    def handle(s: StrategyStatus, sp: StrategyPolicy, w: WorldState, p: CorePolicy) -> Handled:
        refusal = f"cannot pin {s.id} to {ev.region}: "
        if ev.region not in sp.preference:
            summary = refusal + f"not one of its regions {sp.preference}"
            return s, (Refused(s.id, explain.explanation(summary, ev.at, p)),), ()
        target = health(w.regions, ev.region)
        if target.unhealthy:
            summary = refusal + explain.region(target, p)
            expl = explain.explanation(summary, ev.at, p, target.recent)
            return s, (Refused(s.id, expl),), ()
        reason = f" ({ev.reason})" if ev.reason else ""
        wait = "" if target.healthy else f"; waiting for {ev.region} to be confirmed healthy"
        summary = f"operator pin{reason}: {s.id} to {ev.region} for {explain.seconds(ev.until - ev.at)}{wait}"
        pinned = replace(
            s,
            pin=Pin(ev.region, ev.until, ev.reason),
            last_decision=explain.explanation(summary, ev.at, p, target.recent),
            note=None,
        )
        return pinned, (), ()

    return handle


def release(ev: OperatorRelease) -> Handler:
    def handle(s: StrategyStatus, sp: StrategyPolicy, w: WorldState, p: CorePolicy) -> Handled:
        summary = f"operator released {s.id}; normal rules resume"
        said = f"operator released {s.id}"
        override = ev.override and s.safety is not None
        if override and s.safety is not None:
            said = f"operator released {s.id} with --override of {s.safety.rule}"
            summary = f"{said}: the switch to {s.safety.target} it held back goes now"
        elif ev.override:
            summary += "; no safety rule holds it back (nothing to override)"
        released = replace(
            s,
            hold=None,
            pin=None,
            adopted=False,
            override=override,
            last_decision=explain.explanation(summary, ev.at, p),
            note=None,
        )
        return released, (), (said,)

    return handle


def operator_switch(ev: OperatorMove | OperatorFailback) -> Handler:
    """An operator's `move` or `failback`: one write now, through the same path as the watcher's own
    (the shell gates it like any other), or a refusal saying why. Never settled in the same step: the
    write in flight is the decision. The operator's own hold does not block it and stays in force."""

    def handle(s: StrategyStatus, sp: StrategyPolicy, w: WorldState, p: CorePolicy) -> Handled:
        move = isinstance(ev, OperatorMove)
        target = ev.region if isinstance(ev, OperatorMove) else sp.preference[0]
        force = isinstance(ev, OperatorMove) and ev.force
        source = s.drift.actual if s.drift else s.active_region
        verb = "move" if move else "fail back"

        def refuse(why: str, seen: tuple[Observation, ...] = ()) -> Handled:
            summary = f"cannot {verb} {s.id} to {target}: {why}"
            return s, (Refused(s.id, explain.explanation(summary, ev.at, p, seen)),), None

        if target not in sp.preference:
            return refuse(f"not one of its regions {sp.preference}")
        if p.dry_run:
            return refuse("dry run is on: nothing is written")
        if not s.snapshot_seen:
            return refuse("it has not been read from the API yet")
        if s.write.target is not None:
            return refuse(f"a write to {s.write.target} is in flight; try again once it has landed")
        if s.pin is not None:
            left = explain.seconds(s.pin.until - ev.at)
            return refuse(f"it is pinned to {s.pin.region} for another {left}; release it first")
        h = health(w.regions, target)
        state = explain.region(h, p)
        if not h.healthy and not force:
            hint = "; --force moves it anyway" if move and not h.unhealthy else ""
            return refuse(state + hint, h.recent)
        if h.unhealthy and not s.held:
            # Written, the watcher would fail straight back: an unhealthy region is kept only by a hold.
            return refuse(f"{state}; only a hold keeps {s.id} there: hold it first", h.recent)
        reason = f" ({ev.reason})" if ev.reason else ""
        what = (
            ("drill move" if move else "drill return")
            if ev.drill
            else "operator move"
            if move
            else "operator failback"
        )
        if target == source == s.active_region:
            if move:
                summary = (
                    f"{what}{reason}: {s.id} already routes to {target}; it stays there (no automatic "
                    "failback) until it must fail over or is released"
                )
            else:
                summary = f"{what}{reason}: {s.id} already routes to its preferred region {target}"
            expl = explain.explanation(summary, ev.at, p, h.recent)
            # The operator acted: whatever a safety rule held back is theirs to decide now.
            done = replace(s, adopted=move, last_decision=expl, note=None, safety=None, override=False)
            return done, (), None
        forced = "" if h.healthy else " (forced)"
        held = f"; the hold on {s.id} stays in force" if s.held else ""
        to = f"to {target}" if move else f"back to its preferred region {target}"
        summary = f"{what}{reason}: switching {s.id} from {source} {to}{forced}; {state}{held}"
        expl = explain.explanation(summary, ev.at, p, h.recent)
        kind: ReweightKind = "drill" if ev.drill else "move" if move else "failback"
        write = Reweight(s.id, source, target, sp.order_for(target), kind, expl, dry_run=p.dry_run)
        sent = replace(
            s,
            write=s.write.sent(target, kind),
            skipped=None,
            last_decision=expl,
            note=None,
            safety=None,
            override=False,
        )
        return sent, (write,), None

    return handle
