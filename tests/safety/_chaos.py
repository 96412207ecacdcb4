"""The figures every chaos scenario reports, measured from the outside (SPEC §4.1).

- switches seen: accepted strategy writes (by the watcher, not `/_sim`) that changed where the
  strategy routes, from the simulator's audit log;
- wrong writes: a switch to a region whose health endpoint did not answer HEALTHY at that moment, any
  write to a strategy during an operator hold, any write accepted after a stale-leader cut-off;
- events lost: switches no received event tells of (`switched`/`failback`, or the intent
  `switching`), plus dead letters
  and events still pending in the outbox when the scenario ends;
- daemon exits: ends of the daemon the scenario did not ask for.

With `CHAOS_REPORT=<file>` set, each scenario appends its figures as one JSON line to that file.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.safety._bench import FAILBACK, SWITCHED, SWITCHING, Bench
from tests.safety._sim import Write, status_at


@dataclass
class Tally:
    fault: str
    switches_expected: int
    switches_seen: int
    wrong_writes: int
    events_lost: int | None
    daemon_exits: int
    notes: list[str] = field(default_factory=list)

    def line(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "switches_expected": self.switches_expected,
            "switches_seen": self.switches_seen,
            "wrong_writes": self.wrong_writes,
            "events_lost": self.events_lost,
            "daemon_exits": self.daemon_exits,
        }

    def record(self) -> None:
        """Print the figures (and the evidence behind them); append them to $CHAOS_REPORT if set."""
        print(f"\nchaos {json.dumps(self.line())}")
        for note in self.notes:
            print(f"  {note}")
        path = os.environ.get("CHAOS_REPORT")
        if path:
            with open(path, "a", encoding="utf-8") as report:
                report.write(json.dumps(self.line()) + "\n")

    def check(self) -> None:
        """The promises: the expected switches and no others, no wrong write, nothing lost, no death."""
        assert self.daemon_exits == 0, self.notes
        assert self.wrong_writes == 0, self.notes
        assert self.events_lost in (0, None), self.notes
        assert self.switches_seen == self.switches_expected, self.notes


def _lost_events(switches: Sequence[Write], events: Iterable[dict[str, Any]], notes: list[str]) -> int:
    """Switches no received event tells of: `switched`/`failback`, or the intent `switching`."""
    need = Counter((w.entity, w.region_after) for w in switches)
    done: Counter[tuple[Any, Any]] = Counter()
    intent: Counter[tuple[Any, Any]] = Counter()
    for e in events:
        key = (e["data"].get("strategy", e.get("subject")), e["data"].get("to"))
        if e["type"] in (SWITCHED, FAILBACK):
            done[key] += 1
        elif e["type"] == SWITCHING:
            intent[key] += 1
    lost = 0
    for key, count in need.items():
        missing = max(0, count - max(done[key], intent[key]))
        if missing:
            notes.append(f"no switched/failback/switching event for {key[0]} -> {key[1]} (x{missing})")
        lost += missing
    return lost


async def unreported_switches(b: Bench, strategies: Sequence[str]) -> int:
    """How many switches seen in the simulator no received event tells of (yet)."""
    writes = await b.admin.watcher_writes()
    switches = [w for w in writes if w.switches and w.entity in strategies]
    return _lost_events(switches, b.events(), [])


async def tally(
    fault: str,
    b: Bench,
    *,
    expected: int,
    exits: int,
    strategies: Sequence[str] = ("strategy-1",),
    holds: Sequence[tuple[str, datetime, datetime]] = (),
    stale_after: datetime | None = None,
    status: dict[str, Any] | None = None,
    events: bool = True,
    notes_so_far: Sequence[str] = (),
) -> Tally:
    """Measure a finished scenario. `status` is the daemon's last `/status` (for its outbox)."""
    writes = [
        w for w in await b.admin.watcher_writes() if w.kind == "routingStrategy" and w.entity in strategies
    ]
    timeline = await b.admin.region_timeline()
    switches = [w for w in writes if w.switches]
    notes = list(notes_so_far)
    notes += [f"switch {w.entity}: {w.region_before} -> {w.region_after} at {w.at.time()}" for w in switches]
    wrong = 0
    for w in switches:
        health = status_at(timeline, str(w.region_after), w.at)
        if health != "HEALTHY":
            wrong += 1
            notes.append(f"WRONG: {w.entity} switched to {w.region_after} while it answered {health}")
    for w in writes:
        for strategy, start, end in holds:
            if w.entity == strategy and start <= w.at <= end:
                wrong += 1
                notes.append(f"WRONG: {w.entity} written during its hold at {w.at.time()}")
        if stale_after is not None and w.at > stale_after:
            wrong += 1
            notes.append(f"WRONG: {w.entity} written at {w.at.time()}, after the stale-leader cut-off")
    lost: int | None = None
    if events:
        lost = _lost_events(switches, b.events(), notes)
        if status is not None:
            stuck = sum(
                v.get("pending", 0) + v.get("deadLetters", 0) for v in status.get("outbox", {}).values()
            )
            if stuck:
                notes.append(f"{stuck} events pending or dead-lettered in the outbox at the end")
            lost += stuck
    if exits:
        notes.append(f"the daemon exited {exits} time(s) on its own")
    return Tally(fault, expected, len(switches), wrong, lost, exits, notes)
