"""Benchmark 1: the client's HTTP transport, httpx's own versus httpx-aiohttp.

Both run the same `GenesysClient` (budget, token, retries, pydantic parsing); only `transport_kind`
differs. CPU is the client process's CPU time (`time.process_time()`, user + system, all threads)
divided by the requests made; the simulator runs in another process, so its CPU is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import anyio
import httpx
import simproc
from httpx_aiohttp import AiohttpTransport
from pydantic import SecretStr
from stats import summary

from watcher.config import GenesysSettings
from watcher.genesys import GenesysClient, GenesysError
from watcher.genesys.transport import TransportKind

# Big enough that neither the client's request budget nor its concurrency cap ever waits.
REQUESTS_PER_MINUTE = 100_000_000
MAX_CONCURRENCY = 1000
REQUEST_TIMEOUT = 60.0  # so a slow transport shows up as time, not as timeouts
# Failed requests by error type, over the whole run (reported with the results).
ERRORS: dict[str, int] = {}


def settings(base_url: str) -> GenesysSettings:
    return GenesysSettings(
        api_base_url=base_url,
        login_base_url=base_url,
        client_id=simproc.CLIENT_ID,
        client_secret=SecretStr(simproc.CLIENT_SECRET),
        requests_per_minute=REQUESTS_PER_MINUTE,
        max_concurrency=MAX_CONCURRENCY,
        request_timeout_seconds=REQUEST_TIMEOUT,
    )


def new_client(base_url: str, kind: TransportKind) -> GenesysClient:
    cfg = settings(base_url)
    return GenesysClient(cfg, SecretStr(simproc.CLIENT_SECRET), transport_kind=kind)


async def _workers(
    client: GenesysClient, regions: Sequence[str], concurrency: int, total: int, label: str = ""
) -> int:
    """`concurrency` workers share `total` region-health calls; returns how many failed."""
    failures = 0
    next_index = 0

    async def worker() -> None:
        nonlocal failures, next_index
        while next_index < total:
            i = next_index
            next_index += 1
            try:
                await client.region_health(regions[i % len(regions)], timeout=REQUEST_TIMEOUT)
            except GenesysError as exc:
                failures += 1
                key = f"{label} {type(exc).__name__}: {exc}"
                ERRORS[key] = ERRORS.get(key, 0) + 1

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return failures


async def cpu_per_request(
    base_url: str, kind: TransportKind, concurrency: int, total: int, regions: Sequence[str]
) -> dict[str, float]:
    """One measurement: warm client (token held, connections open), then `total` calls."""
    async with new_client(base_url, kind) as client:
        await _workers(client, regions, concurrency, 2 * concurrency)  # warm-up, not measured
        cpu0, wall0 = time.process_time(), time.perf_counter()
        failures = await _workers(client, regions, concurrency, total, kind)
        cpu1, wall1 = time.process_time(), time.perf_counter()
    return {
        "cpu_per_request": (cpu1 - cpu0) / total,
        "wall": wall1 - wall0,
        "failures": failures,
    }


async def thousand_at_latency(
    base_url: str, kind: TransportKind, regions: Sequence[str], phases: Sequence[str]
) -> dict[str, float]:
    """One region-health call per region, all at once; cold pool first, then again on the warm pool.

    The token is fetched before the clock starts (it is held for a day in production).
    """
    out: dict[str, float] = {}
    async with new_client(base_url, kind) as client:
        await client.tokens.token()
        for phase in phases:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            failures = await _workers(client, regions, len(regions), len(regions), kind)
            cpu1, wall1 = time.process_time(), time.perf_counter()
            out[f"{phase}_wall"] = wall1 - wall0
            out[f"{phase}_cpu_per_request"] = (cpu1 - cpu0) / len(regions)
            out[f"{phase}_failures"] = failures
    return out


async def _timed_round(call: Callable[[str], Any], regions: Sequence[str]) -> tuple[float, float]:
    """(wall, CPU per request) of one call per region, all at once."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with anyio.create_task_group() as tg:
        for region in regions:
            tg.start_soon(call, region)
    return time.perf_counter() - wall0, (time.process_time() - cpu0) / len(regions)


