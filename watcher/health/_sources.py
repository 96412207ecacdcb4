"""Each region's health sources, built from the config (SPEC §6.1).

`HealthSources` owns what the sources share: the status page feed (one fetch per interval for every
region), the plain HTTP client for the status page and `auth = "none"` probes, and the board of
every source's last answer. `build(cfg)` gives the `RegionSources` the poll scheduler asks; a reload
builds a new one and keeps the feed when `[statuspage]` did not change.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from watcher.config import (
    ProbeSourceSettings,
    StatusPageSourceSettings,
    WatcherConfig,
    probe_url,
    source_names,
)
from watcher.core import Observation
from watcher.genesys import GenesysClient
from watcher.health._evidence import HealthSource, SourceBoard
from watcher.health._probe import ProbeSource
from watcher.health._quorum import QuorumSource
from watcher.health._region_health import RegionHealthEndpoint
from watcher.health._statuspage import StatusPageFeed, StatusPageSource
from watcher.metrics import WatcherMetrics


def public_http() -> httpx.AsyncClient:
    """The client for hosts that get no token: the status page and `auth = "none"` probes."""
    return httpx.AsyncClient(headers={"User-Agent": "failover-watcher", "Accept": "application/json"})


class RegionSources:
    """The scheduler's one health source: each region asks its own quorum of sources."""

    name = "sources"

    def __init__(self, by_region: dict[str, QuorumSource], default: QuorumSource) -> None:
        self.by_region = by_region
        self._default = default

    def of(self, region: str) -> QuorumSource:
        return self.by_region.get(region, self._default)

    async def observe(self, region: str) -> Observation:
        return await self.of(region).observe(region)


class HealthSources:
    """Builds `RegionSources` for a config; shares the feed, the plain client and the board.

    >>> # async with public_http() as http:
    >>> #     sources = HealthSources(client, http, metrics=metrics).build(cfg)
    >>> #     obs = await sources.observe("us-east-1")
    """

    def __init__(
        self,
        client: GenesysClient,
        http: httpx.AsyncClient,
        *,
        metrics: WatcherMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._http = http
        self._metrics = metrics
        self._clock = clock
        self.board = SourceBoard(metrics)
        self.feed: StatusPageFeed | None = None

    def _feed(self, cfg: WatcherConfig) -> StatusPageFeed:
        if self.feed is None or self.feed.settings != cfg.statuspage:
            self.feed = StatusPageFeed(cfg.statuspage, self._http, metrics=self._metrics, clock=self._clock)
        return self.feed

    def build(self, cfg: WatcherConfig) -> RegionSources:
        by_region: dict[str, QuorumSource] = {}
        keep: dict[str, list[str]] = {}
        for region in cfg.regions:
            names = source_names(region.health) or [RegionHealthEndpoint.name]
            keep[region.id] = names
            if not region.health:
                by_region[region.id] = QuorumSource(
                    [RegionHealthEndpoint(self._client, cfg.health, clock=self._clock)],
                    board=self.board,
                    clock=self._clock,
                )
                continue
            sources: list[HealthSource] = []
            for name, spec in zip(names, region.health, strict=True):
                sources.append(self._source(cfg, name, spec))
            by_region[region.id] = QuorumSource(sources, region.quorum, board=self.board, clock=self._clock)
        for region_id in cfg.region_ids():
            keep.setdefault(region_id, [RegionHealthEndpoint.name])
        self.board.configure(keep)
        if self._metrics is not None:
            # Counters from the start, so a dashboard shows zeros; the gauges wait for a first answer
            # (a 0 before it would read as "bad").
            for region_id, names in keep.items():
                for name in names:
                    for result in ("healthy", "unhealthy", "no_evidence"):
                        self._metrics.source_checks.labels(region=region_id, source=name, result=result)
            for region in cfg.regions:
                for name, spec in zip(source_names(region.health), region.health, strict=True):
                    if isinstance(spec, StatusPageSourceSettings):
                        # 0 from the start (an existing series keeps its value across a reload).
                        self._metrics.source_misconfigured.labels(region=region.id, source=name)
        default = QuorumSource(
            [RegionHealthEndpoint(self._client, cfg.health, clock=self._clock)],
            board=self.board,
            clock=self._clock,
        )
        return RegionSources(by_region, default)

    def _source(self, cfg: WatcherConfig, name: str, spec: object) -> HealthSource:
        if isinstance(spec, StatusPageSourceSettings):
            return StatusPageSource(self._feed(cfg), spec.component, name=name, clock=self._clock)
        if isinstance(spec, ProbeSourceSettings):
            return ProbeSource(
                spec,
                probe_url(cfg, spec),
                timeout=spec.timeout_seconds or cfg.health.timeout_seconds,
                client=self._client,
                http=self._http,
                name=name,
                clock=self._clock,
            )
        return RegionHealthEndpoint(self._client, cfg.health, clock=self._clock, name=name)
