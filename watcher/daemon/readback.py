"""The read-back: what the API holds is read, adopted, compared with what the watcher believes, and
followed (level-triggered).

- At start (and whenever this instance becomes the leader) every strategy is read and adopted as it
  is: the watcher reconciles what is, it does not replay history.
- Then strategies are read back periodically; the core compares them with what it believes (drift).
- Rules follow their strategy: after a start, a reload or a switch whose rule writes failed, rules
  that do not point at their strategy's active region are retargeted.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import structlog

from watcher.aio import Backoff, sleep
from watcher.config import WatcherConfig
from watcher.core import StrategySnapshot
from watcher.daemon.engine import Engine
from watcher.daemon.executor import Executor
from watcher.daemon.followers import Followers
from watcher.daemon.leadership import Leadership
from watcher.daemon.virtual import VirtualStrategies
from watcher.genesys import Copies, GenesysClient, GenesysError, Priority, Strategy, request_priority
from watcher.metrics import WatcherMetrics
from watcher.writer import WriteRefused, rewrite_unchanged

log = structlog.get_logger("watcher.daemon")

READ_BACKOFF = Backoff(2.0, 60.0, "none")


class ReadBack:
    """Reads strategies into the core and keeps rules following them."""

    def __init__(
        self,
        client: GenesysClient,
        engine: Engine,
        executor: Executor,
        followers: Followers,
        leadership: Leadership,
        config: Callable[[], WatcherConfig],
        *,
        metrics: WatcherMetrics,
        stop: anyio.Event,
        clock: Callable[[], float],
        virtual: VirtualStrategies | None = None,
        copies: Copies | None = None,
    ) -> None:
        self._virtual = virtual
        self._client = client
        # Every strategy read here refreshes its copy: the next switch is planned from it.
        self._copies = copies if copies is not None else Copies()
        self._engine = engine
        self._executor = executor
        self._followers = followers
        self._leadership = leadership
        self._config = config
        self._metrics = metrics
        self._stop = stop
        self._clock = clock
        # Strategies whose state the API has not told us yet: never written, not ready. Shared with
        # a running initial read, so it is only ever changed in place.
        self.unread: set[str] = {s.id for s in config().strategies}
        self.rule_repairs: set[str] = set()
        self.reading = False

    def strategies_changed(self, old: set[str], new: set[str]) -> None:
        """A reload changed the strategies: drop the removed ones, read the added ones."""
        self.unread.intersection_update(new)
        self.unread.update(new - old)

    def read_all_again(self) -> None:
        """Leadership was gained: the former leader may have switched, or died before it could."""
        self.unread.update(s.id for s in self._config().strategies)

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
                    current = await self._read_or_fence(strategy_id)
                except (GenesysError, WriteRefused) as exc:
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

    async def _read_or_fence(self, strategy_id: str) -> Strategy:
        """Read the strategy; a new leader among several instances first fences it and its rules.

        Fencing writes each object back unchanged: its version moves on, so a write that a deposed
        leader planned on a version read before the takeover is refused with a conflict (and the
        deposed instance, which re-reads and re-checks before any retry, does not try again).
        """
        client, gate, copies = self._client, self._leadership, self._copies
        store = self._virtual
        if store is not None and store.is_virtual(strategy_id):
            return await self._read_virtual(store, strategy_id)
        if not gate.fences:
            return copies.keep_strategy(await client.get_strategy(strategy_id))
        copies.drop_strategy(strategy_id)  # kept again only from the fence's own answer
        fenced = copies.keep_strategy(
            await rewrite_unchanged(
                lambda: client.get_strategy(strategy_id),
                lambda current: client.put_strategy(current, retries=0),
                lambda: gate.confirm(strategy_id),
            )
        )
        for rule in self._followers.rules_of(strategy_id):
            copies.drop_rule(rule.id)
            copies.keep_rule(
                rule.id,
                await rewrite_unchanged(
                    lambda rule_id=rule.id: client.get_rule(rule_id),  # type: ignore[misc]
                    lambda current, rule_id=rule.id: client.put_rule(rule_id, current, retries=0),  # type: ignore[misc]
                    lambda: gate.confirm(strategy_id),
                ),
            )
        await self._followers.fence(strategy_id)
        log.info("fenced as the new leader", strategy=strategy_id, version=fenced.version)
        return fenced

    async def _read_virtual(self, store: VirtualStrategies, strategy_id: str) -> Strategy:
        """A virtual strategy's decision: the shared one (a former leader's) if newer, else ours; at
        the very first start, what its followers agree on (see `virtual.py`). Its followers are
        fenced by a new leader like a strategy's."""
        if self._leadership.fences:
            await store.restore_shared()
        if not store.known(strategy_id):
            await store.adopt(strategy_id, await self._followers.region_said(strategy_id))
        if self._leadership.fences:
            for rule in self._followers.rules_of(strategy_id):
                await rewrite_unchanged(
                    lambda rule_id=rule.id: self._client.get_rule(rule_id),  # type: ignore[misc]
                    lambda current, rule_id=rule.id: self._client.put_rule(rule_id, current, retries=0),  # type: ignore[misc]
                    lambda: self._leadership.confirm(strategy_id),
                )
            await self._followers.fence(strategy_id)
        return await store.get(strategy_id)

    async def _read_current(self, strategy_id: str) -> Strategy:
        store = self._virtual
        if store is not None and store.is_virtual(strategy_id) and store.known(strategy_id):
            return await store.get(strategy_id)
        return self._copies.keep_strategy(await self._client.get_strategy(strategy_id))

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
                        current = await self._read_current(strategy.id)
                except GenesysError as exc:
                    log.warning("strategy read-back failed", strategy=strategy.id, error=str(exc))
                    continue
                await self._engine.feed(
                    StrategySnapshot(strategy.id, current.active_region(), current.version, self._clock())
                )
            await self.repair_rules(everything=True)

    async def repair_rules(self, *, everything: bool = False) -> None:
        """Make every rule follow its strategy's active region (after start-up or a failed retarget);
        `everything`: the triggers and emergency groups of every strategy too (the periodic read-back
        of the platform's followers: drift there is repaired)."""
        if not self._leadership.is_leader:
            return
        wanted = set(self.rule_repairs)
        if everything:
            wanted.update(s.id for s in self._config().strategies if self._followers.others_of(s.id))
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
