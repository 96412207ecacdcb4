"""The core's whole memory: region health and, per strategy, what it believes the API routes
to, what it has in flight, and what operators asked for. Immutable; `step` returns a new one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from watcher.core.actions import Explanation, ReweightKind
from watcher.core.hysteresis import RegionHealth
from watcher.core.policy import CorePolicy


class StrategyPhase(enum.Enum):
    """Where a strategy stands, for `/status` and the shell's logs.

    Derived after every event, in this precedence: UNKNOWN (no snapshot yet), FAILING_OVER
    (a write is in flight, whatever its kind, or a failed one awaits its retry), ALL_DOWN,
    HELD, PINNED, FAILING_BACK (a more preferred region is healthy and its hold is running),
    STEADY (on the primary), FAILED_OVER.
    """

    UNKNOWN = "unknown"
    STEADY = "steady"
    FAILING_OVER = "failing_over"
    FAILED_OVER = "failed_over"
    FAILING_BACK = "failing_back"
    ALL_DOWN = "all_down"
    HELD = "held"
    PINNED = "pinned"


@dataclass(frozen=True)
class StrategyStatus:
    """What the core knows and wants for one strategy.

    `active_region` is what the API routes to as far as the core believes (adopted from the
    initial snapshot, then moved only by acknowledged writes). `pending` is the target of the
    write in flight. `drift_actual` is what the API showed when it disagreed; `drift_reported`
    is the (expected, actual) pair last reported, so a persistent drift is reported once.
    `failed_target` is the target of a failed write whose retry is pending: the PUT may have
    landed even though the shell saw an error, so a snapshot showing it is not drift.
    `note` deduplicates decisions that produce no action (held, nowhere to go) so that a tick
    every second does not rewrite `last_decision`. `adopted` marks a manual move adopted under
    `drift="report"`: the operator's choice stands (no automatic failback) until the watcher writes
    again or an operator releases the strategy. `skipped_target` is a switch decided but not
    written (dry run, or not the leader): the belief stays what the API holds, and the same
    decision is not sent again while the reason stands.
    """

    id: str
    phase: StrategyPhase = StrategyPhase.UNKNOWN
    active_region: str | None = None
    pending: str | None = None
    last_decision: Explanation | None = None
    hold_until: float | None = None
    pin_region: str | None = None
    pin_until: float | None = None
    failback_eligible_at: float | None = None
    drift: bool = False
    pending_kind: ReweightKind | None = None
    snapshot_seen: bool = False
    version: int | str | None = None
    retry_at: float | None = None
    last_error: str | None = None
    all_down: bool = False
    hold_reason: str = ""
    pin_reason: str = ""
    drift_actual: str | None = None
    drift_reported: tuple[str | None, str | None] | None = None
    failed_target: str | None = None
    note: str | None = None
    adopted: bool = False
    skipped_target: str | None = None
    skipped_follower: bool = False

    @property
    def held(self) -> bool:
        return self.hold_until is not None

    @property
    def pinned(self) -> bool:
        return self.pin_region is not None


@dataclass(frozen=True)
class WorldState:
    """Region health for every configured region and the status of every strategy.

    >>> from watcher.core.policy import FailbackPolicy, StrategyPolicy, Thresholds
    >>> policy = CorePolicy(Thresholds(2, 3), FailbackPolicy("auto", 60.0),
    ...                     (StrategyPolicy("s1", ("us-east-1", "eu-west-1")),))
    >>> sorted(WorldState.initial(policy).regions)
    ['eu-west-1', 'us-east-1']
    """

    regions: Mapping[str, RegionHealth]
    strategies: Mapping[str, StrategyStatus]

    @classmethod
    def initial(cls, policy: CorePolicy) -> WorldState:
        return cls(
            regions={r: RegionHealth(r) for r in policy.regions},
            strategies={s.id: StrategyStatus(s.id) for s in policy.strategies},
        )
