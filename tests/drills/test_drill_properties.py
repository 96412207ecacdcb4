"""Whatever happens, in whatever order (hypothesis): a drill ends with exactly one outcome, decided
once; it never moves a strategy to an unhealthy region (so never back onto a failed preferred
region); one move at a time; a report has a reason unless it SUCCEEDED; and every drill that moved
is reported once it is allowed to finish (after a stop, once recovered)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.drills._machine import POLICY, PREFERRED, REGIONS, STANDBY, THIRD, facts, writes
from watcher.drills.drill import DrillBook, step
from watcher.drills.inputs import (
    AbortDrill,
    Action,
    AlarmsRead,
    Input,
    Moved,
    MoveTo,
    Recovered,
    RegionHealthChanged,
    Report,
    StartDrill,
    Stopping,
    Tick,
)
from watcher.drills.readings import AlarmReading, AlarmsFiring, AlarmsUnreadable
from watcher.drills.record import Drill, Outcome

READINGS: list[AlarmReading] = [
    AlarmsFiring(),
    AlarmsFiring(frozenset({"IncidentOpen"})),
    AlarmsFiring(frozenset({"CallsFailing"})),
    AlarmsUnreadable("down"),
]

ops = st.one_of(
    st.tuples(
        st.just("start"),
        st.sampled_from([None, PREFERRED, STANDBY, THIRD]),
        st.sampled_from(READINGS),
        st.booleans(),
        st.sampled_from([None, "k1", "k2"]),
    ),
    st.tuples(st.just("health"), st.sampled_from(REGIONS), st.booleans()),
    st.tuples(st.just("alarms"), st.sampled_from(READINGS)),
    st.tuples(st.just("tick"), st.sampled_from([0.1, 5.0, 300.0, 700.0])),
    st.tuples(st.just("abort")),
    st.tuples(st.just("land"), st.booleans()),
    st.tuples(st.just("stop")),
    st.tuples(st.just("restart")),
    st.tuples(st.just("regain")),
)


@dataclass
class World:
    """The truth the machine is told about, and a record of everything it asked for."""

    book: DrillBook = field(default_factory=DrillBook)
    now: float = 0.0
    healthy: set[str] = field(default_factory=lambda: set(REGIONS))
    active: str = PREFERRED
    pending: MoveTo | None = None
    decided: dict[str, Outcome] = field(default_factory=dict)
    reports: list[Drill] = field(default_factory=list)
    moved: set[str] = field(default_factory=set)
    counter: int = 0
    preferred_failed: bool = False

    def feed(self, event: Input) -> None:
        self.book, actions = step(self.book, event, POLICY)
        for action in actions:
            self.check(action)
        drill = self.book.running.drill if self.book.running else None
        if drill is not None and drill.outcome is not None:
            assert self.decided.setdefault(drill.id, drill.outcome) is drill.outcome, "outcome changed"

    def check(self, action: Action) -> None:
        if isinstance(action, MoveTo):
            assert action.region in self.healthy, f"moved to unhealthy {action.region}"
            assert self.pending is None, "two moves in flight"
            self.pending = action
            self.moved.add(action.drill_id)
            return
        assert isinstance(action, Report)
        report = action.drill
        assert report.outcome is not None
        assert report.ended
        assert (report.reason is None) == (report.outcome is Outcome.SUCCEEDED), report
        assert self.decided.setdefault(report.id, report.outcome) is report.outcome, "outcome changed"
        assert report.id not in {r.id for r in self.reports}, "reported twice"
        self.reports.append(report)
        if self.pending is not None and self.pending.drill_id == report.id:
            # The write may still land (the shell cannot recall it); the machine no longer waits.
            self.land(True, feed=False)

    def land(self, ok: bool, *, feed: bool = True) -> None:
        move, self.pending = self.pending, None
        if move is None:
            return
        if ok:
            self.active = move.region
        if feed:
            self.feed(Moved(self.now, move.drill_id, move.leg, ok, writes(move.leg), None if ok else "500"))

    def facts(self) -> object:
        return facts(healthy=frozenset(self.healthy), active_region=self.active)

    def apply(self, op: tuple[object, ...]) -> None:
        kind = op[0]
        self.now += 0.01
        if kind == "start":
            self.counter += 1
            to, reading, held, slot = op[1], op[2], op[3], op[4]
            f = facts(healthy=frozenset(self.healthy), active_region=self.active, held=held)
            self.feed(StartDrill(self.now, f"d{self.counter}", f, reading, 600.0, to, slot))  # type: ignore[arg-type]
        elif kind == "health":
            region, healthy = op[1], op[2]
            (self.healthy.add if healthy else self.healthy.discard)(region)  # type: ignore[arg-type]
            self.preferred_failed |= region == PREFERRED and not healthy
            self.feed(RegionHealthChanged(self.now, region, healthy))  # type: ignore[arg-type]
        elif kind == "alarms":
            self.feed(AlarmsRead(self.now, op[1]))  # type: ignore[arg-type]
        elif kind == "tick":
            self.now += op[1]  # type: ignore[operator]
            self.feed(Tick(self.now))
        elif kind == "abort":
            self.feed(AbortDrill(self.now))
        elif kind == "land":
            self.land(bool(op[1]))
        elif kind == "stop":
            self.feed(Stopping(self.now))
        elif kind == "restart":
            self.restart()
        elif kind == "regain":
            # Leadership regained in the same process: a stopped drill is recovered from the book.
            if self.book.running is not None and self.book.running.suspended:
                self.land(True, feed=False)
            self.feed(Recovered(self.now, self.facts()))  # type: ignore[arg-type]

    def restart(self) -> None:
        """A kill and a new process: what was in flight lands or not; the stored drill is recovered."""
        stored = self.book.running.drill if self.book.running else None
        self.land(True, feed=False)
        self.book = DrillBook()
        if stored is not None:
            self.feed(Recovered(self.now, self.facts(), Drill.from_state(stored.to_state())))  # type: ignore[arg-type]

    def finish(self) -> None:
        """Let every drill end: recover a stopped one, land each move, let time pass."""
        running = self.book.running
        if running is not None and running.suspended:
            self.restart()
        for _ in range(20):
            if self.book.running is None:
                return
            if self.pending is not None:
                self.land(True)
            else:
                self.now += 1000.0
                self.feed(Tick(self.now))
        raise AssertionError(f"the drill never ended: {self.book.running}")


@settings(max_examples=600, deadline=None)
@given(st.lists(ops, max_size=40))
def test_any_sequence_keeps_the_drill_promises(sequence: list[tuple[object, ...]]) -> None:
    world = World()
    for op in sequence:
        world.apply(op)
    world.finish()
    reported = {r.id for r in world.reports}
    assert world.moved <= reported, "a drill that moved was never reported"
    assert len(world.book.recent) <= 10


@settings(max_examples=300, deadline=None)
@given(st.lists(ops, max_size=30))
def test_a_drill_never_leaves_the_strategy_on_the_standby_while_the_preferred_region_is_healthy(
    sequence: list[tuple[object, ...]],
) -> None:
    world = World()
    for op in sequence:
        world.apply(op)
    world.finish()
    gave_up = any(r.reason is not None and "failed 3 times" in r.reason for r in world.reports)
    if not world.preferred_failed and not gave_up:
        assert world.active == PREFERRED, world.reports
