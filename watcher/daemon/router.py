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
from collections.abc import Sequence

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
    """The queue from the engine to the router; `publish` is the engine's `on_actions`."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[Batch](math.inf)

    async def publish(self, actions: Sequence[Action], world: WorldState, event: Event) -> None:
        with contextlib.suppress(anyio.ClosedResourceError):  # stopped: nothing acts on it any more
            self._send.send_nowait((actions, world, event))

    async def next(self) -> Batch:
        return await self._receive.receive()

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
        if isinstance(event, Observation):
            # An observation changes its region and, at most, the strategies over it.
            self._announce.gauges(world, [event.region], policy.strategies_of(event.region))
        else:
            self._announce.gauges(world, world.regions, policy.strategies)
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
