"""The safety budget's memory, kept on disk: a restart does not hand the watcher a fresh budget.

The core counts the automatic switches of the safety rules (SPEC §8) in the world, in monotonic
seconds; a restart's monotonic clock starts anew, so they are kept here in wall-clock seconds
(`safety.json` under `[state] dir`, written atomically whenever they change) and put back at start.
A daemon that restarts in the middle of a switch storm, planned or in a crash loop, stays inside the
budget it had spent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from watcher.atomic import write_json
from watcher.core import SwitchLedger

log = structlog.get_logger("watcher.daemon")


class KeptSwitches:
    """The automatic switches the safety budget counts, on disk."""

    def __init__(
        self, directory: Path, clock: Callable[[], float], wall: Callable[[], float] = time.time
    ) -> None:
        self.path = directory / "safety.json"
        self._clock = clock
        self._wall = wall
        self._saved: SwitchLedger | None = None
        self._failing = False

    def load(self) -> SwitchLedger:
        """What was kept, in this process's monotonic seconds (nothing, if nothing could be read)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            offset = self._clock() - self._wall()
            switches = tuple((str(s), float(at) + offset) for s, at in doc["switches"])
        except FileNotFoundError:
            return SwitchLedger()
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # Refusing to start would be worse at 3 a.m.; say it loudly instead.
            log.error(
                "safety budget unreadable; starting with a full budget", path=str(self.path), error=repr(exc)
            )
            return SwitchLedger()
        self._saved = SwitchLedger(switches)
        return self._saved

    def save(self, ledger: SwitchLedger) -> None:
        """Keep `ledger` if it changed since it was last kept."""
        if ledger is self._saved or ledger == self._saved:
            return
        if self._saved is None and not ledger.switches:
            return  # nothing counted, nothing kept: no file for a watcher without safety rules
        offset = self._wall() - self._clock()
        try:
            write_json(self.path, {"switches": [[s, at + offset] for s, at in ledger.switches]})
        except OSError as exc:
            if not self._failing:  # said once; tried again on every tick
                log.error("could not keep the safety budget on disk", path=str(self.path), error=str(exc))
            self._failing = True
            return
        self._failing = False
        self._saved = ledger
