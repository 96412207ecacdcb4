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

import anyio
import structlog

from watcher.aio import Backoff, Sleeper
from watcher.genesys.client import GenesysClient
from watcher.genesys.copies import Copies
from watcher.genesys.errors import (
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportFailure,
    VersionConflict,
)
from watcher.genesys.models import RoutingRule, Strategy
from watcher.reweight import PlanError, plan_rule, plan_strategy, rule_matches, strategy_matches

log = structlog.get_logger("watcher.writer")


class _Versioned(Protocol):
    @property
    def version(self) -> int | str | None: ...


V = TypeVar("V", bound=_Versioned)
Confirm = Callable[[], Awaitable[bool]]

# A write that failed in transit may have landed: it is never resent blind, but re-read first.
_IN_TRANSIT = (ServerError, TransportFailure, RequestTimeout, RateLimited)
WRITE_BACKOFF = Backoff(0.25, 8.0)
MAX_RETRY_AFTER = 60.0


class WriteRefused(Exception):
    """The write was not sent: this instance could not confirm it still leads."""


WriteKind = Literal["strategy", "rule", "trigger", "emergency_group"]


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
    confirm: Confirm | None = None,
    sleeper: Sleeper = anyio.sleep,
    first: V | None = None,
) -> WriteOutcome:
    """Read; if it is already as wanted, stop; else write the plan made from what was read.

    Every attempt starts with a read, and (`confirm`) a check that this instance still leads made
    *after* that read: a write is only ever planned on what the server held while we led. A version
    conflict means someone wrote in between; a failure in transit (5xx, transport, timeout, 429)
    may or may not have landed. Either way: read again and plan from that, `attempts` times.

    `first`, a copy of the object as last read or written (with its version), replaces the first
    read: the first PUT is planned from it and carries its version, so a copy gone stale is refused
    with a conflict, and the retry reads. A copy that says "already as wanted" proves nothing about
    the server (someone may have changed it since): the object is read then, as without a copy.
    """
    started = clock()
    conflicts = failures = 0
    held = first
    while True:
        from_copy = held is not None and not already(held)
        if from_copy and held is not None:
            current, held = held, None
        else:
            held = None
            current = await read()
        if already(current):
            return WriteOutcome(
                kind, object_id, False, current.version, current.version, clock() - started, conflicts
            )
        if confirm is not None and not await confirm():
            raise WriteRefused(f"{kind} {object_id}: leadership could not be confirmed; not written")
        try:
            written = await write(current)
        except PlanError:
            if from_copy:  # the copy does not fit the plan: what does the server hold now?
                continue
            raise
        except VersionConflict:
            conflicts += 1
            log.warning(f"{kind} version conflict; re-reading", id=object_id, conflicts=conflicts)
            if conflicts >= attempts:
                raise
            continue
        except _IN_TRANSIT as exc:
            failures += 1
            if failures >= attempts:
                raise
            after = exc.retry_after if isinstance(exc, RateLimited) else None
            delay = min(after, MAX_RETRY_AFTER) if after is not None else WRITE_BACKOFF.delay(failures)
            log.warning(
                f"{kind} write failed in transit; re-reading before trying again",
                id=object_id,
                error=str(exc),
                retry_in=round(delay, 3),
            )
            await sleeper(delay)
            continue
        return WriteOutcome(
            kind, object_id, True, current.version, written.version, clock() - started, conflicts
        )


async def rewrite_unchanged(
    read: Callable[[], Awaitable[V]], write: Callable[[V], Awaitable[V]], confirm: Confirm
) -> V:
    """Fence an object: write it back as read, so its version moves on and any write planned on an
    older version (a deposed leader's) is refused with a conflict."""
    current = await read()
    if not await confirm():
        raise WriteRefused("leadership could not be confirmed; not fenced")
    return await write(current)


async def write_strategy_order(
    client: GenesysClient,
    strategy_id: str,
    order: Sequence[str],
    *,
    attempts: int = 5,
    clock: Callable[[], float] = time.monotonic,
    confirm: Confirm | None = None,
    copies: Copies | None = None,
) -> WriteOutcome:
    """Make `strategy_id` route in `order` with one atomic PUT; re-read and re-plan on conflicts.

    With `copies`, the first attempt is planned from the last copy (no GET), and every read and
    write keeps the copy current."""
    store = copies if copies is not None else Copies()

    async def read() -> Strategy:
        return store.keep_strategy(await client.get_strategy(strategy_id))

    async def write(current: Strategy) -> Strategy:
        planned = plan_strategy(current, order)
        try:
            written = await client.put_strategy(planned, retries=0)
        except Exception:
            store.drop_strategy(strategy_id)  # refused or maybe landed: the next attempt reads
            raise
        if written is planned:  # no body in the answer: the new version is unknown
            store.drop_strategy(strategy_id)
            return written
        return store.keep_strategy(written)

    return await write_with_retries(
        "strategy",
        strategy_id,
        read,
        lambda current: strategy_matches(current, order),
        write,
        attempts=attempts,
        clock=clock,
        confirm=confirm,
        first=None if copies is None else copies.strategy(strategy_id),
    )


async def write_rule_target(
    client: GenesysClient,
    rule_id: str,
    region_targets: Mapping[str, str],
    region: str,
    *,
    attempts: int = 5,
    clock: Callable[[], float] = time.monotonic,
    confirm: Confirm | None = None,
    copies: Copies | None = None,
) -> WriteOutcome:
    """Point `rule_id` at `region`'s target with the version read; re-read and re-plan on conflicts.

    `copies`: as for `write_strategy_order`."""
    store = copies if copies is not None else Copies()

    async def read() -> RoutingRule:
        return store.keep_rule(rule_id, await client.get_rule(rule_id))

    async def write(current: RoutingRule) -> RoutingRule:
        planned = plan_rule(current, region_targets, region)
        try:
            written = await client.put_rule(rule_id, planned, retries=0)
        except Exception:
            store.drop_rule(rule_id)
            raise
        if written is planned:
            store.drop_rule(rule_id)
            return written
        return store.keep_rule(rule_id, written)

    return await write_with_retries(
        "rule",
        rule_id,
        read,
        lambda current: rule_matches(current, region_targets, region),
        write,
        attempts=attempts,
        clock=clock,
        confirm=confirm,
        first=None if copies is None else copies.rule(rule_id),
    )
