"""Benchmark 5b: CPU per poll of the whole daemon, 100 regions polled every 1 s (100 polls/s).

    .venv/bin/python bench/steady1s.py [--seconds 60] [--warmup 20] [--errors] [--pin] [--interval 1]

Benchmark 5's layout (100 regions, 50 strategies on two regions each with one rule, read back every
60 s) with the interval at 1 s and a budget that fits it (9,000 requests a minute on both sides; the
config check lets polls use 80 % of it). With `--errors` the simulator answers 5 % of the
region-health requests with a 503 (`PUT /_sim/faults {"path": "/health$", "errorRate": 0.05}`).

The daemon runs as its own process (`failover-watcher run`, `--log-level WARNING --log-json`, as in
benchmark 5). After ready + warm-up its CPU time (user + system, /proc/<pid>/stat) and RSS
(/proc/<pid>/status) are read every 5 s for the window; **CPU per poll = daemon CPU seconds over
the window / region-health requests it made in the window** (counted in the simulator's request
log). CPU time per poll is far less sensitive to other load on the machine than wall time.

The reference, in the same run against the same simulator: the bench process itself runs a raw
aiohttp loop (`ClientSession.get` + `.json()` of region-health, 100 requests a second, one per
region, as the daemon does) for REF_SECONDS and reports its process CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import procs
import simproc
import steady

HERE = Path(__file__).resolve().parent
# the daemon's CLI from the interpreter running this (works from a worktree without its own .venv)
simproc.CLI = Path(sys.executable).parent / "failover-watcher"

INTERVAL = 1.0
PER_MINUTE = 9000
SAMPLE = 5.0
REF_SECONDS = 10.0
ERROR_RATE = 0.05


def _collect(log: dict[tuple[float, str, str], dict[str, Any]], base_url: str, since: float) -> None:
    """Add the simulator's requests since `since` (or since the last one seen) to `log`."""
    start = max((key[0] for key in log), default=since)
    for r in procs.sim_log(base_url, start):
        log[(r["time"], r["method"], r["path"])] = r


def config(base_url: str, interval: float) -> dict[str, Any]:
    cfg = steady.config(base_url)
    cfg["genesys"] = procs.genesys(base_url, PER_MINUTE)
    timeout = min(2.0, 0.8 * interval)  # below the interval, or the config check refuses it
    cfg["health"] = {**cfg["health"], "interval_seconds": interval, "timeout_seconds": timeout}
    return cfg


def inject_errors(base_url: str) -> None:
    response = httpx.put(
        f"{base_url}/_sim/faults",
        json={"path": "/health$", "errorRate": ERROR_RATE, "status": 503},
        timeout=10,
    )
    response.raise_for_status()


