"""A virtual strategy with two watchers and a real etcd: the decision is shared, so a new leader
carries on from the last one's (SPEC §6.2: kept under [state] dir, and in etcd when HA)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.daemon._virtual import GROUP, TRIGGER, VIRTUAL, WORKFLOWS, virtual_overrides
from tests.daemon.conftest import PRIMARY, SECONDARY
from tests.leader._watchers import two_watchers
from tests.leader.conftest import RealEtcd
from tests.support import until

pytestmark = pytest.mark.anyio


async def test_a_new_leader_adopts_the_shared_virtual_decision(tmp_path: Path, real_etcd: RealEtcd) -> None:
    overrides = virtual_overrides(failback={"mode": "manual"})
    async with two_watchers(tmp_path, real_etcd, **overrides) as (sim, admin, (w1, w2)):
        await until(lambda: w1.leads != w2.leads, timeout=10)
        leader, follower = (w1, w2) if w1.leads else (w2, w1)
        await until(lambda: leader.watcher.readiness()[0], timeout=10)

        (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DEGRADED"})).raise_for_status()
        await until(lambda: leader.watcher.switch_log != [], timeout=10)
        assert sim.state.platform.triggers[TRIGGER]["target"]["id"] == WORKFLOWS[SECONDARY]
        platform = sim.state.platform
        versions = (platform.triggers[TRIGGER]["version"], platform.emergency_groups[GROUP]["version"])
        leader.watcher.request_stop()
        await leader.stopped.wait()
        await until(lambda: follower.leads, timeout=5)

        def virtual() -> Any:
            return follower.watcher.engine.world.strategies[VIRTUAL]

        await until(lambda: virtual().active_region == SECONDARY, timeout=10)
        # The decision the old leader wrote (adopted: 1, failover: 2), not a fresh adoption (1).
        assert virtual().version == 2
        # The new leader fenced the followers (each written back unchanged: its version moved on).
        after = (platform.triggers[TRIGGER]["version"], platform.emergency_groups[GROUP]["version"])
        assert after == (versions[0] + 1, versions[1] + 1)
        assert platform.triggers[TRIGGER]["target"]["id"] == WORKFLOWS[SECONDARY]
        stored = json.loads((tmp_path / follower.name / "virtual-strategies.json").read_text())
        assert stored["strategies"][VIRTUAL] == {"order": [SECONDARY, PRIMARY], "version": 2}
