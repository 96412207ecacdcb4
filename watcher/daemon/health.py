"""Where a poll becomes an observation: health sources per region.

A `HealthSource` answers one question, "how is this region now?", as a core `Observation`. The first
source is the contract's region-health endpoint; others (the public status page, a latency probe of
`api.{env}`, other vantage points) plug in beside it and are combined by `QuorumSource`, without the
failover core knowing how many there are.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import anyio

from watcher.config import HealthSettings
from watcher.core import FailureKind, Observation, health_verdict
from watcher.genesys import (
    AuthenticationError,
    GenesysClient,
    GenesysError,
    MalformedResponse,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportFailure,
)


class NoEvidence(Exception):
    """The poll says nothing about the region (SPEC §4.1): it moves no hysteresis counter.

    `result` is the `result` label of the health-check metric.
    """

    result = "no_evidence"


class Throttled(NoEvidence):
    """The poll was not made (our budget or the platform's said no, or no token could be had)."""

    result = "throttled"


class Unreachable(NoEvidence):
    """The poll failed in transit and the API host answered nothing else: the watcher lost the API."""

    result = "unreachable"


class HealthSource(Protocol):
    name: str

    async def observe(self, region: str) -> Observation: ...


class RegionHealthEndpoint:
    """The region-health endpoint of SPEC §2: HEALTHY within the max sync interval is good; any other
    status, a timeout, a 5xx, a transport error or a malformed answer is bad."""

    name = "region-health"

    def __init__(
        self,
        client: GenesysClient,
        settings: HealthSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock

    async def observe(self, region: str) -> Observation:
        s = self._settings
        started = self._clock()
        try:
            report = await self._client.region_health(region, timeout=s.timeout_seconds)
        except RateLimited as exc:
            raise Throttled(str(exc)) from None
        except GenesysError as exc:
            if exc.endpoint == "token" or isinstance(exc, AuthenticationError):
                # The login host, or our credentials: nothing about this region.
                raise Throttled(f"no usable token: {exc}") from None
            if isinstance(exc, RequestTimeout | TransportFailure):
                return await self._in_transit(region, started, exc)
            return self._bad(region, *_describe(exc, s.timeout_seconds))
        ok, reason = health_verdict(report.status, report.syncIntervalSeconds, s.max_sync_interval_seconds)
        latency = report.latencyMs if report.latencyMs is not None else (self._clock() - started) * 1000
        return Observation(
            region=region, ok=ok, at=self._clock(), reason=reason, status=report.status, latency_ms=latency
        )

    async def _in_transit(self, region: str, started: float, exc: GenesysError) -> Observation:
        """A failure in transit is evidence only if the API host answered something after it."""
        reach = self._client.reachability
        wait = self._settings.timeout_seconds
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._client.probe_reachable, wait)
            answered = await reach.answered_after(started, wait + 0.05)
            tg.cancel_scope.cancel()
        if not answered:
            reach.lost(f"{region}: {_describe(exc, self._settings.timeout_seconds)[0]}")
            raise Unreachable(f"API host unreachable ({exc}); not evidence about {region}")
        return self._bad(region, *_describe(exc, self._settings.timeout_seconds))

    def _bad(self, region: str, reason: str, failure: FailureKind) -> Observation:
        return Observation(region=region, ok=False, at=self._clock(), reason=reason, failure=failure)


def _describe(exc: GenesysError, timeout: float) -> tuple[str, FailureKind]:
    if isinstance(exc, RequestTimeout):
        return f"timeout after {timeout:g}s", "timeout"
    if isinstance(exc, ServerError):
        return f"http {exc.status}", "error"
    if isinstance(exc, TransportFailure):
        return exc.message, "error"
    if isinstance(exc, MalformedResponse):
        return f"malformed answer: {exc.message}", "malformed"
    return f"http {exc.status}: {exc.message}", "error"


class QuorumSource:
    """Several sources asked at once; the region is good when at least `quorum` of them say so.

    With one source and quorum 1 it is that source. Reasons of the dissenting sources are kept, so an
    explanation still says what each vantage point saw.
    """

    name = "quorum"

    def __init__(self, sources: Sequence[HealthSource], quorum: int | None = None) -> None:
        if not sources:
            raise ValueError("at least one health source")
        self._sources = list(sources)
        self._quorum = quorum or (len(sources) // 2 + 1)

    async def observe(self, region: str) -> Observation:
        if len(self._sources) == 1:
            return await self._sources[0].observe(region)
        answers: list[tuple[HealthSource, Observation]] = []

        async def ask(source: HealthSource) -> None:
            with contextlib.suppress(NoEvidence):
                answers.append((source, await source.observe(region)))

        async with anyio.create_task_group() as tg:
            for source in self._sources:
                tg.start_soon(ask, source)
        if not answers:
            raise Throttled("no source gave evidence")
        # Reasons named by their own source, in the configured order (not in order of arrival).
        order = {id(source): i for i, source in enumerate(self._sources)}
        answers.sort(key=lambda pair: order[id(pair[0])])
        good = [o for _, o in answers if o.ok]
        ok = len(good) >= self._quorum
        reasons = "; ".join(f"{source.name}: {o.reason}" for source, o in answers)
        at = max(o.at for _, o in answers)
        summary = f"{len(good)}/{len(answers)} good (quorum {self._quorum}): {reasons}"
        return Observation(region=region, ok=ok, at=at, reason=summary)
