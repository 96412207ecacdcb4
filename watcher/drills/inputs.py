"""What the drill machine is told (inputs) and what it asks the shell to do (actions).

Every input carries `at`, wall-clock seconds since the epoch (see `watcher.drills.record`). The shell
feeds them in order: start requests (CLI or schedule), the results of the moves it was asked to make
(with the followers' read-back), region health transitions, alarm readings, ticks, operator aborts,
and the instance's stop and recovery.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.drills.readings import AlarmReading
from watcher.drills.record import Drill, DrillWrite, Leg


@dataclass(frozen=True)
class DrillPolicy:
    """The `[drills]` settings the machine needs: the alarms by name, and how often a failed move
    back is retried (once per tick) before the drill is ended without it."""

    outcome_alarms: tuple[str, ...] = ()
    blocking_alarms: tuple[str, ...] = ()
    max_return_attempts: int = 3
    recent: int = 10

    @property
    def reads_alarms(self) -> bool:
        """Whether Prometheus matters: with no alarm named, an unreadable Prometheus is no reason."""
        return bool(self.outcome_alarms or self.blocking_alarms)


@dataclass(frozen=True)
class StrategyFacts:
    """What the shell knows of a strategy when a drill starts or is recovered.

    `regions` in preference order (the first is the preferred region); `active_region` as last
    read from the API; `ready` the regions readiness found ready (None: readiness unknown).
    """

    strategy: str
    regions: tuple[str, ...]
    healthy: frozenset[str]
    active_region: str | None
    held: bool = False
    pinned: bool = False
    dry_run: bool = False
    ready: frozenset[str] | None = None


@dataclass(frozen=True)
class StartDrill:
    """Start a drill (operator: `slot_key` None; schedule: the slot instance's key)."""

    at: float
    drill_id: str
    facts: StrategyFacts
    alarms: AlarmReading
    duration_seconds: float
    to: str | None = None
    slot_key: str | None = None


@dataclass(frozen=True)
class Moved:
    """The result of a `MoveTo`: `ok` when the write path succeeded and the read-back showed the
    strategy and every follower on the region; `writes` each write's latency and result."""

    at: float
    drill_id: str
    leg: Leg
    ok: bool
    writes: tuple[DrillWrite, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class RegionHealthChanged:
    """A region crossed its hysteresis threshold (the core's RegionTransition)."""

    at: float
    region: str
    healthy: bool


@dataclass(frozen=True)
class AlarmsRead:
    """A reading of the alarms, taken every `alarm_interval_seconds` before and during a drill."""

    at: float
    reading: AlarmReading


@dataclass(frozen=True)
class Tick:
    """Time passed: ends the hold when the duration is over, retries a failed move back."""

    at: float


@dataclass(frozen=True)
class AbortDrill:
    """`drill abort` (or another operator command on the drilled strategy)."""

    at: float
    reason: str = "aborted by an operator"


@dataclass(frozen=True)
class Stopping:
    """This instance stops or lost leadership: it cannot move the strategy back itself."""

    at: float
    reason: str = "the instance stopped"


@dataclass(frozen=True)
class Recovered:
    """A restarted instance or a new leader found `drill` running (as stored): end it and move the
    strategy back before anything else. `drill` None: the one this machine holds (leadership
    regained in the same process)."""

    at: float
    facts: StrategyFacts
    drill: Drill | None = None


Input = StartDrill | Moved | RegionHealthChanged | AlarmsRead | Tick | AbortDrill | Stopping | Recovered


@dataclass(frozen=True)
class MoveTo:
    """Move `strategy` and its followers to `region` through the gated write path, without the
    failback hold, verify by read-back, and answer with `Moved(leg=leg)`."""

    drill_id: str
    strategy: str
    region: str
    leg: Leg
    reason: str


@dataclass(frozen=True)
class Report:
    """A drill ended (any outcome, NOT_STARTED included): audit it, emit the
    `com.genesys.failover.drill` event, count it in metrics."""

    drill: Drill


Action = MoveTo | Report
