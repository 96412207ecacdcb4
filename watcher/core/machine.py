"""The failover core's one entry point: `step(world, event, policy) -> (world, actions)`.

Pure, deterministic and total: no clock (`now` is the event's `at`), no I/O, no randomness, and
it never raises; events naming an unknown region or strategy are ignored. The shell feeds every
event in order and executes the returned actions, feeding write results back.

>>> from watcher.core import (CorePolicy, FailbackPolicy, Observation, StrategyPolicy,
...                           StrategySnapshot, Thresholds, WorldState)
>>> policy = CorePolicy(Thresholds(fall=1, rise=1), FailbackPolicy("auto", 60.0),
...                     (StrategyPolicy("s1", ("a", "b")),))
>>> world = WorldState.initial(policy)
>>> world, _ = step(world, StrategySnapshot("s1", "a", 1, at=0.0, initial=True), policy)
>>> world, _ = step(world, Observation("b", True, 1.0, "status=HEALTHY"), policy)
>>> world, actions = step(world, Observation("a", False, 2.0, "http 503"), policy)
>>> [type(a).__name__ for a in actions]
['RegionTransition', 'Reweight']
"""

from __future__ import annotations

from dataclasses import replace

from watcher.core import explain
from watcher.core.actions import Action, DriftDetected, RegionTransition
from watcher.core.commands import Handled, Handler, hold, operator_switch, pin, release
from watcher.core.failover import health, phase_of, settle
from watcher.core.inputs import (
    Event,
    Observation,
    OperatorFailback,
    OperatorHold,
    OperatorMove,
    OperatorPin,
    OperatorRelease,
    StrategySnapshot,
    Tick,
    WriteFailed,
    WriteSkipped,
    WriteSucceeded,
)
from watcher.core.policy import CorePolicy, StrategyPolicy
from watcher.core.safety import safety_news
from watcher.core.state import Drift, Skipped, StrategyStatus, WorldState, Write

Step = tuple[WorldState, tuple[Action, ...]]


def step(world: WorldState, event: Event, policy: CorePolicy) -> Step:
    """Apply one event; return the new world and the actions the shell must execute."""
    match event:
        case Observation():
            return _observe(world, event, policy)
        case Tick():
            return _settle_all(world, policy, event.at, ())
        case StrategySnapshot():
            return _on_strategy(world, policy, event.strategy, event.at, _snapshot(event))
        case WriteSucceeded():
            return _on_strategy(world, policy, event.strategy, event.at, _succeeded(event))
        case WriteSkipped():
            world = _refunded(world, event)
            return _on_strategy(world, policy, event.strategy, event.at, _skipped(event))
        case WriteFailed():
            return _on_strategy(world, policy, event.strategy, event.at, _failed(event))
        case OperatorHold():
            return _on_strategy(world, policy, event.strategy, event.at, hold(event))
        case OperatorPin():
            return _on_strategy(world, policy, event.strategy, event.at, pin(event))
        case OperatorRelease():
            return _on_strategy(world, policy, event.strategy, event.at, release(event))
        case OperatorMove() | OperatorFailback():
            return _on_strategy(world, policy, event.strategy, event.at, operator_switch(event))
    return world, ()


def _observe(world: WorldState, obs: Observation, policy: CorePolicy) -> Step:
    before = world.regions.get(obs.region)
    if before is None:
        return world, ()
    after, changed = before.observe(obs, policy.thresholds, policy.failback.flap_window_seconds)
    world = replace(world, regions={**world.regions, obs.region: after})
    transitions: tuple[Action, ...] = ()
    if changed:
        expl = explain.explanation(explain.region(after, policy), obs.at, policy, after.recent)
        transitions = (RegionTransition(obs.region, after.healthy, expl),)
    # Only strategies that route over this region can decide differently because of it; the others'
    # time-driven decisions (holds, retries) are settled by the shell's regular Tick.
    world, actions = _settle_all(world, policy, obs.at, (), only=policy.strategies_of(obs.region))
    return world, (*transitions, *actions)


