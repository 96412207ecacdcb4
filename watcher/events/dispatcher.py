"""Delivers the outbox to the sinks (event mesh, DNS-sync webhook): one loop per sink.

`publish` writes the event to the outbox for every enabled sink and only then wakes the loops, so a
crash between the two loses nothing: the next start resends whatever is not acknowledged.

Per attempt the body stored at enqueue time is POSTed as `application/cloudevents+json`, signed with
Standard Webhooks headers stamped at the attempt. The answer decides (see `delivery_policy`):

- 2xx: acknowledged, removed from the outbox;
- 410 Gone: the sink is disabled for the life of this process (logged as an error, counted as
  `deliveries{result="disabled"}`); its rows stay on disk and a restart tries again;
- 429 / 503 with `Retry-After`: the next attempt waits exactly that long;
- any other failure or transport error: exponential backoff with full jitter, capped, forever, until
  acknowledged or dead-lettered by age (`max_age_seconds`);
- a 4xx other than 408/409/410/425/429 is retried too (a receiver may be misconfigured for a while,
  and dropping a switch event would be worse) but logged as an error on every attempt.

Events of one ordering key (a strategy) reach each sink in order: the outbox hands out only the head
of each key, and heads of different keys are sent concurrently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import structlog
from pydantic import SecretStr

from watcher.aio import guard, sleep
from watcher.events.cloudevent import CONTENT_TYPE, RESYNC, build_event, source_for
from watcher.events.delivery_policy import (
    Outcome,
    RetryPolicy,
    classify_status,
    classify_transport_error,
)
from watcher.events.outbox import Outbox, PendingDelivery
from watcher.events.signing import Signer
from watcher.metrics import WatcherMetrics

_log = structlog.stdlib.get_logger(__name__)

RESYNC_ORDERING_KEY = "__resync__"
_BATCH_LIMIT = 32


@dataclass(frozen=True)
class SinkSpec:
    """One receiver. `secrets` holds one entry, or several during a rotation (all sign)."""

    name: str
    url: str
    secrets: tuple[SecretStr, ...]
    timeout_seconds: float = 5.0
    max_age_seconds: float = 86400.0


class Dispatcher:
    """Publishes events durably and delivers them to every sink.

    >>> async def main(outbox, sinks, metrics):          # doctest: +SKIP
    ...     async with httpx.AsyncClient() as http, anyio.create_task_group() as tg:
    ...         dispatcher = Dispatcher(outbox, sinks, http, metrics)
    ...         tg.start_soon(dispatcher.run)
    ...         await dispatcher.publish(event, ordering_key="strategy-1")
    """

    def __init__(
        self,
        outbox: Outbox,
        sinks: Sequence[SinkSpec],
        http: httpx.AsyncClient,
        metrics: WatcherMetrics,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rng: random.Random | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, shared safely
        source: str = source_for("default"),
    ) -> None:
        names = [s.name for s in sinks]
        if len(set(names)) != len(names):
            raise ValueError(f"sink names must be unique: {names}")
        self._outbox = outbox
        self._sinks = tuple(sinks)
        # Built now so a bad secret fails at start, naming the sink (SigningError), not mid-outage.
        self._signers = {s.name: Signer(s.name, s.secrets) for s in sinks}
        self._http = http
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._retry = retry
        self._source = source
        self._disabled: set[str] = set()
        self._wake: dict[str, anyio.Event] = {}
        # Never set: the dispatcher stops by cancellation; its sink loops end on a 410.
        self._stopped = anyio.Event()

    def __repr__(self) -> str:
        names = [s.name for s in self._sinks]
        return f"Dispatcher(sinks={names!r}, disabled={sorted(self._disabled)!r})"

    @property
    def disabled_sinks(self) -> frozenset[str]:
        """Sinks that answered 410 Gone; nothing more is sent to them by this process."""
        return frozenset(self._disabled)

    async def publish(self, event: Mapping[str, Any], ordering_key: str) -> str:
        """Store `event` for every enabled sink, then wake their loops; returns the event id."""
        return await self._publish(event, ordering_key, supersede=False)

    async def resync(self, state: Mapping[str, Any]) -> str:
        """Publish the full state so a receiver that missed something converges.

        It supersedes any resync still pending: only the newest full state is worth sending.
        """
        now = self._clock()
        event = build_event(
            RESYNC,
            source=self._source,
            subject=None,
            data=state,
            time=datetime.fromtimestamp(now, tz=UTC),
        )
        return await self._publish(event, RESYNC_ORDERING_KEY, supersede=True)

    async def _publish(self, event: Mapping[str, Any], ordering_key: str, *, supersede: bool) -> str:
        # Stored for every sink, a disabled one too: a restart re-enables it, and nothing is lost.
        sinks = [s.name for s in self._sinks]
        now = self._clock()

        def enqueue() -> str:
            return self._outbox.enqueue(event, sinks, ordering_key, now=now, supersede=supersede)

        event_id = await anyio.to_thread.run_sync(enqueue)
        for name in sinks:
            self._metrics.outbox_pending.labels(sink=name).set(
                await anyio.to_thread.run_sync(self._outbox.pending_count, name)
            )
            wake = self._wake.get(name)
            if wake is not None:
                wake.set()
        return event_id

    async def run(self) -> None:
        """Deliver until cancelled: one guarded loop per sink in one task group."""
        async with anyio.create_task_group() as tg:
            for spec in self._sinks:
                self._wake[spec.name] = anyio.Event()
                tg.start_soon(self._guarded, spec, name=f"outbox-sink-{spec.name}")

    async def _guarded(self, spec: SinkSpec) -> None:
        # A crash in one sink's loop (disk full, a bug) must neither kill the daemon nor go quiet:
        # the guard logs it at once, counts it, backs off, starts again. The loop ends on a 410.
        task = f"outbox-sink-{spec.name}"
        await guard(
            task,
            lambda: self._sink_loop(spec),
            stop=self._stopped,
            endless=False,
            on_crash=lambda name: self._metrics.task_restarts.labels(task=name).inc(),
        )

    async def _sink_loop(self, spec: SinkSpec) -> None:
        name = spec.name
        await self._refresh_gauges(name)
        while name not in self._disabled:
            # Clear the wake-up flag before looking at the outbox: a publish after the look
            # sets the new flag, so the wait below returns at once instead of missing it.
            self._wake[name] = anyio.Event()
            now = self._clock()
            await self._expire(spec, now)
            batch = await anyio.to_thread.run_sync(self._outbox.next_batch, name, _BATCH_LIMIT, now)
            if batch:
                async with anyio.create_task_group() as tg:
                    for item in batch:
                        tg.start_soon(self._attempt, spec, item)
                await self._refresh_gauges(name)
                continue
            await self._wait(spec)

    async def _wait(self, spec: SinkSpec) -> None:
        due = await anyio.to_thread.run_sync(self._outbox.next_due_at, spec.name)
        oldest = await anyio.to_thread.run_sync(self._outbox.oldest_created_at, spec.name)
        deadlines = [
            t for t in (due, None if oldest is None else oldest + spec.max_age_seconds) if t is not None
        ]
        delay = max(0.0, min(deadlines) - self._clock()) if deadlines else None
        await sleep(delay, self._wake[spec.name], sleeper=self._sleep)

    async def _expire(self, spec: SinkSpec, now: float) -> None:
        moved = await anyio.to_thread.run_sync(
            lambda: self._outbox.dead_letter_older_than(spec.max_age_seconds, now, spec.name)
        )
        for dead in moved:
            _log.error(
                "event dead-lettered: too old to deliver",
                sink=spec.name,
                event_id=dead.event_id,
                ordering_key=dead.ordering_key,
                attempts=dead.attempts,
                last_error=dead.last_error,
            )
        if moved:
            await self._refresh_gauges(spec.name)

    async def _refresh_gauges(self, name: str) -> None:
        pending = await anyio.to_thread.run_sync(self._outbox.pending_count, name)
        dead = await anyio.to_thread.run_sync(self._outbox.dead_letter_count, name)
        self._metrics.outbox_pending.labels(sink=name).set(pending)
        self._metrics.outbox_dead_letters.labels(sink=name).set(dead)

    async def _attempt(self, spec: SinkSpec, item: PendingDelivery) -> None:
        if spec.name in self._disabled:
            return
        sent_at = self._clock()
        headers = self._signers[spec.name].headers(item.event_id, sent_at, item.body)
        headers["content-type"] = CONTENT_TYPE
        try:
            response = await self._http.post(
                spec.url,
                content=item.body.encode("utf-8"),
                headers=headers,
                timeout=spec.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            outcome = classify_transport_error(exc)
        else:
            outcome = classify_status(
                response.status_code, response.headers.get("retry-after"), self._clock()
            )
        await self._settle(spec, item, outcome)

    async def _settle(self, spec: SinkSpec, item: PendingDelivery, outcome: Outcome) -> None:
        self._metrics.deliveries.labels(sink=spec.name, result=outcome.result).inc()
        if outcome.action == "ack":
            await anyio.to_thread.run_sync(self._outbox.ack, spec.name, item.event_id)
            _log.debug("event delivered", sink=spec.name, event_id=item.event_id)
            return
        if outcome.action == "disable":
            self._disabled.add(spec.name)
            _log.error(
                "sink answered 410 Gone: delivery to it stopped until restart",
                sink=spec.name,
                event_id=item.event_id,
            )
            return
        attempts = item.attempts + 1
        now = self._clock()
        retry_at = outcome.retry_at
        if retry_at is None:
            retry_at = now + self._retry.delay(attempts, self._rng)
        error = outcome.error or "unknown"
        await anyio.to_thread.run_sync(self._outbox.record_failure, spec.name, item.event_id, error, retry_at)
        log = _log.error if outcome.loud else _log.warning
        log(
            "event delivery failed; will retry",
            sink=spec.name,
            event_id=item.event_id,
            attempts=attempts,
            error=error,
            retry_in_seconds=round(max(0.0, retry_at - now), 3),  # as decided, not after the disk write
        )
