"""Shared fixtures of the deployment tests: the repository root and a populated metrics registry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from watcher.metrics import WatcherMetrics

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _no_watcher_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`WATCHER_*` variables overlay every config: the developer's must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("WATCHER_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)


@pytest.fixture
def populated_metrics() -> WatcherMetrics:
    """A fresh registry with the configured objects pre-created and one of every observation."""
    m = WatcherMetrics()
    m.precreate(
        regions=["us-east-1", "eu-west-1"],
        strategies=[("strategy-1", ["us-east-1", "eu-west-1"])],
        sinks=["event-mesh", "dns-sync"],
    )
    m.switches.labels(strategy="strategy-1", result="success").inc()
    m.switches.labels(strategy="strategy-1", result="failure").inc()
    m.update_latency.labels(kind="strategy").observe(0.12)
    m.update_latency.labels(kind="rule").observe(0.08)
    m.detection_to_switch.labels(strategy="strategy-1").observe(11.5)
    m.region_healthy.labels(region="us-east-1").set(1)
    m.active_region.labels(strategy="strategy-1", region="us-east-1").set(1)
    m.health_checks.labels(region="us-east-1", result="healthy").inc()
    m.api_requests.labels(endpoint="/api/v2/routing/strategies/{strategyId}", code="200").inc()
    m.api_requests.labels(endpoint="/api/v2/architecture/regions/{regionId}/health", code="429").inc()
    m.outbox_pending.labels(sink="event-mesh").set(3)
    m.outbox_dead_letters.labels(sink="event-mesh").set(0)
    m.deliveries.labels(sink="event-mesh", result="success").inc()
    m.token_refreshes.labels(result="success").inc()
    m.all_regions_down.labels(strategy="strategy-1").set(0)
    m.drift.labels(strategy="strategy-1").set(0)
    m.drift_events.labels(strategy="strategy-1").inc()
    m.decisions.labels(strategy="strategy-1", kind="failover", dry_run="false").inc()
    m.malformed_responses.labels(endpoint="/api/v2/architecture/regions").inc()
    m.poll_cycle_seconds.observe(0.03)
    m.last_poll_timestamp.set(1_700_000_000)
    m.task_restarts.labels(task="poller").inc()
    m.dry_run.set(0)
    m.leader.set(1)
    m.source_misconfigured.labels(region="us-east-1", source="statuspage").set(0)
    return m
