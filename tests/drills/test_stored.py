"""The book stored and read back: the running drill comes back to be recovered, reports and used
slots stay (a scheduled drill does not start twice in one slot across a restart)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.drills._machine import PREFERRED, Machine, facts
from watcher.drills.inputs import MoveTo, Recovered
from watcher.drills.record import Outcome
from watcher.drills.schedule import DrillSchedule, due
from watcher.drills.stored import book_from_state, book_to_state


def test_a_restart_inside_a_slot_recovers_the_drill_and_does_not_start_it_again() -> None:
    schedule = DrillSchedule(strategy="contact-center", duration_seconds=900, slot="Tue 10:00-11:00")
    now = datetime(2026, 12, 8, 10, 5, tzinfo=UTC)
    [(_, slot)] = due([schedule], now)
    m = Machine()
    m.start(1.0, drill_id="earlier", held=True)  # a report to keep
    m.start(2.0, drill_id="d1", slot_key=slot.key)
    m.land(2.5, "to")

    book, running = book_from_state(json.loads(json.dumps(book_to_state(m.book))))
    assert running is not None
    assert running == m.running
    assert book.running is None
    assert [d.id for d in book.recent] == ["earlier"]

    restarted = Machine(book=book)
    (back,) = restarted.feed(Recovered(60.0, facts(active_region=running.to), running))
    assert isinstance(back, MoveTo)
    assert back.region == PREFERRED
    restarted.land(60.5, "back")
    assert [(d.id, d.outcome) for d in restarted.book.recent] == [
        ("d1", Outcome.INTERRUPTED),
        ("earlier", Outcome.NOT_STARTED),
    ]
    assert restarted.start(70.0, drill_id="again", slot_key=slot.key) == ()


def test_outside_every_slot_nothing_is_due() -> None:
    schedule = DrillSchedule(strategy="s", duration_seconds=60, slot="Tue 10:00-11:00")
    assert due([schedule], datetime(2026, 12, 8, 11, 0, tzinfo=UTC)) == []
