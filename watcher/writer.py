"""Where a decision becomes a PUT: read, plan, write with the version, and on a conflict start over.

Optimistic locking means a write can lose a race with someone else's. The loser re-reads what the
server holds now, plans again from that, and retries, a bounded number of times. A write that would
change nothing is skipped, which makes every write idempotent and safe to repeat after a crash.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import structlog

from watcher.genesys.client import GenesysClient
from watcher.genesys.errors import VersionConflict
from watcher.reweight import plan_rule, plan_strategy, rule_matches, strategy_matches

log = structlog.get_logger("watcher.writer")


class _Versioned(Protocol):
    @property
    def version(self) -> int | str | None: ...


V = TypeVar("V", bound=_Versioned)


WriteKind = Literal["strategy", "rule"]


@dataclass(frozen=True)
class WriteOutcome:
    """What one write did: versions around it, how long it took, how many conflicts it met."""

    kind: WriteKind
    object_id: str
    changed: bool
    version_before: int | str | None
    version_after: int | str | None
    latency_seconds: float
    conflicts: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, for `/status`, events and the switch log (the edge)."""
        return {
            "kind": self.kind,
            "id": self.object_id,
            "changed": self.changed,
            "versionBefore": self.version_before,
            "versionAfter": self.version_after,
            "latencySeconds": round(self.latency_seconds, 6),
            "conflicts": self.conflicts,
        }


async def write_with_retries(
    kind: WriteKind,
    object_id: str,
    read: Callable[[], Awaitable[V]],
    already: Callable[[V], bool],
    write: Callable[[V], Awaitable[V]],
    *,
    attempts: int,
    clock: Callable[[], float],
) -> WriteOutcome:
    """Read; if it is already as wanted, stop; else write the plan made from what was read.

    A version conflict means someone wrote in between: read again and plan from that, `attempts` times.
    """
    started = clock()
    conflicts = 0
    while True:
        current = await read()
        if already(current):
            return WriteOutcome(
                kind, object_id, False, current.version, current.version, clock() - started, conflicts
            )
        try:
            written = await write(current)
        except VersionConflict:
            conflicts += 1
            log.warning(f"{kind} version conflict; re-reading", id=object_id, conflicts=conflicts)
            if conflicts >= attempts:
                raise
            continue
        return WriteOutcome(
            kind, object_id, True, current.version, written.version, clock() - started, conflicts
        )


async def write_strategy_order(
    client: GenesysClient,
    strategy_id: str,
    order: Sequence[str],
    *,
    attempts: int = 5,
    clock: Callable[[], float] = time.monotonic,
) -> WriteOutcome:
    """Make `strategy_id` route in `order` with one atomic PUT; re-read and re-plan on conflicts."""
    return await write_with_retries(
        "strategy",
        strategy_id,
        lambda: client.get_strategy(strategy_id),
        lambda current: strategy_matches(current, order),
        lambda current: client.put_strategy(plan_strategy(current, order)),
        attempts=attempts,
        clock=clock,
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
    return await write_with_retries(
        "rule",
        rule_id,
        lambda: client.get_rule(rule_id),
        lambda current: rule_matches(current, region_targets, region),
        lambda current: client.put_rule(rule_id, plan_rule(current, region_targets, region)),
        attempts=attempts,
        clock=clock,
    )
