"""Announcer.gauges, driven directly with worlds made by the real core: the gauges mirror the world,
and only what an event changed is written (identity tells what is new)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.daemon._parts import S1, WALL_EPOCH
from tests.daemon.conftest import PRIMARY, SECONDARY
from tests.support import FakeClock
from watcher.core import (
    CorePolicy,
    FailbackPolicy,
    Observation,
    StrategyPolicy,
    StrategySnapshot,
    Thresholds,
    WorldState,
    step,
)
from watcher.daemon.announce import Announcer
from watcher.daemon.status import WallClock
from watcher.metrics import WatcherMetrics

pytestmark = pytest.mark.anyio


@dataclass
class Told:
    announcer: Announcer
    metrics: WatcherMetrics

    def metric(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


@pytest.fixture
def told() -> Told:
    clock = FakeClock()
    metrics = WatcherMetrics()
    wall = WallClock(clock, lambda: WALL_EPOCH + clock.now)
    announcer = Announcer(metrics, wall, source=lambda: "urn:test", speaks=lambda: True, clock=clock)
    return Told(announcer, metrics)


POLICY = CorePolicy(
    Thresholds(fall=1, rise=1),
    FailbackPolicy("auto", 60.0),
    (StrategyPolicy(S1, (PRIMARY, SECONDARY)),),
)
UNTOUCHED = 7.0  # a value no gauge of the watcher takes: still there means not written


def poison(metrics: WatcherMetrics) -> None:
    for region in (PRIMARY, SECONDARY):
        metrics.region_healthy.labels(region=region).set(UNTOUCHED)
        metrics.active_region.labels(strategy=S1, region=region).set(UNTOUCHED)
    metrics.drift.labels(strategy=S1).set(UNTOUCHED)


def gauges(told: Told) -> dict[str, float | None]:
    return {
        "healthy:" + PRIMARY: told.metric("failover_watcher_region_healthy", region=PRIMARY),
        "healthy:" + SECONDARY: told.metric("failover_watcher_region_healthy", region=SECONDARY),
        "active:" + PRIMARY: told.metric("failover_watcher_active_region", strategy=S1, region=PRIMARY),
        "active:" + SECONDARY: told.metric("failover_watcher_active_region", strategy=S1, region=SECONDARY),
        "drift": told.metric("failover_watcher_drift", strategy=S1),
    }


async def test_the_gauges_are_touched_only_for_what_changed(told: Told) -> None:
    announcer = told.announcer
    world, _ = step(WorldState.initial(POLICY), StrategySnapshot(S1, PRIMARY, 1, 0.0, initial=True), POLICY)

    announcer.world_gauges.update(world, POLICY.regions, POLICY.strategies)
    assert gauges(told) == {
        "healthy:" + PRIMARY: 0.0,  # not yet known healthy
        "healthy:" + SECONDARY: 0.0,
        "active:" + PRIMARY: 1.0,
        "active:" + SECONDARY: 0.0,
        "drift": 0.0,
    }

    # The same world again: nothing is written.
    poison(told.metrics)
    announcer.world_gauges.update(world, POLICY.regions, POLICY.strategies)
    assert set(gauges(told).values()) == {UNTOUCHED}

    # One region observed: its gauge is written, the other region's is not.
    world, _ = step(world, Observation(SECONDARY, True, 1.0, "status=HEALTHY", status="HEALTHY"), POLICY)
    announcer.world_gauges.update(world, POLICY.regions, POLICY.strategies)
    now = gauges(told)
    assert (now["healthy:" + PRIMARY], now["healthy:" + SECONDARY]) == (UNTOUCHED, 1.0)

    # The strategy read back with a new version: only its gauges are written.
    poison(told.metrics)
    world, _ = step(world, StrategySnapshot(S1, PRIMARY, 2, 2.0), POLICY)
    announcer.world_gauges.update(world, POLICY.regions, POLICY.strategies)
    assert gauges(told) == {
        "healthy:" + PRIMARY: UNTOUCHED,
        "healthy:" + SECONDARY: UNTOUCHED,
        "active:" + PRIMARY: 1.0,
        "active:" + SECONDARY: 0.0,
        "drift": 0.0,
    }

    # After a reload, every gauge is written again.
    poison(told.metrics)
    announcer.world_gauges.forget()
    announcer.world_gauges.update(world, POLICY.regions, POLICY.strategies)
    assert UNTOUCHED not in set(gauges(told).values())


async def test_an_observation_that_changes_nothing_of_a_strategy_leaves_its_gauges_alone(told: Told) -> None:
    announcer = told.announcer
    world, _ = step(WorldState.initial(POLICY), StrategySnapshot(S1, PRIMARY, 1, 0.0, initial=True), POLICY)
    announcer.world_gauges.update(world, POLICY.regions, POLICY.strategies)
    before = world.strategies[S1]

    world, _ = step(world, Observation(SECONDARY, True, 1.0, "status=HEALTHY", status="HEALTHY"), POLICY)
    assert world.strategies[S1] == before  # the strategy's status did not change
    poison(told.metrics)
    announcer.world_gauges.update(world, POLICY.regions, POLICY.strategies)

    now = gauges(told)
    assert (now["active:" + PRIMARY], now["active:" + SECONDARY], now["drift"]) == (UNTOUCHED,) * 3


async def test_a_poll_that_leaves_a_region_in_its_state_does_not_write_its_gauge(told: Told) -> None:
    """Every poll makes a new health record; at a hundred polls a second the gauge is written only
    when the region's state changes, and then at once."""
    announcer = told.announcer
    world, _ = step(WorldState.initial(POLICY), StrategySnapshot(S1, PRIMARY, 1, 0.0, initial=True), POLICY)
    world, _ = step(world, Observation(SECONDARY, True, 1.0, "status=HEALTHY", status="HEALTHY"), POLICY)
    announcer.world_gauges.update(world, POLICY.regions, POLICY.strategies)
    assert gauges(told)["healthy:" + SECONDARY] == 1.0

    before = world.regions[SECONDARY]
    world, _ = step(world, Observation(SECONDARY, True, 2.0, "status=HEALTHY", status="HEALTHY"), POLICY)
    assert world.regions[SECONDARY] is not before  # a new record, the same state
    poison(told.metrics)
    announcer.world_gauges.update(world, [SECONDARY], POLICY.strategies_of(SECONDARY))
    assert gauges(told)["healthy:" + SECONDARY] == UNTOUCHED

    world, _ = step(world, Observation(SECONDARY, False, 3.0, "status=DEGRADED", status="DEGRADED"), POLICY)
    announcer.world_gauges.update(world, [SECONDARY], POLICY.strategies_of(SECONDARY))
    assert gauges(told)["healthy:" + SECONDARY] == 0.0  # fall = 1: unhealthy, written at once
