"""An HTTP latency probe as a health source (SPEC §6.1).

A GET of `url` (default: the API host's `/api/v2/date`, with the watcher's token). A probe of the API
host goes through the client (`GenesysClient.probe`: its budget, its transport, its token unless
`auth = "none"`); a probe of another host (`auth = "none"`) through a plain client, outside the
budget. Bad on an error, a timeout, a status not in `expect_status`, or when the median latency of
the last `latency_window` answers is above `max_latency_ms`. A probe of the API host that fails in
transit follows the blackout rule: evidence only if the API host answered something after it.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable

import httpx

from watcher.config import ProbeSourceSettings, origin
from watcher.core import FailureKind, Observation
from watcher.genesys import GenesysClient, GenesysError, ProbeAnswer, RequestTimeout, TransportFailure
from watcher.health._evidence import Unreachable
from watcher.health._region_health import api_answered_after, describe, refused_for_us


class ProbeSource:
    """One region's probe; it keeps the latencies of its last `latency_window` answers."""

    kind = "probe"

    def __init__(
        self,
        settings: ProbeSourceSettings,
        url: str,
        *,
        timeout: float,
        client: GenesysClient,
        http: httpx.AsyncClient,
        name: str = "probe",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.url = url
        self.name = name
        self._timeout = timeout
        self._client = client
        self._http = http
        self._clock = clock
        self._latencies: deque[float] = deque(maxlen=settings.latency_window)
        # The blackout rule applies to the API host only: another host failing is its own answer.
        self._api_host = origin(url) == origin(client.settings.api_url)

    async def observe(self, region: str) -> Observation:
        started = self._clock()
        try:
            answer = await self._get()
        except GenesysError as exc:
            ours = refused_for_us(exc)
            if ours is not None:
                raise ours from None
            if isinstance(exc, RequestTimeout | TransportFailure):
                await self._blackout(region, started, describe(exc, self._timeout)[0])
            return self._bad(region, *describe(exc, self._timeout))
        except httpx.TimeoutException:
            await self._blackout(region, started, f"timeout after {self._timeout:g}s")
            return self._bad(region, f"timeout after {self._timeout:g}s", "timeout")
        except httpx.HTTPError as exc:
            await self._blackout(region, started, type(exc).__name__)
            return self._bad(region, f"request failed ({type(exc).__name__})", "error")
        return self._judge(region, answer)

    async def _get(self) -> ProbeAnswer:
        if self._api_host:  # SPEC §6.1: a probe of the API host is in the budget
            token = self.settings.auth == "token"
            return await self._client.probe(self.url, timeout=self._timeout, token=token)
        response = await self._http.get(self.url, timeout=self._timeout)
        return ProbeAnswer(response.status_code, response.elapsed.total_seconds() * 1000)

    async def _blackout(self, region: str, started: float, what: str) -> None:
        if self._api_host and not await api_answered_after(self._client, started, self._timeout):
            self._client.reachability.lost(f"{region} probe: {what}")
            raise Unreachable(f"API host unreachable (probe: {what}); not evidence about {region}")

    def _judge(self, region: str, answer: ProbeAnswer) -> Observation:
        s = self.settings
        if answer.latency_ms is not None:
            self._latencies.append(answer.latency_ms)
        latency = f" in {answer.latency_ms:.0f}ms" if answer.latency_ms is not None else ""
        if answer.status not in s.expect_status:
            expected = ", ".join(str(c) for c in s.expect_status)
            return self._bad(region, f"http {answer.status}{latency} (expected {expected})", "error")
        reason = f"http {answer.status}{latency}"
        ok = True
        if self._latencies:
            median = statistics.median(self._latencies)
            window = f"median {median:.0f}ms of the last {len(self._latencies)}"
            if s.max_latency_ms is not None and median > s.max_latency_ms:
                ok = False
                reason += f"; {window} above max_latency_ms {s.max_latency_ms:g}"
            else:
                reason += f"; {window}"
        return Observation(
            region=region,
            ok=ok,
            at=self._clock(),
            reason=reason,
            status=str(answer.status),
            latency_ms=answer.latency_ms,
        )

    def _bad(self, region: str, reason: str, failure: FailureKind) -> Observation:
        return Observation(region=region, ok=False, at=self._clock(), reason=reason, failure=failure)
