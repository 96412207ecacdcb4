"""Virtual strategies (SPEC §6.2): a strategy with no API object, whose decision is kept here.

The store is a `StrategyStore` like the API's (`read` answers a `Strategy` with a version,
`write_order` is the write), so the executor, the core and the read-back treat both kinds the
same. The decision (the region order and a version counter, moved on by every write) is kept
durably under `[state] dir` (written atomically) and, with several instances, in the leader
backend's shared state, so a new leader carries on from the last one's decision.

At the first start with no stored decision the store adopts what the strategy's followers say,
when every follower that names a region (rules, triggers) names the same one; otherwise (they
disagree, or none names a region) the preferred region. Either way the followers are then made
to follow that decision.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import structlog

from watcher.atomic import write_json
from watcher.config import WatcherConfig
from watcher.genesys import RoutingConfig, Strategy, StrategyRegion
from watcher.switch.memory import SharedState
from watcher.switch.plan import plan_strategy, strategy_matches
from watcher.switch.policy import WritePolicy
from watcher.switch.writes import WriteOutcome, write_with_retries

log = structlog.get_logger("watcher.virtual")

FILE_NAME = "virtual-strategies.json"
SHARED_NAME = "virtual-strategies"


def as_strategy(strategy_id: str, order: Sequence[str], version: int) -> Strategy:
    """The decision as a `Strategy`: the first region at priority 1 and the full weight."""
    regions = [
        StrategyRegion(regionId=region, priority=i + 1, weight=100 if i == 0 else 0)
        for i, region in enumerate(order)
    ]
    return Strategy(id=strategy_id, routingConfig=RoutingConfig(regions=regions), version=version)


def _parse(text: str | None) -> dict[str, tuple[list[str], int]]:
    """The stored decisions; anything unreadable is ignored (logged), never fatal."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
        out: dict[str, tuple[list[str], int]] = {}
        for sid, entry in doc.get("strategies", {}).items():
            order, version = entry["order"], entry["version"]
            strings = isinstance(order, list) and all(isinstance(r, str) for r in order)
            if strings and isinstance(version, int):
                out[sid] = (order, version)
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("stored virtual strategy decisions unreadable; ignored", error=repr(exc))
        return {}


class VirtualStrategies:
    """The decisions of every `kind = "virtual"` strategy, durable and shared."""

    def __init__(self, directory: Path, config: Callable[[], WatcherConfig], leadership: SharedState) -> None:
        self._path = directory / FILE_NAME
        self._config = config
        self._leadership = leadership
        self._lock = anyio.Lock()
        try:
            text: str | None = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        self._decisions = _parse(text)

    def is_virtual(self, strategy_id: str) -> bool:
        return any(s.id == strategy_id and s.kind == "virtual" for s in self._config().strategies)

    def _preference(self, strategy_id: str) -> list[str]:
        return next(s.regions for s in self._config().strategies if s.id == strategy_id)

    def known(self, strategy_id: str) -> bool:
        return strategy_id in self._decisions

    async def restore_shared(self) -> None:
        """Adopt the shared decisions (another instance's, as leader) that are newer than ours."""
        try:
            shared = _parse(await self._leadership.load_shared(SHARED_NAME))
        except Exception as exc:  # the backend is down: keep this instance's decisions
            log.error("could not read the shared virtual strategy decisions", error=repr(exc))
            return
        async with self._lock:
            newer = {
                sid: decision
                for sid, decision in shared.items()
                if sid not in self._decisions or self._decisions[sid][1] < decision[1]
            }
            if newer:
                self._decisions.update(newer)
                await self._write_local()
                log.info("virtual strategy decisions adopted from the shared state", strategies=sorted(newer))

    async def adopt(self, strategy_id: str, region: str | None) -> None:
        """First start with no stored decision: `region` (what the followers agree on) first, or the
        preferred region; the other regions follow in preference order."""
        preference = self._preference(strategy_id)
        first = region if region in preference else preference[0]
        order = [first, *(r for r in preference if r != first)]
        log.info("virtual strategy: no stored decision; adopted", strategy=strategy_id, order=order)
        await self._store(strategy_id, order, 1)

    async def read(self, strategy_id: str) -> Strategy:
        return await self.get(strategy_id)

    async def get(self, strategy_id: str) -> Strategy:
        order, version = self._decisions[strategy_id]
        # A reload may have changed the regions: drop the unknown, append the new ones.
        preference = self._preference(strategy_id)
        order = [r for r in order if r in preference] + [r for r in preference if r not in order]
        return as_strategy(strategy_id, order, version)

    async def _put(self, strategy: Strategy) -> Strategy:
        version = (strategy.version if isinstance(strategy.version, int) else 0) + 1
        await self._store(strategy.id, strategy.region_order(), version)
        return as_strategy(strategy.id, strategy.region_order(), version)

    async def _store(self, strategy_id: str, order: list[str], version: int) -> None:
        async with self._lock:
            self._decisions[strategy_id] = (order, version)
            doc = await self._write_local()
        try:
            await self._leadership.save_shared(SHARED_NAME, json.dumps(doc))
        except Exception as exc:  # kept locally; the next write shares it again
            log.error("could not share the virtual strategy decision", strategy=strategy_id, error=repr(exc))

    async def _write_local(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "strategies": {sid: {"order": o, "version": v} for sid, (o, v) in self._decisions.items()}
        }
        await anyio.to_thread.run_sync(write_json, self._path, doc)
        return doc

    async def write_order(self, strategy_id: str, order: Sequence[str], policy: WritePolicy) -> WriteOutcome:
        """The virtual strategy's "PUT": the durable local write (after the leadership check)."""
        return await write_with_retries(
            "strategy",
            strategy_id,
            lambda: self.get(strategy_id),
            lambda current: strategy_matches(current, order),
            lambda current: self._put(plan_strategy(current, order)),
            policy,
        )
