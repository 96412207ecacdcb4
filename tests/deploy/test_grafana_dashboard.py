"""deploy/grafana: every query reads a metric the watcher exposes, through the templated source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.metric_names import exposed_names, names_in_expr, selectors_in_expr
from watcher.metrics import WatcherMetrics


@pytest.fixture
def dashboard(repo: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((repo / "deploy/grafana/failover-watcher.json").read_text())
    return data


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows nest their panels


def _exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in _panels(dashboard)
        for target in panel.get("targets", [])
    ]


def test_every_metric_in_every_panel_is_exposed(
    dashboard: dict[str, Any], populated_metrics: WatcherMetrics
) -> None:
    exposed = exposed_names(populated_metrics.exposition().decode())
    exprs = _exprs(dashboard)
    assert len(exprs) >= 15
    used: set[str] = set()
    for title, expr in exprs:
        names = names_in_expr(expr)
        assert names, f"{title}: no metric found in {expr!r}"
        for name in names:
            assert name == "up" or name in exposed, f"{title}: {name} is not exposed"
        for name, labels in selectors_in_expr(expr):
            if name != "up":
                assert labels - {"instance", "job"} <= exposed[name], f"{title}: {name} {labels}"
        used |= names
    families = {
        "failover_watcher_region_healthy",
        "failover_watcher_active_region",
        "failover_watcher_switches_total",
        "failover_watcher_update_latency_seconds_bucket",
        "failover_watcher_detection_to_switch_seconds_bucket",
        "failover_watcher_api_requests_total",
        "failover_watcher_outbox_pending",
        "failover_watcher_outbox_dead_letters",
        "failover_watcher_token_refreshes_total",
    }
    assert families <= used


def test_rate_limited_requests_panel(dashboard: dict[str, Any]) -> None:
    assert any('failover_watcher_api_requests_total{code="429"' in expr for _, expr in _exprs(dashboard))


def test_datasource_is_templated(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_panel_ids_are_unique_and_layout_fits(dashboard: dict[str, Any]) -> None:
    panels = list(_panels(dashboard))
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
