"""Operator commands that outlive the process: holds, pins and the dry-run switch, kept on disk.

A maintenance freeze that a restart silently drops is worse than none: the next outage is switched
in the middle of the window. Commands are kept under `[state] dir` (`operator.json`, written
atomically), with wall-clock expiry (a restart's monotonic clock starts anew), and restored at start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog

from watcher.atomic import write_json

log = structlog.get_logger("watcher.daemon")


@dataclass(frozen=True)
class Hold:
    """A freeze (`region` None) or a pin of one strategy, until a wall-clock time."""

    strategy: str
    until: float  # wall clock, seconds since the epoch
    region: str | None = None
    reason: str = ""

    @property
    def command(self) -> str:
        return "pin" if self.region else "hold"


class OperatorState:
    """What operators asked for, durably."""

    def __init__(self, directory: Path, *, wall: Callable[[], float] = time.time) -> None:
        self.path = directory / "operator.json"
        self._wall = wall
        self.holds: dict[str, Hold] = {}
        self.dry_run: bool | None = None
        self.updated = 0.0
        try:
            self.adopt(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Refusing to start would be worse at 3 a.m.; say it loudly instead.
            log.error(
                "operator state unreadable; holds and pins not restored", path=str(self.path), error=repr(exc)
            )

    def document(self) -> str:
        doc = {
            "updated": self.updated,
            "dryRun": self.dry_run,
            "holds": [asdict(h) for h in self.holds.values()],
        }
        return json.dumps(doc)

    def adopt(self, text: str) -> None:
        """Take a document (the file, or the copy kept in etcd) as the state."""
        doc = json.loads(text)
        self.updated = float(doc.get("updated", 0.0))
        self.dry_run = doc.get("dryRun")
        self.holds = {h["strategy"]: Hold(**h) for h in doc.get("holds", [])}

    def newer(self, text: str) -> bool:
        """Whether `text` was written after this state."""
        return float(json.loads(text).get("updated", 0.0)) > self.updated

    def hold(self, hold: Hold) -> None:
        self.holds[hold.strategy] = hold
        self._save()

    def release(self, strategy: str) -> Hold | None:
        gone = self.holds.pop(strategy, None)
        self._save()
        return gone

    def set_dry_run(self, enabled: bool) -> None:
        self.dry_run = enabled
        self._save()

    def expired(self) -> list[Hold]:
        """Holds whose time is up, removed."""
        now = self._wall()
        done = [h for h in self.holds.values() if h.until <= now]
        for h in done:
            del self.holds[h.strategy]
        if done:
            self._save()
        return done

    def remaining(self, hold: Hold) -> float:
        return hold.until - self._wall()

    def persist(self) -> None:
        """Write the state as it is (an adopted document keeps its own time)."""
        try:
            write_json(self.path, json.loads(self.document()))
        except OSError as exc:
            log.error("could not keep operator commands on disk", path=str(self.path), error=str(exc))

    def _save(self) -> None:
        self.updated = self._wall()
        doc: dict[str, Any] = json.loads(self.document())
        try:
            write_json(self.path, doc)
        except OSError as exc:
            log.error("could not keep operator commands on disk", path=str(self.path), error=str(exc))
