"""Operator commands that outlive the process: holds, pins and the dry-run switch, kept on disk.

A maintenance freeze that a restart silently drops is worse than none: the next outage is switched
in the middle of the window. Commands are kept under `[state] dir` (`operator.json`, written
atomically), with wall-clock expiry (a restart's monotonic clock starts anew), and restored at start.
A command that cannot be kept on disk is not taken: the change is undone in memory and
`NotStored` raised, so the operator hears "refused", not "held" followed by a hold that a restart
forgets.
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
from watcher.daemon.statedir import StateDisk

log = structlog.get_logger("watcher.daemon")


class NotStored(Exception):
    """An operator command could not be kept on disk; it was not taken."""


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

    def __init__(
        self, directory: Path, *, wall: Callable[[], float] = time.time, disk: StateDisk | None = None
    ) -> None:
        self.path = directory / "operator.json"
        self._wall = wall
        self._disk = disk or StateDisk()
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
        """Keep `hold` (raises `NotStored`, the state unchanged, when the disk refuses)."""
        before = self.holds.get(hold.strategy)
        self.holds[hold.strategy] = hold
        try:
            self._save(strict=True)
        except NotStored:
            if before is None:
                del self.holds[hold.strategy]
            else:
                self.holds[hold.strategy] = before
            raise

    def release(self, strategy: str) -> Hold | None:
        """End the hold or pin of `strategy` (raises `NotStored`, the hold kept, when the disk refuses)."""
        gone = self.holds.pop(strategy, None)
        try:
            self._save(strict=True)
        except NotStored:
            if gone is not None:
                self.holds[strategy] = gone
            raise
        return gone

    def set_dry_run(self, enabled: bool) -> None:
        """Keep the dry-run switch (raises `NotStored`, unchanged, when the disk refuses)."""
        before = self.dry_run
        self.dry_run = enabled
        try:
            self._save(strict=True)
        except NotStored:
            self.dry_run = before
            raise

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
            self._disk.failed("operator", exc)
            log.error("could not keep operator commands on disk", path=str(self.path), error=str(exc))
        else:
            self._disk.succeeded("operator")

    def _save(self, *, strict: bool = False) -> None:
        previous = self.updated
        self.updated = self._wall()
        doc: dict[str, Any] = json.loads(self.document())
        try:
            write_json(self.path, doc)
        except OSError as exc:
            self._disk.failed("operator", exc)
            log.error("could not keep operator commands on disk", path=str(self.path), error=str(exc))
            if strict:
                self.updated = previous
                raise NotStored(f"cannot keep it on disk under [state] dir: {exc.strerror or exc}") from None
        else:
            self._disk.succeeded("operator")
