"""The simulator in its own process, so client and server each get a core (as in production).

The benchmark process and the simulator process are pinned to different CPUs when the machine has
two or more, so neither steals the other's core. The simulator logs request times with
`time.monotonic()`, which on Linux is CLOCK_MONOTONIC, one clock for every process on the machine:
times in `GET /_sim/requests` are comparable with `time.monotonic()` taken here (`clock_check`
verifies it on every run).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import httpx

from watcher.sim import rule_seed, strategy_seed

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / ".venv" / "bin" / "failover-watcher"
CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret"  # noqa: S105 - the simulator's documented default
PER_MINUTE = 1_000_000

PRIMARY = "us-east-1"
SECONDARY = "eu-west-1"
STRATEGY = "bench-strategy"
RULE = "bench-rule"
TARGETS = {PRIMARY: "target-use1", SECONDARY: "target-euw1"}


def bench_regions(n: int) -> list[str]:
    return [f"bench-{i:04d}" for i in range(n)]


def strategy_body(order: list[str]) -> dict[str, Any]:
    return strategy_seed(STRATEGY, order)


def rule_body(target: str) -> dict[str, Any]:
    return rule_seed(RULE, target)


def seed(n_regions: int) -> dict[str, Any]:
    """Two failover regions with a strategy and a rule, plus `n_regions` regions to poll."""
    regions = [{"id": r, "name": r} for r in (PRIMARY, SECONDARY, *bench_regions(n_regions))]
    return {
        "regions": regions,
        "targets": [
            {"id": t, "type": "webhook", "url": f"https://{t}.example.com/in"} for t in TARGETS.values()
        ],
        "strategies": [strategy_body([PRIMARY, SECONDARY])],
        "rules": [rule_body(TARGETS[PRIMARY])],
    }


@dataclass(frozen=True)
class Simulator:
    base_url: str
    pid: int
    cpu: int | None


def _pin(pid: int, cpu: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(pid, {cpu})


def cpu_plan(pin: bool) -> tuple[int | None, int | None]:
    """(bench CPU, simulator CPU), or Nones when not pinning or with a single CPU."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if not pin or len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


@contextlib.contextmanager
def simulator_process(n_regions: int, *, pin: bool) -> Iterator[Simulator]:
    """`failover-watcher simulate --port 0 --per-minute 1000000 --seed-file ...` in a child process."""
    bench_cpu, sim_cpu = cpu_plan(pin)
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as tmp:
        seed_file = Path(tmp) / "seed.json"
        seed_file.write_text(json.dumps(seed(n_regions)), encoding="utf-8")
        cmd = [
            str(CLI),
            "simulate",
            "--port",
            "0",
            "--per-minute",
            str(PER_MINUTE),
            "--seed-file",
            str(seed_file),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        try:
            if sim_cpu is not None and bench_cpu is not None:
                _pin(proc.pid, sim_cpu)
                _pin(0, bench_cpu)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if "listening on" not in line:
                raise RuntimeError(f"simulator did not start: {line!r}")
            base_url = line.split("listening on ", 1)[1].split()[0]
            _wait_ready(base_url)
            yield Simulator(base_url=base_url, pid=proc.pid, cpu=sim_cpu)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(base_url: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(f"{base_url}/_sim/ratelimit", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ------------------------------------------------------------------ admin API (synchronous)


def set_regions(base_url: str, regions: list[str], *, status: str = "HEALTHY", latency_ms: float = 0) -> None:
    """`PUT /_sim/regions/{id}` for every region (20 at a time, over aiohttp), e.g. latencyMs=50."""

    async def put_all() -> None:
        limiter = anyio.CapacityLimiter(20)
        body = {"status": status, "latencyMs": latency_ms}
        async with aiohttp.ClientSession(base_url) as admin:

            async def put(region: str) -> None:
                async with limiter, admin.put(f"/_sim/regions/{region}", json=body) as response:
                    response.raise_for_status()

            async with anyio.create_task_group() as tg:
                for region in regions:
                    tg.start_soon(put, region)

    anyio.run(put_all)


def fetch_token(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def clock_check(base_url: str) -> dict[str, float]:
    """Bracket the simulator's clock between two local `time.monotonic()` readings."""
    before = time.monotonic()
    now = float(httpx.get(f"{base_url}/_sim/requests?since=1e18", timeout=10).json()["now"])
    after = time.monotonic()
    return {"before": before, "sim": now, "after": after, "consistent": float(before <= now <= after)}
