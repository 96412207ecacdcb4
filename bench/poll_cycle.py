"""Benchmark 2: one poll cycle over 1,000 regions, the daemon's way versus the seeds' way.

The daemon's way is its own poll path: `PollScheduler.poll_once` for every region at once (capped by
`health.concurrency`, as the scheduler's limiter does it), through `QuorumSource` and
`RegionHealthEndpoint` and `GenesysClient` (default transport, aiohttp), with the daemon's metrics.
What the engine then does with each observation (`Watcher.engine.feed`: the core's `step`, the
daemon's action handler and gauges) is measured apart, without the network. The seeds' way is a loop
of synchronous `httpx.get` calls, one region after another, with a token fetched once before the loop.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import simproc
import transport
from pydantic import SecretStr
from stats import summary

from watcher.config import WatcherConfig
from watcher.core import Observation
from watcher.daemon.scheduler import PollScheduler
from watcher.daemon.service import Watcher
from watcher.genesys import GenesysClient
from watcher.health import QuorumSource, RegionHealthEndpoint

HEALTH_CONCURRENCY = 1000


def daemon_config(base_url: str, regions: list[str], state_dir: str) -> WatcherConfig:
    """The daemon's config for this run: budget and concurrency out of the way (see BENCHMARKS.md).

    Every region is in a strategy (pairs), so an observation fed to the engine goes through the core.
    """
    return WatcherConfig(
        genesys={
            "api_base_url": base_url,
            "login_base_url": base_url,
            "client_id": simproc.CLIENT_ID,
            "client_secret": simproc.CLIENT_SECRET,
            "requests_per_minute": transport.REQUESTS_PER_MINUTE,
            "max_concurrency": transport.MAX_CONCURRENCY,
        },
        health={"interval_seconds": 5.0, "timeout_seconds": 2.0, "concurrency": HEALTH_CONCURRENCY},
        regions=[{"id": r} for r in regions],
        strategies=[
            {"id": f"bench-cycle-{i // 2:03d}", "regions": regions[i : i + 2]}
            for i in range(0, len(regions), 2)
        ],
        state={"dir": state_dir},
        server={"listen": "127.0.0.1:0"},
    )


async def _cycle(scheduler: PollScheduler) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, good observations) of one cycle: every region at once."""
    results: list[Observation | None] = []

    async def one(region: str) -> None:
        results.append(await scheduler.poll_once(region))

    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with anyio.create_task_group() as tg:
        for region in scheduler.regions:
            tg.start_soon(one, region)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    good = sum(1 for o in results if o is not None and o.ok)
    return wall1 - wall0, cpu1 - cpu0, good


async def concurrent_cycles(base_url: str, regions: list[str]) -> dict[str, float]:
    """A fresh poll path: a cold cycle (token held, no connections yet), then a warm one.

    Observations go to a no-op: the engine's cost is measured apart (`engine_cost`), because at
    1,000 regions it dwarfs the polling and would hide what the poll path itself costs.
    """
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as state_dir:
        cfg = daemon_config(base_url, regions, state_dir)
        watcher = Watcher(cfg)

        async def deliver(obs: Observation) -> None:
            return None

        async with GenesysClient(
            cfg.genesys, SecretStr(simproc.CLIENT_SECRET), metrics=watcher.metrics
        ) as client:
            source = QuorumSource([RegionHealthEndpoint(client, cfg.health)])
            scheduler = PollScheduler(
                regions,
                source,
                cfg.health,
                deliver,
                watcher.engine.settling,
                stop=anyio.Event(),
                metrics=watcher.metrics,
            )
            await client.tokens.token()
            out: dict[str, float] = {}
            for phase in ("cold", "warm"):
                wall, cpu, good = await _cycle(scheduler)
                out[f"{phase}_wall"] = wall
                out[f"{phase}_cpu"] = cpu
                out[f"{phase}_good"] = good
    return out


