"""Two watchers for one organization, one simulator, one real etcd: only the leader writes, and the
survivor takes over (and performs the failback) when the leader stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.daemon.conftest import PRIMARY, SECONDARY, STRATEGY
from tests.leader._watchers import two_watchers
from tests.leader.conftest import RealEtcd
from tests.support import until
from watcher.sim import RunningSimulator

pytestmark = pytest.mark.anyio


def strategy_puts(sim: RunningSimulator) -> list[Any]:
    return [
        r for r in sim.state.requests_since(None) if r.method == "PUT" and "/routing/strategies/" in r.path
    ]


def first_region(sim: RunningSimulator) -> str:
    regions = sim.state.org.strategies[STRATEGY]["routingConfig"]["regions"]
    return str(min(regions, key=lambda r: r["priority"])["regionId"])


async def test_only_the_leader_writes_and_the_survivor_fails_back(
    tmp_path: Path, real_etcd: RealEtcd
) -> None:
    async with two_watchers(tmp_path, real_etcd) as (sim, admin, (w1, w2)):
        await until(lambda: w1.leads != w2.leads, timeout=10)
        leader, follower = (w1, w2) if w1.leads else (w2, w1)
        await until(lambda: follower.watcher.leadership.describe()["holder"] == leader.name, timeout=5)
        await until(
            lambda: (
                leader.watcher.readiness()[0]
                and all(h.healthy for i in (w1, w2) for h in i.watcher.engine.world.regions.values())
            ),
            timeout=10,
        )

        # The leader fenced the strategy when it took over (SPEC 4.1): one unchanged write-back.
        fenced = len(strategy_puts(sim))
        assert fenced == 1
        # Both watchers see the primary degrade; only the leader writes.
        (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DEGRADED"})).raise_for_status()
        await until(lambda: first_region(sim) == SECONDARY and leader.watcher.switch_log != [], timeout=10)
        assert follower.watcher.scheduler is not None
        polls = follower.watcher.scheduler.polls
        await until(
            lambda: follower.watcher.scheduler is not None and follower.watcher.scheduler.polls >= polls + 8
        )
        assert not follower.watcher.engine.world.regions[PRIMARY].healthy  # it saw the same degradation
        assert len(strategy_puts(sim)) == fenced + 1
        assert [r.status for r in strategy_puts(sim)][fenced:] == [200]
        assert follower.watcher.switch_log == []
        statuses = [await i.status() for i in (leader, follower)]
        assert [s["leader"] for s in statuses] == [True, False]
        assert statuses[1]["leadership"]["holder"] == leader.name

        # The leader stops; the follower takes over at once (lease revoked), reads what the API
        # holds, and performs the failback when the primary recovers.
        leader.watcher.request_stop()
        await leader.stopped.wait()
        await until(lambda: follower.leads, timeout=3)
        await until(lambda: follower.watcher.engine.world.strategies[STRATEGY].active_region == SECONDARY)
        (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "HEALTHY"})).raise_for_status()
        await until(lambda: first_region(sim) == PRIMARY and follower.watcher.switch_log != [], timeout=10)
        # The successor fenced the strategy (one unchanged write-back), then failed back.
        assert [r.status for r in strategy_puts(sim)][fenced:] == [200, 200, 200]
        assert [s["kind"] for s in follower.watcher.switch_log] == ["failback"]
        status = await follower.status()
        assert status["leader"] is True
        assert status["leadership"]["holder"] == follower.name


async def test_a_hold_follows_a_change_of_leader(tmp_path: Path, real_etcd: RealEtcd) -> None:
    # SPEC 4.1: operator commands survive a change of leader (kept in etcd when HA).
    async with two_watchers(tmp_path, real_etcd) as (sim, admin, (w1, w2)):
        await until(lambda: w1.leads != w2.leads, timeout=10)
        leader, follower = (w1, w2) if w1.leads else (w2, w1)
        await until(lambda: leader.watcher.readiness()[0], timeout=10)
        assert leader.watcher.admin is not None
        await leader.watcher.admin.hold(STRATEGY, 600, None, "maintenance")
        leader.watcher.request_stop()
        await leader.stopped.wait()
        await until(lambda: follower.leads, timeout=5)

        def held() -> bool:
            status = follower.watcher.engine.world.strategies[STRATEGY]
            return status.hold is not None and status.hold.reason == "maintenance"

        await until(held, timeout=5)
        (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DOWN"})).raise_for_status()
        await until(lambda: not follower.watcher.engine.world.regions[PRIMARY].healthy, timeout=10)
        assert first_region(sim) == PRIMARY  # frozen: the new leader keeps the hold
