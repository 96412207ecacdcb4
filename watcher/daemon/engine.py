"""Where an observation becomes a decision: the one place the pure core's `step` is called.

The engine holds the `WorldState`, feeds it events one at a time (a lock keeps them in order even
though they come from many tasks), and hands the resulting actions on (to `router.py`, through a
queue). Nothing here decides anything: the core does.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from watcher.config import WatcherConfig
from watcher.core import (
    Action,
    CorePolicy,
    Event,
    FailbackPolicy,
    OperatorFailback,
    OperatorMove,
    Refused,
    RegionHealth,
    Reweight,
    SafetyPolicy,
    StrategyPolicy,
    StrategyStatus,
    SwitchLedger,
    Thresholds,
    WorldState,
    WriteFailed,
    WriteSkipped,
    WriteSucceeded,
    step,
)


@dataclass(frozen=True)
class Switched:
    """What an operator's (or a drill's) move fed to the core came to: refused (and why), nothing to
    write (`write` None: already there), or the write and its outcome (None: still in flight)."""

    refused: Refused | None
    write: Reweight | None
    outcome: WriteSucceeded | WriteFailed | WriteSkipped | None = None


def policy_from_config(cfg: WatcherConfig, *, dry_run: bool | None = None) -> CorePolicy:
    """The core's policy as the config describes it."""
    f = cfg.failback
    return CorePolicy(
        thresholds=Thresholds(fall=cfg.health.fall, rise=cfg.health.rise),
        failback=FailbackPolicy(
            mode=f.mode,
            hold_seconds=f.hold_seconds,
            flap_window_seconds=f.flap_window_seconds,
            max_hold_seconds=f.max_hold_seconds,
        ),
        strategies=tuple(
            StrategyPolicy(
                id=s.id,
                preference=tuple(s.regions),
                drift=s.drift,
                retry_seconds=cfg.executor.write_retry_seconds,
            )
            for s in cfg.strategies
        ),
        dry_run=cfg.dry_run if dry_run is None else dry_run,
        safety=SafetyPolicy(
            max_switches=cfg.safety.max_switches,
            window_seconds=cfg.safety.window_seconds,
            min_seconds_between_switches=cfg.safety.min_seconds_between_switches,
        ),
    )


class Engine:
    """Feeds events to the core in order and passes its actions on."""

    def __init__(
        self,
        policy: CorePolicy,
        on_actions: Callable[[Sequence[Action], WorldState, Event], Awaitable[None]],
    ) -> None:
        self.policy = policy
        self.world = WorldState.initial(policy)
        self._on_actions = on_actions
        # Uncontended (the steady state), taking the lock does not yield to the loop: one event
        # loop turn less per poll. Contended, it queues first come first served as before.
        self._lock = anyio.Lock(fast_acquire=True)
        self.events = 0
        self._routed: tuple[Mapping[str, StrategyStatus] | None, frozenset[str]] = (None, frozenset())
        self._watchers: set[MemoryObjectSendStream[tuple[Event, WorldState]]] = set()

    async def feed(self, event: Event) -> None:
        await self.decide(event)

    async def decide(self, event: Event) -> tuple[Action, ...]:
        """`feed`, for a caller that needs the actions too (an operator command and its refusal)."""
        async with self._lock:
            self.world, actions = step(self.world, event, self.policy)
            self.events += 1
            for watcher in self._watchers:
                watcher.send_nowait((event, self.world))
            await self._on_actions(actions, self.world, event)
            return actions

    @contextmanager
    def watching(self) -> Iterator[MemoryObjectReceiveStream[tuple[Event, WorldState]]]:
        """Every event fed from now on, with the world after it (an operator command waits on its
        write's outcome this way)."""
        send, receive = anyio.create_memory_object_stream[tuple[Event, WorldState]](math.inf)
        self._watchers.add(send)
        try:
            yield receive
        finally:
            self._watchers.discard(send)
            send.close()
            receive.close()

    async def switch(self, event: OperatorMove | OperatorFailback, wait: float) -> Switched:
        """Feed a move or failback, then wait up to `wait` seconds for its write's outcome (the
        executor feeds it back)."""
        with self.watching() as fed:
            actions = await self.decide(event)
            refused = next((a for a in actions if isinstance(a, Refused)), None)
            write = next((a for a in actions if isinstance(a, Reweight)), None)
            if refused is not None or write is None:
                return Switched(refused, write)
            with anyio.move_on_after(wait):
                async for seen, _ in fed:
                    if isinstance(seen, WriteSucceeded | WriteFailed | WriteSkipped) and (
                        seen.strategy,
                        seen.region,
                    ) == (write.strategy, write.to_region):
                        return Switched(None, write, seen)
        return Switched(None, write)

    def replace_policy(self, policy: CorePolicy) -> None:
        """Adopt a reloaded policy: keep what is known of regions and strategies that remain."""
        regions = {r: self.world.regions.get(r, RegionHealth(r)) for r in policy.regions}
        strategies = {s.id: self.world.strategies.get(s.id, StrategyStatus(s.id)) for s in policy.strategies}
        # The safety budget's switches are kept: a reload does not reset it.
        self.world = WorldState(regions=regions, strategies=strategies, ledger=self.world.ledger)
        self.policy = policy

    def active_region(self, strategy: str) -> str | None:
        """What the strategy routes to now, as the core believes."""
        status = self.world.strategies.get(strategy)
        return None if status is None else status.active_region

    def adopt_ledger(self, ledger: SwitchLedger) -> None:
        """At start: the safety budget's switches as the last run left them (`budget.py`)."""
        self.world = replace(self.world, ledger=ledger)

    def settling(self, region: str) -> bool:
        health = self.world.regions.get(region)
        return health is None or health.settling

    def decisive(self, region: str) -> bool:
        """Whether a poll of `region` can change a decision now: it is not known healthy (failing,
        recovering, unknown), or it is settling, or some strategy routes to it, is moving to it, or
        would move to it next (its first healthy region other than the active one). A region of no
        strategy decides nothing.

        Asked before every poll, so it looks only at the strategies that list the region, and at
        the regions routed to, which are worked out again only when a strategy's status changed.
        """
        world = self.world
        health = world.regions.get(region)
        if health is None:
            return False
        if not health.healthy or health.settling or region in self._routed_to(world.strategies):
            return True
        for sp in self.policy.strategies_of(region):
            status = world.strategies.get(sp.id)
            active = None if status is None else status.active_region
            for candidate in sp.preference:
                if candidate == active:
                    continue
                other = world.regions.get(candidate)
                if other is not None and other.healthy:
                    if candidate == region:
                        return True
                    break
        return False

    def _routed_to(self, strategies: Mapping[str, StrategyStatus]) -> frozenset[str]:
        """The regions some strategy routes to or is moving to (`step` keeps the same mapping while
        no strategy changes, so this is worked out once per change)."""
        if self._routed[0] is not strategies:
            routed = frozenset(
                r for s in strategies.values() for r in (s.active_region, s.write.target) if r is not None
            )
            self._routed = (strategies, routed)
        return self._routed[1]
