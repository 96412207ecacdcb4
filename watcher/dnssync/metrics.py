"""Prometheus metrics of the DNS-sync receiver, in a registry of its own.

Alert rules (deploy/prometheus/dns-sync-alerts.yml) and dashboards depend on these names. A fresh
registry per receiver keeps tests and two receivers in one process apart. Label sets for the
configured strategies are pre-created so a dashboard shows zeros instead of gaps.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import disable_created_metrics as _disable_created_metrics

_disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REJECT_REASONS = ("bad_signature", "bad_event", "unknown_region")
IGNORE_REASONS = ("no_strategy", "no_active_region", "no_records")


class DnsSyncMetrics:
    """All metrics of one receiver.

    >>> m = DnsSyncMetrics()
    >>> m.stale.labels(strategy="s1").inc()
    >>> b"failover_watcher_dns_sync_events_stale_total" in m.exposition()
    True
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.applied = Counter(
            "failover_watcher_dns_sync_updates_applied",
            "Strategies whose records the DNS server confirmed (NOERROR), one per strategy per event.",
            ["strategy"],
            registry=r,
        )
        self.rejected = Counter(
            "failover_watcher_dns_sync_events_rejected",
            "Deliveries refused: bad_signature (401), bad_event (400, 413), unknown_region (422: the event "
            "names a region a record has no values for).",
            ["reason"],
            registry=r,
        )
        self.stale = Counter(
            "failover_watcher_dns_sync_events_stale",
            "Strategy claims older than the last applied sequence: acknowledged, not applied.",
            ["strategy"],
            registry=r,
        )
        self.ignored = Counter(
            "failover_watcher_dns_sync_events_ignored",
            "Claims or events that say nothing about DNS (no strategy, no active region, no records).",
            ["reason"],
            registry=r,
        )
        self.dns_errors = Counter(
            "failover_watcher_dns_sync_dns_errors",
            "Updates the DNS server did not confirm, by kind (rcode, tsig, timeout, connection, "
            "protocol) and code (the rcode or TSIG error, 'none' otherwise).",
            ["kind", "code"],
            registry=r,
        )
        self.last_sequence = Gauge(
            "failover_watcher_dns_sync_last_applied_sequence",
            "The sequence of the last event applied per strategy (-1 before the first).",
            ["strategy"],
            registry=r,
        )
        self.last_applied_time = Gauge(
            "failover_watcher_dns_sync_last_applied_timestamp_seconds",
            "Unix time of the last confirmed update per strategy (0 before the first).",
            ["strategy"],
            registry=r,
        )
        self.update_latency = Histogram(
            "failover_watcher_dns_sync_update_latency_seconds",
            "From sending an update to the server's answer, failures included.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def precreate(self, strategies: Iterable[str]) -> None:
        for strategy in strategies:
            self.applied.labels(strategy=strategy)
            self.stale.labels(strategy=strategy)
            self.last_sequence.labels(strategy=strategy).set(-1)
            self.last_applied_time.labels(strategy=strategy)
        for reason in REJECT_REASONS:
            self.rejected.labels(reason=reason)
        for reason in IGNORE_REASONS:
            self.ignored.labels(reason=reason)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
