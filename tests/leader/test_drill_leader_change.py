"""A change of leader mid-drill (SPEC §8), two watchers, one simulator, one real etcd: the leader
stops while its drill holds the strategy on the standby; the new leader reads the drill book the
old one shared, ends the drill (INTERRUPTED) and moves the strategy back before anything else. It
never leaves the strategy on the drill region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.daemon.conftest import ADMIN_TOKEN, PRIMARY, SECONDARY, STRATEGY
from tests.leader._watchers import Instance, two_watchers
from tests.leader.conftest import RealEtcd
from tests.support import until
from watcher.sim import RunningSimulator

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def first_region(sim: RunningSimulator) -> str:
    regions = sim.state.org.strategies[STRATEGY]["routingConfig"]["regions"]
    return str(min(regions, key=lambda r: r["priority"])["regionId"])


async def drills(i: Instance) -> dict[str, Any]:
    return dict((await i.status()).get("drills") or {})


async def test_a_new_leader_ends_a_drill_the_old_one_left_and_moves_the_strategy_back(
    tmp_path: Path, real_etcd: RealEtcd
) -> None:
    # A manual failback mode: nothing but the drill's end can bring the strategy back.
    async with two_watchers(tmp_path, real_etcd, failback={"mode": "manual"}) as (sim, _, (w1, w2)):
        await until(lambda: w1.leads != w2.leads, timeout=10)
        leader, follower = (w1, w2) if w1.leads else (w2, w1)

        async def leader_ready() -> bool:
            s = await leader.status()
            return bool(s.get("ready") and all(r["healthy"] for r in s["regions"]) and s.get("readiness"))

        await until(leader_ready, "the leader ready, readiness checked", 20)
        body = {"strategy": STRATEGY, "seconds": 600}
        answer = await leader.http.post("/admin/drills", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text

        async def holding() -> bool:
            running = (await drills(leader)).get("running")
            return bool(running) and running["phase"] == "HOLDING"

        await until(holding, "the drill holding on the standby", 20)
        assert first_region(sim) == SECONDARY

        leader.watcher.request_stop()
        await leader.stopped.wait()
        await until(lambda: follower.leads, timeout=5)

        async def ended() -> bool:
            recent = (await drills(follower)).get("recent") or []
            return bool(recent) and recent[0]["outcome"] == "INTERRUPTED"

        await until(ended, "the new leader ends the drill", 30, detail=lambda: drills(follower))
        report = (await drills(follower))["recent"][0]
        assert "the instance stopped" in report["reason"]
        assert first_region(sim) == PRIMARY
        assert any(w["leg"] == "back" for w in report["writes"])
