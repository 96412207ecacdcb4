"""The drill state machine: `step(book, input, policy) -> (book, actions)`, pure like `watcher.core`.

A drill moves a strategy S from its preferred region to R, waits for the read-back that every
follower followed, holds there for the duration, then moves S back without the failback hold
(SPEC §8). Refused (NOT_STARTED, with why) when it should not start; aborted at once, moving S back,
as FAILED (R unhealthy, an outcome alarm, Prometheus unreadable, a move that failed) or
INTERRUPTED (an operator abort; the instance stopping, ended by whoever recovers it). When the
preferred region fails the drill is INTERRUPTED and S is *not* moved back: the failover rules own it.

No clock, no I/O, never raises. The first outcome decided is the one reported; a move is never
aimed at a region known unhealthy, and a move already in flight is awaited before the move back so
two writes of one strategy never race.

>>> from watcher.drills.readings import AlarmsFiring
>>> facts = StrategyFacts("cc", ("a", "b"), frozenset({"a", "b"}), active_region="a")
>>> book, actions = step(DrillBook(), StartDrill(0.0, "d1", facts, AlarmsFiring(), 60.0), DrillPolicy())
>>> actions[0].region, book.running.drill.phase
('b', <Phase.MOVING: 'MOVING'>)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from watcher.drills.inputs import (
    AbortDrill,
    Action,
    AlarmsRead,
    DrillPolicy,
    Input,
    Moved,
    MoveTo,
    Recovered,
    RegionHealthChanged,
    Report,
    StartDrill,
    Stopping,
    StrategyFacts,
    Tick,
)
from watcher.drills.readings import AlarmsUnreadable
from watcher.drills.record import Drill, Leg, Outcome, Phase
from watcher.drills.startable import refusals

_SLOT_MEMORY = 64


@dataclass(frozen=True)
class Running:
    """The drill in progress and what the machine tracks beside its record: the health of S's
    regions, the move in flight (answered by `Moved`), failed moves back, and whether this instance
    stopped (a suspended drill waits for `Recovered`)."""

    drill: Drill
    healthy: frozenset[str]
    in_flight: Leg | None = None
    return_failures: int = 0
    suspended: bool = False


@dataclass(frozen=True)
class DrillBook:
    """The machine's state: the running drill, the last ended ones (newest first), and the slot keys
    already used (a scheduled drill starts once per slot, and its refusal is reported once)."""

    running: Running | None = None
    recent: tuple[Drill, ...] = ()
    started_slots: tuple[str, ...] = ()
    refused_slots: tuple[str, ...] = ()


Step = tuple[DrillBook, tuple[Action, ...]]


def step(book: DrillBook, event: Input, policy: DrillPolicy) -> Step:
    """Apply one input; return the new book and what the shell must do."""
    if isinstance(event, StartDrill):
        return _start(book, event, policy)
    if isinstance(event, Recovered):
        return _recover(book, event, policy)
    run = book.running
    if run is None or run.suspended:
        return book, ()
    match event:
        case Moved():
            return _moved(book, run, event, policy)
        case RegionHealthChanged():
            return _health(book, run, event, policy)
        case AlarmsRead():
            return _alarms(book, run, event, policy)
        case Tick():
            return _tick(book, run, event.at, policy)
        case AbortDrill():
            if run.drill.phase is Phase.RETURNING:
                return book, ()  # already on its way back: nothing left to abort
            return _abort(book, run, event.at, Outcome.INTERRUPTED, event.reason, policy)
        case Stopping():
            why = f"{event.reason}: the drill is ended by the next leader"
            drill = _decide(run.drill, Outcome.INTERRUPTED, why)
            return replace(book, running=replace(run, drill=drill, in_flight=None, suspended=True)), ()
    return book, ()


def _start(book: DrillBook, ev: StartDrill, policy: DrillPolicy) -> Step:
    if ev.slot_key is not None and ev.slot_key in book.started_slots:
        return book, ()
    facts = ev.facts
    preferred = facts.regions[0] if facts.regions else ""
    to = ev.to if ev.to is not None else _next_standby(facts)
    origin = "operator" if ev.slot_key is None else f"schedule {ev.slot_key}"
    drill = Drill(
        ev.drill_id, facts.strategy, preferred, to, ev.duration_seconds, origin, Phase.MOVING, ev.at
    )
    other = book.running.drill if book.running is not None else None
    why = refusals(facts, to, ev.to is not None, ev.alarms, policy, other)
    if not ev.duration_seconds > 0:  # also NaN
        why = "; ".join(filter(None, [why, f"the duration must be positive, not {ev.duration_seconds}"]))
    if why:
        if ev.slot_key is not None and ev.slot_key in book.refused_slots:
            return book, ()  # reported at the first refusal in this slot; tried again silently
        refused = replace(drill, phase=Phase.ENDED, ended_at=ev.at, outcome=Outcome.NOT_STARTED, reason=why)
        book = _remember(book, refused, policy)
        if ev.slot_key is not None:
            book = replace(book, refused_slots=(*book.refused_slots, ev.slot_key)[-_SLOT_MEMORY:])
        return book, (Report(refused),)
    assert to is not None  # refusals() names a missing standby
    run = Running(drill, facts.healthy, in_flight="to")
    if ev.slot_key is not None:
        book = replace(book, started_slots=(*book.started_slots, ev.slot_key)[-_SLOT_MEMORY:])
    move = MoveTo(drill.id, drill.strategy, to, "to", f"drill {drill.id}: {drill.origin}")
    return replace(book, running=run), (move,)


def _next_standby(facts: StrategyFacts) -> str | None:
    """The first region after the preferred one that is ready (any, when readiness is unknown)."""
    for region in facts.regions[1:]:
        if facts.ready is None or region in facts.ready:
            return region
    return None


def _moved(book: DrillBook, run: Running, ev: Moved, policy: DrillPolicy) -> Step:
    drill = run.drill
    if ev.drill_id != drill.id or ev.leg != run.in_flight:
        return book, ()  # not the answer awaited (a stale or duplicate one)
    drill = replace(drill, writes=(*drill.writes, *(replace(w, leg=ev.leg) for w in ev.writes)))
    run = replace(run, drill=drill, in_flight=None)
    if ev.leg == "to":
        if not ev.ok:
            why = f"the move to {drill.to} failed: {ev.reason or 'no reason'}"
            drill = _decide(drill, Outcome.FAILED, why)
            return _return(book, replace(run, drill=drill), ev.at, policy)
        run = replace(run, drill=replace(drill, arrived_at=ev.at))
        if run.drill.outcome is not None:  # aborted while the move was in flight
            return _return(book, run, ev.at, policy)
        return replace(book, running=replace(run, drill=replace(run.drill, phase=Phase.HOLDING))), ()
    if ev.ok:
        return _end(book, replace(drill, back_at=ev.at), ev.at, policy)
    failures = run.return_failures + 1
    if failures < policy.max_return_attempts:
        return replace(book, running=replace(run, return_failures=failures)), ()  # retried on a tick
    note = (
        f"the move back to {drill.preferred} failed {failures} times ({ev.reason or 'no reason'}): "
        f"not moved back, {drill.strategy} stays on {drill.to} "
        "until the failover rules or an operator move it"
    )
    return _end(book, _decide(drill, Outcome.FAILED, note, append=True), ev.at, policy)


def _health(book: DrillBook, run: Running, ev: RegionHealthChanged, policy: DrillPolicy) -> Step:
    drill = run.drill
    healthy = run.healthy | {ev.region} if ev.healthy else run.healthy - {ev.region}
    run = replace(run, healthy=healthy)
    if ev.healthy:
        return replace(book, running=run), ()
    if ev.region == drill.preferred:
        note = (
            f"the preferred region {drill.preferred} failed: "
            f"not moved back, the failover rules own {drill.strategy}"
        )
        return _end(book, _decide(drill, Outcome.INTERRUPTED, note, append=True), ev.at, policy)
    if ev.region == drill.to and drill.phase in (Phase.MOVING, Phase.HOLDING):
        why = f"the drill region {drill.to} turned unhealthy"
        return _abort(book, run, ev.at, Outcome.FAILED, why, policy)
    return replace(book, running=run), ()


def _alarms(book: DrillBook, run: Running, ev: AlarmsRead, policy: DrillPolicy) -> Step:
    if not policy.reads_alarms or run.drill.phase not in (Phase.MOVING, Phase.HOLDING):
        return book, ()
    reading = ev.reading
    if isinstance(reading, AlarmsUnreadable):
        why = f"Prometheus cannot be read: {reading.reason}"
        return _abort(book, run, ev.at, Outcome.FAILED, why, policy)
    firing = reading.fires(policy.outcome_alarms)
    if firing:
        return _abort(book, run, ev.at, Outcome.FAILED, f"outcome alarm firing: {', '.join(firing)}", policy)
    return book, ()


def _tick(book: DrillBook, run: Running, at: float, policy: DrillPolicy) -> Step:
    drill = run.drill
    held_until = None if drill.arrived_at is None else drill.arrived_at + drill.duration_seconds
    if drill.phase is Phase.HOLDING and held_until is not None and at >= held_until:
        return _return(book, run, at, policy)
    if drill.phase is Phase.RETURNING and run.in_flight is None:
        return _return(book, run, at, policy)  # a failed move back, tried again
    return book, ()


def _abort(
    book: DrillBook, run: Running, at: float, outcome: Outcome, reason: str, policy: DrillPolicy
) -> Step:
    run = replace(run, drill=_decide(run.drill, outcome, reason))
    if run.in_flight is not None:
        return replace(book, running=run), ()  # the move in flight lands first, then the move back
    return _return(book, run, at, policy)


def _return(book: DrillBook, run: Running, at: float, policy: DrillPolicy) -> Step:
    """Move S back to its preferred region, unless that region is unhealthy (then end here)."""
    drill = run.drill
    if drill.preferred not in run.healthy:
        note = f"the preferred region {drill.preferred} is unhealthy: not moved back"
        return _end(book, _decide(drill, Outcome.INTERRUPTED, note, append=True), at, policy)
    first = drill.returning_at if drill.returning_at is not None else at
    drill = replace(drill, phase=Phase.RETURNING, returning_at=first)
    why = drill.reason or "the drill's duration is over"
    move = MoveTo(drill.id, drill.strategy, drill.preferred, "back", f"drill {drill.id} ends: {why}")
    return replace(book, running=replace(run, drill=drill, in_flight="back")), (move,)


def _recover(book: DrillBook, ev: Recovered, policy: DrillPolicy) -> Step:
    if book.running is not None and not book.running.suspended:
        return book, ()  # this instance is running it: a move may be in flight, never issue a second
    drill = ev.drill if ev.drill is not None else (book.running.drill if book.running else None)
    if drill is None or drill.ended:
        return book, ()
    why = "the instance stopped during the drill (restart or new leader)"
    drill = _decide(drill, Outcome.INTERRUPTED, why)
    run = Running(drill, ev.facts.healthy)
    active = ev.facts.active_region
    if active == drill.to and drill.to != drill.preferred:
        return _return(book, run, ev.at, policy)
    if active == drill.preferred:
        return _end(book, drill, ev.at, policy)
    note = f"{drill.strategy} routes to {active or 'an unknown region'}, not the drill region: not moved back"
    return _end(book, _decide(drill, Outcome.INTERRUPTED, note, append=True), ev.at, policy)


def _decide(drill: Drill, outcome: Outcome, reason: str, *, append: bool = False) -> Drill:
    """Set the outcome once: a later cause only adds to the reason when `append` (what happened to S)."""
    if drill.outcome is None:
        return replace(drill, outcome=outcome, reason=reason)
    if append:
        return replace(drill, reason=f"{drill.reason}; {reason}" if drill.reason else reason)
    return drill


def _end(book: DrillBook, drill: Drill, at: float, policy: DrillPolicy) -> Step:
    outcome = drill.outcome or Outcome.SUCCEEDED
    ended = replace(drill, phase=Phase.ENDED, ended_at=at, outcome=outcome)
    return _remember(replace(book, running=None), ended, policy), (Report(ended),)


def _remember(book: DrillBook, drill: Drill, policy: DrillPolicy) -> DrillBook:
    return replace(book, recent=(drill, *book.recent)[: policy.recent])
