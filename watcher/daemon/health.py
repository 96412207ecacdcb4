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
    GenesysClient,
    GenesysError,
    MalformedResponse,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportFailure,
)


class Throttled(Exception):
    """The poll was not made (our budget or the platform's said no): not evidence about the region."""


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
        except RequestTimeout:
            return self._bad(region, f"timeout after {s.timeout_seconds:g}s", "timeout")
        except ServerError as exc:
            return self._bad(region, f"http {exc.status}", "error")
        except TransportFailure as exc:
            return self._bad(region, exc.message, "error")
        except MalformedResponse as exc:
            return self._bad(region, f"malformed answer: {exc.message}", "malformed")
        except GenesysError as exc:
            return self._bad(region, f"http {exc.status}: {exc.message}", "error")
        ok, reason = health_verdict(report.status, report.syncIntervalSeconds, s.max_sync_interval_seconds)
        latency = report.latencyMs if report.latencyMs is not None else (self._clock() - started) * 1000
        return Observation(
            region=region, ok=ok, at=self._clock(), reason=reason, status=report.status, latency_ms=latency
        )

    def _bad(self, region: str, reason: str, failure: FailureKind) -> Observation:
        return Observation(region=region, ok=False, at=self._clock(), reason=reason, failure=failure)


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
        results: list[Observation] = []

        async def ask(source: HealthSource) -> None:
            with contextlib.suppress(Throttled):
                results.append(await source.observe(region))

        async with anyio.create_task_group() as tg:
            for source in self._sources:
                tg.start_soon(ask, source)
        if not results:
            raise Throttled("every source was throttled")
        good = [o for o in results if o.ok]
        ok = len(good) >= self._quorum
        reasons = "; ".join(f"{s.name}: {o.reason}" for s, o in zip(self._sources, results, strict=False))
        at = max(o.at for o in results)
        summary = f"{len(good)}/{len(results)} good (quorum {self._quorum}): {reasons}"
        return Observation(region=region, ok=ok, at=at, reason=summary)
