"""Per-strategy sequence numbers on events: monotonic across restarts and leaders.

A receiver that applies state (DNS sync) must never go backwards, even when events of two leaders
interleave or a replay arrives late. A sequence is `max(last + 1, wall-clock milliseconds)`: the
last one is kept on disk (written atomically), and the wall clock carries the order from one
instance to the next (a new leader's sequences are later than its predecessor's as long as the two
clocks agree within the time between their events).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from watcher.atomic import write_json

log = structlog.get_logger("watcher.events")


class SequenceStore:
    """The last sequence issued per strategy, under `<directory>/sequences.json`."""

    def __init__(self, directory: Path, *, wall: Callable[[], float] = time.time) -> None:
        self.path = directory / "sequences.json"
        self._wall = wall
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            self._last = {str(k): int(v) for k, v in loaded.items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            # The wall clock still orders what follows: a damaged file costs no ordering.
            log.error(
                "sequence file unreadable; continuing from the clock", path=str(self.path), error=repr(exc)
            )

    def current(self, strategy: str) -> int:
        return self._last.get(strategy, 0)

    def next(self, strategy: str) -> int:
        """Issue the next sequence for `strategy` and keep it on disk (call off the event loop)."""
        with self._lock:
            value = max(self._last.get(strategy, 0) + 1, int(self._wall() * 1000))
            self._last[strategy] = value
            self._save()
            return value

    def issue(self, strategies: list[str]) -> dict[str, int]:
        """Issue the next sequence of each strategy at once, in memory (safe on the event loop, no
        wait between reading a state and numbering it); `save` keeps them on disk afterwards. Lost
        in a crash before that, they are still below the wall clock the next start numbers from."""
        with self._lock:
            issued = {}
            for strategy in strategies:
                issued[strategy] = max(self._last.get(strategy, 0) + 1, int(self._wall() * 1000))
                self._last[strategy] = issued[strategy]
            return issued

    def save(self) -> None:
        """Keep the sequences issued so far on disk (call off the event loop)."""
        with self._lock:
            self._save()

    def _save(self) -> None:
        try:
            write_json(self.path, self._last)
        except OSError as exc:
            log.error("could not keep the event sequence on disk", error=str(exc))
