"""A 429 storm is honoured, and a client budget below the server's never meets a 429.

The simulator's budget is a rolling 60-second window, so these run in virtual time: one clock is
shared by the simulator, the client's request budget and its retry waits, and it moves only when
the client sleeps (a `FakeClock` with autojump). Calls are sequential, which keeps virtual time
coherent: concurrent sleeps would add up instead of overlapping.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support import FakeClock
from watcher.config import WatcherConfig
from watcher.genesys import GenesysClient, make_transport
from watcher.genesys.budget import COUNTED_SECONDS
from watcher.sim import SimulatorState, default_seed

from ._support import SpyTransport, no_hook, request_log

pytestmark = pytest.mark.anyio

SERVER_PER_MINUTE = 60
CALLS = 150
REGIONS = "/api/v2/architecture/regions"


@pytest.fixture
def vtime() -> FakeClock:
    return FakeClock(autojump=True)


@pytest.fixture
def state(vtime: FakeClock) -> SimulatorState:
    return SimulatorState(default_seed(), clock=vtime, seed_rng=7)


async def _client(
    cfg: WatcherConfig, vtime: FakeClock, per_minute: int
) -> AsyncIterator[tuple[GenesysClient, SpyTransport]]:
    settings = cfg.genesys.model_copy(update={"requests_per_minute": per_minute})
    spy = SpyTransport(make_transport("aiohttp", httpx.Limits(max_connections=8)), hook=no_hook)
    async with GenesysClient(
        settings, cfg.client_secret(), transport=spy, clock=vtime, sleep=vtime.sleep
    ) as client:
        yield client, spy


@pytest.fixture
async def greedy(cfg: WatcherConfig, vtime: FakeClock) -> AsyncIterator[tuple[GenesysClient, SpyTransport]]:
    """A client allowing itself ten times what the server grants."""
    async for pair in _client(cfg, vtime, SERVER_PER_MINUTE * 10):
        yield pair


@pytest.fixture
async def modest(cfg: WatcherConfig, vtime: FakeClock) -> AsyncIterator[tuple[GenesysClient, SpyTransport]]:
    """A client allowing itself less than the server grants."""
    async for pair in _client(cfg, vtime, SERVER_PER_MINUTE - 10):
        yield pair


async def _lower_server_budget(admin: httpx.AsyncClient) -> None:
    response = await admin.put("/_sim/ratelimit", json={"perMinute": SERVER_PER_MINUTE})
    assert response.status_code == 200, response.text


def _max_in_window(records: list[dict[str, Any]], window: float = 60.0) -> int:
    times = sorted(r["time"] for r in records)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_429_storm_is_honoured(
    greedy: tuple[GenesysClient, SpyTransport], admin: httpx.AsyncClient, vtime: FakeClock
) -> None:
    client, spy = greedy
    # A platform that sends no inin-ratelimit-* headers: only its 429s tell the client to wait.
    spy.hook = strip_rate_limit_headers
    await _lower_server_budget(admin)

    for _ in range(CALLS):
        assert len(await client.list_regions()) == 2  # every call eventually succeeds

    log = [r for r in await request_log(admin) if r["path"] == REGIONS]
    throttled = [r for r in log if r["status"] == 429]
    admitted = [r for r in log if r["status"] == 200]
    assert len(admitted) == CALLS
    # Honouring Retry-After means one 429 per exhausted window, not a hammering of retries.
    assert 1 <= len(throttled) <= math.ceil(CALLS / SERVER_PER_MINUTE)
    assert _max_in_window(admitted) <= SERVER_PER_MINUTE
    # Each 429 was followed by a wait of exactly its Retry-After (the budget's waits are shorter).
    retry_afters = [float(ra) for _, path, status, ra in spy.seen if status == 429 and ra is not None]
    assert len(retry_afters) == len(throttled)
    assert all(ra >= 1 for ra in retry_afters)
    assert [s for s in vtime.sleeps if s >= 1] == retry_afters


async def strip_rate_limit_headers(request: httpx.Request, response: httpx.Response) -> None:
    for name in ("inin-ratelimit-count", "inin-ratelimit-allowed", "inin-ratelimit-reset"):
        response.headers.pop(name, None)


async def test_a_greedy_client_following_the_platforms_headers_meets_no_429(
    greedy: tuple[GenesysClient, SpyTransport], admin: httpx.AsyncClient, vtime: FakeClock
) -> None:
    # SPEC 6: with inin-ratelimit-* headers the budget follows the platform's own count.
    client, _ = greedy
    await _lower_server_budget(admin)
    for _ in range(CALLS):
        await client.list_regions()
    log = [r for r in await request_log(admin) if r["path"] == REGIONS]
    assert [r for r in log if r["status"] == 429] == []
    assert len(log) == CALLS


async def test_client_budget_below_the_servers_never_meets_a_429(
    modest: tuple[GenesysClient, SpyTransport], admin: httpx.AsyncClient, vtime: FakeClock
) -> None:
    client, _ = modest
    await _lower_server_budget(admin)
    started = vtime.now

    for _ in range(CALLS):
        await client.list_regions()

    log = [r for r in await request_log(admin) if r["path"].startswith("/api/")]
    assert len(log) == CALLS
    assert [r for r in log if r["status"] == 429] == []
    # The client spent its window at once and then waited for it to free (SPEC 9: a window, not an
    # average drip): 150 calls at 50 a window are three windows, each opening when the sends of the
    # last one leave it (a minute and the second of margin the budget keeps).
    per_minute = SERVER_PER_MINUTE - 10
    windows = math.ceil(CALLS / per_minute)
    assert vtime.now - started == pytest.approx((windows - 1) * COUNTED_SECONDS, rel=0.01)
    # No 60-second window holds more than the client's own budget, burst included.
    assert _max_in_window(log) <= per_minute < SERVER_PER_MINUTE
