"""EtcdLeaderElection against a real etcd: one leader, immediate hand-over, lease loss."""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from tests.leader.conftest import RealEtcd
from tests.support import until
from watcher.config import LeaderSettings
from watcher.daemon.election import EtcdLeaderElection

pytestmark = pytest.mark.anyio

TTL = 2


class Candidate:
    def __init__(self, etcd: RealEtcd, key: str, name: str, leaders: set[str]) -> None:
        self.election = EtcdLeaderElection(
            LeaderSettings(backend="etcd", endpoints=[etcd.url], key=key, ttl_seconds=TTL, instance_id=name)
        )
        self.name = name
        self.stop = anyio.Event()
        self.done = anyio.Event()
        self.changes: list[bool] = []
        self.max_concurrent = 0
        self._leaders = leaders
        self.election.on_change = self._changed

    def _changed(self, leader: bool) -> None:
        self.changes.append(leader)
        if leader:
            self._leaders.add(self.name)
        else:
            self._leaders.discard(self.name)
        self.max_concurrent = max(self.max_concurrent, len(self._leaders))

    async def run(self) -> None:
        try:
            await self.election.run(self.stop)
        finally:
            self.done.set()


@contextlib.asynccontextmanager
async def candidates(etcd: RealEtcd, *names: str) -> AsyncIterator[list[Candidate]]:
    key = f"/failover-watcher-test/{uuid.uuid4().hex}"
    leaders: set[str] = set()
    running = [Candidate(etcd, key, name, leaders) for name in names]
    async with anyio.create_task_group() as tg:
        for c in running:
            tg.start_soon(c.run)
        try:
            yield running
        finally:
            for c in running:
                c.stop.set()


async def holder_in_etcd(etcd: RealEtcd, key: str) -> str | None:
    async with httpx.AsyncClient() as http:
        body = {"key": base64.b64encode(key.encode()).decode()}
        doc = (await http.post(f"{etcd.url}/v3/kv/range", json=body)).json()
    kvs = doc.get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None


async def test_exactly_one_of_two_leads_and_stopping_it_hands_over_at_once(real_etcd: RealEtcd) -> None:
    async with candidates(real_etcd, "a", "b") as (a, b):
        await until(lambda: a.election.is_leader or b.election.is_leader)
        leader, follower = (a, b) if a.election.is_leader else (b, a)
        # The follower has read the key and names the leader; etcd agrees.
        await until(lambda: follower.election.describe()["holder"] == leader.name)
        assert await holder_in_etcd(real_etcd, leader.election.settings.key) == leader.name
        assert not follower.election.is_leader
        assert not await follower.election.may_write("s1")
        assert await leader.election.may_write("s1")

        leader.stop.set()
        started = time.monotonic()
        await leader.done.wait()
        await until(lambda: follower.election.is_leader, timeout=TTL * 2)
        # Revoking on stop: the follower's next poll (ttl/3) wins, well before the TTL could lapse.
        assert time.monotonic() - started < TTL * 0.8
        assert leader.changes == [True, False]
        assert follower.changes == [True]
        assert await holder_in_etcd(real_etcd, leader.election.settings.key) == follower.name
    assert max(a.max_concurrent, b.max_concurrent) == 1


async def test_lease_revoked_behind_the_leaders_back_steps_it_down(real_etcd: RealEtcd) -> None:
    async with candidates(real_etcd, "solo") as (solo,):
        await until(lambda: solo.election.is_leader)
        lease = solo.election._lease
        assert lease is not None
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{real_etcd.url}/v3/lease/revoke", json={"ID": str(lease)})
            r.raise_for_status()
        await until(lambda: solo.changes[:2] == [True, False], timeout=TTL)
        # ...and campaigns again under a fresh lease.
        await until(lambda: solo.changes == [True, False, True], timeout=TTL * 2)
        assert solo.election._lease not in (None, lease)
