"""What the shell feeds the core: observations, the passage of time, API snapshots, write
results and operator commands. `at` is always monotonic seconds supplied by the shell; the core
never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Why a poll produced no status to judge: the `result` label of the health-check metric.
FailureKind = Literal["timeout", "error", "malformed"]


@dataclass(frozen=True)
class Observation:
    """One health probe result for one region.

    `reason` is human text explaining the verdict ("status=HEALTHY", "timeout after 2.0s",
    "http 503", "syncIntervalSeconds=400 > 300"); it ends up in explanations verbatim. `status` is
    what the region reported, when it answered; `failure` says why there was no answer to judge.

    >>> Observation("us-east-1", ok=False, at=12.0, reason="http 503").ok
    False
    """

    region: str
    ok: bool
    at: float
    reason: str
    status: str | None = None
    latency_ms: float | None = None
    failure: FailureKind | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "region": self.region,
            "ok": self.ok,
            "at": self.at,
            "reason": self.reason,
            "status": self.status if self.failure is None else self.failure,
            "latencyMs": self.latency_ms,
        }


@dataclass(frozen=True)
class Tick:
    """Time passed: lets holds, pins, retries and failback waits complete without a probe."""

    at: float


@dataclass(frozen=True)
class StrategySnapshot:
    """What the API holds now for a strategy (its priority-1 region).

    `initial=True` (start-up, or after the shell lost track) is adopted as the truth: the
    watcher reconciles what is, it does not replay history. Any later snapshot that disagrees
    with what the core believes, while no write is in flight, is drift.
    """

    strategy: str
    active_region: str | None
    version: int | str | None
    at: float
    initial: bool = False


@dataclass(frozen=True)
class WriteSucceeded:
    """The shell's Reweight for `strategy` landed (or, in dry run, would have)."""

    strategy: str
    region: str
    at: float
    version: int | str | None = None


@dataclass(frozen=True)
class WriteSkipped:
    """The shell did not write the Reweight for `strategy`: a dry run, or this instance does not
    lead (`follower`). What the API routes to is unchanged, and so is the core's belief."""

    strategy: str
    region: str
    at: float
    follower: bool = False


@dataclass(frozen=True)
class WriteFailed:
    """The shell's Reweight for `strategy` failed for good (after its own bounded retries)."""

    strategy: str
    region: str
    at: float
    error: str


@dataclass(frozen=True)
class OperatorHold:
    """Freeze a strategy: no writes until `until`. Decisions and alerts continue."""

    strategy: str
    until: float
    at: float
    reason: str = ""


@dataclass(frozen=True)
class OperatorPin:
    """Route a strategy to `region` until `until`; refused if the region is unhealthy."""

    strategy: str
    region: str
    until: float
    at: float
    reason: str = ""


@dataclass(frozen=True)
class OperatorRelease:
    """Drop any hold or pin on a strategy; normal rules resume. `override` (`release --override`)
    also lets the automatic switch a safety rule holds back go now (SPEC §8)."""

    strategy: str
    at: float
    override: bool = False


@dataclass(frozen=True)
class OperatorMove:
    """Switch a strategy to `region` now, through the normal write path. Refused unless `region` is
    one of the strategy's regions and HEALTHY; `force` also takes a region not yet confirmed either
    way, and an UNHEALTHY one only while a hold keeps the strategy there (without one, the watcher
    would fail straight back). An operator's hold does not block the move: the hold stands after it.
    Once the move lands, the operator's choice stands (no automatic failback) until the region must
    be failed over or an operator releases the strategy or fails it back."""

    strategy: str
    region: str
    at: float
    force: bool = False
    reason: str = ""
    # A drill's move (SPEC §8): written as kind "drill"; once landed it stands like a move.
    drill: bool = False


@dataclass(frozen=True)
class OperatorFailback:
    """Return a strategy to its preferred region now, through the normal write path: the way back
    under `failback = "manual"` (or before the automatic hold has run out). Refused unless that region
    is HEALTHY; like a move, it is not blocked by the operator's own hold."""

    strategy: str
    at: float
    reason: str = ""
    # A drill's move back (SPEC §8): kind "drill", without the failback hold like any failback.
    drill: bool = False


Event = (
    Observation
    | Tick
    | StrategySnapshot
    | WriteSucceeded
    | WriteSkipped
    | WriteFailed
    | OperatorHold
    | OperatorPin
    | OperatorRelease
    | OperatorMove
    | OperatorFailback
)
