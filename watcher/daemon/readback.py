"""The read-back: what the API holds is read, adopted, compared with what the watcher believes, and
followed (level-triggered).

- At start (and whenever this instance becomes the leader) every strategy is read and adopted as it
  is: the watcher reconciles what is, it does not replay history.
- Then strategies are read back periodically; the core compares them with what it believes (drift).
- Rules follow their strategy: after a start, a reload or a switch whose rule writes failed, rules
  that do not point at their strategy's active region are retargeted.

A new leader's first read fences what it owns first (`watcher.switch.fencing`).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import structlog

from watcher.aio import Backoff, sleep
from watcher.config import WatcherConfig
from watcher.core import StrategySnapshot
from watcher.daemon.engine import Engine
from watcher.daemon.leadership import Leadership
from watcher.genesys import GenesysError, Priority, request_priority
from watcher.metrics import WatcherMetrics
from watcher.switch import WRITE_ERRORS, Executor, Fence, Followers, Strategies

log = structlog.get_logger("watcher.daemon")

READ_BACKOFF = Backoff(2.0, 60.0, "none")


class ReadBack:
    """Reads strategies into the core and keeps rules following them."""

    def __init__(
        self,
        strategies: Strategies,
        fence: Fence,
        engine: Engine,
        executor: Executor,
        followers: Followers,
        leadership: Leadership,
        config: Callable[[], WatcherConfig],
        *,
        metrics: WatcherMetrics,
        stop: anyio.Event,
        clock: Callable[[], float],
        unread: set[str] | None = None,
        rule_repairs: set[str] | None = None,
    ) -> None:
        # Every strategy read here refreshes its copy: the next switch is planned from it.
        self._strategies = strategies
        self._fence = fence
        self._engine = engine
        self._executor = executor
        self._followers = followers
        self._leadership = leadership
        self._config = config
        self._metrics = metrics
        self._stop = stop
        self._clock = clock
        # Strategies whose state the API has not told us yet: never written, not ready. Shared with
        # the executor and a running initial read, so it is only ever changed in place.
        self.unread: set[str] = {s.id for s in config().strategies} if unread is None else unread
        # Strategies whose rules must be made to follow (after a start, or a switch left partial).
        self.rule_repairs: set[str] = set() if rule_repairs is None else rule_repairs
        self.reading = False

    def strategies_changed(self, old: set[str], new: set[str]) -> None:
        """A reload changed the strategies: drop the removed ones, read the added ones."""
        self.unread.intersection_update(new)
        self.unread.update(new - old)

    async def initial_read(self) -> None:
        """Adopt what the API holds for every unread strategy, then finish any half-done switch."""
        self.reading = True
        try:
            await self._read_unread()
        finally:
            self.reading = False
        await self.repair_rules()
        # After the repairs: deferrable, it may wait while urgent requests use the whole budget.
        await self._followers.learn_targets()

    async def _read_unread(self) -> None:
        failures = 0
        while self.unread and not self._stop.is_set():
            # Each strategy on its own: one that cannot be read (404, missing scope) must not keep
            # the others unwatched. An unread strategy is never written (the core waits for it).
            for strategy_id in sorted(self.unread):
                try:
                    current = await self._fence.read(strategy_id)
                except WRITE_ERRORS as exc:
                    log.error(
                        "cannot read strategy; not watching it yet", strategy=strategy_id, error=str(exc)
                    )
                    continue
                await self._engine.feed(
                    StrategySnapshot(
                        strategy_id, current.active_region(), current.version, self._clock(), initial=True
                    )
                )
                self.rule_repairs.add(strategy_id)
                self.unread.discard(strategy_id)
            if self.unread:
                failures += 1
                await sleep(READ_BACKOFF.delay(failures), self._stop)

    async def run(self) -> None:
        """Read strategies back periodically: the core compares them with what it believes (drift)."""
        while not await sleep(self._config().executor.reconcile_interval_seconds, self._stop):
            if not self._leadership.is_leader:
                continue  # a follower's beliefs are not the API's: no drift reports from it
            for strategy in self._config().strategies:
                if strategy.id in self._executor.in_flight or strategy.id in self.unread:
                    continue
                try:
                    # The read-back waits behind writes and decisive polls when they need the budget.
                    with request_priority(Priority.DEFERRABLE):
                        current = await self._strategies.of(strategy.id).read(strategy.id)
                except GenesysError as exc:
                    log.warning("strategy read-back failed", strategy=strategy.id, error=str(exc))
                    continue
                await self._engine.feed(
                    StrategySnapshot(strategy.id, current.active_region(), current.version, self._clock())
                )
            await self.repair_rules(everything=True)

    async def repair_rules(self, *, everything: bool = False) -> None:
        """Make every rule follow its strategy's active region (after start-up or a failed retarget);
        `everything`: the triggers, emergency groups, sites, IVRs and data actions of every strategy
        too (the periodic read-back of the platform's followers: drift there is repaired; a site
        whose media regions lack one the strategy needs is refused with the reason, every time)."""
        if not self._leadership.is_leader:
            return
        wanted = set(self.rule_repairs)
        if everything:
            wanted.update(s.id for s in self._config().strategies if self._followers.platform_of(s.id))
        for strategy_id in sorted(wanted):
            await self.follow_now(strategy_id)

    async def follow_now(self, strategy_id: str) -> None:
        """Make the followers of one strategy follow what the core believes now (its active region,
        and whether all its regions are down): the repair, and the answer to an all-down change."""
        if not self._leadership.is_leader:
            return
        status = self._engine.world.strategies.get(strategy_id)
        if status is None or status.active_region is None or strategy_id in self._executor.in_flight:
            return
        rules = strategy_id in self.rule_repairs
        if self._engine.policy.dry_run:
            self.rule_repairs.discard(strategy_id)
            return
        followed = await self._followers.follow(
            strategy_id, status.active_region, all_down=status.all_down, rules=rules
        )
        if followed.complete and rules:
            self.rule_repairs.discard(strategy_id)
