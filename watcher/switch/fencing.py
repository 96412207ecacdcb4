"""Fencing: a new leader among several instances writes every object it owns back unchanged
before its first decision.

Each object's version moves on, so a write that a deposed leader planned on a version read before
the takeover is refused with a conflict (and the deposed instance, which re-reads and re-checks
leadership before any retry, does not try again). A single instance (`gate.fences` false) only
reads.
"""

from __future__ import annotations

import structlog

from watcher.genesys import Strategy
from watcher.switch.followers import Followers
from watcher.switch.policy import Gate, WritePolicy
from watcher.switch.store import Strategies
from watcher.switch.virtual import VirtualStrategies

log = structlog.get_logger("watcher.daemon")


class Fence:
    """The first read of a strategy by a (new) leader: fenced first when other instances may have
    written. Raises one of `WRITE_ERRORS` when the strategy cannot be read or fenced."""

    def __init__(self, strategies: Strategies, followers: Followers, gate: Gate, policy: WritePolicy) -> None:
        self._strategies = strategies
        self._followers = followers
        self._gate = gate
        self._policy = policy

    async def read(self, strategy_id: str) -> Strategy:
        """The strategy as the API holds it (fenced, with its followers, by a new leader)."""
        virtual = self._strategies.virtual
        if virtual is not None and virtual.is_virtual(strategy_id):
            return await self._read_virtual(virtual, strategy_id)
        api = self._strategies.api
        if not self._gate.fences:
            return await api.read(strategy_id)
        fenced = await api.fence(strategy_id, self._policy.confirming(self._gate, strategy_id))
        await self._followers.fence(strategy_id)
        log.info("fenced as the new leader", strategy=strategy_id, version=fenced.version)
        return fenced

    async def _read_virtual(self, store: VirtualStrategies, strategy_id: str) -> Strategy:
        """A virtual strategy's decision: the shared one (a former leader's) if newer, else ours; at
        the very first start, what its followers agree on (see `virtual.py`). Its followers are
        fenced by a new leader like a strategy's."""
        if self._gate.fences:
            await store.restore_shared()
        if not store.known(strategy_id):
            await store.adopt(strategy_id, await self._followers.region_said(strategy_id))
        if self._gate.fences:
            await self._followers.fence(strategy_id)
        return await store.read(strategy_id)
