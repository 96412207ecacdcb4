"""Sentences for explanations. Kept apart so decision code reads as decisions, and so the
wording an operator sees in logs, `/status` and the audit trail lives in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from watcher.core.actions import Explanation
from watcher.core.hysteresis import RegionHealth, RegionState
from watcher.core.inputs import Observation
from watcher.core.policy import CorePolicy

ThresholdValues = dict[str, float | int | str]


def reasons(observations: Iterable[Observation]) -> str:
    """Distinct reasons, oldest first: 'status=DEGRADED, timeout after 2.0s'."""
    return ", ".join(dict.fromkeys(o.reason for o in observations))


def seconds(value: float) -> str:
    """Durations as people read them: 6s, 6.03s, 1.5s, 0.25s (at most three significant digits)."""
    return f"{value:.3g}s" if value < 100 else f"{value:.0f}s"


def region(h: RegionHealth, policy: CorePolicy) -> str:
    """Why a region is in its state, from its current streak."""
    fall, rise = policy.thresholds.fall, policy.thresholds.rise
    why = reasons(h.recent)
    if h.state is RegionState.UNHEALTHY:
        if h.bad_streak:
            return (
                f"{h.region} unhealthy after {h.bad_streak} consecutive bad observations (fall={fall}): {why}"
            )
        return f"{h.region} unhealthy, recovering ({h.good_streak}/{rise} good observations)"
    if h.state is RegionState.HEALTHY:
        if h.good_streak:
            return f"{h.region} healthy after {h.good_streak} consecutive good observations (rise={rise})"
        return f"{h.region} healthy, {h.bad_streak}/{fall} bad observations: {why}"
    return (
        f"{h.region} not yet confirmed ({h.good_streak}/{rise} good, {h.bad_streak}/{fall} bad observations)"
    )


def thresholds(policy: CorePolicy, **extra: float | int | str) -> ThresholdValues:
    out: ThresholdValues = {"fall": policy.thresholds.fall, "rise": policy.thresholds.rise}
    out.update(extra)
    return out


def explanation(
    summary: str,
    at: float,
    policy: CorePolicy,
    observations: Iterable[Observation] = (),
    **extra: float | int | str,
) -> Explanation:
    return Explanation(summary, tuple(observations), thresholds(policy, **extra), at)
