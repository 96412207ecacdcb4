"""What a health source may answer: an observation, or no evidence at all (SPEC §4.1); and the
board that keeps each source's last answer per region, for `/status`, the metrics and `regions`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from watcher.core import Observation
from watcher.metrics import WatcherMetrics

if TYPE_CHECKING:
    from prometheus_client import Gauge


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


class Misconfigured(NoEvidence):
    """The source cannot judge the region as configured (a status-page component the page does not
    hold: a typo, a rename). No evidence, loudly: it names what is wrong (SPEC §4.2)."""

    result = "misconfigured"


class Reused(NoEvidence):
    """A verdict already counted: the source has no fresh answer since (a status-page document
    between two fetches). The verdict stands, but it moves no hysteresis counter (SPEC §4.2).

    `observation` is the standing verdict, as the source (or the quorum) judged it.
    """

    result = "reused"

    def __init__(self, observation: Observation, why: str) -> None:
        super().__init__(why)
        self.observation = observation


class HealthSource(Protocol):
    name: str

    async def observe(self, region: str) -> Observation: ...


@dataclass(frozen=True)
class SourceReading:
    """One source's last answer about one region: a verdict (`ok`), or `ok=None` for no evidence."""

    source: str
    kind: str
    ok: bool | None
    reason: str
    at: float
    latency_ms: float | None = None
    result: str = "healthy"
    fresh: bool = True

    def to_dict(self, iso: Callable[[float | None], str | None] | None = None) -> dict[str, Any]:
        """As `/status` and `regions --json` show it; `iso` turns the monotonic `at` into wall time."""
        return {
            "source": self.source,
            "kind": self.kind,
            "verdict": "no_evidence" if self.ok is None else "good" if self.ok else "bad",
            "reason": self.reason,
            "latencyMs": None if self.latency_ms is None else round(self.latency_ms, 3),
            "at": iso(self.at) if iso is not None else self.at,
            # SPEC §4.2: a verdict reused between fetches is not new evidence; a misconfigured source
            # (its reason names what is wrong) gives none until the config or the page is fixed.
            "fresh": self.fresh,
            "misconfigured": self.result == Misconfigured.result,
        }


class SourceBoard:
    """The last reading of every (region, source), and its metrics."""

    def __init__(self, metrics: WatcherMetrics | None = None) -> None:
        self._metrics = metrics
        self._readings: dict[str, dict[str, SourceReading]] = {}
        self._order: dict[str, list[str]] = {}
        # The value each (gauge, region, source) was last set to here: a gauge is set again only
        # when its value changes (a poll a second per region otherwise re-sets three of them).
        self._gauged: dict[tuple[str, str, str], float] = {}

    def _gauge(self, gauge: Gauge, name: str, region: str, source: str, value: float) -> None:
        key = (name, region, source)
        if self._gauged.get(key) != value:
            assert self._metrics is not None
            self._metrics.child(gauge, region, source).set(value)
            self._gauged[key] = value

    def record(
        self, region: str, source: str, kind: str, outcome: Observation | NoEvidence, at: float
    ) -> None:
        if isinstance(outcome, Reused):
            # The standing verdict, shown as it is, but no new check: counted once, when it was fresh.
            obs = outcome.observation
            result = "healthy" if obs.ok else (obs.failure or "unhealthy")
            reading = SourceReading(
                source, kind, obs.ok, obs.reason, obs.at, obs.latency_ms, result, fresh=False
            )
            self._readings.setdefault(region, {})[source] = reading
            if self._metrics is not None:
                self._gauge(self._metrics.source_healthy, "healthy", region, source, 1 if obs.ok else 0)
            self._misconfigured(region, source, False)
            return
        if isinstance(outcome, NoEvidence):
            reading = SourceReading(source, kind, None, f"no evidence: {outcome}", at, result=outcome.result)
        else:
            result = "healthy" if outcome.ok else (outcome.failure or "unhealthy")
            reading = SourceReading(
                source, kind, outcome.ok, outcome.reason, outcome.at, outcome.latency_ms, result
            )
        self._readings.setdefault(region, {})[source] = reading
        if isinstance(outcome, Misconfigured):
            self._misconfigured(region, source, True)
        elif not isinstance(outcome, NoEvidence):
            self._misconfigured(region, source, False)
        m = self._metrics
        if m is None:
            return
        m.child(m.source_checks, region, source, reading.result).inc()
        if reading.ok is not None:
            self._gauge(m.source_healthy, "healthy", region, source, 1 if reading.ok else 0)
        if reading.latency_ms is not None:
            m.child(m.source_latency, region, source).set(reading.latency_ms / 1000)

    def _misconfigured(self, region: str, source: str, now: bool) -> None:
        """`failover_watcher_source_misconfigured`: 1 while the source is, 0 once it answers again
        (a failed fetch says neither: the gauge keeps its value)."""
        if self._metrics is not None:
            self._gauge(self._metrics.source_misconfigured, "misconfigured", region, source, 1 if now else 0)

    def misconfigured(self) -> list[tuple[str, SourceReading]]:
        """(region, reading) of every source that is misconfigured now, in region order."""
        return [
            (region, r)
            for region in sorted(self._readings)
            for r in self.readings(region)
            if r.result == Misconfigured.result
        ]

    def readings(self, region: str) -> list[SourceReading]:
        """The region's last readings, in the configured order of its sources."""
        by_source = self._readings.get(region, {})
        order = self._order.get(region, [])
        return sorted(
            by_source.values(), key=lambda r: order.index(r.source) if r.source in order else len(order)
        )

    def configure(self, sources: dict[str, list[str]]) -> None:
        """The configured sources of each region, in order (at start and after a reload); readings
        that no configured (region, source) produces any more are dropped."""
        keep = self._order = sources
        for region, by_source in self._readings.items():
            for source, reading in by_source.items():
                if reading.result == Misconfigured.result and source not in keep.get(region, []):
                    self._misconfigured(region, source, False)  # no longer configured: not misconfigured
        self._readings = {
            region: {s: r for s, r in by_source.items() if s in keep.get(region, [])}
            for region, by_source in self._readings.items()
            if region in keep
        }
