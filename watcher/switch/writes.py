"""The optimistic write loop: read, already so?, confirm leadership, write with the version read,
and on a conflict read again.

Optimistic locking means a write can lose a race with someone else's. The loser re-reads what the
server holds now, plans again from that, and retries, a bounded number of times. A write that would
change nothing is skipped, which makes every write idempotent and safe to repeat after a crash.
Every kind of object (strategy, rule, trigger, emergency group, a virtual strategy's decision) is
written by this one loop; a kind only says how to read it, whether it is already as wanted, and how
to write it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import structlog

from watcher.genesys import retry_delay
from watcher.genesys.errors import (
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportFailure,
    VersionConflict,
)
from watcher.switch.errors import PlanError, WriteRefused
from watcher.switch.policy import WritePolicy

log = structlog.get_logger("watcher.writer")


class _Versioned(Protocol):
    @property
    def version(self) -> int | str | None: ...


V = TypeVar("V", bound=_Versioned)

# A write that failed in transit may have landed: it is never resent blind, but re-read first.
_IN_TRANSIT = (ServerError, TransportFailure, RequestTimeout, RateLimited)

WriteKind = Literal["strategy", "rule", "trigger", "emergency_group", "site", "ivr", "data_action"]


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


def version_or_none(value: object) -> int | None:
    """An integer version for the audit trail (the API's may be a string; virtual ones are ints)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def write_with_retries(
    kind: WriteKind,
    object_id: str,
    read: Callable[[], Awaitable[V]],
    already: Callable[[V], bool],
    write: Callable[[V], Awaitable[V]],
    policy: WritePolicy,
    *,
    first: V | None = None,
) -> WriteOutcome:
    """Read; if it is already as wanted, stop; else write the plan made from what was read.

    Every attempt starts with a read, and (`policy.confirm`) a check that this instance still leads
    made *after* that read: a write is only ever planned on what the server held while we led. A
    version conflict means someone wrote in between; a failure in transit (5xx, transport, timeout,
    429) may or may not have landed. Either way: read again and plan from that, `policy.attempts`
    times.

    `first`, a copy of the object as last read or written (with its version), replaces the first
    read: the first PUT is planned from it and carries its version, so a copy gone stale is refused
    with a conflict, and the retry reads. A copy that says "already as wanted" proves nothing about
    the server (someone may have changed it since): the object is read then, as without a copy.
    """
    clock, confirm = policy.clock, policy.confirm
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
            if conflicts >= policy.attempts:
                raise
            continue
        except _IN_TRANSIT as exc:
            failures += 1
            if failures >= policy.attempts:
                raise
            after = exc.retry_after if isinstance(exc, RateLimited) else None
            delay = retry_delay(after, failures)
            log.warning(
                f"{kind} write failed in transit; re-reading before trying again",
                id=object_id,
                error=str(exc),
                retry_in=round(delay, 3),
            )
            await policy.sleep(delay)
            continue
        return WriteOutcome(
            kind, object_id, True, current.version, written.version, clock() - started, conflicts
        )


async def rewrite_unchanged(
    read: Callable[[], Awaitable[V]], write: Callable[[V], Awaitable[V]], policy: WritePolicy
) -> V:
    """Fence an object: write it back as read, so its version moves on and any write planned on an
    older version (a deposed leader's) is refused with a conflict."""
    current = await read()
    if policy.confirm is not None and not await policy.confirm():
        raise WriteRefused("leadership could not be confirmed; not fenced")
    return await write(current)
