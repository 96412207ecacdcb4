"""deploy/prometheus: promtool checks the rules, runs their unit tests and checks the config."""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.metric_names import exposed_names, names_in_expr, selectors_in_expr
from tests.deploy.promtool_check import promtool
from watcher.metrics import WatcherMetrics

ALERTS = {
    "FailoverSwitchFailures",
    "FailoverSwitchSuccessRateLow",
    "AllRegionsDown",
    "OutboxBacklog",
    "OutboxDeadLetters",
    "TokenRefreshFailures",
    "WatcherDown",
    "DriftDetected",
    "HealthSourceMisconfigured",
    "StateDirWriteFailures",
    "EventsOnlyInMemory",
    "StrategyHeldLong",
    "DryRunLeftOn",
    "SafetyRuleBlocking",
    "ConfigReloadRefused",
    "HealthPollsStale",
    "StandbyNotReady",
}

needs_promtool = pytest.mark.skipif(
    promtool() is None, reason="promtool missing: run `sh deploy/install-system-deps.sh`"
)


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = promtool()
    assert binary is not None
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _rules(repo: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load((repo / "deploy/prometheus/alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_alert_is_there_with_summary_description_and_runbook(repo: Path) -> None:
    rules = _rules(repo)
    assert {r["alert"] for r in rules} == ALERTS
    runbook = (repo / "deploy/prometheus/RUNBOOK.md").read_text()
    headings = {h.strip().lower() for h in re.findall(r"^## (.+)$", runbook, re.MULTILINE)}
    for rule in rules:
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        anchor = annotations["runbook_url"].rsplit("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert anchor in headings, f"RUNBOOK.md has no section for {rule['alert']}"
        assert rule["labels"]["severity"] in {"critical", "warning"}


def test_alerts_read_only_metrics_the_watcher_exposes(repo: Path, populated_metrics: WatcherMetrics) -> None:
    exposed = exposed_names(populated_metrics.exposition().decode())
    for rule in _rules(repo):
        for name in names_in_expr(rule["expr"]):
            assert name == "up" or name in exposed, f"{rule['alert']}: {name} is not exposed"
        for name, labels in selectors_in_expr(rule["expr"]):
            if name != "up":
                assert labels <= exposed[name], f"{rule['alert']}: {name} has no {labels}"


def test_success_rate_alert_uses_the_spec_formula(repo: Path) -> None:
    (rule,) = [r for r in _rules(repo) if r["alert"] == "FailoverSwitchSuccessRateLow"]
    expr = " ".join(rule["expr"].split())
    assert expr == (
        'sum(rate(failover_watcher_switches_total{result="success"}[1h])) '
        "/ sum(rate(failover_watcher_switches_total[1h])) < 0.95"
    )


@needs_promtool
def test_promtool_check_rules(repo: Path) -> None:
    done = _promtool("check", "rules", "alerts.yml", cwd=repo / "deploy/prometheus")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


@needs_promtool
def test_promtool_test_rules(repo: Path) -> None:
    done = _promtool("test", "rules", "alerts_test.yml", cwd=repo / "deploy/prometheus")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@needs_promtool
def test_every_alert_has_a_firing_unit_test(repo: Path, tmp_path: Path) -> None:
    """Delete one alert at a time: its firing test must then fail, or it was never tested."""
    tests = yaml.safe_load((repo / "deploy/prometheus/alerts_test.yml").read_text())
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    silent = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    assert fired == ALERTS
    assert silent == ALERTS

    def without(alert: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        workdir = tmp_path / alert
        workdir.mkdir()
        shutil.copy(repo / "deploy/prometheus/alerts_test.yml", workdir)
        doc = yaml.safe_load((repo / "deploy/prometheus/alerts.yml").read_text())
        for group in doc["groups"]:
            group["rules"] = [r for r in group["rules"] if r["alert"] != alert]
        (workdir / "alerts.yml").write_text(yaml.safe_dump(doc))
        return alert, _promtool("test", "rules", "alerts_test.yml", cwd=workdir)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for alert, done in pool.map(without, sorted(ALERTS)):
            assert done.returncode != 0, f"removing {alert} did not fail any unit test"
            assert alert in done.stdout + done.stderr


@needs_promtool
def test_promtool_check_config(repo: Path) -> None:
    done = _promtool("check", "config", "prometheus.yml", cwd=repo / "deploy/prometheus")
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_check_kubernetes_config(repo: Path) -> None:
    done = _promtool("check", "config", "prometheus-kubernetes.yml", cwd=repo / "deploy/prometheus")
    if "field kubernetes_sd_configs not found" in done.stdout + done.stderr:
        pytest.skip("this promtool is built without Kubernetes service discovery (Debian's is)")
    assert done.returncode == 0, done.stdout + done.stderr
