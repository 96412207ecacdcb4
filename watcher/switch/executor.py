"""Where a decision becomes a PUT: the core's Reweight actions, executed.

One atomic strategy write (`store.py`: the API object, or a virtual strategy's durable decision),
then the strategy's followers (`followers.py`). Writes for one strategy
are serialized (the core keeps one in flight, and a lock makes sure); writes for different
strategies run in parallel. Every write passes the leadership gate first: only the leader writes.
A write in progress when the daemon stops is finished within the shutdown grace period (the
strategy PUT is atomic; rules follow), so nothing is left half-written; if the grace runs out, the
next start reconciles the rules.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog

from watcher.core import Event, Reweight, WriteFailed, WriteSkipped, WriteSucceeded
from watcher.events import AuditRecord, AuditTrail
from watcher.genesys import Priority, request_priority
from watcher.metrics import WatcherMetrics
from watcher.switch.errors import WRITE_ERRORS
from watcher.switch.followers import Followers
from watcher.switch.policy import Gate, WritePolicy
from watcher.switch.store import Strategies
from watcher.switch.writes import WriteOutcome, version_or_none

log = structlog.get_logger("watcher.executor")

INTENT_TIMEOUT_SECONDS = 1.0
REPORT_TIMEOUT_SECONDS = 5.0


class SwitchResult(enum.StrEnum):
    """How one executed Reweight ended."""

    SUCCESS = "success"  # the strategy and every follower written
    PARTIAL = "partial"  # the strategy written, a follower not (the read-back finishes it)
    FAILURE = "failure"  # the strategy not written
    DRY_RUN = "dry_run"  # nothing written, by the operator's choice
    FOLLOWER = "follower"  # nothing written: another instance leads

    @property
    def landed(self) -> bool:
        """The strategy routes there now."""
        return self in (SwitchResult.SUCCESS, SwitchResult.PARTIAL)

    @property
    def skipped(self) -> bool:
        """Nothing was written on purpose: what the API routes to did not change."""
        return self in (SwitchResult.DRY_RUN, SwitchResult.FOLLOWER)


@dataclass
class SwitchReport:
    """What one executed Reweight did, for the log, the audit trail, events and `/status`."""

    strategy: str
    kind: str
    from_region: str | None
    to_region: str
    dry_run: bool
    result: SwitchResult
    writes: list[WriteOutcome] = field(default_factory=list)
    error: str | None = None
    latency_seconds: float = 0.0

    @property
    def strategy_version(self) -> int | str | None:
        return next((w.version_after for w in self.writes if w.kind == "strategy"), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "kind": self.kind,
            "from": self.from_region,
            "to": self.to_region,
            "dryRun": self.dry_run,
            "result": self.result.value,
            "writes": [w.to_dict() for w in self.writes],
            "error": self.error,
            "latencySeconds": round(self.latency_seconds, 6),
        }


def _report(action: Reweight, result: SwitchResult, **more: Any) -> SwitchReport:
    return SwitchReport(
        action.strategy, action.kind, action.from_region, action.to_region, action.dry_run, result, **more
    )


class Executor:
    """Turns Reweight actions into writes and feeds the results back to the core."""

    def __init__(
        self,
        strategies: Strategies,
        followers: Followers,
        feed: Callable[[Event], Awaitable[None]],
        *,
        gate: Gate,
        metrics: WatcherMetrics,
        trail: AuditTrail | None,
        report: Callable[[SwitchReport, Reweight], Awaitable[None]],
        policy: WritePolicy,
        grace_seconds: float = 10.0,
        readable: Callable[[Any], Any] = lambda d: d,
        unread: Collection[str] = frozenset(),
        intent: Callable[[Reweight], Awaitable[None]] | None = None,
        in_flight: set[str] | None = None,
    ) -> None:
        self._intent = intent
        # Where each strategy is written: its API object, or a virtual strategy's decision.
        self._strategies = strategies
        # Strategies a new leader has not yet read (and fenced): no write before that. Shared with
        # the read-back, which empties it.
        self._unread = unread
        self.followers = followers
        self._feed = feed
        # Every write passes this gate: only the leader writes (SingleInstance: always).
        self.gate = gate
        self._metrics = metrics
        self._trail = trail
        self._report = report
        self._policy = policy
        self._clock = policy.clock
        self.grace_seconds = grace_seconds
        # Turns monotonic instants in explanations into wall-clock times for the audit trail.
        self._readable = readable
        self._locks: dict[str, anyio.Lock] = {}
        # The strategies whose write is running (shared with the announcer: "settling").
        self.in_flight: set[str] = set() if in_flight is None else in_flight
        self._scopes: dict[str, anyio.CancelScope] = {}

    async def wait_idle(self) -> None:
        """Return once no write is in flight (each strategy's lock is free)."""
        for lock in list(self._locks.values()):
            async with lock:
                pass

    def abandon(self) -> None:
        """Shutdown, past its grace period: cancel the writes still in flight (each still reports)."""
        for scope in list(self._scopes.values()):
            scope.cancel()

    async def execute(self, action: Reweight) -> None:
        """Run one Reweight to completion and feed the outcome back; never raises.

        The switch report and its event are stored in any case, even when the write was abandoned
        at shutdown: that part is shielded (and bounded), the write itself is not.
        """
        lock = self._locks.setdefault(action.strategy, anyio.Lock())
        async with lock:
            self.in_flight.add(action.strategy)
            try:
                # Started from whichever task decided (a poll, the read-back): a write is urgent.
                with anyio.CancelScope() as scope, request_priority(Priority.WRITE):
                    self._scopes[action.strategy] = scope
                    try:
                        report = await self._run(action)
                    except Exception as exc:  # one bad object never takes the daemon down
                        log.exception("switch failed unexpectedly", strategy=action.strategy)
                        report = _report(action, SwitchResult.FAILURE, error=f"unexpected: {exc!r}")
                if scope.cancelled_caught:
                    report = _report(
                        action,
                        SwitchResult.FAILURE,
                        error="abandoned at shutdown after the grace period",
                    )
                with anyio.CancelScope(shield=True), anyio.move_on_after(REPORT_TIMEOUT_SECONDS):
                    if scope.cancelled_caught:
                        self._metrics.switches.labels(strategy=action.strategy, result="failure").inc()
                        await self._audit(
                            AuditRecord(
                                strategy=action.strategy,
                                kind="strategy",
                                result="failure",
                                error=report.error,
                                explanation=self._readable(action.explanation.to_dict()),
                            )
                        )
                    await self._settle(action, report)
            finally:
                self._scopes.pop(action.strategy, None)
                self.in_flight.discard(action.strategy)

    async def _settle(self, action: Reweight, report: SwitchReport) -> None:
        await self._report(report, action)
        at = self._clock()
        if report.result.landed:
            await self._feed(WriteSucceeded(action.strategy, action.to_region, at, report.strategy_version))
        elif report.result.skipped:
            # Dry run decides against the truth: the belief stays what the API holds.
            follower = report.result is SwitchResult.FOLLOWER
            await self._feed(WriteSkipped(action.strategy, action.to_region, at, follower))
        else:
            await self._feed(WriteFailed(action.strategy, action.to_region, at, report.error or "failed"))

    async def _run(self, action: Reweight) -> SwitchReport:
        explanation = self._readable(action.explanation.to_dict())
        if action.dry_run:
            log.info(
                "dry run: would switch",
                strategy=action.strategy,
                to=action.to_region,
                order=list(action.order),
                why=action.explanation.summary,
            )
            await self._audit(
                AuditRecord(
                    strategy=action.strategy, kind="decision", result="dry_run", explanation=explanation
                )
            )
            return _report(action, SwitchResult.DRY_RUN)
        if not await self.gate.may_write(action.strategy) or action.strategy in self._unread:
            # A follower decides like the leader (warm state for a takeover) but writes nothing; it
            # acknowledges like a dry run and re-reads everything when it becomes the leader.
            log.info("follower: not writing", strategy=action.strategy, to=action.to_region)
            return _report(action, SwitchResult.FOLLOWER)
        if self._intent is not None:
            # The intent is stored first; a disk too slow to take it in time does not hold the
            # switch back (its outcome is stored after the write in any case).
            with anyio.move_on_after(INTENT_TIMEOUT_SECONDS):
                await self._intent(action)
        started = self._clock()
        store = self._strategies.of(action.strategy)
        try:
            outcome = await store.write_order(
                action.strategy, action.order, self._policy.confirming(self.gate, action.strategy)
            )
        except WRITE_ERRORS as exc:
            latency = self._clock() - started
            await self._audit(
                AuditRecord(
                    strategy=action.strategy,
                    kind="strategy",
                    result="failure",
                    latency_seconds=latency,
                    error=str(exc),
                    explanation=explanation,
                )
            )
            self._metrics.switches.labels(strategy=action.strategy, result="failure").inc()
            log.error("strategy write failed", strategy=action.strategy, to=action.to_region, error=str(exc))
            return _report(action, SwitchResult.FAILURE, error=str(exc), latency_seconds=latency)
        if outcome.changed:  # a write that found nothing to change sent no PUT: no latency to count
            self._metrics.update_latency.labels(kind="strategy").observe(outcome.latency_seconds)
        await self._audit(
            AuditRecord(
                strategy=action.strategy,
                kind="strategy",
                result="success",
                version_before=version_or_none(outcome.version_before),
                version_after=version_or_none(outcome.version_after),
                latency_seconds=outcome.latency_seconds,
                explanation=explanation,
            )
        )
        followed = await self.followers.follow(action.strategy, action.to_region, explanation=explanation)
        latency = self._clock() - started
        self._metrics.switches.labels(
            strategy=action.strategy, result="success" if followed.complete else "failure"
        ).inc()
        if action.kind == "failover" and action.explanation.observations:
            first_bad = action.explanation.observations[0].at
            self._metrics.detection_to_switch.labels(strategy=action.strategy).observe(
                max(0.0, started + outcome.latency_seconds - first_bad)
            )
        return _report(
            action,
            SwitchResult.SUCCESS if followed.complete else SwitchResult.PARTIAL,
            writes=[outcome, *followed.writes],
            error="; ".join(followed.errors) or None,
            latency_seconds=latency,
        )

    async def _audit(self, record: AuditRecord) -> None:
        if self._trail is not None:
            await self._trail.append(record)
