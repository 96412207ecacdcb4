"""A telephony site following a virtual strategy with two watchers and a real etcd: the value of
`mediaRegionsUseLatencyBased` the leader forced off for a failover is restored by the next leader
when the strategy fails back (SPEC §6.2.1: kept with the decision, under [state] dir and in etcd)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.daemon._virtual import VIRTUAL, virtual_overrides
from tests.daemon.conftest import PRIMARY, SECONDARY
from tests.leader._watchers import two_watchers
from tests.leader.conftest import RealEtcd
from tests.support import until

pytestmark = pytest.mark.anyio

SITE = "site-1"


async def test_a_new_leader_restores_the_latency_flag_the_old_one_forced_off(
    tmp_path: Path, real_etcd: RealEtcd
) -> None:
    overrides = virtual_overrides(
        failback={"mode": "auto", "hold_seconds": 0.5}, sites=[{"id": SITE, "strategy": VIRTUAL}]
    )
    async with two_watchers(tmp_path, real_etcd, **overrides) as (sim, admin, (w1, w2)):

        def site() -> dict[str, Any]:
            return sim.state.levers.sites[SITE]

        await until(lambda: w1.leads != w2.leads, timeout=10)
        leader, follower = (w1, w2) if w1.leads else (w2, w1)
        await until(lambda: leader.watcher.readiness()[0], timeout=10)
        assert site()["mediaRegionsUseLatencyBased"] is True

        (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DEGRADED"})).raise_for_status()
        await until(lambda: site()["mediaRegions"][0] == SECONDARY, timeout=10)
        assert site()["mediaRegionsUseLatencyBased"] is False
        leader.watcher.request_stop()
        await leader.stopped.wait()
        await until(lambda: follower.leads, timeout=5)
        # The new leader never kept anything in its own state dir: only etcd knows.
        assert not (tmp_path / follower.name / "follower-memory.json").exists()

        (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "HEALTHY"})).raise_for_status()
        await until(lambda: site()["mediaRegions"] == [PRIMARY, SECONDARY], timeout=15)
        await until(lambda: site()["mediaRegionsUseLatencyBased"] is True, timeout=5)
        # The memory is written after the PUT it records is acknowledged: wait for it, not race it.
        memory = tmp_path / follower.name / "follower-memory.json"

        def restored() -> bool:
            return memory.exists() and json.loads(memory.read_text())["strategies"] == {}

        await until(restored, "the restored flag recorded (nothing left to restore)", timeout=5)
