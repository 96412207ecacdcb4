"""Helpers of the direct tests of the daemon's parts (executor, followers, read-back, announcer).

`running_rig` starts the real simulator on a free loopback port, with two strategies and three
rules, and builds what the parts stand on: a real `GenesysClient` (its transport wrapped so a test
can act between two of its requests), a fresh `WatcherMetrics`, a real `AuditTrail` and a fake
clock. The fakes here are the few whose behaviour is the point of a test: a leadership gate that
says no, or holds every caller until released; a feed and a report sink that record.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from tests.daemon.conftest import PRIMARY, SECONDARY, TARGETS, watcher_config
from tests.support import FakeClock
from watcher.config import RuleSettings, WatcherConfig
from watcher.core import Event, Explanation, Observation, Reweight, ReweightKind
from watcher.daemon.leadership import Leadership, SingleInstance
from watcher.daemon.status import WallClock
from watcher.events import AuditTrail, read_trail
from watcher.genesys import Copies, GenesysClient, make_transport
from watcher.metrics import WatcherMetrics
from watcher.sim import RunningSimulator, SimSeed, SimulatorState, default_seed, rule_seed, running_simulator
from watcher.sim import strategy_seed as sim_strategy_seed
from watcher.switch import (
    ApiStrategies,
    Executor,
    FollowerKinds,
    Followers,
    Strategies,
    SwitchReport,
    WritePolicy,
)

S1, S2 = "strategy-1", "strategy-2"
RULE_1, RULE_2, RULE_3 = "rule-1", "rule-2", "rule-3"  # rule-1 and rule-2 follow S1, rule-3 follows S2
FAILOVER = (SECONDARY, PRIMARY)
STRATEGY_PATH = "/api/v2/routing/strategies/"
RULE_PATH = "/api/v2/eventbridge/routing/rules/"
WALL_EPOCH = 1_800_000_000.0  # what the fake wall clock reads: 2027-01-15T08:00:00Z


def two_strategy_seed() -> SimSeed:
    """The default org (strategy-1, rule-1) plus rule-2 on strategy-1 and strategy-2 with rule-3.

    Every strategy routes to us-east-1 and every rule points at its target: nothing to repair.
    """
    seed = default_seed()
    seed.strategies.append(sim_strategy_seed(S2, [PRIMARY, SECONDARY]))
    seed.rules.append(rule_seed(RULE_2, TARGETS[PRIMARY]))
    seed.rules.append(rule_seed(RULE_3, TARGETS[PRIMARY]))
    return seed


def rig_config(sim_url: str, state_dir: Path, **overrides: Any) -> WatcherConfig:
    data: dict[str, Any] = {
        "strategies": [
            {"id": S1, "regions": [PRIMARY, SECONDARY]},
            {"id": S2, "regions": [PRIMARY, SECONDARY]},
        ],
        "rules": [
            {"id": RULE_1, "strategy": S1, "targets": TARGETS},
            {"id": RULE_2, "strategy": S1, "targets": TARGETS},
            {"id": RULE_3, "strategy": S2, "targets": TARGETS},
        ],
        "executor": {"reconcile_interval_seconds": 0.05, "conflict_retries": 3},
    }
    data.update(overrides)
    return watcher_config(sim_url, state_dir, **data)


@dataclass
class RecordedSleep:
    """The client's retry and budget waits: recorded, not slept, so a 5xx costs no real time."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await anyio.lowlevel.checkpoint()


ResponseHook = Callable[[httpx.Request, httpx.Response], Awaitable[None]]


async def no_hook(request: httpx.Request, response: httpx.Response) -> None:
    return None


