"""The core's whole memory: region health and, per strategy, what it believes the API routes
to, what it has in flight, and what operators asked for. Immutable; `step` returns a new one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from watcher.core.actions import Explanation, ReweightKind
from watcher.core.hysteresis import RegionHealth
from watcher.core.policy import CorePolicy, SafetyPolicy

# The safety rules by the names the config, the log, `/status` and explanations give them.
SafetyRule = Literal["safety.max_switches", "safety.min_seconds_between_switches"]
MAX_SWITCHES: SafetyRule = "safety.max_switches"
MIN_SECONDS_BETWEEN_SWITCHES: SafetyRule = "safety.min_seconds_between_switches"


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
class Write:
    """The strategy's write: in flight (`target`, of `kind`), or failed and waiting for its retry
    (`retry_at`; `failed_target` is what it tried: the PUT may have landed even though the shell saw
    an error, so a snapshot showing it is not drift). `last_error` stays until a write lands."""

    target: str | None = None
    kind: ReweightKind | None = None
    retry_at: float | None = None
    failed_target: str | None = None
    last_error: str | None = None
    # When the write was counted against the safety budget (an automatic switch), if it was: a write
    # that is skipped (not the leader) gives its count back, and the retry of a failed one is not
    # counted again.
    counted_at: float | None = None

    def sent(self, target: str, kind: ReweightKind, counted_at: float | None = None) -> Write:
        return Write(target, kind, last_error=self.last_error, counted_at=counted_at)

    def failed(self, error: str, retry_at: float) -> Write:
        return Write(
            retry_at=retry_at, failed_target=self.target, last_error=error, counted_at=self.counted_at
        )

    def idle(self) -> Write:
        """Nothing in flight and no retry due (skipped, retried, or overtaken by a snapshot)."""
        return Write(last_error=self.last_error)


@dataclass(frozen=True)
class Drift:
    """The API routes to `actual` where the watcher expected `expected`. Kept while the drift lasts,
    so that a persistent drift is reported once (a different pair is reported again)."""

    expected: str | None
    actual: str | None


@dataclass(frozen=True)
class Hold:
    """An operator hold: no writes until `until`."""

    until: float
    reason: str = ""


@dataclass(frozen=True)
class Pin:
    """An operator pin: route to `region` until `until`."""

    region: str
    until: float
    reason: str = ""


@dataclass(frozen=True)
class Skipped:
    """A switch to `target` decided but not written: a dry run, or (`follower`) this instance does
    not lead. The belief stays what the API holds, and the same decision is not sent again while
    the reason stands."""

    target: str
    follower: bool = False


@dataclass(frozen=True)
class SafetyBlock:
    """An automatic switch to `target` that a safety rule did not let go (SPEC §8).

    `safety.max_switches` holds it (`blocked`) until an operator acts or the window slides back
    under the budget; `safety.min_seconds_between_switches` only delays it. `until` is the earliest
    moment the rule lets it go by itself; `reason` says why, naming the rule.
    """

    rule: SafetyRule
    target: str
    kind: ReweightKind
    since: float
    until: float
    reason: str

    @property
    def blocked(self) -> bool:
        return self.rule == MAX_SWITCHES


@dataclass(frozen=True)
class SwitchLedger:
    """The automatic switches the safety rules remember, `(strategy, at)` oldest first: those of all
    strategies within the budget's window, and each strategy's last one for the wait between two.

    >>> ledger = SwitchLedger().counted("s1", 10.0, SafetyPolicy(max_switches=1, window_seconds=60.0))
    >>> ledger.within(69.0, 60.0), ledger.within(71.0, 60.0), ledger.last_of("s1")
    (1, 0, 10.0)
    """

    switches: tuple[tuple[str, float], ...] = ()

    def within(self, now: float, window: float) -> int:
        """Switches in the window that ends at `now`."""
        return sum(1 for _, at in self.switches if now - at < window)

    def frees_at(self, now: float, window: float, budget: int) -> float:
        """When the window ending then holds fewer than `budget` switches (nothing new counted)."""
        inside = [at for _, at in self.switches if now - at < window]
        excess = len(inside) - budget
        return now if excess < 0 else inside[excess] + window

    def last_of(self, strategy: str) -> float | None:
        return next((at for s, at in reversed(self.switches) if s == strategy), None)

    def counted(self, strategy: str, at: float, policy: SafetyPolicy) -> SwitchLedger:
        """With a switch of `strategy` at `at`; what no rule looks at any more is forgotten."""
        keep = policy.memory_seconds
        kept = tuple(e for e in self.switches if at - e[1] < keep)
        return SwitchLedger((*kept, (strategy, at)))

    def without(self, strategy: str, at: float) -> SwitchLedger:
        """A counted switch that was not written after all (this instance does not lead)."""
        return SwitchLedger(tuple(e for e in self.switches if e != (strategy, at)))


@dataclass(frozen=True)
class StrategyStatus:
    """What the core knows and wants for one strategy.

    `active_region` is what the API routes to as far as the core believes (adopted from the
    initial snapshot, then moved only by acknowledged writes); `write` is what it has in flight or
    must retry; `drift` is set while the API routes elsewhere than the watcher wrote. `note`
    deduplicates decisions that produce no action (held, nowhere to go) so that a tick every second
    does not rewrite `last_decision`. `adopted` marks the region routed to as an operator's choice (a
    manual move adopted under `drift="report"`, or a `move` command): it stands (no automatic
    failback) until the watcher must write again or an operator releases the strategy.
    """

    id: str
    phase: StrategyPhase = StrategyPhase.UNKNOWN
    snapshot_seen: bool = False
    active_region: str | None = None
    version: int | str | None = None
    write: Write = Write()
    drift: Drift | None = None
    adopted: bool = False
    skipped: Skipped | None = None
    hold: Hold | None = None
    pin: Pin | None = None
    all_down: bool = False
    failback_eligible_at: float | None = None
    last_decision: Explanation | None = None
    note: str | None = None
    # A safety rule holding back the automatic switch the rules want (SPEC §8), and an operator's
    # `release --override`: the next automatic switch goes whatever the rules say.
    safety: SafetyBlock | None = None
    override: bool = False

    @property
    def held(self) -> bool:
        return self.hold is not None

    @property
    def pinned(self) -> bool:
        return self.pin is not None

    def routing_to(self, region: str | None, version: int | str | None, write: Write) -> StrategyStatus:
        """What the API routes to is known for certain (read as the truth, or written by us): the
        belief becomes it, and whatever was in flight, drifted, skipped or noted is over."""
        return replace(
            self,
            snapshot_seen=True,
            active_region=region,
            version=version,
            write=write,
            drift=None,
            adopted=False,
            skipped=None,
            note=None,
        )


@dataclass(frozen=True)
class WorldState:
    """Region health for every configured region, the status of every strategy, and the automatic
    switches the safety rules count.

    >>> from watcher.core.policy import FailbackPolicy, StrategyPolicy, Thresholds
    >>> policy = CorePolicy(Thresholds(2, 3), FailbackPolicy("auto", 60.0),
    ...                     (StrategyPolicy("s1", ("us-east-1", "eu-west-1")),))
    >>> sorted(WorldState.initial(policy).regions)
    ['eu-west-1', 'us-east-1']
    """

    regions: Mapping[str, RegionHealth]
    strategies: Mapping[str, StrategyStatus]
    ledger: SwitchLedger = SwitchLedger()

    @classmethod
    def initial(cls, policy: CorePolicy) -> WorldState:
        return cls(
            regions={r: RegionHealth(r) for r in policy.regions},
            strategies={s.id: StrategyStatus(s.id) for s in policy.strategies},
        )
