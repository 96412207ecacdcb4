"""Where a decision becomes a PUT: read, plan, write with the version, and on a conflict start over.

Optimistic locking means a write can lose a race with someone else's. The loser re-reads what the
server holds now, plans again from that, and retries, a bounded number of times. A write that would
change nothing is skipped, which makes every write idempotent and safe to repeat after a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from watcher.genesys.client import GenesysClient
from watcher.genesys.errors import VersionConflict
from watcher.reweight import plan_rule, plan_strategy, rule_matches, strategy_matches

log = structlog.get_logger("watcher.writer")


@dataclass(frozen=True)
class WriteOutcome:
    """What one write did: versions around it, how long it took, how many conflicts it met."""

    kind: str  # "strategy" | "rule"
    object_id: str
    changed: bool
    version_before: int | str | None
    version_after: int | str | None
    latency_seconds: float
    conflicts: int


async def write_strategy_order(
    client: GenesysClient,
    strategy_id: str,
    order: Sequence[str],
    *,
    attempts: int = 5,
    clock: Callable[[], float] = time.monotonic,
) -> WriteOutcome:
    """Make `strategy_id` route in `order` with one atomic PUT; re-read and re-plan on conflicts."""
    started = clock()
    conflicts = 0
    while True:
        current = await client.get_strategy(strategy_id)
        if strategy_matches(current, order):
            return WriteOutcome(
                "strategy",
                strategy_id,
                False,
                current.version,
                current.version,
                clock() - started,
                conflicts,
            )
        try:
            written = await client.put_strategy(plan_strategy(current, order))
        except VersionConflict:
            conflicts += 1
            log.warning("strategy version conflict; re-reading", strategy=strategy_id, conflicts=conflicts)
            if conflicts >= attempts:
                raise
            continue
        return WriteOutcome(
            "strategy", strategy_id, True, current.version, written.version, clock() - started, conflicts
        )


async def write_rule_target(
    client: GenesysClient,
    rule_id: str,
    region_targets: Mapping[str, str],
    region: str,
    *,
    attempts: int = 5,
    clock: Callable[[], float] = time.monotonic,
) -> WriteOutcome:
    """Point `rule_id` at `region`'s target with the version read; re-read and re-plan on conflicts."""
    started = clock()
    conflicts = 0
    while True:
        current = await client.get_rule(rule_id)
        if rule_matches(current, region_targets, region):
            return WriteOutcome(
                "rule", rule_id, False, current.version, current.version, clock() - started, conflicts
            )
        try:
            written = await client.put_rule(rule_id, plan_rule(current, region_targets, region))
        except VersionConflict:
            conflicts += 1
            log.warning("rule version conflict; re-reading", rule=rule_id, conflicts=conflicts)
            if conflicts >= attempts:
                raise
            continue
        return WriteOutcome(
            "rule", rule_id, True, current.version, written.version, clock() - started, conflicts
        )
