"""Prometheus metrics of the watcher, one registry per daemon instance.

Dashboards and alert rules depend on these names (SPEC §5): rename nothing. Every metric lives in a
`WatcherMetrics` bound to its own `CollectorRegistry`, so tests get a fresh one and two daemons in one
process (the demo and a test) never share counters. Label sets for configured regions and strategies are
pre-created so a dashboard shows zeros instead of gaps before the first event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import disable_created_metrics as _disable_created_metrics

# `_created` series double the series count and no dashboard of ours reads them.
_disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_M = TypeVar("_M", Counter, Gauge, Histogram)
_DETECTION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class WatcherMetrics:
    """All metrics of one watcher.

    >>> m = WatcherMetrics()
    >>> m.switches.labels(strategy="s1", result="success").inc()
    >>> b"failover_watcher_switches_total" in m.exposition()
    True
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.switches = Counter(
            "failover_watcher_switches",
            "Routing switches attempted (strategy reweight plus rule retargeting), by result.",
            ["strategy", "result"],
            registry=r,
        )
        self.update_latency = Histogram(
            "failover_watcher_update_latency_seconds",
            "Latency of one acknowledged write (strategy, rule, trigger or emergency group PUT), "
            "retries included.",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.detection_to_switch = Histogram(
            "failover_watcher_detection_to_switch_seconds",
            "From the first bad observation of the streak that failed a region to the acknowledged PUT.",
            ["strategy"],
            buckets=_DETECTION_BUCKETS,
            registry=r,
        )
        self.region_healthy = Gauge(
            "failover_watcher_region_healthy",
            "1 while the region is healthy after hysteresis, 0 otherwise (unknown counts as 0).",
            ["region"],
            registry=r,
        )
        self.active_region = Gauge(
            "failover_watcher_active_region",
            "1 for the region a strategy routes to (priority 1), 0 for its other regions.",
            ["strategy", "region"],
            registry=r,
        )
        self.health_checks = Counter(
            "failover_watcher_health_checks",
            "Health observations by result (healthy, unhealthy, timeout, error, malformed).",
            ["region", "result"],
            registry=r,
        )
        self.source_latency = Gauge(
            "failover_watcher_source_latency_seconds",
            "Latency of a region's health source at its last answer (a probe's own exchange, the "
            "status page's fetch, the region-health poll).",
            ["region", "source"],
            registry=r,
        )
        self.source_healthy = Gauge(
            "failover_watcher_source_healthy",
            "1 when the health source's last evidence about the region was good, 0 when bad.",
            ["region", "source"],
            registry=r,
        )
        self.source_checks = Counter(
            "failover_watcher_source_checks",
            "Answers of each health source of a region, by result (healthy, unhealthy, no_evidence, "
            "throttled, unreachable), before the quorum combines them.",
            ["region", "source", "result"],
            registry=r,
        )
        self.statuspage_fetches = Counter(
            "failover_watcher_statuspage_fetches",
            "Fetches of the public status page (one per interval for all regions), by result "
            "(success, error, timeout, malformed).",
            ["result"],
            registry=r,
        )
        self.api_requests = Counter(
            "failover_watcher_api_requests",
            "Requests made to the Genesys Cloud API, by endpoint template and HTTP code "
            "(transport errors are code 'error').",
            ["endpoint", "code"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "failover_watcher_outbox_pending",
            "Events written to the outbox and not yet acknowledged by the sink.",
            ["sink"],
            registry=r,
        )
        self.outbox_dead_letters = Gauge(
            "failover_watcher_outbox_dead_letters",
            "Events moved to the dead-letter table (too old to deliver); alert on any.",
            ["sink"],
            registry=r,
        )
        self.deliveries = Counter(
            "failover_watcher_deliveries",
            "Event delivery attempts to sinks, by result (success, retry, failure, disabled).",
            ["sink", "result"],
            registry=r,
        )
        self.token_refreshes = Counter(
            "failover_watcher_token_refreshes",
            "OAuth token acquisitions, by result.",
            ["result"],
            registry=r,
        )
        self.all_regions_down = Gauge(
            "failover_watcher_all_regions_down",
            "1 while every region of the strategy is unhealthy (the watcher fails open).",
            ["strategy"],
            registry=r,
        )
        self.drift = Gauge(
            "failover_watcher_drift",
            "1 while the strategy as the API holds it differs from what the watcher wrote.",
            ["strategy"],
            registry=r,
        )
        self.drift_events = Counter(
            "failover_watcher_drift_detected",
            "Changes made behind the watcher's back, detected on read-back.",
            ["strategy"],
            registry=r,
        )
        self.follower_repairs = Counter(
            "failover_watcher_follower_repairs",
            "Read-back repairs of followers (triggers, emergency groups): result=success, one found not "
            "following its strategy's decision (drift, or a switch cut short) and rewritten; "
            "result=failure, one that could not be read or written.",
            ["kind", "strategy", "result"],
            registry=r,
        )
        self.decisions = Counter(
            "failover_watcher_decisions",
            "Decisions of the failover core by kind (failover, failback, pin, reconcile, refused, "
            "all_down), dry-run ones included.",
            ["strategy", "kind", "dry_run"],
            registry=r,
        )
        self.malformed_responses = Counter(
            "failover_watcher_malformed_responses",
            "API answers that could not be parsed (bad JSON, missing fields); logged, never fatal.",
            ["endpoint"],
            registry=r,
        )
        self.poll_cycle_seconds = Histogram(
            "failover_watcher_poll_cycle_seconds",
            "Duration of one health observation, request included.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.config_reloads = Counter(
            "failover_watcher_config_reloads",
            "Config reloads (SIGHUP), by result: success, or refused (the new file is invalid: the "
            "running config is kept).",
            ["result"],
            registry=r,
        )
        for result in ("success", "refused"):
            self.config_reloads.labels(result=result)  # a series from the start: increase() sees the first
        self.last_poll_timestamp = Gauge(
            "failover_watcher_last_poll_timestamp_seconds",
            "Unix time of the last completed health observation of any region.",
            registry=r,
        )
        self.task_restarts = Counter(
            "failover_watcher_task_restarts",
            "Background tasks that crashed and were restarted with backoff.",
            ["task"],
            registry=r,
        )
        self.dry_run = Gauge(
            "failover_watcher_dry_run",
            "1 while the watcher decides and reports but writes nothing.",
            registry=r,
        )
        self.leader = Gauge(
            "failover_watcher_leader",
            "1 while this instance may write (single-instance mode: always 1).",
            registry=r,
        )
        self.source_misconfigured = Gauge(
            "failover_watcher_source_misconfigured",
            "1 while a region's health source cannot judge it as configured (a status-page component "
            "the page does not hold: a typo, a rename); it gives no evidence meanwhile. 0 after.",
            ["region", "source"],
            registry=r,
        )
        # SPEC 4.2 "Durable means durable" and "A refused command is a refusal".
        self.state_write_failures = Counter(
            "failover_watcher_state_write_failures",
            "Writes under [state] dir that failed (disk full, read-only), by what was written.",
            ["what"],
            registry=r,
        )
        self.events_unstored = Gauge(
            "failover_watcher_events_unstored",
            "Events kept in memory because the outbox could not store them (stored once it can).",
            registry=r,
        )
        self.events_dropped = Counter(
            "failover_watcher_events_dropped",
            "Events lost because the outbox could not store them and the memory buffer was full.",
            registry=r,
        )
        self.operator_holds = Gauge(
            "failover_watcher_operator_hold",
            "1 while an operator hold (kind=hold) or pin (kind=pin) of the strategy is in force.",
            ["strategy", "kind"],
            registry=r,
        )
        self.operator_refusals = Counter(
            "failover_watcher_operator_refusals",
            "Operator commands refused, by command and HTTP status.",
            ["command", "code"],
            registry=r,
        )
        self.safety_blocked = Gauge(
            "failover_watcher_safety_blocked",
            "1 while a safety rule (safety.max_switches, SPEC §8) holds back an automatic switch of "
            "the strategy: not written until an operator acts or the window slides under the budget.",
            ["strategy"],
            registry=r,
        )
        # SPEC 8: readiness of each standby region, and the drills.
        self.region_ready = Gauge(
            "failover_watcher_region_ready",
            "1 when a switch of the strategy to this standby region would succeed as last checked "
            "(the API copy names it, every follower's target there exists and is usable, its health "
            "sources give evidence); 0 when a check failed.",
            ["strategy", "region"],
            registry=r,
        )
        self.drills = Counter(
            "failover_watcher_drills",
            "Drills ended, by strategy and outcome (SUCCEEDED, FAILED, INTERRUPTED, NOT_STARTED).",
            ["strategy", "outcome"],
            registry=r,
        )
        self.drill_switch_seconds = Histogram(
            "failover_watcher_drill_switch_seconds",
            "Time for a drill's move (there or back) to land with every follower read back.",
            ["strategy", "leg"],
            buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
            registry=r,
        )

    def precreate(
        self,
        regions: Iterable[str],
        strategies: Iterable[tuple[str, Iterable[str]]],
        sinks: Iterable[str] = (),
    ) -> None:
        """Create every label set for the configured objects so series exist from the start."""
        for region in regions:
            self.region_healthy.labels(region=region)
            for result in ("healthy", "unhealthy", "timeout", "error"):
                self.health_checks.labels(region=region, result=result)
        for strategy, strategy_regions in strategies:
            for result in ("success", "failure"):
                self.switches.labels(strategy=strategy, result=result)
            self.detection_to_switch.labels(strategy=strategy)
            self.all_regions_down.labels(strategy=strategy)
            self.drift.labels(strategy=strategy)
            self.drift_events.labels(strategy=strategy)
            for kind in ("hold", "pin"):
                self.operator_holds.labels(strategy=strategy, kind=kind)
            self.safety_blocked.labels(strategy=strategy)
            for region in strategy_regions:
                self.active_region.labels(strategy=strategy, region=region)
        for kind in ("strategy", "rule", "trigger", "emergency_group", "site", "ivr", "data_action"):
            self.update_latency.labels(kind=kind)
        for result in ("success", "failure"):
            self.token_refreshes.labels(result=result)
        for sink in sinks:
            self.outbox_pending.labels(sink=sink)
            self.outbox_dead_letters.labels(sink=sink)
            for result in ("success", "retry", "failure"):
                self.deliveries.labels(sink=sink, result=result)
        for what in ("operator", "audit", "outbox"):
            self.state_write_failures.labels(what=what)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    # A labelled child, looked up once: `labels()` validates and locks on every call, and the hot
    # path (a poll: about seven label lookups) asked for the same few children a hundred times a
    # second. No child is ever removed from a metric here, so a cached child stays the live one.
    _child_cache: dict[tuple[Any, tuple[str, ...]], Any]

    def child(self, metric: _M, *values: str) -> _M:
        """`metric.labels(*values)` (values in the order of the metric's label names), cached."""
        try:
            cache = self._child_cache
        except AttributeError:
            cache = self._child_cache = {}
        key = (metric, values)
        found = cache.get(key)
        if found is None:
            found = cache[key] = metric.labels(*values)
        return found
