"""Where the core's actions go: the router between the engine and the parts that act on them.

The engine publishes each batch of actions, with the world they came from and the event that
caused them, on `Decisions` (a queue: the engine never waits on what follows). The router takes
the batches in order: gauges first (they mirror the world, which already changed), then writes
started (a `Reweight`: the executor, in a task of its own; an all-down change: the followers that
follow it), then the decisions told (log, audit trail, events). Writes start first: telling must
never delay a failover, however slow the disk under the outbox is.

Nothing here calls back into the lifecycle: a switch's outcome goes to the announcer and the
read-back's repairs (`SwitchOutcomes`) and, as an event, to the engine.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence

import anyio
import structlog
from anyio.abc import TaskGroup

from watcher.core import (
    Action,
    AllRegionsDown,
    AllRegionsDownCleared,
    Event,
    Observation,
    Reweight,
    WorldState,
)
from watcher.daemon.announce import Announcer
from watcher.daemon.engine import Engine
from watcher.daemon.readback import ReadBack
from watcher.switch import Executor, SwitchReport, SwitchResult

log = structlog.get_logger("watcher.daemon")

Batch = tuple[Sequence[Action], WorldState, Event]


class Decisions:
    """The queue from the engine to the router; `publish` is the engine's `on_actions`.

    A quiet observation (no action: the steady state, a hundred a second) only moves gauges. When
    every batch before it has had its gauges set, the router's `quiet` handler sets them at once,
    in the engine's turn, instead of a trip through the queue and a wake-up of the router; while
    any batch waits, it queues behind them, so gauges never go back to an older world.
    """

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[Batch](math.inf)
        self.quiet: Callable[[WorldState, Observation], None] | None = None
        self._ungauged = 0  # batches published whose gauges the router has not set yet

    async def publish(self, actions: Sequence[Action], world: WorldState, event: Event) -> None:
        if not actions and self._ungauged == 0 and self.quiet is not None and isinstance(event, Observation):
            self.quiet(world, event)
            return
        with contextlib.suppress(anyio.ClosedResourceError):  # stopped: nothing acts on it any more
            self._send.send_nowait((actions, world, event))
            self._ungauged += 1

    async def next(self) -> Batch:
        return await self._receive.receive()

    def gauged(self) -> None:
        """The router has set the gauges of the batch `next` gave it."""
        self._ungauged = max(0, self._ungauged - 1)

    def close(self) -> None:
        """The daemon has stopped: nothing more is decided or routed."""
        self._send.close()
        self._receive.close()


class SwitchOutcomes:
    """The executor's report sink: a partial switch leaves its rules to the read-back's repair;
    every switch is told (log, metrics, audit trail, events)."""

    def __init__(self, announce: Announcer, rule_repairs: set[str]) -> None:
        self._announce = announce
        self._rule_repairs = rule_repairs  # shared with the read-back

    async def __call__(self, report: SwitchReport, action: Reweight) -> None:
        if report.result is SwitchResult.PARTIAL:
            self._rule_repairs.add(action.strategy)
        await self._announce.switch(report, action)


class Router:
    """Takes the engine's decisions in order and hands each action to the part that acts on it."""

    def __init__(
        self,
        decisions: Decisions,
        engine: Engine,
        executor: Executor,
        readback: ReadBack,
        announce: Announcer,
    ) -> None:
        self._decisions = decisions
        self._engine = engine
        self._executor = executor
        self._readback = readback
        self._announce = announce
        decisions.quiet = self._quiet

    def _quiet(self, world: WorldState, obs: Observation) -> None:
        """A batch without actions for an observation: its region's and strategies' gauges."""
        try:
            self._announce.world_gauges.update(
                world, (obs.region,), self._engine.policy.strategies_of(obs.region)
            )
        except Exception:  # as in `run`: a failure to tell never reaches the poll that fed the event
            log.exception("routing a decision failed", event="Observation")

    async def run(self) -> None:
        """Route every batch; the writes it starts run in this task's group."""
        async with anyio.create_task_group() as tg:
            while True:
                actions, world, event = await self._decisions.next()
                try:
                    await self.route(tg, actions, world, event)
                except Exception:  # telling failed (a full disk): the writes it started go on
                    log.exception("routing a decision failed", event=type(event).__name__)

    async def route(self, tg: TaskGroup, actions: Sequence[Action], world: WorldState, event: Event) -> None:
        policy = self._engine.policy
        try:
            if isinstance(event, Observation):
                # An observation changes its region and, at most, the strategies over it.
                self._announce.world_gauges.update(world, [event.region], policy.strategies_of(event.region))
            else:
                self._announce.world_gauges.update(world, world.regions, policy.strategies)
        finally:
            self._decisions.gauged()
        for action in actions:
            if isinstance(action, Reweight):
                tg.start_soon(self._executor.execute, action, name=f"write:{action.strategy}")
            elif isinstance(action, AllRegionsDown | AllRegionsDownCleared) and (
                self._executor.followers.platform_of(action.strategy)
            ):
                # Nothing is routed elsewhere, but `all-down` emergency groups follow this.
                tg.start_soon(self._readback.follow_now, action.strategy, name=f"follow:{action.strategy}")
        for action in actions:
            await self._announce.decision(action)
