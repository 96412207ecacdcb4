"""Operator commands that outlive the process: holds, pins and the dry-run switch, kept on disk.

A maintenance freeze that a restart silently drops is worse than none: the next outage is switched
in the middle of the window. Commands are kept under `[state] dir` (`operator.json`, written
atomically), with wall-clock expiry (a restart's monotonic clock starts anew), and restored at start.

A command is stored before it is taken: `with_hold`/`without_hold`/`with_dry_run` make the new
`Commands` (nothing changes), `store` writes them (blocking: the caller runs it off the event loop,
so a slow or hung disk never stalls polling or a switch; `NotStored` when the disk refuses), and
only then `take` makes them the state. So the operator hears "refused", never "held" followed by a
hold that a restart forgets.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

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


@dataclass(frozen=True)
class Commands:
    """What operators asked for, at one moment (immutable: readers never see it change)."""

    holds: Mapping[str, Hold] = field(default_factory=dict)
    dry_run: bool | None = None
    updated: float = 0.0  # wall clock: which of two instances' states is newer
    generation: int = 0  # in this process: which of two writes is newer (immune to clock steps)

    def document(self) -> str:
        return json.dumps(
            {
                "updated": self.updated,
                "dryRun": self.dry_run,
                "holds": [asdict(h) for h in self.holds.values()],
            }
        )

    @classmethod
    def parse(cls, text: str) -> Commands:
        doc = json.loads(text)
        holds = {h["strategy"]: Hold(**h) for h in doc.get("holds", [])}
        return cls(holds, doc.get("dryRun"), float(doc.get("updated", 0.0)))


class OperatorState:
    """What operators asked for, durably (see the module docstring)."""

    def __init__(
        self, directory: Path, *, wall: Callable[[], float] = time.time, disk: StateDisk | None = None
    ) -> None:
        self.path = directory / "operator.json"
        self._wall = wall
        self._disk = disk or StateDisk()
        self.current = Commands()
        # Writes come from worker threads: one at a time, and never an older state over a newer one.
        self._io = threading.Lock()
        self._generations = itertools.count(1)
        self._written = 0
        try:
            self.adopt(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Refusing to start would be worse at 3 a.m.; say it loudly instead.
            log.error(
                "operator state unreadable; holds and pins not restored", path=str(self.path), error=repr(exc)
            )

    # ------------------------------------------------------------------------------ reading

    @property
    def holds(self) -> Mapping[str, Hold]:
        return self.current.holds

    @property
    def dry_run(self) -> bool | None:
        return self.current.dry_run

    @property
    def updated(self) -> float:
        return self.current.updated

    def document(self) -> str:
        return self.current.document()

    def newer(self, text: str) -> bool:
        """Whether `text` was written after this state."""
        return float(json.loads(text).get("updated", 0.0)) > self.current.updated

    def remaining(self, hold: Hold) -> float:
        return hold.until - self._wall()

    # ------------------------------------------------------------------------------ changes

    def with_hold(self, hold: Hold) -> Commands:
        return self._stamp(replace(self.current, holds={**self.current.holds, hold.strategy: hold}))

    def without_hold(self, strategy: str) -> Commands:
        holds = {k: v for k, v in self.current.holds.items() if k != strategy}
        return self._stamp(replace(self.current, holds=holds))

    def with_dry_run(self, enabled: bool) -> Commands:
        return self._stamp(replace(self.current, dry_run=enabled))

    def _stamp(self, commands: Commands) -> Commands:
        """`commands` as the newest state: now, and after every state made before in this process."""
        return replace(commands, updated=self._wall(), generation=next(self._generations))

    def store(self, commands: Commands) -> None:
        """Write `commands` to disk (blocking; call off the event loop); `NotStored` if the disk
        refuses. A state older than one already written is not written over it."""
        with self._io:
            if commands.generation < self._written:
                return
            try:
                write_json(self.path, json.loads(commands.document()))
            except OSError as exc:
                self._disk.failed("operator", exc)
                log.error("could not keep operator commands on disk", path=str(self.path), error=str(exc))
                raise NotStored(f"cannot keep it on disk under [state] dir: {exc.strerror or exc}") from None
            self._written = commands.generation
        self._disk.succeeded("operator")

    def take(self, commands: Commands) -> None:
        """Make `commands` the state (after `store`, or for what need not be stored first)."""
        self.current = commands

    def adopt(self, text: str) -> None:
        """Take a document (the file, or the copy kept in etcd) as the state; it keeps its own time."""
        self.current = replace(Commands.parse(text), generation=next(self._generations))

    def expired(self) -> list[Hold]:
        """Holds whose time is up, taken out of the state (the caller stores it)."""
        now = self._wall()
        done = [h for h in self.current.holds.values() if h.until <= now]
        if done:
            holds = {k: v for k, v in self.current.holds.items() if v.until > now}
            self.current = self._stamp(replace(self.current, holds=holds))
        return done

    def persist(self) -> bool:
        """Write the state as it is (blocking); a failure is counted and logged, not raised."""
        try:
            self.store(self.current)
        except NotStored:
            return False
        return True