def _settle_all(
    world: WorldState,
    policy: CorePolicy,
    now: float,
    notes: tuple[str, ...],
    only: tuple[StrategyPolicy, ...] | None = None,
) -> Step:
    strategies = dict(world.strategies)
    ledger = world.ledger
    actions: list[Action] = []
    changed = False
    # In configuration order, sharing one budget: when a storm takes several strategies at once,
    # the first ones configured spend it.
    for sp in policy.strategies if only is None else only:
        before = strategies.get(sp.id)
        status = before or StrategyStatus(sp.id)
        strategies[sp.id], ledger, more = settle(status, world.regions, ledger, sp, policy, now, notes)
        changed = changed or strategies[sp.id] is not before
        actions.extend(more)
        actions.extend(safety_news(status, strategies[sp.id], now, policy))
    if not changed and ledger is world.ledger:
        return world, tuple(actions)  # a quiet tick: the same world, nothing copied
    return replace(world, strategies=strategies, ledger=ledger), tuple(actions)


def _on_strategy(world: WorldState, policy: CorePolicy, strategy: str, now: float, handler: Handler) -> Step:
    sp = policy.strategy(strategy)
    if sp is None:
        return world, ()
    before = world.strategies.get(strategy) or StrategyStatus(strategy)
    status, own, notes = handler(before, sp, world, policy)
    actions: tuple[Action, ...] = ()
    ledger = world.ledger
    if notes is None:
        status = replace(status, phase=phase_of(status, sp))
    else:
        status, ledger, actions = settle(status, world.regions, ledger, sp, policy, now, notes)
    news = safety_news(before, status, now, policy)
    world = replace(world, strategies={**world.strategies, strategy: status}, ledger=ledger)
    return world, (*own, *actions, *news)


def _refunded(world: WorldState, ev: WriteSkipped) -> WorldState:
    """A counted switch that the shell did not write (this instance does not lead) gives its count back."""
    s = world.strategies.get(ev.strategy)
    if s is None or s.write.target != ev.region or s.write.counted_at is None:
        return world
    return replace(world, ledger=world.ledger.without(ev.strategy, s.write.counted_at))


def _snapshot(ev: StrategySnapshot) -> Handler:
    def handle(s: StrategyStatus, sp: StrategyPolicy, w: WorldState, p: CorePolicy) -> Handled:
        if ev.initial or not s.snapshot_seen:
            # Level-triggered: what the API holds now is the truth, whatever we thought.
            return s.routing_to(ev.active_region, ev.version, s.write.idle()), (), ()
        if s.write.target is not None:
            # The write in flight is about to change this; its acknowledgement is authoritative.
            return s, (), ()
        if isinstance(ev.version, int) and isinstance(s.version, int) and ev.version < s.version:
            # Read before a write that has landed since: older than what is known, not drift.
            return s, (), ()
        if ev.active_region == s.active_region or (
            s.write.retry_at is not None and ev.active_region == s.write.failed_target
        ):
            # A failed write may have landed anyway; its retry (still due) settles the matter.
            if s.adopted:  # still where the operator moved it
                return replace(s, version=ev.version), (), ()
            return replace(s, version=ev.version, drift=None), (), ()
        drift = Drift(s.active_region, ev.active_region)
        expected = health(w.regions, s.active_region) if s.active_region else None
        if sp.drift == "report":
            # The watcher protects what the API routes to: a manual move is adopted, not ignored,
            # so that an outage of the region it was moved to is failed over like any other.
            summary = (
                f"{s.id} was moved behind the watcher's back: the API routes to {ev.active_region}, not "
                f"{s.active_region}; adopted (drift=report): {ev.active_region} is now watched as the "
                "active region, and no automatic failback undoes the move"
            )
            return _adopt(s, ev, w, p, summary, drift, adopted=True)
        if s.active_region not in sp.preference and ev.active_region in sp.preference:
            # Reconciling back to a region that is none of the strategy's is never what the rules
            # would do: what the API routes to is adopted, and the rules go on from there (a
            # failover away from it waits for it to be confirmed unhealthy, like any other).
            summary = (
                f"{s.id} drifted: the API routes to {ev.active_region}, not {s.active_region}, which is "
                f"not one of its regions {sp.preference}; adopted"
            )
            return _adopt(s, ev, w, p, summary, None, adopted=s.adopted)
        if s.drift == drift:  # reported already
            return replace(s, version=ev.version), (), ()
        if expected is not None and expected.healthy:
            verdict = f"reconciling back to {s.active_region} (drift=reconcile)"
        else:
            verdict = f"cannot reconcile (drift=reconcile): {s.active_region} is not healthy"
        summary = (
            f"{s.id} drifted: the API routes to {ev.active_region} but the watcher expects "
            f"{s.active_region}; {verdict}"
        )
        expl = explain.explanation(summary, ev.at, p, expected.recent if expected else ())
        drifted = DriftDetected(s.id, s.active_region, ev.active_region, expl)
        return replace(s, version=ev.version, drift=drift, last_decision=expl, note=None), (drifted,), ()

    return handle