async def engine_cost(n_regions: int, sample: int) -> dict[str, float]:
    """CPU of `Watcher.engine.feed` per observation, `n_regions` regions in pairs of strategies.

    The first cycle's observations (healthy, one per region) are fed directly, no network: `sample`
    of them are timed and the per-cycle cost is extrapolated (each costs about the same).
    """
    regions = simproc.bench_regions(n_regions)
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as state_dir:
        watcher = Watcher(daemon_config("http://127.0.0.1:9", regions, state_dir))
        cpu0 = time.process_time()
        for region in regions[:sample]:
            await watcher.engine.feed(Observation(region, True, time.monotonic(), "status=HEALTHY"))
        per_observation = (time.process_time() - cpu0) / sample
    return {
        "regions": n_regions,
        "strategies": n_regions // 2,
        "sampled": sample,
        "cpu_per_observation": per_observation,
        "cpu_per_cycle": per_observation * n_regions,
    }


def sequential(
    base_url: str,
    regions: list[str],
    *,
    limit_seconds: float,
    force_sample: bool,
    sample: int = 100,
    reuse_client: bool = False,
) -> dict[str, Any]:
    """The seeds' loop; `sample` regions first, the rest only if the whole would take <= `limit_seconds`.

    `httpx.get` builds (and drops) a client per call, as the seeds do; `reuse_client` keeps one
    `httpx.Client`, to show what the loop costs without that per-call set-up.
    """
    token = simproc.fetch_token(base_url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    done = good = 0
    with httpx.Client(timeout=10) as shared:
        get = shared.get if reuse_client else httpx.get
        start = time.perf_counter()
        for i, region in enumerate(regions):
            if i == sample:
                estimate = (time.perf_counter() - start) * len(regions) / sample
                if force_sample or estimate > limit_seconds:
                    break
            r = get(f"{base_url}/api/v2/architecture/regions/{region}/health", headers=headers, timeout=10)
            good += r.status_code == 200 and r.json().get("status") == "HEALTHY"
            done += 1
        elapsed = time.perf_counter() - start
    return {
        "measured_regions": done,
        "measured_seconds": elapsed,
        "good": good,
        "extrapolated": done < len(regions),
        "cycle_seconds": elapsed * len(regions) / done,
    }


def run(
    base_url: str, *, repeats: int, regions: list[str], quick: bool, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Cycles through the daemon's poll path, the engine's cost per cycle, then the seeds' loop."""
    runs: list[dict[str, float]] = []
    for rep in range(repeats):
        r = anyio.run(concurrent_cycles, base_url, regions)
        runs.append(r)
        progress(
            f"  cycle rep {rep + 1}: cold {r['cold_wall']:.3f} s, warm {r['warm_wall']:.3f} s"
            f" (good {r['cold_good']:.0f}/{r['warm_good']:.0f})"
        )
    engine = []
    for n, sample in ((100, 100), (len(regions), 50 if quick else 100)):
        e = anyio.run(engine_cost, n, sample)
        engine.append(e)
        progress(
            f"  engine, {n} regions in {n // 2} strategies: {e['cpu_per_observation'] * 1000:.2f} ms"
            f" per observation -> {e['cpu_per_cycle']:.2f} s per cycle"
        )
    # --quick samples 50 regions (x20) to stay under a minute; the full run follows the 60 s rule.
    seq = sequential(base_url, regions, limit_seconds=60.0, force_sample=quick, sample=50 if quick else 100)
    progress(
        f"  seeds' loop: {seq['measured_regions']} regions in {seq['measured_seconds']:.1f} s"
        f" -> {seq['cycle_seconds']:.1f} s per {len(regions)}"
    )
    result: dict[str, Any] = {
        "regions": len(regions),
        "health_concurrency": HEALTH_CONCURRENCY,
        "cold_wall": summary([r["cold_wall"] for r in runs]),
        "warm_wall": summary([r["warm_wall"] for r in runs]),
        "cold_cpu": summary([r["cold_cpu"] for r in runs]),
        "warm_cpu": summary([r["warm_cpu"] for r in runs]),
        "good_min": min(min(r["cold_good"], r["warm_good"]) for r in runs),
        "engine": engine,
        "sequential": seq,
    }
    if not quick:
        # Not the seeds' code, a reference: the same loop on one kept-alive client, sampled.
        reuse = sequential(base_url, regions, limit_seconds=0.0, force_sample=True, reuse_client=True)
        progress(
            f"  loop on one kept-alive client: {reuse['measured_regions']} regions in"
            f" {reuse['measured_seconds']:.1f} s -> {reuse['cycle_seconds']:.1f} s per {len(regions)}"
        )
        result["sequential_reused_client"] = reuse
    return result
