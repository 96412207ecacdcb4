"""What the failover core is told: hysteresis thresholds, failback rules, per-strategy rules.

Plain frozen dataclasses. The config layer (pydantic, at the edge) builds them; they validate
their own invariants so that `step` can rely on them and never has to raise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

FailbackMode = Literal["auto", "manual"]
DriftMode = Literal["report", "reconcile"]

# 2 ** 64 times any sane hold is already far beyond any max_hold; capping the exponent keeps the
# float power from overflowing for a region that flapped thousands of times.
_MAX_DAMPING_EXPONENT = 64


def _finite_non_negative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class Thresholds:
    """Hysteresis counts: `fall` bad observations in a row make a region unhealthy, `rise` good
    ones make it healthy again.

    >>> Thresholds(fall=2, rise=3)
    Thresholds(fall=2, rise=3)
    """

    fall: int
    rise: int

    def __post_init__(self) -> None:
        if self.fall < 1 or self.rise < 1:
            raise ValueError(f"fall and rise must be >= 1, got fall={self.fall} rise={self.rise}")


@dataclass(frozen=True)
class FailbackPolicy:
    """When to return to a more preferred region once it is healthy again.

    `auto`: after it has stayed healthy for its *effective* hold; `manual`: never by itself, only
    when an operator pins. Flap damping: the effective hold of a region is
    `min(max_hold_seconds, hold_seconds * 2 ** n)` where `n` is the number of healthy->unhealthy
    transitions (flaps) of that region within `flap_window_seconds` before it last became healthy,
    minus one (the first failure carries no penalty). The window is anchored at the moment the
    region became healthy, not at "now", so the failback deadline shown in `/status` is fixed
    when the region recovers instead of drifting as time passes.
    """

    mode: FailbackMode
    hold_seconds: float
    flap_window_seconds: float = 600.0
    max_hold_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "manual"):
            raise ValueError(f"failback mode must be 'auto' or 'manual', got {self.mode!r}")
        _finite_non_negative("hold_seconds", self.hold_seconds)
        _finite_non_negative("flap_window_seconds", self.flap_window_seconds)
        _finite_non_negative("max_hold_seconds", self.max_hold_seconds)

    def counted_flaps(self, flaps: Iterable[float], since: float) -> int:
        """Flaps inside the damping window that ends at `since` (when the region recovered)."""
        return sum(1 for t in flaps if t <= since and since - t <= self.flap_window_seconds)

    def effective_hold(self, flaps: Iterable[float], since: float) -> float:
        """Seconds a region that became healthy at `since` must stay healthy before failback."""
        penalty = min(max(0, self.counted_flaps(flaps, since) - 1), _MAX_DAMPING_EXPONENT)
        return min(self.max_hold_seconds, self.hold_seconds * 2.0**penalty)


@dataclass(frozen=True)
class StrategyPolicy:
    """One routing strategy: its region preference order (first = primary), what to do about a
    change made behind the watcher's back, and how long to wait before retrying a failed write.
    """

    id: str
    preference: tuple[str, ...]
    drift: DriftMode = "report"
    retry_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not self.preference:
            raise ValueError(f"strategy {self.id!r} needs at least one region")
        if len(set(self.preference)) != len(self.preference):
            raise ValueError(f"strategy {self.id!r} lists a region twice: {self.preference}")
        if self.drift not in ("report", "reconcile"):
            raise ValueError(f"drift must be 'report' or 'reconcile', got {self.drift!r}")
        _finite_non_negative("retry_seconds", self.retry_seconds)

    def order_for(self, active: str) -> tuple[str, ...]:
        """The full region order to write: `active` first, the rest in preference order."""
        return (active, *(r for r in self.preference if r != active))


@dataclass(frozen=True)
class SafetyPolicy:
    """The safety rules of SPEC §8, ARC's change budget and wait period for automatic switches.

    `max_switches`: at most this many automatic switches (failovers and failbacks of all strategies;
    operator commands and drills do not count) within any `window_seconds`; one beyond it is not
    written. `min_seconds_between_switches`: a strategy's next automatic switch waits this long after
    its last one (delayed, never dropped). The defaults are no limit and no wait.

    >>> SafetyPolicy(max_switches=3, window_seconds=600.0).limited
    True
    """

    max_switches: int | None = None
    window_seconds: float = 3600.0
    min_seconds_between_switches: float = 0.0

    def __post_init__(self) -> None:
        if self.max_switches is not None and self.max_switches < 1:
            raise ValueError(f"max_switches must be >= 1 (or None: no limit), got {self.max_switches!r}")
        if not math.isfinite(self.window_seconds) or self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be a finite number > 0, got {self.window_seconds!r}")
        _finite_non_negative("min_seconds_between_switches", self.min_seconds_between_switches)

    @property
    def limited(self) -> bool:
        """Whether any rule can hold a switch back."""
        return self.max_switches is not None or self.min_seconds_between_switches > 0

    @property
    def memory_seconds(self) -> float:
        """How long a switch matters to the rules: older ones can be forgotten."""
        window = self.window_seconds if self.max_switches is not None else 0.0
        return max(window, self.min_seconds_between_switches)


@dataclass(frozen=True)
class CorePolicy:
    """Everything `step` needs besides the world and the event."""

    thresholds: Thresholds
    failback: FailbackPolicy
    strategies: tuple[StrategyPolicy, ...]
    dry_run: bool = False
    safety: SafetyPolicy = SafetyPolicy()

    def __post_init__(self) -> None:
        ids = [s.id for s in self.strategies]
        if len(set(ids)) != len(ids):
            raise ValueError(f"strategy ids must be unique, got {ids}")

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region named by any strategy, in order of first mention."""
        return tuple(dict.fromkeys(r for s in self.strategies for r in s.preference))

    def strategy(self, strategy_id: str) -> StrategyPolicy | None:
        return self._by_id.get(strategy_id)

    def strategies_of(self, region: str) -> tuple[StrategyPolicy, ...]:
        """The strategies that list `region`, in configuration order."""
        return self._by_region.get(region, ())

    @cached_property
    def _by_id(self) -> dict[str, StrategyPolicy]:
        return {s.id: s for s in self.strategies}

    @cached_property
    def _by_region(self) -> dict[str, tuple[StrategyPolicy, ...]]:
        index: dict[str, list[StrategyPolicy]] = {}
        for s in self.strategies:
            for region in s.preference:
                index.setdefault(region, []).append(s)
        return {region: tuple(found) for region, found in index.items()}
