"""Drills (SPEC §8): practise a failover on a schedule or on demand, with automatic abort and a report.

Where each part lives (the daemon wires them; nothing here knows the daemon):

- `schedule`   `[[drills.schedules]]` and which weekly slot instance holds `now` (pure).
- `settings`   the `[drills]` table (pure).
- `readings`   what an alarm reading says: which alarms fire, or that Prometheus cannot be read.
- `alarms`     the one I/O module: reads `GET {prometheus_url}/api/v1/alerts` into a reading.
- `record`     a drill's record: phase, outcome, reason, writes, times.
- `inputs`     what the machine is told and the actions it asks for.
- `startable`  why a drill may not start now.
- `drill`      the state machine `step(book, input, policy) -> (book, actions)` (pure).
- `report`     the `"drills"` part of `/status` and the `drill status` text.
- `stored`     the book as stored across a restart or a change of leader.
"""

from __future__ import annotations

from watcher.drills.alarms import read_alarms
from watcher.drills.drill import DrillBook, Running, step
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
from watcher.drills.readings import AlarmReading, AlarmsFiring, AlarmsUnreadable
from watcher.drills.record import Drill, DrillWrite, Outcome, Phase
from watcher.drills.report import book_status, drill_json, status_json, status_text
from watcher.drills.schedule import DrillSchedule, SlotInstance, due, next_slot, slot_at
from watcher.drills.settings import DrillsSettings
from watcher.drills.stored import book_from_state, book_to_state

__all__ = [
    "AbortDrill",
    "Action",
    "AlarmReading",
    "AlarmsFiring",
    "AlarmsRead",
    "AlarmsUnreadable",
    "Drill",
    "DrillBook",
    "DrillPolicy",
    "DrillSchedule",
    "DrillWrite",
    "DrillsSettings",
    "Input",
    "MoveTo",
    "Moved",
    "Outcome",
    "Phase",
    "Recovered",
    "RegionHealthChanged",
    "Report",
    "Running",
    "SlotInstance",
    "StartDrill",
    "Stopping",
    "StrategyFacts",
    "Tick",
    "book_from_state",
    "book_status",
    "book_to_state",
    "drill_json",
    "due",
    "next_slot",
    "read_alarms",
    "slot_at",
    "status_json",
    "status_text",
    "step",
]
