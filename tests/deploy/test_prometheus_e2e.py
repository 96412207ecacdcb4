"""A real Prometheus scrapes the daemon through a degrade/recover run and answers the SPEC's queries.

The dashboards and alerts are only as good as what Prometheus computes from the exposition, so this
runs the real server (Debian package) against the daemon and the simulator, both in this process,
and checks the PromQL answers against what the simulator saw on the wire and what the daemon recorded.

The answers are printed (`pytest -s` shows them) and, when `PROMQL_RESULTS_FILE` is set, written there
as JSON.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.daemon.conftest import PRIMARY, SECONDARY, Harness, running_watcher
from tests.deploy.live_prometheus import Prometheus, prometheus_binary, running_prometheus
from tests.deploy.promtool_check import check_metrics, promtool
from tests.support import until
from watcher.sim import SimulatorState, default_seed

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        prometheus_binary() is None or promtool() is None,
        reason="prometheus/promtool missing: run `sh deploy/install-system-deps.sh`",
    ),
]

SIM_RNG_SEED = 20240611

SUCCESS_RATE_SPEC = (
    'sum(rate(failover_watcher_switches_total{result="success"}[5m])) / '
    "sum(rate(failover_watcher_switches_total[5m]))"
)
SUCCESS_RATE_INCREASE = (
    'sum(increase(failover_watcher_switches_total{result="success"}[5m])) / '
    "sum(increase(failover_watcher_switches_total[5m]))"
)
LATENCY_P95 = (
    "histogram_quantile(0.95, sum by (le) "
    '(increase(failover_watcher_update_latency_seconds_bucket{kind="strategy"}[5m])))'
)
LATENCY_COUNT = 'failover_watcher_update_latency_seconds_count{kind="strategy"}'
LATENCY_BUCKETS = 'failover_watcher_update_latency_seconds_bucket{kind="strategy"}'
SWITCHES = "sum(failover_watcher_switches_total)"


async def _until_scraped(prom: Prometheus, expr: str, expected: float, timeout: float = 15.0) -> None:
    """Wait until Prometheus holds `expected` for `expr` (the scrape after the last switch landed)."""

    async def scraped() -> bool:
        return await prom.value(expr) == expected

    await until(scraped, f"{expr} == {expected}", timeout, interval=0.1, detail=lambda: prom.value(expr))


async def _degrade_until_switched(h: Harness) -> None:
    """First half of the demo scenario: degrade the primary and wait for the switch."""
    await h.ready()
    # The platform refuses the first strategy PUT (a 400 is never retried): one switch fails, the
    # core retries it, the second attempt succeeds. The success rate has something to measure.
    fault = {
        "path": "/routing/strategies/",
        "method": "PUT",
        "status": 400,
        "count": 1,
        "message": "routingConfig: refused by the test",
    }
    (await h.admin.put("/_sim/faults", json=fault)).raise_for_status()
    await h.set_region(PRIMARY, "DEGRADED")
    await h.until(lambda: h.active() == SECONDARY and len(h.watcher.switch_log) == 2)


def _bucket_bounds(buckets: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(le, cumulative count) per bucket, in order of `le`."""
    return sorted((float(b["metric"]["le"]), float(b["value"][1])) for b in buckets)


def _containing_bucket(bounds: list[float], value: float) -> tuple[float, float]:
    """The (lower, upper] bucket that holds `value`; lower is 0 for the first bucket."""
    lower = 0.0
    for upper in bounds:
        if value <= upper:
            return lower, upper
        lower = upper
    raise AssertionError(f"{value} above every bucket bound {bounds}")


def _report(results: dict[str, Any]) -> None:
    print("\nPromQL answers from a real Prometheus scraping the daemon:")
    for name, entry in results.items():
        print(f"  {name}: {entry}")
    target = os.environ.get("PROMQL_RESULTS_FILE")
    if target:
        Path(target).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


