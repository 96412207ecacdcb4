"""EtcdLeaderElection against an in-memory etcd gateway and a fake clock: every transition."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
import pytest

from tests.leader.conftest import FakeEtcd
from tests.support import FakeClock, until
from watcher.config import LeaderSettings
from watcher.daemon.election import EtcdLeaderElection

pytestmark = pytest.mark.anyio

A, B = "http://etcd-a:2379", "http://etcd-b:2379"
KEY = "/failover-watcher/leader"
TTL = 6  # refresh every 2 s; writes allowed for 4.5 s after a keepalive is sent


@dataclass
class Running:
    election: EtcdLeaderElection
    etcd: FakeEtcd
    clock: FakeClock
    stop: anyio.Event
    changes: list[bool] = field(default_factory=list)

    async def next_round(self) -> None:
        """Let the election's loop run one more round (it sleeps between rounds on the fake clock)."""
        await until(lambda: self.clock.sleeping == 1)
        calls = len(self.etcd.calls)
        self.clock.advance(self.election.interval)
        await until(lambda: self.clock.sleeping == 1 and len(self.etcd.calls) > calls)


@contextlib.asynccontextmanager
async def running(etcd: FakeEtcd, endpoints: list[str] | None = None) -> AsyncIterator[Running]:
    clock = FakeClock(0.0)
    settings = LeaderSettings(
        backend="etcd", endpoints=endpoints or [A], key=KEY, ttl_seconds=TTL, instance_id="me"
    )
    async with etcd.client() as http:
        election = EtcdLeaderElection(settings, http=http, clock=clock, sleep=clock.sleep)
        r = Running(election, etcd, clock, anyio.Event())
        election.on_change = r.changes.append
        async with anyio.create_task_group() as tg:
            tg.start_soon(election.run, r.stop)
            try:
                yield r
            finally:
                r.stop.set()


async def test_wins_a_free_key() -> None:
    etcd = FakeEtcd()
    async with running(etcd) as r:
        await until(lambda: r.election.is_leader)
        assert r.changes == [True]
        assert await r.election.may_write("s1")
        assert etcd.keys[KEY][0] == "me"
        d = r.election.describe()
        assert d["backend"] == "etcd"
        assert (d["instance"], d["leader"], d["holder"]) == ("me", True, "me")
        assert (d["ttl"], d["endpoint"]) == (TTL, A)
        await r.next_round()  # refreshes keep it
        assert r.election.is_leader
        assert etcd.paths("/v3/lease/keepalive")


async def test_loses_to_a_holder_and_takes_over_when_the_key_is_gone() -> None:
    etcd = FakeEtcd()
    other = etcd.hold(KEY, "other")
    async with running(etcd) as r:
        await until(lambda: etcd.paths("/v3/kv/range") != [])
        await r.next_round()
        assert not r.election.is_leader
        assert not await r.election.may_write("s1")
        assert r.election.describe()["holder"] == "other"
        assert r.changes == []
        assert set(etcd.leases) == {other}  # a follower holds no lease of its own

        etcd.revoke(other)
        await r.next_round()
        assert r.election.is_leader
        assert r.changes == [True]
        assert etcd.keys[KEY][0] == "me"


async def test_lease_lost_in_etcd_steps_down_at_once_then_campaigns_again() -> None:
    etcd = FakeEtcd()
    async with running(etcd) as r:
        await until(lambda: r.election.is_leader)
        (lease,) = etcd.leases
        etcd.revoke(lease)  # expired or revoked behind its back
        await r.next_round()
        assert r.changes == [True, False]
        assert not await r.election.may_write("s1")
        await r.next_round()
        assert r.changes == [True, False, True]
        assert lease not in etcd.leases
        assert etcd.keys[KEY][1] in etcd.leases  # held under a fresh lease


async def test_key_taken_by_another_steps_down_and_drops_its_lease() -> None:
    etcd = FakeEtcd()
    async with running(etcd) as r:
        await until(lambda: r.election.is_leader)
        (mine,) = etcd.leases
        del etcd.keys[KEY]
        etcd.hold(KEY, "other")
        await r.next_round()
        assert r.changes == [True, False]
        assert r.election.describe()["holder"] == "other"
        assert mine not in etcd.leases


