"""Readiness of every standby region (SPEC §8): would a switch there succeed now?

Every `[readiness] interval_seconds` (first right after the start-up read-back, as leader), for each
strategy and each of its regions other than the active one: the strategy's API copy names the region
(a virtual strategy: its configured regions), every follower's target there exists and is usable,
and the region's health sources give evidence. The requests are deferrable in the budget: they wait
behind every poll and write that can change a decision.

`ReadinessBoard` keeps the last round, shared by the loop (which fills it), the announcer (a switch's
explanation names its target's failed checks), the drills (a drill goes to a ready region) and
`/status`. A switch still goes to the best healthy region when no ready one exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import structlog

from watcher.aio import sleep
from watcher.config import WatcherConfig
from watcher.daemon.engine import Engine
from watcher.genesys import GenesysError, Priority, request_priority
from watcher.health import HealthSources
from watcher.metrics import WatcherMetrics
from watcher.switch import Followers, Strategies
from watcher.switch.readiness import ReadinessCheck

log = structlog.get_logger("watcher.readiness")

# How often the loop looks whether the strategies have been read (before the first round).
_READ_WAIT_SECONDS = 0.2


@dataclass(frozen=True)
class StandbyReadiness:
    """The checks of one standby region of one strategy."""

    strategy: str
    region: str
    checks: tuple[ReadinessCheck, ...]
    at: float

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[ReadinessCheck, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "region": self.region,
            "ready": self.ready,
            "checks": [c.to_dict() for c in self.checks],
        }


class ReadinessBoard:
    """The last readiness round, per (strategy, standby region)."""

    def __init__(self, metrics: WatcherMetrics | None = None) -> None:
        self._metrics = metrics
        self._last: dict[tuple[str, str], StandbyReadiness] = {}
        self.rounds = 0

    def record(self, results: list[StandbyReadiness]) -> None:
        """One round's results replace the last ones (a region that became active is dropped)."""
        previous = self._last
        self._last = {(r.strategy, r.region): r for r in results}
        self.rounds += 1
        m = self._metrics
        for r in results:
            if m is not None:
                m.region_ready.labels(strategy=r.strategy, region=r.region).set(1 if r.ready else 0)
            before = previous.get((r.strategy, r.region))
            if not r.ready and (before is None or before.ready or before.failed != r.failed):
                log.warning(
                    "standby region not ready",
                    strategy=r.strategy,
                    region=r.region,
                    failed=[f"{c.check}: {c.reason}" for c in r.failed],
                )
            elif r.ready and before is not None and not before.ready:
                log.info("standby region ready again", strategy=r.strategy, region=r.region)

    def of(self, strategy: str, region: str) -> StandbyReadiness | None:
        return self._last.get((strategy, region))

    def failed(self, strategy: str, region: str) -> list[dict[str, Any]]:
        """The failed checks of `region` as a switch target of `strategy` (last round), for its
        explanation; empty when ready or not checked."""
        found = self._last.get((strategy, region))
        return [] if found is None else [c.to_dict() for c in found.failed]

    def ready_regions(self, strategy: str) -> frozenset[str] | None:
        """The standby regions of `strategy` found ready (None before the first round)."""
        if self.rounds == 0:
            return None
        return frozenset(r.region for (s, _), r in self._last.items() if s == strategy and r.ready)

    def status(self) -> list[dict[str, Any]]:
        """The `"readiness"` part of `/status`."""
        return [r.to_dict() for r in sorted(self._last.values(), key=lambda r: (r.strategy, r.region))]


class ReadinessRounds:
    """The readiness loop: a round every `[readiness] interval_seconds`, while leader."""

    def __init__(
        self,
        config: Callable[[], WatcherConfig],
        engine: Engine,
        strategies: Strategies,
        followers: Followers,
        health: HealthSources,
        board: ReadinessBoard,
        *,
        unread: set[str],
        is_leader: Callable[[], bool],
        stop: anyio.Event,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._engine = engine
        self.strategies = strategies  # also read back by a drill's move
        self._followers = followers
        self._health = health
        self.board = board
        self._unread = unread
        self._is_leader = is_leader
        self._stop = stop
        self._clock = clock

    async def run(self) -> None:
        while True:
            # First right after the start-up read-back: the active regions are known then.
            while not self._is_leader() or self._unread:
                if await sleep(_READ_WAIT_SECONDS, self._stop):
                    return
            await self.check()
            if await sleep(self._config().readiness.interval_seconds, self._stop):
                return

    async def check(self) -> list[StandbyReadiness]:
        """One round over every strategy and standby region (deferrable requests)."""
        results: list[StandbyReadiness] = []
        self._followers.kinds.targets.new_round()
        with request_priority(Priority.DEFERRABLE):
            for strategy in self._config().strategies:
                active = self._engine.active_region(strategy.id)
                standbys = [r for r in strategy.regions if r != active]
                if not standbys:
                    continue
                named = await self._named(strategy.id, strategy.regions)
                for region in standbys:
                    checks = [
                        self._named_check(region, named),
                        *await self._follower_checks(strategy.id, region),
                        self._evidence(region),
                    ]
                    results.append(StandbyReadiness(strategy.id, region, tuple(checks), self._clock()))
        self.board.record(results)
        return results

    async def _named(self, strategy: str, configured: list[str]) -> set[str] | str:
        """The regions the strategy's API copy names, or why it could not be read."""
        store = self.strategies.of(strategy)
        if self.strategies.virtual is not None and self.strategies.virtual.is_virtual(strategy):
            return set(configured)
        try:
            # The copy the read-back (or the last write) kept is the API's; read only without one.
            copy = self.strategies.api.last(strategy) or await store.read(strategy)
            return set(copy.region_order())
        except GenesysError as exc:
            return f"could not read strategy {strategy}: {exc}"

    @staticmethod
    def _named_check(region: str, named: set[str] | str) -> ReadinessCheck:
        if isinstance(named, str):
            return ReadinessCheck("strategy names region", False, named)
        if region not in named:
            return ReadinessCheck(
                "strategy names region", False, f"the strategy's API copy does not name {region}"
            )
        return ReadinessCheck("strategy names region", True)

    async def _follower_checks(self, strategy: str, region: str) -> list[ReadinessCheck]:
        checks: list[ReadinessCheck] = []
        for follower in self._followers.of(strategy):
            try:
                checks += await follower.readiness(region)
            except Exception as exc:  # one bad answer is a failed check, never a dead loop
                what = f"{follower.kind} {follower.id}"
                checks.append(ReadinessCheck(what, False, f"could not check: {exc}"))
        return checks

    def _evidence(self, region: str) -> ReadinessCheck:
        readings = self._health.board.readings(region)
        if any(r.ok is not None for r in readings):
            return ReadinessCheck("health evidence", True)
        misconfigured = [f"{r.source}: {r.reason}" for r in readings if r.result == "misconfigured"]
        if misconfigured:
            why = "misconfigured source " + "; ".join(misconfigured)
            return ReadinessCheck("health evidence", False, why)
        why = "; ".join(r.reason for r in readings) or "no answer from its sources yet"
        return ReadinessCheck("health evidence", False, f"its health sources give no evidence ({why})")
