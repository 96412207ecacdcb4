"""The PromQL name extraction the dashboard and alert tests rely on, and promtool's metrics lint."""

from __future__ import annotations

import pytest

from tests.deploy.metric_names import exposed_names, names_in_expr, selectors_in_expr
from tests.deploy.promtool_check import check_metrics, promtool
from watcher.metrics import WatcherMetrics


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up == 0", {"up"}),
        ('up{job="failover-watcher"} == 0 or absent(up{job="failover-watcher"})', {"up"}),
        (
            'histogram_quantile(0.95, sum by (le, kind) (rate(a_bucket{instance=~"$i"}[$__rate_interval])))',
            {"a_bucket"},
        ),
        ('sum(rate(a_total{result="success"}[1h])) / sum(rate(a_total[1h])) < 0.95', {"a_total"}),
        ("sum(increase(x[15m])) > 0 unless sum(increase(y[15m])) > 0", {"x", "y"}),
        ("max(a) by (strategy) offset 5m > bool 1e3", {"a"}),
        ('count_values("region", b) == 1', {"b"}),
    ],
)
def test_names_in_expr(expr: str, expected: set[str]) -> None:
    assert names_in_expr(expr) == expected


def test_selectors_in_expr() -> None:
    expr = 'sum(rate(a_total{code="429", instance=~"$i"}[5m])) / b{x!="y"}'
    assert selectors_in_expr(expr) == [("a_total", {"code", "instance"}), ("b", {"x"})]


def test_exposed_names_follow_the_type_suffixes(populated_metrics: WatcherMetrics) -> None:
    names = exposed_names(populated_metrics.exposition().decode())
    assert "failover_watcher_switches_total" in names
    assert names["failover_watcher_switches_total"] == {"strategy", "result"}
    assert {"failover_watcher_update_latency_seconds_bucket"} <= names.keys()
    assert "le" in names["failover_watcher_update_latency_seconds_bucket"]
    assert "failover_watcher_region_healthy" in names
    assert "failover_watcher_switches" not in names  # the family name is not a series


needs_promtool = pytest.mark.skipif(
    promtool() is None, reason="promtool missing: run `sh deploy/install-system-deps.sh`"
)


@needs_promtool
def test_promtool_accepts_the_precreated_exposition(populated_metrics: WatcherMetrics) -> None:
    fresh = WatcherMetrics()
    fresh.precreate(["us-east-1"], [("strategy-1", ["us-east-1"])], ["event-mesh"])
    result = check_metrics(fresh.exposition())
    assert result.ok, result.output
    result = check_metrics(populated_metrics.exposition())
    assert result.ok, result.output


@needs_promtool
def test_promtool_flags_a_badly_named_counter() -> None:
    bad = b"# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n"
    result = check_metrics(bad)
    assert not result.ok
    assert "_total" in result.output