async def _raw_loop(
    base_url: str, regions: list[str], seconds: float, per_second: float, per_wake: int = 1
) -> dict[str, float]:
    """aiohttp alone: region-health GETs round-robin over the regions at `per_second`, `per_wake`
    of them sent together at each wake-up (1: one every 1/per_second s; 5 at 100 a second: the
    daemon's 50 ms poll grid), the answers read and parsed as JSON; the process's CPU per request."""
    token = simproc.fetch_token(base_url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    urls = [f"{base_url}/api/v2/architecture/regions/{r}/health" for r in regions]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def one(url: str) -> None:
            async with session.get(url, headers=headers) as response:
                body = await response.read()
                if response.status == 200:
                    json.loads(body)

        await asyncio.gather(*(one(u) for u in urls))  # open the connections
        gap = per_wake / per_second
        done = 0
        pending: set[asyncio.Task[None]] = set()
        cpu0, wall0 = time.process_time(), time.monotonic()
        next_at = wall0
        while time.monotonic() - wall0 < seconds:
            for _ in range(per_wake):
                task = asyncio.ensure_future(one(urls[done % len(urls)]))
                pending.add(task)
                task.add_done_callback(pending.discard)
                done += 1
            next_at += gap
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if pending:
            await asyncio.gather(*pending)
        cpu = time.process_time() - cpu0
    return {"requests": done, "cpu_seconds": cpu, "cpu_ms_per_request": cpu / done * 1000}


def _on_uvloop(coro: Any) -> Any:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def run(seconds: float, warmup: float, errors: bool, pin: bool, interval: float) -> dict[str, Any]:
    daemon_cpu, sim_cpu = simproc.cpu_plan(pin)
    regions, _ = steady._layout()
    log_path = HERE / "results" / "steady1s-daemon.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="watcher-steady1s-") as tmp_name:
        tmp = Path(tmp_name)
        with procs.simulator(steady.seed(), PER_MINUTE, tmp, sim_cpu) as sim:
            if errors:
                inject_errors(sim.base_url)
            with procs.daemon(config(sim.base_url, interval), tmp, daemon_cpu, log_path) as d:
                started = time.monotonic()
                ready = procs.wait_ready(d.base_url, timeout=120)
                print(f"ready after {ready - started:.1f} s; warm-up {warmup:g} s", flush=True)
                time.sleep(warmup)
                since = time.monotonic()
                cpu0, wall0 = procs.cpu_seconds(d.pid), time.monotonic()
                samples: list[dict[str, float]] = []
                # The simulator keeps its last 10,000 requests: read its log as the window goes
                # (a five-minute window at 100 polls a second is 30,000).
                log: dict[tuple[float, str, str], dict[str, Any]] = {}
                while time.monotonic() - wall0 < seconds:
                    time.sleep(min(SAMPLE, max(0.05, seconds - (time.monotonic() - wall0))))
                    _collect(log, sim.base_url, since)
                    samples.append(
                        {
                            "t": time.monotonic() - wall0,
                            "cpu": procs.cpu_seconds(d.pid) - cpu0,
                            "rss_mib": procs.rss_mib(d.pid),
                        }
                    )
                cpu1, wall1 = procs.cpu_seconds(d.pid), time.monotonic()
                _collect(log, sim.base_url, since)
            # the reference: raw aiohttp at the same rate, against the same simulator
            ref = asyncio.run(_raw_loop(sim.base_url, regions, REF_SECONDS, len(regions) / interval))
            # The daemon's pattern at its floor, on the fastest loop aiohttp runs on (uvloop; the
            # daemon runs the standard one: BENCHMARKS.md 5c): what the watcher adds is the rest.
            floor = _on_uvloop(_raw_loop(sim.base_url, regions, REF_SECONDS, len(regions) / interval, 5))
    window = [r for r in log.values() if since <= r["time"] <= wall1 and r["path"].startswith("/api/")]
    polls = [r for r in window if r["path"].endswith("/health")]
    cpu = cpu1 - cpu0
    return {
        "config": {
            "regions": len(regions),
            "interval_seconds": interval,
            "per_minute": PER_MINUTE,
            "errors": ERROR_RATE if errors else 0.0,
            "warmup_seconds": warmup,
            "window_seconds": wall1 - wall0,
            "pinned": pin,
        },
        "cpu_seconds": cpu,
        "cpu_share": cpu / (wall1 - wall0),
        "polls": len(polls),
        "polls_failed": sum(1 for r in polls if r["status"] >= 300),
        "polls_expected": len(regions) * (wall1 - wall0) / interval,
        "cpu_ms_per_poll": cpu / max(1, len(polls)) * 1000,
        "rss_mib_start": samples[0]["rss_mib"],
        "rss_mib_end": samples[-1]["rss_mib"],
        "rss_mib_max": max(s["rss_mib"] for s in samples),
        "requests": len(window),
        "status_429": sum(1 for r in window if r["status"] == 429),
        "reference_aiohttp": ref,
        "reference_aiohttp_uvloop_grid": floor,
        "samples": samples,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=INTERVAL)
    parser.add_argument("--errors", action="store_true", help="5 %% of region-health answers are 503")
    parser.add_argument("--pin", action="store_true", help="pin daemon and simulator to their own CPUs")
    args = parser.parse_args(argv)
    load0 = Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
    out = run(args.seconds, args.warmup, args.errors, args.pin, args.interval)
    out["loadavg_before"] = " ".join(load0)
    out["loadavg_after"] = " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (HERE / "results" / f"steady1s-{stamp}.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    ref = out["reference_aiohttp"]
    print(
        f"errors {out['config']['errors']:.0%}: daemon CPU per poll {out['cpu_ms_per_poll']:.3f} ms"
        f" ({out['cpu_share']:.2%} of a core; {out['polls']} polls, {out['polls_failed']} failed,"
        f" expected {out['polls_expected']:.0f}; 429s {out['status_429']});"
        f" RSS {out['rss_mib_start']:.1f} -> {out['rss_mib_end']:.1f} MiB (max {out['rss_mib_max']:.1f});"
        f" raw aiohttp {ref['cpu_ms_per_request']:.3f} ms/request"
        f" (on uvloop, 5 a wake-up: {out['reference_aiohttp_uvloop_grid']['cpu_ms_per_request']:.3f});"
        f" load {out['loadavg_before']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
