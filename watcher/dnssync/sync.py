"""Where a verified event becomes a DNS update: order, staleness, one update, then the state.

For each routing claim of the event: a strategy no record follows is ignored; a claim older than
the last applied sequence is stale (acknowledged, counted, not applied); one equal to it is applied
again (an update replaces rrsets, so repeating one is harmless, and that is how a resync repairs a
record changed in DNS behind our back); a newer one is applied. All applicable claims of the event
go into ONE update message. Only once the server answered NOERROR is the state written and the
event acknowledged; a DNS failure is answered 5xx and changes nothing here, so the watcher's
outbox delivers it again.

Events are handled one at a time (a lock): the read of the last sequence, the update and the state
write of one event must not interleave with another's, or two deliveries could go backwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import structlog

from watcher.dnssync.event_data import EventReading, MalformedEvent, RoutingClaim, read_event
from watcher.dnssync.metrics import DnsSyncMetrics
from watcher.dnssync.records import RecordChange, RecordSpec, UnknownRegion, changes_for
from watcher.dnssync.state import Applied, AppliedSequences
from watcher.dnssync.updater import DnsUpdateFailed, DnsUpdater

_log = structlog.get_logger("watcher.dnssync")


@dataclass(frozen=True)
class Verdict:
    """The HTTP answer to one delivery."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


class DnsSync:
    """Applies events to DNS, never backwards.

    >>> sync = DnsSync(records, store, updater, DnsSyncMetrics())   # doctest: +SKIP
    >>> (await sync.handle(event)).status                            # doctest: +SKIP
    200
    """

    def __init__(
        self,
        records: Sequence[RecordSpec],
        store: AppliedSequences,
        updater: DnsUpdater,
        metrics: DnsSyncMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._records = tuple(records)
        self._strategies = {r.strategy for r in records}
        self._store = store
        self._updater = updater
        self._metrics = metrics
        self._clock = clock
        self._lock = anyio.Lock()
        for strategy, applied in store.snapshot().items():
            metrics.last_sequence.labels(strategy=strategy).set(applied.sequence)
            metrics.last_applied_time.labels(strategy=strategy).set(applied.applied_at)

    def __repr__(self) -> str:
        return f"DnsSync(records={len(self._records)}, updater={self._updater!r})"

    async def handle(self, event: Mapping[str, Any]) -> Verdict:
        """Apply one verified, structurally valid CloudEvent; the verdict is the HTTP answer."""
        try:
            reading = read_event(event)
        except MalformedEvent as exc:
            self._metrics.rejected.labels(reason="bad_event").inc()
            _log.warning("malformed event refused", event_id=event.get("id"), problem=str(exc))
            return Verdict(400, {"error": "malformed event", "problem": str(exc)})
        async with self._lock:
            return await self._apply(event, reading)

    async def _apply(self, event: Mapping[str, Any], reading: EventReading) -> Verdict:
        event_id = event.get("id")
        for _strategy, reason in reading.ignored:
            self._metrics.ignored.labels(reason=reason).inc()
        ignored = [s for s, _ in reading.ignored]
        stale: list[str] = []
        unknown: list[str] = []
        todo: list[tuple[RoutingClaim, list[RecordChange]]] = []
        for claim in reading.claims:
            if claim.strategy not in self._strategies:
                self._metrics.ignored.labels(reason="no_records").inc()
                ignored.append(claim.strategy)
                continue
            last = self._store.last(claim.strategy)
            if last is not None and claim.sequence < last.sequence:
                self._metrics.stale.labels(strategy=claim.strategy).inc()
                stale.append(claim.strategy)
                _log.info(
                    "stale claim ignored",
                    event_id=event_id,
                    strategy=claim.strategy,
                    sequence=claim.sequence,
                    last_applied=last.sequence,
                )
                continue
            try:
                todo.append((claim, changes_for(self._records, claim.strategy, claim.region)))
            except UnknownRegion as exc:
                self._metrics.rejected.labels(reason="unknown_region").inc()
                unknown.append(str(exc))
                _log.error("event names a region without values", event_id=event_id, problem=str(exc))
        body: dict[str, Any] = {"applied": [], "stale": stale, "ignored": ignored}
        if todo:
            failed = await self._update(event_id, todo)
            if failed is not None:
                return failed
            body["applied"] = [c.strategy for c, _ in todo]
        if unknown:
            # Unknown regions are a config mismatch: 422 keeps the event in the watcher's outbox
            # (it retries, loudly) until the receiver's records are fixed; the rest was applied.
            return Verdict(422, {**body, "error": "region without values", "problems": unknown})
        return Verdict(200, {"status": "applied" if todo else "unchanged", **body})

    async def _update(
        self, event_id: object, todo: list[tuple[RoutingClaim, list[RecordChange]]]
    ) -> Verdict | None:
        changes = [change for _, changes in todo for change in changes]
        started = time.perf_counter()
        try:
            await self._updater.apply(changes)
        except DnsUpdateFailed as exc:
            self._metrics.dns_errors.labels(kind=exc.kind, code=exc.code).inc()
            _log.error(
                "DNS update failed",
                event_id=event_id,
                strategies=[c.strategy for c, _ in todo],
                kind=exc.kind,
                code=exc.code,
                error=str(exc),
            )
            status = 502 if exc.answered else 503
            return Verdict(status, {"error": "DNS update failed", "kind": exc.kind, "code": exc.code})
        finally:
            self._metrics.update_latency.observe(time.perf_counter() - started)
        now = self._clock()
        applied = {c.strategy: Applied(c.sequence, c.region, now) for c, _ in todo}
        try:
            await anyio.to_thread.run_sync(self._store.record, applied)
        except OSError as exc:
            # DNS has the update but the state does not: a retry re-applies it, which is harmless.
            _log.error("state not written", path=str(self._store.path), error=exc.strerror)
            return Verdict(500, {"error": "state not written"})
        for claim, _ in todo:
            self._metrics.applied.labels(strategy=claim.strategy).inc()
            self._metrics.last_sequence.labels(strategy=claim.strategy).set(claim.sequence)
            self._metrics.last_applied_time.labels(strategy=claim.strategy).set(now)
        _log.info(
            "DNS updated",
            event_id=event_id,
            claims=[f"{c.strategy}->{c.region}@{c.sequence}" for c, _ in todo],
            records=[change.describe() for change in changes],
        )
        return None
