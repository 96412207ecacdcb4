"""What the core asks the shell to do, each with the explanation of why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from watcher.core.inputs import Observation

# "move": an operator's `move` command (an operator's `failback` is a "failback").
# "drill": a drill's move to its region or back (SPEC §8): never a flap, nor a safety-budget switch.
ReweightKind = Literal["failover", "failback", "pin", "reconcile", "move", "drill"]


@dataclass(frozen=True)
class Explanation:
    """Why a decision was taken: the observations that crossed a threshold, the thresholds in
    force, and a one-line summary an operator can read in a log, `/status` or the audit trail.

    >>> Explanation("held", (), {"fall": 2}, at=3.0).to_dict()["summary"]
    'held'
    """

    summary: str
    observations: tuple[Observation, ...]
    thresholds: dict[str, float | int | str]
    at: float

    def __hash__(self) -> int:
        # The thresholds dict is never mutated after construction; hash it by value so that
        # actions (which carry explanations) stay usable in sets and as dict keys.
        return hash((self.summary, self.observations, tuple(sorted(self.thresholds.items())), self.at))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (observations as dicts)."""
        return {
            "summary": self.summary,
            "observations": [o.to_dict() for o in self.observations],
            "thresholds": dict(self.thresholds),
            "at": self.at,
        }


@dataclass(frozen=True)
class Reweight:
    """Write one PUT giving `to_region` priority 1 and the full weight, the others following
    `order`; then retarget the strategy's rules. The shell must answer with WriteSucceeded or
    WriteFailed (also in dry run, where it writes nothing and acknowledges).
    """

    strategy: str
    from_region: str | None
    to_region: str
    order: tuple[str, ...]
    kind: ReweightKind
    explanation: Explanation
    dry_run: bool


@dataclass(frozen=True)
class AllRegionsDown:
    """Every region of the strategy is unhealthy; nothing is written (fail-open). Sent once."""

    strategy: str
    explanation: Explanation


@dataclass(frozen=True)
class AllRegionsDownCleared:
    """At least one region of a strategy that was all-down is healthy again."""

    strategy: str
    explanation: Explanation


@dataclass(frozen=True)
class DriftDetected:
    """The API routes the strategy somewhere the watcher did not write."""

    strategy: str
    expected_region: str | None
    actual_region: str | None
    explanation: Explanation


@dataclass(frozen=True)
class RegionTransition:
    """A region crossed its hysteresis threshold (healthy or unhealthy)."""

    region: str
    healthy: bool
    explanation: Explanation


@dataclass(frozen=True)
class Refused:
    """An operator command the core will not carry out, with the reason."""

    strategy: str
    explanation: Explanation


@dataclass(frozen=True)
class SafetyHeld:
    """A safety rule (`rule`, e.g. "safety.max_switches") holds back an automatic switch of the
    strategy to `target`: not written (`blocked`: until an operator acts or the window slides), or
    delayed (the wait between two switches). Sent when it starts, or when another rule takes over."""

    strategy: str
    rule: str
    target: str
    blocked: bool
    explanation: Explanation


@dataclass(frozen=True)
class SafetyReleased:
    """The safety rule `rule` no longer holds the strategy back: the switch went (the window slid,
    the wait ended, an operator overrode it), an operator switched it, or it is no longer wanted."""

    strategy: str
    rule: str
    explanation: Explanation


Action = (
    Reweight
    | AllRegionsDown
    | AllRegionsDownCleared
    | DriftDetected
    | RegionTransition
    | Refused
    | SafetyHeld
    | SafetyReleased
)
