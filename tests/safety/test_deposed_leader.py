"""SPEC §4.1 "A deposed leader's write never lands": two daemons on one simulator, a real etcd.

Leader A has a switch in flight (the strategy GET it plans from is held by the simulator) when it is
frozen (SIGSTOP) past its lease; B takes over, fails over, and fails back when the outage ends; then A
is thawed (SIGCONT). Whatever A was about to write must not land: the strategy and its rule end where B
decided, and no strategy PUT is accepted after A resumed.

The simulator cannot tell two instances apart (one OAuth client, and the request log has no client
field), so "from A" is established by timing: once B's decisions are done, B has nothing to write, and
any strategy PUT accepted after SIGCONT is A's. Both instances' log timelines are printed.
"""

from __future__ import annotations

import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.harness import DaemonProcess, cli, daemon_process, refused_at_start
from tests.leader.conftest import RealEtcd
from tests.safety._bench import Bench, bench
from tests.safety._chaos import Tally
from tests.safety._config import (
    PRIMARY,
    RULE,
    SECONDARY,
    STRATEGY,
    TARGETS,
    base_config,
    free_port,
    merged,
    write_config,
)
from tests.safety._daemon import alive
from tests.safety._sim import STRATEGY_PATH, Write
from tests.support import until

pytestmark = pytest.mark.anyio

TTL = 3
REQUEST_TIMEOUT = 2.0


async def _leads(d: DaemonProcess) -> bool:
    alive(d)
    status = await d.view.status_or_none()
    return bool(status and status["leader"] is True)


async def test_a_deposed_leaders_in_flight_write_never_lands(tmp_path: Path, real_etcd: RealEtcd) -> None:
    key = f"/failover-watcher-safety/{uuid.uuid4().hex}"
    async with bench(tmp_path, receive=False) as b:

        def config(name: str) -> Path:
            return b.config(
                name,
                with_sink=False,
                genesys={"request_timeout_seconds": REQUEST_TIMEOUT},
                leader={
                    "backend": "etcd",
                    "endpoints": [real_etcd.url],
                    "key": key,
                    "ttl_seconds": TTL,
                    "instance_id": name,
                },
                failback={"mode": "auto", "hold_seconds": 0.5},
                # No periodic read-back during the test: the only strategy GET after the fault is A's.
                # The held GET is how A is frozen between its read and its write, so A's switch
                # starts with a read here (no copies). Planned from a copy, A's PUT would carry a
                # version from before the takeover just the same, and meet B's fence: that case is
                # tests/daemon/test_copies.py::test_a_copy_older_than_a_fence_...
                executor={
                    "reconcile_interval_seconds": 60.0,
                    "write_retry_seconds": 0.3,
                    "write_from_copies": False,
                },
            )

        async with daemon_process(config("A"), "A") as a:
            await until(lambda: _leads(a), "A elected leader", 15)
            async with daemon_process(config("B"), "B") as bb:
                await a.view.ready()
                await bb.view.ready()
                assert (await bb.view.status())["leader"] is False
                timelines = {"A": a, "B": bb}
                try:
                    tally = await _scenario(b, a, bb)
                finally:
                    origin = min(d.started for d in timelines.values())
                    for d in timelines.values():
                        print(f"\n----- {d.name} -----\n{d.timeline(origin)}")
    tally.record()
    tally.check()


