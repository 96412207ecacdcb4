"""Chaos: one fault class per scenario, driven through the simulator's `/_sim` API against a running
daemon, each measured the same way (`_chaos.tally`) and held to SPEC §4.1: the expected switches and
no others, no wrong write (never to a region that was unhealthy then, never during a hold, never
stale), no event lost, no unexpected daemon exit.

Each scenario appends its figures to `$CHAOS_REPORT` (one JSON line) when that is set, so a run makes
a table. The stale-leader scenario needs two daemons and etcd: it is
`test_deposed_leader.py::test_a_deposed_leaders_in_flight_write_never_lands`, which reports the same
figures.

Steps wait on conditions with deadlines; a step whose condition is not met is noted (and the figures
say what happened) rather than failing at once, so every scenario reports before it asserts.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.harness import DaemonProcess, DaemonView, daemon_process
from tests.safety._bench import TWO_STRATEGIES, Bench, bench
from tests.safety._chaos import tally, unreported_switches
from tests.safety._config import OTHER, PRIMARY, RULE, SECONDARY, STRATEGY, TARGETS
from tests.safety._daemon import InProcessDaemon, alive, in_process
from tests.support import until
from watcher.sim import strategy_seed

pytestmark = pytest.mark.anyio


@dataclass
class Run:
    """One scenario in progress: the bench, the daemon's HTTP view, and what was noted on the way."""

    b: Bench
    view: DaemonView
    daemon: InProcessDaemon | DaemonProcess
    notes: list[str] = field(default_factory=list)
    holds: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    expected: int = 0
    exits: int = 0

    async def step(self, check: Callable[[], Awaitable[bool]], what: str, timeout: float = 8.0) -> bool:
        """Wait for `check`; on timeout note it and go on (the figures will show the consequence)."""
        try:
            await until(check, what, timeout)
        except AssertionError as exc:
            self.notes.append(f"NOT MET: {exc}")
            return False
        return True

    async def routes(self, region: str, strategy: str = STRATEGY, timeout: float = 8.0) -> bool:
        async def there() -> bool:
            alive(self.daemon)
            return await self.b.admin.routes_to(strategy) == region

        return await self.step(there, f"{strategy} routes to {region}", timeout)

    async def seen(self, region: str, healthy: bool) -> bool:
        async def there() -> bool:
            alive(self.daemon)
            return (await self.view.region(region))["healthy"] is healthy

        return await self.step(there, f"/status shows {region} healthy={healthy}")

    async def fault_hits(self, fault_id: int, hits: int) -> bool:
        async def enough() -> bool:
            alive(self.daemon)
            return await self.b.admin.fault_hits(fault_id) >= hits

        return await self.step(enough, f"fault {fault_id} hit {hits} times", 15)

    async def rule_follows(self) -> None:
        async def follows() -> bool:
            alive(self.daemon)
            return (
                await self.b.admin.rule_target(RULE) == TARGETS[str(await self.b.admin.routes_to(STRATEGY))]
            )

        await self.step(follows, f"{RULE} follows {STRATEGY}")

    async def finish(self, fault: str, strategies: tuple[str, ...] = (STRATEGY,)) -> None:
        drained: list[dict[str, object]] = []

        async def delivered() -> bool:
            alive(self.daemon)
            seen = await self.view.status()
            if seen["outboxDepth"] != 0 or await unreported_switches(self.b, strategies) != 0:
                return False
            drained.append(seen)
            return True

        await self.step(delivered, "the outbox to drain and every switch to be told of")
        # The outbox as it was once drained: the daemon runs on, and an event it publishes after
        # that instant (a retry's decision, a resync) is not yet delivered, not lost.
        status = drained[-1] if drained else await self.view.status_or_none()
        if isinstance(self.daemon, InProcessDaemon):
            self.exits += int(self.daemon.exited_unexpectedly)
        elif not self.daemon.running:
            self.exits += 1
        t = await tally(
            fault,
            self.b,
            expected=self.expected,
            exits=self.exits,
            strategies=strategies,
            holds=self.holds,
            status=status,
            notes_so_far=self.notes,
        )
        t.record()
        t.check()


# ------------------------------------------------------------------------------------------ scenarios


async def storm_on_polls(r: Run) -> None:
    """Half the health polls are answered 429; then the primary really fails (its own answers say so)."""
    storm = await r.b.admin.fault(path="/health$", status=429, retryAfter=0, errorRate=0.5)
    await r.fault_hits(storm, 20)
    await r.b.admin.set_region(PRIMARY, "DOWN")
    r.expected = 1
    await r.routes(SECONDARY)
    await r.b.admin.clear_faults()
    await r.rule_follows()


async def storm_on_writes(r: Run) -> None:
    """The first strategy and rule PUTs are answered 429: the switch still completes."""
    await r.b.admin.fault(path="/(strategies|rules)/", method="PUT", status=429, retryAfter=0, count=4)
    await r.b.admin.set_region(PRIMARY, "DOWN")
    r.expected = 1
    await r.routes(SECONDARY)
    await r.rule_follows()


async def blackout(r: Run) -> None:
    """Every call to the API and login host is a dropped connection for a while; both regions healthy."""
    dark = await r.b.admin.fault(path=".*", reset=True)
    await r.fault_hits(dark, 25)
    await r.b.admin.clear_faults()
    await r.view.more_polls(PRIMARY, 6)
    await r.view.more_polls(SECONDARY, 6)


async def server_errors_on_put(r: Run) -> None:
    """The strategy PUT answers 503 a few times: retried with backoff, the switch completes once."""
    await r.b.admin.fault(path="/routing/strategies/", method="PUT", status=503, count=4)
    await r.b.admin.set_region(PRIMARY, "DOWN")
    r.expected = 1
    await r.routes(SECONDARY)
    await r.rule_follows()