class BetweenRequests(httpx.AsyncBaseTransport):
    """The real transport; `hook` runs after each answer arrives, before the client sees it.

    This is how a test acts between the client's read and its write (a change behind its back)
    over real HTTP, without patching the client.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.hook: ResponseHook = no_hook

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await self.hook(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Gate:
    """A leadership gate with a fixed answer (flip `leader` to depose it); counts what it is asked."""

    def __init__(self, leader: bool = True) -> None:
        self.leader = leader
        self.on_change: Callable[[bool], None] | None = None
        self.asked: list[str] = []  # may_write: before a write starts
        self.confirmed: list[str] = []  # confirm: after the read, right before each PUT
        self.leader_reads = 0

    @property
    def is_leader(self) -> bool:
        self.leader_reads += 1
        return self.leader

    async def may_write(self, strategy: str) -> bool:
        self.asked.append(strategy)
        await anyio.lowlevel.checkpoint()
        return self.leader

    async def confirm(self, strategy: str) -> bool:
        self.confirmed.append(strategy)
        await anyio.lowlevel.checkpoint()
        return self.leader

    @property
    def fences(self) -> bool:
        return False

    async def run(self, stop: anyio.Event) -> None:
        await stop.wait()

    def describe(self) -> dict[str, Any]:
        return {"backend": "test", "instance": "test", "leader": self.leader, "holder": None}


class Turnstile(Gate):
    """A gate that holds every caller until the test lets it through (and then says yes).

    `entered` lists the strategies whose write reached the gate, in order: a write that never
    reaches it is one that has not started.
    """

    def __init__(self) -> None:
        super().__init__(leader=True)
        self.entered: list[str] = []
        self._open: dict[str, anyio.Event] = {}

    async def may_write(self, strategy: str) -> bool:
        self.entered.append(strategy)
        gate = self._open.setdefault(strategy, anyio.Event())
        await gate.wait()
        del self._open[strategy]  # the next write of this strategy waits again
        return await super().may_write(strategy)

    def release(self, strategy: str) -> None:
        self._open.setdefault(strategy, anyio.Event()).set()


@dataclass
class RecordingFeed:
    """Stands for the engine's `feed`: keeps what the executor tells the core."""

    events: list[Event] = field(default_factory=list)

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class RecordingReports:
    """Stands for the announcer's `switch`: keeps every switch report with its action."""

    reports: list[SwitchReport] = field(default_factory=list)

    async def __call__(self, report: SwitchReport, action: Reweight) -> None:
        self.reports.append(report)


def explanation(summary: str = "us-east-1 failed", *, at: float = 990.0) -> Explanation:
    bad = tuple(Observation(PRIMARY, ok=False, at=at + i, reason="http 503", status=None) for i in range(2))
    return Explanation(summary, bad, {"fall": 2, "rise": 2}, at=at + 1)


def reweight(
    strategy: str = S1,
    order: Sequence[str] = FAILOVER,
    *,
    kind: ReweightKind = "failover",
    dry_run: bool = False,
    why: Explanation | None = None,
) -> Reweight:
    """The action the core emits to route `strategy` to `order[0]`."""
    others = [r for r in (PRIMARY, SECONDARY) if r != order[0]]
    return Reweight(
        strategy,
        from_region=others[0] if others else None,
        to_region=order[0],
        order=tuple(order),
        kind=kind,
        explanation=why or explanation(),
        dry_run=dry_run,
    )