@pytest.mark.timeout(90)
async def test_real_prometheus_answers_the_dashboard_queries_from_a_demo_run(tmp_path: Path) -> None:
    state = SimulatorState(default_seed(), seed_rng=SIM_RNG_SEED)
    async with (
        running_watcher(tmp_path, state=state, failback={"hold_seconds": 0.5}) as h,
        running_prometheus(tmp_path / "prometheus", h.address) as prom,
    ):
        await prom.until_target_up()
        await _degrade_until_switched(h)

        # What a scraper gets right after a switch passes `promtool check metrics`.
        exposition = (await h.http.get("/metrics")).content
        lint = await anyio.to_thread.run_sync(check_metrics, exposition)
        assert lint.ok, lint.output

        await h.set_region(PRIMARY, "HEALTHY")
        await h.until(lambda: h.active() == PRIMARY and len(h.watcher.switch_log) == 3, timeout=20)
        switch_log = list(h.watcher.switch_log)
        assert [(s["kind"], s["result"]) for s in switch_log] == [
            ("failover", "failure"),
            ("failover", "success"),
            ("failback", "success"),
        ]
        await _until_scraped(prom, SWITCHES, float(len(switch_log)))

        rate_spec = await prom.value(SUCCESS_RATE_SPEC)
        rate_increase = await prom.value(SUCCESS_RATE_INCREASE)
        p95 = await prom.value(LATENCY_P95)
        latency_count = await prom.value(LATENCY_COUNT)
        buckets = _bucket_bounds(await prom.query(LATENCY_BUCKETS))
        up = await prom.value('up{job="failover-watcher"}')

    # What the simulator saw on the wire.
    puts = h.requests("PUT", "/routing/strategies/")
    accepted = [r for r in puts if r.status == 200]
    sim_rate = len(accepted) / len(puts)
    # What the daemon recorded for each strategy write.
    latencies = [
        w["latencySeconds"]
        for s in switch_log
        for w in s["writes"]
        if w["kind"] == "strategy" and w["changed"]
    ]

    results: dict[str, Any] = {
        "switch_success_rate (SPEC, rate)": {"query": SUCCESS_RATE_SPEC, "value": rate_spec},
        "switch_success_rate (increase)": {"query": SUCCESS_RATE_INCREASE, "value": rate_increase},
        "simulator_success_rate": {
            "accepted_strategy_puts": len(accepted),
            "strategy_put_attempts": len(puts),
            "value": sim_rate,
        },
        "update_latency_p95_seconds": {"query": LATENCY_P95, "value": p95},
        "update_latency_count": {"query": LATENCY_COUNT, "value": latency_count},
        "daemon_recorded_strategy_latencies_seconds": latencies,
        "latency_buckets_cumulative": [["+Inf" if math.isinf(le) else le, n] for le, n in buckets],
    }
    _report(results)

    assert up == 1.0
    assert [r.status for r in puts] == [400, 200, 200]
    assert rate_spec is not None
    assert rate_spec == pytest.approx(2 / 3)
    assert rate_increase is not None
    assert rate_spec == pytest.approx(sim_rate, abs=1e-9)
    assert rate_increase == pytest.approx(sim_rate, abs=1e-9)
    daemon_rate = sum(s["result"] == "success" for s in switch_log) / len(switch_log)
    assert rate_spec == pytest.approx(daemon_rate, abs=1e-9)

    # One histogram observation per strategy PUT the simulator accepted.
    assert latency_count == float(len(accepted))
    assert len(latencies) == len(accepted)

    # The buckets Prometheus stored agree with the latencies the daemon recorded.
    bounds = [le for le, _ in buckets]
    assert bounds[-1] == math.inf
    for le, cumulative in buckets:
        assert cumulative == sum(lat <= le for lat in latencies), (le, latencies)

    # p95 of a handful of writes interpolates inside the bucket holding the slowest one.
    assert p95 is not None
    lower, upper = _containing_bucket(bounds, max(latencies))
    if math.isinf(upper):
        assert p95 == lower  # histogram_quantile answers the highest finite bound
    else:
        assert lower < p95 <= upper, (p95, lower, upper, latencies)
