"""The world's state mirrored in Prometheus gauges: region healthy, active region, drift, all
regions down, safety-blocked. Set after every step of the core, touching only what changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from watcher.core import StrategyPolicy, WorldState
from watcher.metrics import WatcherMetrics


class WorldGauges:
    """The gauges of one daemon, and what they were last set to.

    >>> # gauges = WorldGauges(metrics)
    >>> # gauges.update(world, [observation.region], policy.strategies_of(observation.region))
    """

    def __init__(self, metrics: WatcherMetrics) -> None:
        self.metrics = metrics
        self._gauged: dict[str, object] = {}

    def update(self, world: WorldState, regions: Iterable[str], strategies: Iterable[StrategyPolicy]) -> None:
        """Mirror the world in the gauges, touching only regions and strategies that changed.

        The world is immutable and `step` replaces only what an event changed, so identity tells
        which strategy is new, and a region's gauge is set only when its value changes (a poll
        makes a new health record every time); with a thousand regions this keeps an observation's
        cost flat.
        """
        m = self.metrics
        seen = self._gauged
        for region in regions:
            health = world.regions.get(region)
            # Every poll makes a new health record; the gauge changes only with the state.
            if health is not None and seen.get(region) != (value := 1 if health.healthy else 0):
                m.child(m.region_healthy, region).set(value)
                seen[region] = value
        for strategy in strategies:
            status = world.strategies.get(strategy.id)
            key = f"strategy:{strategy.id}"
            if status is None or seen.get(key) is status:
                continue
            seen[key] = status
            for region in strategy.preference:
                m.child(m.active_region, strategy.id, region).set(1 if status.active_region == region else 0)
            m.child(m.drift, strategy.id).set(1 if status.drift else 0)
            m.child(m.all_regions_down, strategy.id).set(1 if status.all_down else 0)
            blocked = status.safety is not None and status.safety.blocked
            m.child(m.safety_blocked, strategy.id).set(1 if blocked else 0)

    def forget(self) -> None:
        """After a reload: the next event sets every gauge again."""
        self._gauged.clear()