async def layer_costs(base_url: str, regions: Sequence[str]) -> dict[str, float]:
    """Warm-pool CPU per request of each layer the daemon stacks, on the same 1,000 calls.

    aiohttp alone, httpx on the aiohttp transport, and the whole `GenesysClient`; a warm-up round
    opens the connections first, so only the steady state is measured.
    """
    token = simproc.fetch_token(base_url)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    out: dict[str, float] = {}

    def url(region: str) -> str:
        return f"{base_url}/api/v2/architecture/regions/{region}/health"

    connector = aiohttp.TCPConnector(limit=MAX_CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def raw(region: str) -> None:
            async with session.get(url(region), headers=headers) as response:
                await response.json()

        await _timed_round(raw, regions)
        out["aiohttp_wall"], out["aiohttp_cpu"] = await _timed_round(raw, regions)

    limits = httpx.Limits(max_connections=MAX_CONCURRENCY, max_keepalive_connections=MAX_CONCURRENCY)
    async with httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=REQUEST_TIMEOUT) as http:

        async def wrapped(region: str) -> None:
            (await http.get(url(region), headers=headers)).json()

        await _timed_round(wrapped, regions)
        out["httpx_aiohttp_wall"], out["httpx_aiohttp_cpu"] = await _timed_round(wrapped, regions)

    async with new_client(base_url, "aiohttp") as client:

        async def full(region: str) -> None:
            await client.region_health(region, timeout=REQUEST_TIMEOUT)

        await client.tokens.token()
        await _timed_round(full, regions)
        out["genesys_client_wall"], out["genesys_client_cpu"] = await _timed_round(full, regions)
    return out


def run(
    base_url: str,
    *,
    repeats: int,
    cpu_total: int,
    regions: list[str],
    full: bool,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Every measurement of benchmark 1, `repeats` times each, transports interleaved."""
    kinds: tuple[TransportKind, ...] = ("httpx", "aiohttp")
    levels = (1, 10, 50)
    cpu_runs: dict[str, dict[int, list[dict[str, float]]]] = {k: {c: [] for c in levels} for k in kinds}
    simproc.set_regions(base_url, regions, latency_ms=0)
    for rep in range(repeats):
        for c in levels:
            for kind in kinds:
                r = anyio.run(cpu_per_request, base_url, kind, c, cpu_total, regions)
                cpu_runs[kind][c].append(r)
                progress(
                    f"  cpu {kind:7s} c={c:<3d} rep {rep + 1}: {r['cpu_per_request'] * 1000:.2f} ms/request"
                )
    simproc.set_regions(base_url, regions, latency_ms=50)
    phases = ("cold", "warm") if full else ("cold",)
    wall_runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for rep in range(repeats):
        for kind in kinds:
            r = anyio.run(thousand_at_latency, base_url, kind, regions, phases)
            wall_runs[kind].append(r)
            progress(
                f"  1000@50ms {kind:7s} rep {rep + 1}: "
                + ", ".join(f"{p} {r[p + '_wall']:.2f} s ({r[p + '_failures']:.0f} failed)" for p in phases)
            )
    layer_runs: list[dict[str, float]] = []
    for rep in range(repeats if full else 0):
        r = anyio.run(layer_costs, base_url, regions)
        layer_runs.append(r)
        progress(
            f"  layers rep {rep + 1}: aiohttp {r['aiohttp_cpu'] * 1000:.2f}, httpx+aiohttp"
            f" {r['httpx_aiohttp_cpu'] * 1000:.2f},"
            f" GenesysClient {r['genesys_client_cpu'] * 1000:.2f} ms/request"
        )
    result: dict[str, Any] = {
        "errors_by_type": dict(ERRORS),
        "requests_per_cpu_measurement": cpu_total,
        "regions": len(regions),
    }
    if layer_runs:
        result["layers"] = {key: summary([r[key] for r in layer_runs]) for key in layer_runs[0]}
    for kind in kinds:
        result[kind] = {
            "cpu_per_request": {
                str(c): summary([r["cpu_per_request"] for r in cpu_runs[kind][c]]) for c in levels
            },
            "cpu_failures": sum(r["failures"] for c in levels for r in cpu_runs[kind][c]),
            "cpu_per_request_1000_cold": summary([r["cold_cpu_per_request"] for r in wall_runs[kind]]),
            "wall_failures": sum(r[p + "_failures"] for r in wall_runs[kind] for p in phases),
        }
        for p in phases:
            result[kind][f"wall_1000_{p}"] = summary([r[p + "_wall"] for r in wall_runs[kind]])
    return result
