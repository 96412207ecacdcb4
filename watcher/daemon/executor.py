"""Executing the core's Reweight actions: one atomic strategy PUT, then the strategy's rules.

Writes for one strategy are serialized (the core keeps one in flight, and a lock makes sure); writes
for different strategies run in parallel. Every write passes `WriteGate` first, the one place where
leader election will decide whether this instance may write. A write in progress when the daemon
stops is finished within the shutdown grace period (the strategy PUT is atomic; rules follow), so
nothing is left half-written; if the grace runs out, the next start reconciles the rules.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog

from watcher.config import RuleSettings
from watcher.core import Event, Reweight, WriteFailed, WriteSucceeded
from watcher.daemon.leader import Leadership, SingleInstance
from watcher.events import AuditRecord, AuditTrail
from watcher.genesys import GenesysClient, GenesysError
from watcher.metrics import WatcherMetrics
from watcher.writer import WriteOutcome, write_rule_target, write_strategy_order

log = structlog.get_logger("watcher.executor")


@dataclass
class SwitchReport:
    """What one executed Reweight did, for the log, the audit trail, events and `/status`."""

    strategy: str
    kind: str
    from_region: str | None
    to_region: str
    dry_run: bool
    result: str  # success | failure | dry_run | partial | follower
    writes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    latency_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "kind": self.kind,
            "from": self.from_region,
            "to": self.to_region,
            "dryRun": self.dry_run,
            "result": self.result,
            "writes": self.writes,
            "error": self.error,
            "latencySeconds": round(self.latency_seconds, 6),
        }


def _outcome_dict(o: WriteOutcome) -> dict[str, Any]:
    return {
        "kind": o.kind,
        "id": o.object_id,
        "changed": o.changed,
        "versionBefore": o.version_before,
        "versionAfter": o.version_after,
        "latencySeconds": round(o.latency_seconds, 6),
        "conflicts": o.conflicts,
    }


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Executor:
    """Turns Reweight actions into writes and feeds the results back to the core."""

    def __init__(
        self,
        client: GenesysClient,
        rules: Sequence[RuleSettings],
        feed: Callable[[Event], Awaitable[None]],
        *,
        metrics: WatcherMetrics,
        trail: AuditTrail | None,
        report: Callable[[SwitchReport, Reweight], Awaitable[None]],
        conflict_retries: int = 5,
        gate: Leadership | None = None,
        clock: Callable[[], float] = time.monotonic,
        readable: Callable[[Any], Any] = lambda d: d,
    ) -> None:
        self._client = client
        self._rules: Mapping[str, list[RuleSettings]] = _rules_by_strategy(rules)
        self._feed = feed
        self._metrics = metrics
        self._trail = trail
        self._report = report
        self._attempts = conflict_retries
        # Every write passes this gate: only the leader writes (SingleInstance: always).
        self.gate: Leadership = gate or SingleInstance()
        self._clock = clock
        # Turns monotonic instants in explanations into wall-clock times for the audit trail.
        self._readable = readable
        self._locks: dict[str, anyio.Lock] = {}
        self.in_flight: set[str] = set()
        self.grace_seconds = 10.0

    async def wait_idle(self) -> None:
        """Return once no write is in flight (each strategy's lock is free)."""
        for lock in list(self._locks.values()):
            async with lock:
                pass

    def set_rules(self, rules: Sequence[RuleSettings]) -> None:
        self._rules = _rules_by_strategy(rules)

    def rules_of(self, strategy: str) -> list[RuleSettings]:
        return list(self._rules.get(strategy, []))

    async def execute(self, action: Reweight) -> None:
        """Run one Reweight to completion and feed WriteSucceeded/WriteFailed back."""
        lock = self._locks.setdefault(action.strategy, anyio.Lock())
        async with lock:
            self.in_flight.add(action.strategy)
            try:
                # Shielded: a shutdown lets the write finish (bounded by the grace period).
                with anyio.CancelScope(shield=True):
                    with anyio.move_on_after(self.grace_seconds * 3) as scope:
                        report = await self._run(action)
                    if scope.cancelled_caught:
                        report = self._failed(action, "write abandoned: exceeded the grace period", 0.0)
                await self._report(report, action)
                at = self._clock()
                if report.result in ("success", "dry_run", "partial", "follower"):
                    version = next(
                        (w["versionAfter"] for w in report.writes if w["kind"] == "strategy"), None
                    )
                    await self._feed(WriteSucceeded(action.strategy, action.to_region, at, version))
                else:
                    await self._feed(
                        WriteFailed(action.strategy, action.to_region, at, report.error or "failed")
                    )
            finally:
                self.in_flight.discard(action.strategy)

    def _failed(self, action: Reweight, error: str, latency: float) -> SwitchReport:
        return SwitchReport(
            action.strategy,
            action.kind,
            action.from_region,
            action.to_region,
            action.dry_run,
            "failure",
            error=error,
            latency_seconds=latency,
        )

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
            return SwitchReport(
                action.strategy, action.kind, action.from_region, action.to_region, True, "dry_run"
            )
        if not await self.gate.may_write(action.strategy):
            # A follower decides like the leader (warm state for a takeover) but writes nothing; it
            # acknowledges like a dry run and re-reads everything when it becomes the leader.
            log.info("follower: not writing", strategy=action.strategy, to=action.to_region)
            return SwitchReport(
                action.strategy, action.kind, action.from_region, action.to_region, False, "follower"
            )
        started = self._clock()
        try:
            outcome = await write_strategy_order(
                self._client, action.strategy, action.order, attempts=self._attempts, clock=self._clock
            )
        except GenesysError as exc:
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
            return self._failed(action, str(exc), latency)
        if outcome.changed:  # a write that found nothing to change sent no PUT: no latency to count
            self._metrics.update_latency.labels(kind="strategy").observe(outcome.latency_seconds)
        await self._audit(
            AuditRecord(
                strategy=action.strategy,
                kind="strategy",
                result="success",
                version_before=_int_or_none(outcome.version_before),
                version_after=_int_or_none(outcome.version_after),
                latency_seconds=outcome.latency_seconds,
                explanation=explanation,
            )
        )
        writes = [_outcome_dict(outcome)]
        errors = await self._retarget_rules(action, writes, explanation)
        latency = self._clock() - started
        result = "success" if not errors else "partial"
        self._metrics.switches.labels(
            strategy=action.strategy, result="success" if not errors else "failure"
        ).inc()
        if action.kind == "failover" and action.explanation.observations:
            first_bad = action.explanation.observations[0].at
            self._metrics.detection_to_switch.labels(strategy=action.strategy).observe(
                max(0.0, started + outcome.latency_seconds - first_bad)
            )
        return SwitchReport(
            action.strategy,
            action.kind,
            action.from_region,
            action.to_region,
            False,
            result,
            writes=writes,
            error="; ".join(errors) or None,
            latency_seconds=latency,
        )

    async def _retarget_rules(
        self, action: Reweight, writes: list[dict[str, Any]], explanation: dict[str, object]
    ) -> list[str]:
        """Point every rule of the strategy at the new region's target, in parallel."""
        errors: list[str] = []

        async def one(rule: RuleSettings) -> None:
            if not await self.gate.may_write(action.strategy):
                errors.append(f"rule {rule.id}: leadership lost before it could be retargeted")
                return
            try:
                outcome = await retarget_rule(
                    self._client, rule, action.to_region, self._attempts, self._clock
                )
            except GenesysError as exc:
                errors.append(f"rule {rule.id}: {exc}")
                await self._audit(
                    AuditRecord(
                        strategy=action.strategy,
                        kind="rule",
                        rule=rule.id,
                        result="failure",
                        error=str(exc),
                        explanation=explanation,
                    )
                )
                log.error("rule retarget failed", rule=rule.id, strategy=action.strategy, error=str(exc))
                return
            if outcome.changed:
                self._metrics.update_latency.labels(kind="rule").observe(outcome.latency_seconds)
            writes.append(_outcome_dict(outcome))
            await self._audit(
                AuditRecord(
                    strategy=action.strategy,
                    kind="rule",
                    rule=rule.id,
                    result="success",
                    version_before=_int_or_none(outcome.version_before),
                    version_after=_int_or_none(outcome.version_after),
                    latency_seconds=outcome.latency_seconds,
                    explanation=explanation,
                )
            )

        async with anyio.create_task_group() as tg:
            for rule in self.rules_of(action.strategy):
                tg.start_soon(one, rule)
        return errors

    async def _audit(self, record: AuditRecord) -> None:
        if self._trail is None:
            return
        try:
            # write() fsyncs: off the event loop, so a slow disk never stalls polling.
            await anyio.to_thread.run_sync(self._trail.write, record)
        except OSError as exc:
            # The trail is a record, not a gate: a full disk must not stop a failover.
            log.error("audit trail write failed", error=str(exc))


async def retarget_rule(
    client: GenesysClient, rule: RuleSettings, region: str, attempts: int, clock: Callable[[], float]
) -> WriteOutcome:
    return await write_rule_target(client, rule.id, rule.targets, region, attempts=attempts, clock=clock)


def _rules_by_strategy(rules: Sequence[RuleSettings]) -> dict[str, list[RuleSettings]]:
    grouped: dict[str, list[RuleSettings]] = {}
    for rule in rules:
        grouped.setdefault(rule.strategy, []).append(rule)
    return grouped
