"""What a health source may answer: an observation, or no evidence at all (SPEC §4.1); and the
board that keeps each source's last answer per region, for `/status`, the metrics and `regions`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from watcher.core import Observation
from watcher.metrics import WatcherMetrics


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

    def to_dict(self, iso: Callable[[float | None], str | None] | None = None) -> dict[str, Any]:
        """As `/status` and `regions --json` show it; `iso` turns the monotonic `at` into wall time."""
        return {
            "source": self.source,
            "kind": self.kind,
            "verdict": "no_evidence" if self.ok is None else "good" if self.ok else "bad",
            "reason": self.reason,
            "latencyMs": None if self.latency_ms is None else round(self.latency_ms, 3),
            "at": iso(self.at) if iso is not None else self.at,
        }


class SourceBoard:
    """The last reading of every (region, source), and its metrics."""

    def __init__(self, metrics: WatcherMetrics | None = None) -> None:
        self._metrics = metrics
        self._readings: dict[str, dict[str, SourceReading]] = {}
        self._order: dict[str, list[str]] = {}

    def record(
        self, region: str, source: str, kind: str, outcome: Observation | NoEvidence, at: float
    ) -> None:
        if isinstance(outcome, NoEvidence):
            reading = SourceReading(source, kind, None, f"no evidence: {outcome}", at, result=outcome.result)
        else:
            result = "healthy" if outcome.ok else (outcome.failure or "unhealthy")
            reading = SourceReading(
                source, kind, outcome.ok, outcome.reason, outcome.at, outcome.latency_ms, result
            )
        self._readings.setdefault(region, {})[source] = reading
        m = self._metrics
        if m is None:
            return
        m.source_checks.labels(region=region, source=source, result=reading.result).inc()
        if reading.ok is not None:
            m.source_healthy.labels(region=region, source=source).set(1 if reading.ok else 0)
        if reading.latency_ms is not None:
            m.source_latency.labels(region=region, source=source).set(reading.latency_ms / 1000)

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
        self._readings = {
            region: {s: r for s, r in by_source.items() if s in keep.get(region, [])}
            for region, by_source in self._readings.items()
            if region in keep
        }
