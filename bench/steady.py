"""Benchmark 5: the daemon at steady state, 100 regions polled every 5 s, for five minutes.

The budget is raised to fit (1,500 requests a minute on both sides: 100 regions every 5 s are
1,200 a minute, the config check's 80 % share). 50 strategies, each on two of the regions, one
rule each, read back every 60 s (the default). The daemon runs as its own process
(`failover-watcher run --config ...`); after it is ready and WARMUP seconds more, its CPU time
(user + system, /proc/<pid>/stat) and resident memory (VmRSS, /proc/<pid>/status) are sampled
every SAMPLE seconds for DURATION seconds. CPU share = CPU time over the window / wall time of the
window (1.0 = one core).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import procs
import simproc

from watcher.sim import rule_seed, strategy_seed

N_REGIONS = 100
PER_MINUTE = 1500
INTERVAL = 5.0
WARMUP = 30.0
SAMPLE = 5.0


def _layout() -> tuple[list[str], list[tuple[str, list[str]]]]:
    regions = [f"bench-{i:04d}" for i in range(N_REGIONS)]
    strategies = [(f"steady-{i:03d}", [regions[2 * i], regions[2 * i + 1]]) for i in range(N_REGIONS // 2)]
    return regions, strategies


def _target(region: str) -> str:
    return f"target-{region}"


def seed() -> dict[str, Any]:
    regions, strategies = _layout()
    return {
        "regions": [{"id": r, "name": r} for r in regions],
        "targets": [
            {"id": _target(r), "type": "webhook", "url": f"https://{r}.example.com/in"} for r in regions
        ],
        "strategies": [strategy_seed(s, order) for s, order in strategies],
        "rules": [rule_seed(f"rule-{s}", _target(order[0])) for s, order in strategies],
    }


def config(base_url: str) -> dict[str, Any]:
    regions, strategies = _layout()
    return {
        "genesys": procs.genesys(base_url, PER_MINUTE),
        "health": {"interval_seconds": INTERVAL, "timeout_seconds": 2.0},
        "regions": [{"id": r} for r in regions],
        "strategies": [{"id": s, "regions": order} for s, order in strategies],
        "rules": [
            {"id": f"rule-{s}", "strategy": s, "targets": {r: _target(r) for r in order}}
            for s, order in strategies
        ],
    }


def run(duration: float, log_path: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    daemon_cpu, sim_cpu = simproc.cpu_plan(True)
    with tempfile.TemporaryDirectory(prefix="watcher-steady-") as tmp_name:
        tmp = Path(tmp_name)
        with (
            procs.simulator(seed(), PER_MINUTE, tmp, sim_cpu) as sim,
            procs.daemon(config(sim.base_url), tmp, daemon_cpu, log_path) as d,
        ):
            started = time.monotonic()
            ready = procs.wait_ready(d.base_url, timeout=120)
            progress(f"  steady state: ready after {ready - started:.1f} s; warm-up {WARMUP:g} s")
            time.sleep(WARMUP)
            since = time.monotonic()
            cpu0, wall0 = procs.cpu_seconds(d.pid), time.monotonic()
            samples: list[dict[str, float]] = []
            while time.monotonic() - wall0 < duration:
                time.sleep(SAMPLE)
                now = time.monotonic()
                samples.append(
                    {
                        "t": now - wall0,
                        "cpu": procs.cpu_seconds(d.pid) - cpu0,
                        "rss_mib": procs.rss_mib(d.pid),
                    }
                )
                if len(samples) % 12 == 0:
                    s = samples[-1]
                    progress(
                        f"    {s['t']:.0f} s: CPU share {s['cpu'] / s['t']:.3f}, RSS {s['rss_mib']:.1f} MiB"
                    )
            cpu1, wall1 = procs.cpu_seconds(d.pid), time.monotonic()
            log = [r for r in procs.sim_log(sim.base_url, since) if r["path"].startswith("/api/")]
    window = [r for r in log if since <= r["time"] <= wall1]
    polls = sum(1 for r in window if "/health" in r["path"])
    wall = wall1 - wall0
    return {
        "config": {
            "regions": N_REGIONS,
            "strategies": N_REGIONS // 2,
            "interval_seconds": INTERVAL,
            "per_minute": PER_MINUTE,
            "warmup_seconds": WARMUP,
            "duration_seconds": wall,
        },
        "cpu_seconds": cpu1 - cpu0,
        "cpu_share": (cpu1 - cpu0) / wall,
        "rss_mib_max": max(s["rss_mib"] for s in samples),
        "rss_mib_end": samples[-1]["rss_mib"],
        "rss_mib_start": samples[0]["rss_mib"],
        "polls": polls,
        "polls_expected": N_REGIONS * wall / INTERVAL,
        "requests": len(window),
        "status_429": sum(1 for r in window if r["status"] == 429),
        "non_2xx": sum(1 for r in window if r["status"] >= 300),
        "samples": samples,
    }
