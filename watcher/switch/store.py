"""Where a strategy's routing is written: its API object, or a virtual strategy's decision.

Both are a `StrategyStore`: `read` answers a `Strategy` with its version, `write_order` makes it
route in an order by the one write loop, `fence` writes it back unchanged. `Strategies` picks the
store of a strategy, so the executor and the read-back never ask which kind a strategy is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from watcher.genesys import Copies, GenesysClient, Strategy
from watcher.switch.plan import plan_strategy, strategy_matches
from watcher.switch.policy import WritePolicy
from watcher.switch.virtual import VirtualStrategies
from watcher.switch.writes import WriteOutcome, rewrite_unchanged, write_with_retries


class StrategyStore(Protocol):
    """What a strategy's routing is kept in."""

    async def read(self, strategy_id: str) -> Strategy: ...

    async def write_order(self, strategy_id: str, order: Sequence[str], policy: WritePolicy) -> WriteOutcome:
        """Make the strategy route in `order` (`order[0]` first, full weight)."""
        ...


class ApiStrategies:
    """The strategies of the API, written with one atomic PUT each.

    With `copies` (the last copy of every strategy read or written), the first attempt of a write
    is planned from the copy (no GET), and every read and write keeps the copy current.
    """

    def __init__(self, client: GenesysClient, copies: Copies | None = None) -> None:
        self._client = client
        self._copies = copies  # None: every write reads first
        self._kept = copies if copies is not None else Copies()

    async def read(self, strategy_id: str) -> Strategy:
        return self._kept.keep_strategy(await self._client.get_strategy(strategy_id))

    def last(self, strategy_id: str) -> Strategy | None:
        """The API's copy as last read or written (None before the first): no request."""
        return self._kept.strategy(strategy_id)

    async def write_order(self, strategy_id: str, order: Sequence[str], policy: WritePolicy) -> WriteOutcome:
        kept, client = self._kept, self._client

        async def write(current: Strategy) -> Strategy:
            planned = plan_strategy(current, order)
            try:
                written = await client.put_strategy(planned, retries=0)
            except Exception:
                kept.drop_strategy(strategy_id)  # refused or maybe landed: the next attempt reads
                raise
            if written is planned:  # no body in the answer: the new version is unknown
                kept.drop_strategy(strategy_id)
                return written
            return kept.keep_strategy(written)

        return await write_with_retries(
            "strategy",
            strategy_id,
            lambda: self.read(strategy_id),
            lambda current: strategy_matches(current, order),
            write,
            policy,
            first=None if self._copies is None else self._copies.strategy(strategy_id),
        )

    async def fence(self, strategy_id: str, policy: WritePolicy) -> Strategy:
        """Write the strategy back as read: its version moves on (a new leader's fence)."""
        kept, client = self._kept, self._client
        kept.drop_strategy(strategy_id)  # kept again only from the fence's own answer
        fenced = await rewrite_unchanged(
            lambda: client.get_strategy(strategy_id),
            lambda current: client.put_strategy(current, retries=0),
            policy,
        )
        return kept.keep_strategy(fenced)


async def write_strategy_order(
    client: GenesysClient,
    strategy_id: str,
    order: Sequence[str],
    policy: WritePolicy | None = None,
    *,
    copies: Copies | None = None,
) -> WriteOutcome:
    """Make `strategy_id` route in `order` with one atomic PUT; re-read and re-plan on conflicts
    (the one-shot commands' form of `ApiStrategies.write_order`)."""
    return await ApiStrategies(client, copies).write_order(strategy_id, order, policy or WritePolicy())


class Strategies:
    """Every strategy's store: the API's, or (a `kind = "virtual"` strategy) its durable decision."""

    def __init__(self, api: ApiStrategies, virtual: VirtualStrategies | None = None) -> None:
        self.api = api
        self.virtual = virtual

    def of(self, strategy_id: str) -> StrategyStore:
        virtual = self.virtual
        return virtual if virtual is not None and virtual.is_virtual(strategy_id) else self.api
