"""Where an observation becomes a region state: fall/rise hysteresis and flap history.

A region starts UNKNOWN and leaves it by the same thresholds as any other transition: `rise`
good observations in a row make it HEALTHY, `fall` bad ones make it UNHEALTHY. We do not trust a
single good probe at start-up: the failover core never routes to a region that has not been
confirmed by `rise`, and an UNKNOWN active region is never a reason to switch. Leaving UNKNOWN is
not a flap (it was never healthy), so it carries no failback penalty.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from watcher.core.inputs import Observation
from watcher.core.policy import Thresholds

# Flaps older than the damping window are dropped when a new one is recorded; this cap only
# bounds memory for a pathological region with a huge window.
_MAX_FLAPS = 64


class RegionState(enum.Enum):
    """Where a region stands after hysteresis."""

    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class RegionHealth:
    """Health of one region as the core believes it.

    `since` is when it entered its current state (None while UNKNOWN); `flaps` are the times of
    its healthy->unhealthy transitions inside the damping window; `recent` is the current streak
    (observations with the same verdict, the newest last, at most `max(fall, rise)` of them), so
    right after a transition it is exactly the streak that crossed the threshold.

    >>> h = RegionHealth("us-east-1")
    >>> h, changed = h.observe(Observation("us-east-1", True, 1.0, "status=HEALTHY"),
    ...                        Thresholds(fall=2, rise=1), flap_window=600.0)
    >>> h.state, changed
    (<RegionState.HEALTHY: 'healthy'>, True)
    """

    region: str
    state: RegionState = RegionState.UNKNOWN
    good_streak: int = 0
    bad_streak: int = 0
    last: Observation | None = None
    since: float | None = None
    flaps: tuple[float, ...] = ()
    recent: tuple[Observation, ...] = ()

    @property
    def settling(self) -> bool:
        """True while between states: UNKNOWN, or a streak towards the other state has begun
        but not crossed its threshold. The shell polls faster while a region is settling."""
        if self.state is RegionState.HEALTHY:
            return self.bad_streak > 0
        if self.state is RegionState.UNHEALTHY:
            return self.good_streak > 0
        return True

    @property
    def healthy(self) -> bool:
        return self.state is RegionState.HEALTHY

    @property
    def unhealthy(self) -> bool:
        return self.state is RegionState.UNHEALTHY

    def observe(
        self, obs: Observation, thresholds: Thresholds, flap_window: float
    ) -> tuple[RegionHealth, bool]:
        """Fold one observation in; return the new health and whether the state changed."""
        keep = max(thresholds.fall, thresholds.rise)
        continues = self.last is not None and self.last.ok == obs.ok and bool(self.recent)
        recent = (*self.recent, obs)[-keep:] if continues else (obs,)
        if obs.ok:
            good, bad = self.good_streak + 1, 0
        else:
            good, bad = 0, self.bad_streak + 1
        nxt = replace(self, good_streak=good, bad_streak=bad, last=obs, recent=recent)

        if self.state is not RegionState.HEALTHY and good >= thresholds.rise:
            return replace(nxt, state=RegionState.HEALTHY, since=obs.at), True
        if self.state is not RegionState.UNHEALTHY and bad >= thresholds.fall:
            flaps = self.flaps
            if self.state is RegionState.HEALTHY:
                kept = tuple(t for t in flaps if obs.at - flap_window <= t <= obs.at)
                flaps = (*kept, obs.at)[-_MAX_FLAPS:]
            return replace(nxt, state=RegionState.UNHEALTHY, since=obs.at, flaps=flaps), True
        return nxt, False
