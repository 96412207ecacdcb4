"""The contract's region-health endpoint (SPEC §2) as a health source, and the blackout rule every
source that talks to the API host follows (SPEC §4.1)."""

from __future__ import annotations

import time
from collections.abc import Callable

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
from watcher.health._evidence import Throttled, Unreachable


async def api_answered_after(client: GenesysClient, started: float, timeout: float) -> bool:
    """Whether the API host answered anything after `started` (another poll, or a probe sent now).

    A failure in transit is evidence about a region only then: when nothing answers, the watcher
    lost the API, and the regions did not fail.
    """
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.probe_reachable, timeout)
        answered = await client.reachability.answered_after(started, timeout + 0.05)
        tg.cancel_scope.cancel()
    return answered


def refused_for_us(exc: GenesysError) -> Throttled | None:
    """The no-evidence error for a call that was not made or not judged because of us (a 429, our
    budget, the token endpoint, our credentials); None when the failure is the region's."""
    if isinstance(exc, RateLimited):
        return Throttled(str(exc))
    if exc.endpoint == "token" or isinstance(exc, AuthenticationError):
        return Throttled(f"no usable token: {exc}")
    return None


class RegionHealthEndpoint:
    """The region-health endpoint of SPEC §2: HEALTHY within the max sync interval is good; any other
    status, a timeout, a 5xx, a transport error or a malformed answer is bad."""

    name = "region-health"
    kind = "region-health"

    def __init__(
        self,
        client: GenesysClient,
        settings: HealthSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock
        self.name = name or self.name

    async def observe(self, region: str) -> Observation:
        s = self._settings
        started = self._clock()
        try:
            report = await self._client.region_health(region, timeout=s.timeout_seconds)
        except GenesysError as exc:
            ours = refused_for_us(exc)
            if ours is not None:
                raise ours from None
            if isinstance(exc, RequestTimeout | TransportFailure):
                return await self._in_transit(region, started, exc)
            return self._bad(region, *describe(exc, s.timeout_seconds))
        ok, reason = health_verdict(report.status, report.syncIntervalSeconds, s.max_sync_interval_seconds)
        latency = report.latencyMs if report.latencyMs is not None else (self._clock() - started) * 1000
        return Observation(
            region=region, ok=ok, at=self._clock(), reason=reason, status=report.status, latency_ms=latency
        )

    async def _in_transit(self, region: str, started: float, exc: GenesysError) -> Observation:
        """A failure in transit is evidence only if the API host answered something after it."""
        if not await api_answered_after(self._client, started, self._settings.timeout_seconds):
            self._client.reachability.lost(f"{region}: {describe(exc, self._settings.timeout_seconds)[0]}")
            raise Unreachable(f"API host unreachable ({exc}); not evidence about {region}")
        return self._bad(region, *describe(exc, self._settings.timeout_seconds))

    def _bad(self, region: str, reason: str, failure: FailureKind) -> Observation:
        return Observation(region=region, ok=False, at=self._clock(), reason=reason, failure=failure)


def describe(exc: GenesysError, timeout: float) -> tuple[str, FailureKind]:
    """A failed call as an observation's reason and failure kind."""
    if isinstance(exc, RequestTimeout):
        return f"timeout after {timeout:g}s", "timeout"
    if isinstance(exc, ServerError):
        return f"http {exc.status}", "error"
    if isinstance(exc, TransportFailure):
        return exc.message, "error"
    if isinstance(exc, MalformedResponse):
        return f"malformed answer: {exc.message}", "malformed"
    return f"http {exc.status}: {exc.message}", "error"
