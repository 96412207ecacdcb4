"""The `/status` document: what the watcher believes, and why, as JSON.

The core keeps monotonic times (immune to clock steps); readers want wall-clock times, so every `at`
and `*_until` is converted here, at the edge, and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from watcher.core import RegionHealth, SafetyBlock, StrategyStatus, WorldState

_TIME_KEYS = {"at", "since", "hold_until", "pin_until", "failback_eligible_at", "retry_at"}


class WallClock:
    """Converts monotonic instants to RFC 3339 wall-clock strings."""

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall

    def now(self) -> float:
        """Wall-clock seconds since the epoch."""
        return self._wall()

    @staticmethod
    def iso_wall(moment: float) -> str:
        return datetime.fromtimestamp(moment, tz=UTC).isoformat().replace("+00:00", "Z")

    def iso(self, instant: float | None) -> str | None:
        if instant is None:
            return None
        moment = self._wall() - (self._monotonic() - instant)
        return datetime.fromtimestamp(moment, tz=UTC).isoformat().replace("+00:00", "Z")

    def convert(self, value: Any) -> Any:
        """Recursively replace time-valued keys by wall-clock strings."""
        if isinstance(value, Mapping):
            return {
                k: self.iso(v) if k in _TIME_KEYS and isinstance(v, int | float) else self.convert(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.convert(v) for v in value]
        return value


def region_status(health: RegionHealth, clock: WallClock) -> dict[str, Any]:
    return {
        "id": health.region,
        "healthy": health.healthy,
        "state": health.state.value,
        "settling": health.settling,
        "goodStreak": health.good_streak,
        "badStreak": health.bad_streak,
        "since": clock.iso(health.since),
        "recentFlaps": len(health.flaps),
        "lastObservation": clock.convert(health.last.to_dict()) if health.last else None,
    }


def strategy_status(
    status: StrategyStatus, clock: WallClock, last_switch: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": status.id,
        "activeRegion": status.active_region,
        "state": status.phase.value,
        "pending": status.write.target,
        "version": status.version,
        "drift": status.drift is not None,
        "driftActual": status.drift.actual if status.drift else None,
        "allDown": status.all_down,
        "hold": {"until": clock.iso(status.hold.until), "reason": status.hold.reason}
        if status.hold
        else None,
        "pin": {
            "region": status.pin.region,
            "until": clock.iso(status.pin.until),
            "reason": status.pin.reason,
        }
        if status.pin
        else None,
        "failbackEligibleAt": clock.iso(status.failback_eligible_at),
        "lastError": status.write.last_error,
        "lastDecision": clock.convert(status.last_decision.to_dict()) if status.last_decision else None,
        "lastSwitch": dict(last_switch) if last_switch else None,
        "safety": safety_status(status.safety, clock),
    }


def safety_status(block: SafetyBlock | None, clock: WallClock) -> dict[str, Any]:
    """SPEC §8: whether a safety rule holds back the strategy's automatic switch, which rule, why,
    and when it lets it go by itself at the earliest (`blocked`: only an operator or the window)."""
    if block is None:
        return {"blocked": False, "rule": None, "reason": None}
    return {
        "blocked": block.blocked,
        "rule": block.rule,
        "reason": block.reason,
        "to": block.target,
        "kind": block.kind,
        "since": clock.iso(block.since),
        "until": clock.iso(block.until),
    }


def render_status(
    world: WorldState,
    clock: WallClock,
    *,
    last_switches: Mapping[str, Mapping[str, Any]],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "regions": [region_status(h, clock) for h in world.regions.values()],
        "strategies": [strategy_status(s, clock, last_switches.get(s.id)) for s in world.strategies.values()],
        **extra,
    }