async def token_outage(r: Run) -> None:
    """Tokens revoked and the token endpoint throttled: no evidence; then a real outage is acted on."""
    throttled = await r.b.admin.fault(path="^/oauth/token$", status=400)
    await r.b.admin.expire_tokens()
    await r.fault_hits(throttled, 15)
    await r.b.admin.clear_faults()
    await r.view.more_polls(PRIMARY, 6)
    await r.b.admin.set_region(PRIMARY, "DOWN")
    r.expected = 1
    await r.routes(SECONDARY)


async def operator_edits(r: Run) -> None:
    """A manual move is adopted and protected; a hold freezes the strategy until it is released."""
    await r.b.admin.put_strategy(STRATEGY, strategy_seed(STRATEGY, [SECONDARY, PRIMARY]))

    async def adopted() -> bool:
        return bool((await r.view.strategy(STRATEGY))["activeRegion"] == SECONDARY)

    await r.step(adopted, f"/status adopts the manual move to {SECONDARY}", 5)
    await r.b.admin.set_region(SECONDARY, "DOWN")
    r.expected = 1
    await r.routes(PRIMARY)
    response = await r.view.admin("/admin/hold", {"strategy": STRATEGY, "seconds": 600, "reason": "chaos"})
    held = datetime.now(UTC)
    r.notes.append(f"hold: {response.status_code}")
    await r.b.admin.set_region(SECONDARY, "HEALTHY")
    await r.b.admin.set_region(PRIMARY, "DOWN")
    await r.seen(PRIMARY, healthy=False)
    await r.view.more_polls(PRIMARY, 8)
    released = datetime.now(UTC)
    await r.view.admin("/admin/release", {"strategy": STRATEGY})
    r.holds.append((STRATEGY, held, released))
    r.expected = 2
    await r.routes(SECONDARY)


async def flapping_primary(r: Run) -> None:
    """The primary fails, then flaps faster than the failback hold: one failover, no failback."""
    await r.b.admin.set_region(PRIMARY, "DOWN")
    r.expected = 1
    await r.routes(SECONDARY)
    for _ in range(3):
        await r.b.admin.set_region(PRIMARY, "HEALTHY")
        await r.seen(PRIMARY, healthy=True)
        await r.b.admin.set_region(PRIMARY, "DOWN")
        await r.seen(PRIMARY, healthy=False)
    await r.view.more_polls(PRIMARY, 8)


async def unplannable(r: Run) -> None:
    """strategy-1's API copy lacks eu-west-1: reported, the other strategy fails over, then repaired."""
    await r.b.admin.set_region(PRIMARY, "DOWN")
    r.expected = 1
    await r.routes(SECONDARY, strategy=OTHER)

    async def reported() -> bool:
        alive(r.daemon)
        return SECONDARY in str((await r.view.strategy(STRATEGY)).get("lastError") or "")

    await r.step(reported, f"/status {STRATEGY}.lastError names {SECONDARY}")
    await r.b.admin.put_strategy(STRATEGY, strategy_seed(STRATEGY, [PRIMARY, SECONDARY]))
    r.expected = 2
    await r.routes(SECONDARY)


SCENARIOS: dict[str, Callable[[Run], Awaitable[None]]] = {
    "429 storm on polls": storm_on_polls,
    "429 storm on writes": storm_on_writes,
    "total API blackout": blackout,
    "5xx on the strategy PUT": server_errors_on_put,
    "throttled token endpoint, tokens revoked": token_outage,
    "operator edits behind the watcher's back": operator_edits,
    "flapping primary": flapping_primary,
    "unplannable strategy": unplannable,
}
OVERRIDES: dict[str, dict[str, Any]] = {
    "flapping primary": {"failback": {"hold_seconds": 3.0}},
    "unplannable strategy": {"strategies": TWO_STRATEGIES},
}


@pytest.mark.parametrize("fault", list(SCENARIOS))
async def test_chaos(tmp_path: Path, fault: str) -> None:
    async with bench(tmp_path) as b:
        if fault == "unplannable strategy":
            await b.seed_second_strategy()
            await b.admin.put_strategy(STRATEGY, strategy_seed(STRATEGY, [PRIMARY]))
        async with in_process(b.config(**OVERRIDES.get(fault, {}))) as d:
            await d.view.ready()
            r = Run(b, d.view, d)
            await SCENARIOS[fault](r)
            strategies = (STRATEGY, OTHER) if fault == "unplannable strategy" else (STRATEGY,)
            await r.finish(fault, strategies)


async def test_chaos_sigkill_between_the_strategy_write_and_the_rule_write(tmp_path: Path) -> None:
    fault = "SIGKILL between the strategy write and the rule write"
    async with bench(tmp_path) as b:
        config = b.config()
        exits = 0
        async with daemon_process(config, "first") as d:
            await d.view.ready()
            r = Run(b, d.view, d)
            # The rule PUT is held 3 s, then its connection dropped: it never lands.
            held = await b.admin.fault(path="/routing/rules/", method="PUT", delayMs=3000, reset=True)
            await b.admin.set_region(PRIMARY, "DOWN")
            r.expected = 1
            await r.routes(SECONDARY)
            await r.fault_hits(held, 1)
            exits += int(not d.running)
            d.send(signal.SIGKILL)
            await d.wait_exit(10)
        await b.admin.clear_faults()
        async with daemon_process(config, "second") as d:
            r.view, r.daemon, r.exits = d.view, d, exits
            await r.rule_follows()
            await r.finish(fault)
