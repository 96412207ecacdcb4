"""The queue from the engine to the router: a quiet observation (no action) has its gauges set at
once, without a trip through the queue, but never ahead of a batch still waiting for its own."""

from __future__ import annotations

import pytest

from tests.daemon._parts import S1
from tests.daemon.conftest import PRIMARY, SECONDARY
from watcher.core import CorePolicy, FailbackPolicy, Observation, StrategyPolicy, Thresholds, Tick, WorldState
from watcher.daemon.router import Decisions

pytestmark = pytest.mark.anyio

POLICY = CorePolicy(
    Thresholds(fall=1, rise=1),
    FailbackPolicy("auto", 60.0),
    (StrategyPolicy(S1, (PRIMARY, SECONDARY)),),
)


def polled(at: float) -> Observation:
    return Observation(PRIMARY, True, at, "status=HEALTHY", status="HEALTHY")


async def test_a_quiet_observation_is_gauged_at_once_unless_a_batch_waits_before_it() -> None:
    decisions = Decisions()
    gauged: list[Observation] = []
    decisions.quiet = lambda world, obs: gauged.append(obs)
    world = WorldState.initial(POLICY)

    first = polled(1.0)
    await decisions.publish((), world, first)
    assert gauged == [first]  # at once: nothing waits before it

    await decisions.publish((), world, Tick(2.0))  # not an observation: through the router
    second = polled(3.0)
    await decisions.publish((), world, second)
    assert gauged == [first]  # queued behind the tick, whose gauges are not set yet

    assert (await decisions.next())[2] == Tick(2.0)
    decisions.gauged()
    assert (await decisions.next())[2] is second
    decisions.gauged()

    third = polled(4.0)
    await decisions.publish((), world, third)
    assert gauged == [first, third]  # the queue is drained: at once again
    decisions.close()
