"""A small driver for the drill machine: feed inputs, keep the book, collect the actions."""

from __future__ import annotations

from dataclasses import dataclass, field

from watcher.drills.drill import DrillBook, step
from watcher.drills.inputs import (
    Action,
    DrillPolicy,
    Input,
    Moved,
    MoveTo,
    Report,
    StartDrill,
    StrategyFacts,
)
from watcher.drills.readings import AlarmReading, AlarmsFiring
from watcher.drills.record import Drill, DrillWrite, Leg

PREFERRED, STANDBY, THIRD = "us-east-1", "us-west-2", "eu-west-1"
REGIONS = (PREFERRED, STANDBY, THIRD)
POLICY = DrillPolicy(outcome_alarms=("CallsFailing",), blocking_alarms=("IncidentOpen",))


def facts(**changes: object) -> StrategyFacts:
    base: dict[str, object] = {
        "strategy": "contact-center",
        "regions": REGIONS,
        "healthy": frozenset(REGIONS),
        "active_region": PREFERRED,
    }
    base.update(changes)
    return StrategyFacts(**base)  # type: ignore[arg-type]


def writes(leg: Leg, latency: float = 42.0) -> tuple[DrillWrite, ...]:
    return (
        DrillWrite("strategy", "contact-center", latency, "success", leg),
        DrillWrite("trigger", "trigger-1", latency / 2, "success", leg),
    )


@dataclass
class Machine:
    policy: DrillPolicy = POLICY
    book: DrillBook = field(default_factory=DrillBook)
    log: list[Action] = field(default_factory=list)

    def feed(self, event: Input) -> tuple[Action, ...]:
        self.book, actions = step(self.book, event, self.policy)
        self.log.extend(actions)
        return actions

    def start(
        self,
        at: float = 0.0,
        *,
        drill_id: str = "d1",
        alarms: AlarmReading | None = None,
        duration: float = 600.0,
        to: str | None = None,
        slot_key: str | None = None,
        **fact_changes: object,
    ) -> tuple[Action, ...]:
        event = StartDrill(
            at, drill_id, facts(**fact_changes), alarms or AlarmsFiring(), duration, to, slot_key
        )
        return self.feed(event)

    def land(self, at: float, leg: Leg, ok: bool = True, reason: str | None = None) -> tuple[Action, ...]:
        drill = self.running
        assert drill is not None
        return self.feed(Moved(at, drill.id, leg, ok, writes(leg), reason))

    @property
    def running(self) -> Drill | None:
        return None if self.book.running is None else self.book.running.drill

    def moves(self) -> list[MoveTo]:
        return [a for a in self.log if isinstance(a, MoveTo)]

    def reports(self) -> list[Drill]:
        return [a.drill for a in self.log if isinstance(a, Report)]