async def _scenario(b: Bench, a: DaemonProcess, bb: DaemonProcess) -> Tally:
    # A's next strategy read is held 1 s by the simulator: A decides, reads... and is frozen.
    held = await b.admin.fault(path=f"{STRATEGY_PATH}{STRATEGY}$", method="GET", delayMs=1000, count=1)
    await b.admin.set_region(PRIMARY, "DOWN")

    async def a_reading() -> bool:
        alive(a)
        return await b.admin.fault_hits(held) >= 1

    await until(a_reading, "A's strategy read in flight", 10)
    a.send(signal.SIGSTOP)
    stopped = datetime.now(UTC)
    print(f"\nSIGSTOP A at {stopped.time()} (ttl {TTL}s)")

    await until(lambda: _leads(bb), "B takes over once A's lease lapses", 15)
    print(f"B leader at {datetime.now(UTC).time()}")

    async def b_failed_over() -> bool:
        alive(bb)
        b_active = (await bb.view.strategy(STRATEGY))["activeRegion"]
        return bool(b_active == SECONDARY and await b.admin.routes_to(STRATEGY) == SECONDARY)

    await until(
        b_failed_over,
        f"B fails {STRATEGY} over to {SECONDARY}",
        10,
        detail=lambda: bb.view.strategy(STRATEGY),
    )
    await b.admin.set_region(PRIMARY, "HEALTHY")  # the outage ends

    async def b_failed_back() -> bool:
        alive(bb)
        s = await bb.view.strategy(STRATEGY)
        return (
            s["activeRegion"] == PRIMARY
            and s["pending"] is None
            and await b.admin.routes_to(STRATEGY) == PRIMARY
            and await b.admin.rule_target(RULE) == TARGETS[PRIMARY]
        )

    await until(
        b_failed_back,
        f"B fails {STRATEGY} back to {PRIMARY}, rule following",
        15,
        detail=lambda: bb.view.strategy(STRATEGY),
    )
    decided = (await bb.view.strategy(STRATEGY))["activeRegion"]
    thawed_at = await b.admin.now()
    thawed = datetime.now(UTC)
    a.send(signal.SIGCONT)
    resumed = time.monotonic()
    print(f"SIGCONT A at {thawed.time()}; B decided {decided}")

    async def a_settled() -> bool:
        alive(a)
        status = await a.view.status_or_none()
        if status is None or status["leader"] is not False:
            return False
        return next(s for s in status["strategies"] if s["id"] == STRATEGY)["pending"] is None

    await until(a_settled, "A resumed, no longer leader, nothing in flight", 15)
    await a.view.more_polls(PRIMARY, 8)  # and A went on for a while
    print(f"A settled {time.monotonic() - resumed:.2f}s after SIGCONT")

    late = [p for p in await b.admin.puts(STRATEGY_PATH, thawed_at) if 200 <= p["status"] < 300]
    routes = await b.admin.routes_to(STRATEGY)
    rule = await b.admin.rule_target(RULE)
    b_now = (await bb.view.strategy(STRATEGY))["activeRegion"]
    writes = [w for w in await b.admin.watcher_writes() if w.at > stopped]
    first_strategy = next((w for w in writes if w.kind == "routingStrategy"), None)
    first_rule = next((w for w in writes if w.kind == "routingRule"), None)
    switches = [w for w in writes if w.switches]
    notes = [_describe(w) for w in writes]
    notes += [f"WRONG: strategy PUT accepted after SIGCONT: {p}" for p in late]
    tally = Tally(
        "stale leader (SIGSTOP past the lease)",
        2,
        len(switches),
        len(late),
        None,
        int(not a.running) + int(not bb.running),
        notes,
    )
    tally.record()
    assert late == [], f"the deposed leader's PUT landed after it resumed: {late}"
    assert routes == decided == b_now, (
        f"the API routes {STRATEGY} to {routes}; B decided {decided}, now {b_now}"
    )
    assert rule == TARGETS[str(routes)], f"{RULE} points at {rule} while {STRATEGY} routes to {routes}"
    # SPEC: before its first decision the new leader fences what it owns by writing it back unchanged.
    unfenced = f"B's first {{}} write after the takeover is not an unchanged write-back (fence): {notes}"
    assert first_strategy is not None, unfenced.format("strategy")
    assert not first_strategy.switches, unfenced.format("strategy")
    assert first_rule is not None, unfenced.format("rule")
    assert first_rule.before is not None, unfenced.format("rule")
    assert first_rule.before["targets"] == first_rule.after["targets"], unfenced.format("rule")
    return tally


def _describe(w: Write) -> str:
    if w.kind == "routingRule":
        before = [t["id"] for t in (w.before or {}).get("targets", [])]
        after = [t["id"] for t in w.after.get("targets", [])]
        return f"rule {w.entity}: {before} -> {after} at {w.at.time()}"
    return f"strategy {w.entity}: {w.region_before} -> {w.region_after} at {w.at.time()}"


def _etcd_config(tmp_path: Path, **leader: Any) -> tuple[Path, int]:
    port = free_port()
    data = base_config("http://127.0.0.1:9", tmp_path / "state", port)
    data = merged(data, leader={"backend": "etcd", "endpoints": ["http://127.0.0.1:9"], **leader})
    return write_config(tmp_path / "watcher.toml", data), port


@pytest.mark.parametrize(("ttl", "timeout"), [(3, 3.0), (3, 5.0), (10, 10.0)])
async def test_a_lease_not_longer_than_the_request_timeout_is_refused(
    tmp_path: Path, ttl: int, timeout: float
) -> None:
    config, port = _etcd_config(tmp_path, ttl_seconds=ttl)
    text = config.read_text().replace("[genesys]\n", f"[genesys]\nrequest_timeout_seconds = {timeout}\n")
    config.write_text(text)
    code, _, err = await cli("check-config", "--config", str(config))
    assert code == 2, (code, err)
    assert any("leader.ttl_seconds" in line for line in err.splitlines()), err
    code, err = await refused_at_start(config, port)
    assert code == 2, (code, err)
    assert any("leader.ttl_seconds" in line for line in err.splitlines()), err


async def test_the_default_lease_and_timeout_pass_with_etcd(tmp_path: Path) -> None:
    config, _ = _etcd_config(tmp_path)
    code, _, err = await cli("check-config", "--config", str(config))
    assert code == 0, err