@dataclass
class Rig:
    sim: RunningSimulator
    admin: httpx.AsyncClient  # the simulator's /_sim admin API
    client: GenesysClient
    spy: BetweenRequests
    cfg: WatcherConfig
    metrics: WatcherMetrics
    trail: AuditTrail
    clock: FakeClock
    retry_sleeps: RecordedSleep

    @property
    def wall(self) -> WallClock:
        return WallClock(self.clock, lambda: WALL_EPOCH + self.clock.now)

    # ------------------------------------------------------------------- what the simulator holds

    def strategy(self, strategy_id: str = S1) -> dict[str, Any]:
        return self.sim.state.org.strategies[strategy_id]

    def order(self, strategy_id: str = S1) -> list[tuple[str, int, int]]:
        regions = self.strategy(strategy_id)["routingConfig"]["regions"]
        return sorted(((r["regionId"], r["priority"], r["weight"]) for r in regions), key=lambda t: t[1])

    def target(self, rule_id: str) -> list[str]:
        return [t["id"] for t in self.sim.state.org.rules[rule_id]["targets"]]

    def requests(self, method: str, path: str | None = None) -> list[tuple[str, str, int]]:
        """(method, path, status) of the API requests the simulator saw, oldest first."""
        return [
            (r.method, r.path, r.status)
            for r in self.sim.state.requests_since(None)
            if r.method == method and (path is None or r.path.startswith(path))
        ]

    def sim_log(self, path: str) -> list[tuple[str, str, int]]:
        """Every API request on exactly `path`, oldest first."""
        return [(r.method, r.path, r.status) for r in self.sim.state.requests_since(None) if r.path == path]

    def strategy_puts(self, strategy_id: str = S1) -> list[int]:
        return [status for _, _, status in self.requests("PUT", STRATEGY_PATH + strategy_id)]

    def api_log(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every API request the simulator saw (not the admin API)."""
        return [
            (r.method, r.path, r.status)
            for r in self.sim.state.requests_since(None)
            if r.path.startswith("/api/")
        ]

    def rule_puts(self) -> list[str]:
        return [
            p.removeprefix(RULE_PATH) for _, p, status in self.requests("PUT", RULE_PATH) if status == 200
        ]

    # ------------------------------------------------------------------- changing it (admin API)

    async def fault(self, **spec: Any) -> None:
        response = await self.admin.put("/_sim/faults", json=spec)
        assert response.status_code == 200, response.text

    async def edit_strategy(self, strategy_id: str = S1, **changes: Any) -> None:
        """A change behind the watcher's back (the version moves on)."""
        body = {**self.strategy(strategy_id), **changes}
        response = await self.admin.put(f"/_sim/strategies/{strategy_id}", json=body)
        assert response.status_code == 200, response.text

    async def point_rule(self, rule_id: str, target: str) -> None:
        body = {**self.sim.state.org.rules[rule_id], "targets": [{"id": target}]}
        response = await self.admin.put(f"/_sim/rules/{rule_id}", json=body)
        assert response.status_code == 200, response.text

    # ------------------------------------------------------------------- what the watcher recorded

    def audit(self) -> list[dict[str, Any]]:
        return list(read_trail(self.trail.directory))

    def metric(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)

    def switches(self, strategy: str = S1, result: str = "success") -> float:
        return self.metric("failover_watcher_switches_total", strategy=strategy, result=result) or 0.0

    # ------------------------------------------------------------------- the parts under test

    def followers(
        self,
        gate: Leadership | None = None,
        rules: Sequence[RuleSettings] | None = None,
        copies: Copies | None = None,
    ) -> Followers:
        return Followers(
            FollowerKinds(self.client, copies),
            self.cfg.rules if rules is None else rules,
            gate=gate or SingleInstance("test"),
            metrics=self.metrics,
            trail=self.trail,
            policy=WritePolicy(attempts=self.cfg.executor.conflict_retries, clock=self.clock),
        )

    def executor(
        self,
        *,
        gate: Leadership | None = None,
        feed: Callable[[Event], Awaitable[None]] | None = None,
        report: RecordingReports | None = None,
        followers: Followers | None = None,
        grace_seconds: float = 10.0,
        copies: Copies | None = None,
    ) -> Executor:
        gate = gate or SingleInstance("test")
        return Executor(
            Strategies(ApiStrategies(self.client, copies)),
            followers or self.followers(),
            feed or RecordingFeed(),
            gate=gate,
            metrics=self.metrics,
            trail=self.trail,
            report=report or RecordingReports(),
            policy=WritePolicy(attempts=self.cfg.executor.conflict_retries, clock=self.clock),
            grace_seconds=grace_seconds,
            readable=self.wall.convert,
        )


@contextlib.asynccontextmanager
async def running_rig(tmp_path: Path, *, seed: SimSeed | None = None, **overrides: Any) -> AsyncIterator[Rig]:
    """The simulator and the real things the parts stand on, torn down at the end of the block."""
    state = SimulatorState(seed or two_strategy_seed(), seed_rng=7)
    async with running_simulator(state) as sim:
        cfg = rig_config(sim.base_url, tmp_path / "state", **overrides)
        metrics = WatcherMetrics()
        spy = BetweenRequests(make_transport("aiohttp", httpx.Limits(max_connections=16)))
        sleeps = RecordedSleep()
        clock = FakeClock()
        trail = AuditTrail(cfg.state.dir)
        try:
            async with (
                GenesysClient(
                    cfg.genesys, cfg.client_secret(), transport=spy, metrics=metrics, sleep=sleeps
                ) as client,
                httpx.AsyncClient(base_url=sim.base_url, timeout=5.0) as admin,
            ):
                yield Rig(sim, admin, client, spy, cfg, metrics, trail, clock, sleeps)
        finally:
            trail.close()