async def test_local_clock_stops_writes_before_the_ttl_when_etcd_is_unreachable() -> None:
    etcd = FakeEtcd()
    async with running(etcd) as r:
        await until(lambda: r.election.is_leader)  # lease granted at t=0
        etcd.down.add(A)
        window = TTL - r.election.margin
        assert 0 < window < TTL
        await until(lambda: r.clock.sleeping == 1)
        r.clock.advance(window - 0.01)
        assert await r.election.may_write("s1")
        r.clock.advance(0.01)
        # etcd still holds the lease (nobody could win yet), but this instance can no longer know.
        assert etcd.keys[KEY][0] == "me"
        assert not await r.election.may_write("s1")
        r.clock.advance(0.2)
        await until(lambda: r.changes == [True, False])
        assert not r.election.is_leader


async def test_write_window_counts_from_when_the_keepalive_was_sent() -> None:
    etcd = FakeEtcd()
    async with running(etcd) as r:
        await until(lambda: r.election.is_leader)
        await until(lambda: r.clock.sleeping == 1)

        def slow(path: str) -> None:
            if path == "/v3/lease/keepalive":
                r.clock.now += 1.0  # the keepalive took a second to come back

        etcd.on_call = slow
        sent = r.clock.now + r.election.interval
        await r.next_round()
        assert r.election.is_leader
        window = TTL - r.election.margin
        r.clock.now = sent + window - 0.01
        assert await r.election.may_write("s1")
        r.clock.now = sent + window
        assert not await r.election.may_write("s1")


async def test_stop_revokes_the_lease_and_reports_the_loss() -> None:
    etcd = FakeEtcd()
    async with running(etcd) as r:
        await until(lambda: r.election.is_leader)
        assert len(etcd.leases) == 1
    assert etcd.paths("/v3/lease/revoke") == [A]
    assert etcd.leases == {}
    assert KEY not in etcd.keys  # a successor can take over now, not after the TTL
    assert r.changes == [True, False]
    assert not r.election.is_leader


async def test_moves_to_the_next_endpoint_on_transport_errors_and_5xx() -> None:
    etcd = FakeEtcd(down={A})
    async with running(etcd, [A, B]) as r:
        await until(lambda: r.election.is_leader)
        assert r.election.describe()["endpoint"] == B
        assert {endpoint for endpoint, _ in etcd.calls} == {B}

        etcd.down.clear()
        etcd.failing.add(B)
        await r.next_round()
        assert r.election.is_leader
        assert r.election.describe()["endpoint"] == A
        assert r.changes == [True]


async def test_etcd_down_everywhere_is_retried_not_raised() -> None:
    etcd = FakeEtcd(down={A, B})
    async with running(etcd, [A, B]) as r:
        for _ in range(5):
            await until(lambda: r.clock.sleeping == 1)
            r.clock.advance(r.election.interval)
        assert not r.election.is_leader
        etcd.down.clear()
        await until(lambda: r.clock.sleeping == 1)
        r.clock.advance(r.election.interval)
        await until(lambda: r.election.is_leader)
    assert r.changes == [True, False]


async def test_a_keepalive_answered_after_the_window_does_not_make_a_leader() -> None:
    etcd = FakeEtcd()
    async with running(etcd) as r:
        await until(lambda: r.election.is_leader)
        window = TTL - r.election.margin

        def stalled(path: str) -> None:
            if path == "/v3/lease/keepalive":
                r.clock.now += window  # the answer comes back after the right to write ran out

        etcd.on_call = stalled
        await r.next_round()
        assert not r.election.is_leader
        assert not await r.election.may_write("s1")
        etcd.on_call = None
        await r.next_round()  # the key is still under its lease: reclaimed
        assert r.election.is_leader
        assert r.changes == [True, False, True]


async def test_confirm_reads_the_leader_key_while_the_write_window_is_still_open() -> None:
    # The window alone says "still leading": only the linearizable read of the key can tell that
    # another instance took it (an operator deleted it, a partition healed the other way).
    etcd = FakeEtcd()
    async with running(etcd) as r:
        await until(lambda: r.election.is_leader)
        assert await r.election.confirm("s1")
        del etcd.keys[KEY]
        etcd.hold(KEY, "other")
        reads = len(etcd.paths("/v3/kv/range"))
        assert await r.election.may_write("s1")  # the local window is still open
        assert not await r.election.confirm("s1")
        assert len(etcd.paths("/v3/kv/range")) == reads + 1
        assert r.changes == [True, False]  # found out: it steps down at once
        assert r.election.describe()["holder"] == "other"
        assert not await r.election.may_write("s1")
