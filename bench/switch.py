"""Benchmark 3: detection to switch, from "the simulator degrades the primary" to "strategy PUT acked".

Each run starts a fresh daemon in this process (no flap damping or state carried between runs), waits
until it is steady on the primary, waits 1 + p poll intervals more, with the phases p of the runs
spread evenly over 0..1 (stratified, in shuffled order) so the degrades sample every phase of the poll
cycle evenly, degrades the primary through the admin API and takes
`t0 = time.monotonic()` right after the admin call returns. The end is the time the simulator logged
the `PUT /api/v2/routing/strategies/...` with status 200 (its request log, written when the response
has been sent). Both are CLOCK_MONOTONIC on the same machine (checked by `simproc.clock_check`).
The same log gives the breakdown: first health poll after the degrade (the first bad observation),
the fall-th one, the strategy GET and the PUT.
"""

from __future__ import annotations

import random
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

from watcher.config import HealthSettings, WatcherConfig
from watcher.daemon.service import Watcher
from watcher.genesys import GenesysClient, Strategy

INTERVAL = 0.5
FALL = 2
TIMEOUT = 0.25
HEALTH_PATH = f"/api/v2/architecture/regions/{simproc.PRIMARY}/health"
STRATEGY_PATH = f"/api/v2/routing/strategies/{simproc.STRATEGY}"


def switch_config(base_url: str, state_dir: str, settling_interval: float | None = None) -> WatcherConfig:
    """The daemon under test; `settling_interval` None keeps the default (interval / 2.5)."""
    health: dict[str, Any] = {
        "interval_seconds": INTERVAL,
        "timeout_seconds": TIMEOUT,
        "fall": FALL,
        "rise": 2,
    }
    if settling_interval is not None:
        health["fast_interval_seconds"] = settling_interval
    return WatcherConfig(
        genesys={
            "api_base_url": base_url,
            "login_base_url": base_url,
            "client_id": simproc.CLIENT_ID,
            "client_secret": simproc.CLIENT_SECRET,
            "requests_per_minute": transport.REQUESTS_PER_MINUTE,
        },
        health=health,
        failback={"mode": "manual"},
        regions=[{"id": simproc.PRIMARY}, {"id": simproc.SECONDARY}],
        strategies=[{"id": simproc.STRATEGY, "regions": [simproc.PRIMARY, simproc.SECONDARY]}],
        rules=[{"id": simproc.RULE, "strategy": simproc.STRATEGY, "targets": simproc.TARGETS}],
        state={"dir": state_dir},
        server={"listen": "127.0.0.1:0"},
        executor={"reconcile_interval_seconds": 3600.0},
    )


async def reset(admin: httpx.AsyncClient) -> None:
    """Primary healthy and active, rule on the primary's target, request log empty: a fresh start."""
    for region in (simproc.PRIMARY, simproc.SECONDARY):
        body = {"status": "HEALTHY", "latencyMs": 0}
        (await admin.put(f"/_sim/regions/{region}", json=body)).raise_for_status()
    strategy = simproc.strategy_body([simproc.PRIMARY, simproc.SECONDARY])
    (await admin.put(f"/_sim/strategies/{simproc.STRATEGY}", json=strategy)).raise_for_status()
    rule = simproc.rule_body(simproc.TARGETS[simproc.PRIMARY])
    (await admin.put(f"/_sim/rules/{simproc.RULE}", json=rule)).raise_for_status()
    (await admin.delete("/_sim/requests")).raise_for_status()


async def _until(predicate: Callable[[], bool], timeout: float) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.005)


async def one_switch(base_url: str, phase: float, settling_interval: float | None) -> dict[str, float]:
    """One fresh daemon, one degrade at `phase` (0..1) of a poll interval after a steady point."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as admin:
        await reset(admin)
        with tempfile.TemporaryDirectory(prefix="watcher-bench-") as state_dir:
            watcher = Watcher(switch_config(base_url, state_dir, settling_interval))  # listens on 127.0.0.1:0
            result: dict[str, float] = {}

            async def scenario() -> None:
                await watcher.started.wait()
                world = watcher.engine.world

                def steady() -> bool:
                    w = watcher.engine.world
                    s = w.strategies[simproc.STRATEGY]
                    return (
                        s.active_region == simproc.PRIMARY
                        and s.pending is None
                        and all(r.healthy for r in w.regions.values())
                    )

                await _until(steady, 10)
                del world
                await anyio.sleep(INTERVAL * (1 + phase))
                degrade = await admin.put(f"/_sim/regions/{simproc.PRIMARY}", json={"status": "DEGRADED"})
                t0 = time.monotonic()
                degrade.raise_for_status()
                await _until(lambda: bool(watcher.switch_log), 10)
                log = (await admin.get("/_sim/requests", params={"since": t0 - 2 * INTERVAL})).json()[
                    "requests"
                ]
                result.update(breakdown(log, t0))
                result["daemon_result_success"] = float(watcher.switch_log[0]["result"] == "success")
                watcher.request_stop()

            async with anyio.create_task_group() as tg:
                tg.start_soon(scenario)
                await watcher.serve()
    return result


def breakdown(log: list[dict[str, Any]], t0: float) -> dict[str, float]:
    """Times after `t0` (seconds) of the polls and writes that made this switch, from the sim's log."""
    all_polls = [r["time"] for r in log if r["path"] == HEALTH_PATH and r["method"] == "GET"]
    polls = [t for t in all_polls if t >= t0]
    before = [t for t in all_polls if t < t0]
    writes = [r for r in log if r["path"] == STRATEGY_PATH and r["time"] >= t0]
    put = next(r["time"] for r in writes if r["method"] == "PUT" and r["status"] == 200)
    get = max(r["time"] for r in writes if r["method"] == "GET" and r["time"] <= put)
    return {
        "degrade_to_ack": put - t0,
        "first_bad_poll": polls[0] - t0,
        # The poll period in effect when the degrade came (last good poll -> first bad one).
        "poll_gap": polls[0] - before[-1] if before else float("nan"),
        "fall_th_bad_poll": polls[FALL - 1] - t0,
        "decision_to_get": get - polls[FALL - 1],
        "get_to_put_ack": put - get,
        "last_poll_to_ack": put - polls[FALL - 1],
    }