def _adopt(
    s: StrategyStatus,
    ev: StrategySnapshot,
    w: WorldState,
    p: CorePolicy,
    summary: str,
    drift: Drift | None,
    *,
    adopted: bool,
) -> Handled:
    """A move behind the watcher's back, adopted: the API's region becomes the active one, and
    `DriftDetected` tells why (`drift`, `adopted`: how the status remembers the move)."""
    moved = health(w.regions, ev.active_region) if ev.active_region else None
    expl = explain.explanation(summary, ev.at, p, moved.recent if moved else ())
    status = replace(
        s,
        active_region=ev.active_region,
        version=ev.version,
        skipped=None,
        last_decision=expl,
        note=None,
        drift=drift,
        adopted=adopted,
    )
    return status, (DriftDetected(s.id, s.active_region, ev.active_region, expl),), ()


def _succeeded(ev: WriteSucceeded) -> Handler:
    def handle(s: StrategyStatus, sp: StrategyPolicy, w: WorldState, p: CorePolicy) -> Handled:
        if s.write.target is None or s.write.target != ev.region:
            return s, (), ()  # stale or duplicate acknowledgement
        landed = s.routing_to(ev.region, ev.version, Write())
        # An operator's move: their choice stands, like a manual move adopted (no automatic failback).
        # A drill's move there stands the same way until the drill moves it back.
        chosen = s.write.kind == "move" or (s.write.kind == "drill" and ev.region != sp.preference[0])
        return (replace(landed, adopted=True) if chosen else landed), (), ()

    return handle


def _skipped(ev: WriteSkipped) -> Handler:
    def handle(s: StrategyStatus, sp: StrategyPolicy, w: WorldState, p: CorePolicy) -> Handled:
        if s.write.target is None or s.write.target != ev.region:
            return s, (), ()
        skipped = replace(s, write=s.write.idle(), skipped=Skipped(ev.region, ev.follower))
        # No settle: the decision stands; it is not sent again while the reason does.
        return skipped, (), None

    return handle


def _failed(ev: WriteFailed) -> Handler:
    def handle(s: StrategyStatus, sp: StrategyPolicy, w: WorldState, p: CorePolicy) -> Handled:
        if s.write.target is None or s.write.target != ev.region:
            return s, (), ()
        summary = (
            f"writing {s.id} to {ev.region} failed: {ev.error}; re-planning no sooner than "
            f"{explain.seconds(sp.retry_seconds)} from now"
        )
        expl = explain.explanation(summary, ev.at, p, retry_seconds=sp.retry_seconds)
        failed = replace(
            s, write=s.write.failed(ev.error, ev.at + sp.retry_seconds), last_decision=expl, note=None
        )
        # No settle: the retry waits for the next Observation/Tick at or after retry_at.
        return failed, (), None

    return handle
