"""The drill book as stored under `[state] dir` (and in etcd when HA), and read back after a restart.

What must survive a restart or a change of leader: the running drill (the next instance ends it
and moves the strategy back before anything else: feed `Recovered(drill=…)`), the last reports
(`/status`), and the slot keys already used (a scheduled drill starts once per slot, also across a
restart inside the slot). What is in flight does not survive: the book read back holds no running
drill; the one that was running is returned beside it, to be recovered.
"""

from __future__ import annotations

from typing import Any

from watcher.drills.drill import DrillBook
from watcher.drills.record import Drill


def book_to_state(book: DrillBook) -> dict[str, Any]:
    """A JSON-ready form of `book`."""
    return {
        "running": None if book.running is None else book.running.drill.to_state(),
        "recent": [d.to_state() for d in book.recent],
        "startedSlots": list(book.started_slots),
        "refusedSlots": list(book.refused_slots),
    }


def book_from_state(state: dict[str, Any]) -> tuple[DrillBook, Drill | None]:
    """The book `book_to_state` wrote, without its running drill, and that drill (to recover).

    KeyError, ValueError or TypeError when `state` is not such a form (the shell reports it and
    starts from an empty book: a lost report is better than a daemon that will not start).
    """
    running = state.get("running")
    book = DrillBook(
        recent=tuple(Drill.from_state(d) for d in state.get("recent", [])),
        started_slots=tuple(str(k) for k in state.get("startedSlots", [])),
        refused_slots=tuple(str(k) for k in state.get("refusedSlots", [])),
    )
    return book, None if running is None else Drill.from_state(running)