async def put_round_trip(base_url: str, samples: int) -> dict[str, list[float]]:
    """Warm-connection RTT of the strategy PUT alone and of the executor's GET + PUT."""
    cfg = switch_config(base_url, tempfile.gettempdir()).genesys
    put: list[float] = []
    get_put: list[float] = []
    async with GenesysClient(cfg, SecretStr(simproc.CLIENT_SECRET)) as client:
        current: Strategy = await client.get_strategy(simproc.STRATEGY)
        current = await client.put_strategy(current)  # warm-up: token, connection
        for _ in range(samples):
            t = time.monotonic()
            current = await client.put_strategy(current)
            put.append(time.monotonic() - t)
            t = time.monotonic()
            current = await client.get_strategy(simproc.STRATEGY)
            current = await client.put_strategy(current)
            get_put.append(time.monotonic() - t)
    return {"put": put, "get_put": get_put}


def _series(
    base_url: str,
    runs: int,
    rng: random.Random,
    settling_interval: float | None,
    label: str,
    progress: Callable[[str], None],
) -> list[dict[str, float]]:
    # Stratified phases: with few runs, random ones would cluster and bias the median.
    phases = [(i + 0.5) / runs for i in range(runs)]
    rng.shuffle(phases)
    results: list[dict[str, float]] = []
    for i, phase in enumerate(phases):
        r = anyio.run(one_switch, base_url, phase, settling_interval)
        results.append(r)
        progress(
            f"  {label} {i + 1}/{runs}: degrade->ack {r['degrade_to_ack'] * 1000:.0f} ms"
            f" (first bad poll +{r['first_bad_poll'] * 1000:.0f} ms,"
            f" poll #{FALL} +{r['fall_th_bad_poll'] * 1000:.0f} ms,"
            f" write {r['last_poll_to_ack'] * 1000:.1f} ms; poll gap {r['poll_gap'] * 1000:.0f} ms)"
        )
    return results


def _variant(
    results: list[dict[str, float]], settling: float, put_rtt: float, get_put_rtt: float
) -> dict[str, Any]:
    """Summaries and floors of one series. U is the poll phase at the degrade, uniform on 0..1."""
    floors = {
        # The floor: fall full intervals, then one PUT.
        "issue": FALL * INTERVAL + put_rtt,
        # Phase-aware: the first bad poll comes U intervals after the degrade (median U = 0.5).
        "phase_aware_median": (FALL - 1 + 0.5) * INTERVAL + put_rtt,
        "phase_aware_p90": (FALL - 1 + 0.9) * INTERVAL + put_rtt,
        # The daemon's design: polls at the settling interval once a region is between states,
        # and writes with GET (fresh version) + PUT.
        "design_median": 0.5 * INTERVAL + (FALL - 1) * settling + get_put_rtt,
        "design_p90": 0.9 * INTERVAL + (FALL - 1) * settling + get_put_rtt,
    }
    total = summary([r["degrade_to_ack"] for r in results])
    return {
        "settling_interval_seconds": settling,
        "runs": len(results),
        "all_succeeded": all(r["daemon_result_success"] == 1.0 for r in results),
        "degrade_to_ack": total,
        "first_bad_poll": summary([r["first_bad_poll"] for r in results]),
        "poll_gap": summary([r["poll_gap"] for r in results]),
        "fall_th_bad_poll": summary([r["fall_th_bad_poll"] for r in results]),
        "last_poll_to_ack": summary([r["last_poll_to_ack"] for r in results]),
        "floors": floors,
        "ratios": {k: total["median"] / v for k, v in floors.items() if not k.endswith("p90")},
        "p90_ratios": {
            "phase_aware": total["p90"] / floors["phase_aware_p90"],
            "design": total["p90"] / floors["design_p90"],
        },
    }


def run(
    base_url: str, *, runs: int, control: bool, progress: Callable[[str], None], seed: int = 20261124
) -> dict[str, Any]:
    """`runs` switches with the default config; with `control`, as many with settling polls off."""
    rng = random.Random(seed)
    clock = simproc.clock_check(base_url)
    rtt = anyio.run(put_round_trip, base_url, 30)
    put_rtt = summary(rtt["put"])["median"]
    get_put_rtt = summary(rtt["get_put"])["median"]
    health = HealthSettings(interval_seconds=INTERVAL, timeout_seconds=TIMEOUT, fall=FALL)
    variants = {
        "default": _variant(
            _series(base_url, runs, rng, None, "switch", progress),
            health.settling_interval,
            put_rtt,
            get_put_rtt,
        )
    }
    if control:
        # Control: settling interval = interval, i.e. no faster polls; checks the phase-aware model.
        variants["no_settling"] = _variant(
            _series(base_url, runs, rng, INTERVAL, "switch, settling off", progress),
            INTERVAL,
            put_rtt,
            get_put_rtt,
        )
    return {
        "config": {
            "interval_seconds": INTERVAL,
            "fall": FALL,
            "rise": 2,
            "timeout_seconds": TIMEOUT,
            "jitter": health.jitter,
            "health_latency_ms": 0,
        },
        "clock_check": clock,
        "put_rtt": summary(rtt["put"]),
        "get_put_rtt": summary(rtt["get_put"]),
        "variants": variants,
    }
