"""deploy/prometheus/dns-sync-alerts.yml: promtool checks the rules and runs their unit tests; every
alert has a firing test that fails without it; every metric an alert reads is one the receiver
exposes (checked against a populated `DnsSyncMetrics`)."""

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
from tests.deploy.promtool_check import check_metrics, promtool
from watcher.dnssync import DnsSyncMetrics

RULES = "dns-sync-alerts.yml"
TESTS = "dns-sync-alerts_test.yml"
ALERTS = {
    "DnsSyncUpdatesFailing",
    "DnsSyncUpdatesRefused",
    "DnsSyncEventsRejected",
    "DnsSyncEventsStale",
    "DnsSyncDown",
}

needs_promtool = pytest.mark.skipif(
    promtool() is None, reason="promtool missing: run `sh deploy/install-system-deps.sh`"
)


@pytest.fixture
def populated() -> DnsSyncMetrics:
    """A fresh registry with one strategy pre-created and one of every observation."""
    m = DnsSyncMetrics()
    m.precreate(["voice-routing"])
    m.applied.labels(strategy="voice-routing").inc()
    m.stale.labels(strategy="voice-routing").inc()
    m.rejected.labels(reason="bad_signature").inc()
    m.ignored.labels(reason="no_strategy").inc()
    m.dns_errors.labels(kind="tsig", code="BADSIG").inc()
    m.last_sequence.labels(strategy="voice-routing").set(7)
    m.last_applied_time.labels(strategy="voice-routing").set(1_700_000_000)
    m.update_latency.observe(0.004)
    return m


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = promtool()
    assert binary is not None
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _rules(repo: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load((repo / "deploy/prometheus" / RULES).read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_alert_is_there_with_summary_description_and_runbook(repo: Path) -> None:
    rules = _rules(repo)
    assert {r["alert"] for r in rules} == ALERTS
    runbook = (repo / "deploy/prometheus/DNS-SYNC-RUNBOOK.md").read_text()
    headings = {h.strip().lower() for h in re.findall(r"^## (.+)$", runbook, re.MULTILINE)}
    for rule in rules:
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        url, anchor = annotations["runbook_url"].rsplit("#", 1)
        assert url.endswith("/deploy/prometheus/DNS-SYNC-RUNBOOK.md")
        assert anchor == rule["alert"].lower()
        assert anchor in headings, f"DNS-SYNC-RUNBOOK.md has no section for {rule['alert']}"
        assert rule["labels"]["severity"] in {"critical", "warning"}


def test_alerts_read_only_metrics_the_receiver_exposes(repo: Path, populated: DnsSyncMetrics) -> None:
    exposed = exposed_names(populated.exposition().decode())
    for rule in _rules(repo):
        for name in names_in_expr(rule["expr"]):
            assert name == "up" or name in exposed, f"{rule['alert']}: {name} is not exposed"
        for name, labels in selectors_in_expr(rule["expr"]):
            if name != "up":
                assert labels <= exposed[name], f"{rule['alert']}: {name} has no {labels}"


def test_the_down_alert_matches_the_scrape_job(repo: Path) -> None:
    (rule,) = [r for r in _rules(repo) if r["alert"] == "DnsSyncDown"]
    config = yaml.safe_load((repo / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert "failover-watcher-dns-sync" in jobs
    assert 'job="failover-watcher-dns-sync"' in rule["expr"]
    assert RULES in config["rule_files"]


@needs_promtool
def test_the_exposition_passes_promtool_check_metrics(populated: DnsSyncMetrics) -> None:
    result = check_metrics(populated.exposition())
    assert result.ok, result.output


@needs_promtool
def test_promtool_check_rules(repo: Path) -> None:
    done = _promtool("check", "rules", RULES, cwd=repo / "deploy/prometheus")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


@needs_promtool
def test_promtool_test_rules(repo: Path) -> None:
    done = _promtool("test", "rules", TESTS, cwd=repo / "deploy/prometheus")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@needs_promtool
def test_every_alert_has_a_firing_unit_test(repo: Path, tmp_path: Path) -> None:
    """Delete one alert at a time: its firing test must then fail, or it was never tested."""
    tests = yaml.safe_load((repo / "deploy/prometheus" / TESTS).read_text())
    cases = [case for test in tests["tests"] for case in test.get("alert_rule_test", [])]
    assert {c["alertname"] for c in cases if c.get("exp_alerts")} == ALERTS
    assert {c["alertname"] for c in cases if not c.get("exp_alerts")} == ALERTS

    def without(alert: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        workdir = tmp_path / alert
        workdir.mkdir()
        shutil.copy(repo / "deploy/prometheus" / TESTS, workdir)
        doc = yaml.safe_load((repo / "deploy/prometheus" / RULES).read_text())
        for group in doc["groups"]:
            group["rules"] = [r for r in group["rules"] if r["alert"] != alert]
        (workdir / RULES).write_text(yaml.safe_dump(doc))
        return alert, _promtool("test", "rules", TESTS, cwd=workdir)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for alert, done in pool.map(without, sorted(ALERTS)):
            assert done.returncode != 0, f"removing {alert} did not fail any unit test"
            assert alert in done.stdout + done.stderr
