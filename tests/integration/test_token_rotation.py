"""OAuth token rotation against the simulator, in real time with a 2-second token lifetime.

These run on the wall clock on purpose: the simulator expires tokens by its own clock, the client
by its own, and the background refresher by anyio's; the test is that the three agree.
"""

from __future__ import annotations

import itertools
import time

import anyio
import httpx
import pytest

from tests.support import until
from watcher.genesys import GenesysClient
from watcher.sim import SimulatorState, default_seed

from ._support import request_log, sim_now

pytestmark = pytest.mark.anyio

LIFETIME = 2
TOKEN = "/oauth/token"
PACE = 0.05  # between calls: a steady trickle of requests, not a synchronisation


@pytest.fixture
def state() -> SimulatorState:
    return SimulatorState(default_seed(), token_lifetime_seconds=LIFETIME, seed_rng=7)


async def test_calls_across_several_lifetimes_never_fail(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    started = time.monotonic()
    calls = 0
    with anyio.fail_after(LIFETIME * 2.25 + 5):
        while time.monotonic() - started < LIFETIME * 2.25:
            assert len(await client.list_regions()) == 2  # raises if any call fails
            calls += 1
            await anyio.sleep(PACE)

    log = await request_log(admin)
    tokens = [r for r in log if r["path"] == TOKEN]
    assert calls >= 20
    assert len(tokens) >= 3, "a token outlived its lifetime"
    assert all(r["status"] == 200 for r in tokens)
    assert sum(1 for r in log if r["path"].startswith("/api/") and r["status"] == 200) == calls


async def test_refresher_renews_before_expiry(client: GenesysClient, admin: httpx.AsyncClient) -> None:
    stop = anyio.Event()
    with anyio.fail_after(LIFETIME * 3 + 5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.tokens.run_refresher, stop)
            # No API call at all: only the refresher can fetch, and it must renew ahead of expiry.
            await until(lambda: client.tokens.fetches >= 2, timeout=LIFETIME * 3 + 5, interval=PACE)
            quiet = await request_log(admin)
            # Then calls while it keeps rotating: none of them may meet an expired token.
            while client.tokens.fetches < 3:
                assert len(await client.list_regions()) == 2
                await anyio.sleep(PACE)
            stop.set()

    assert [r["path"] for r in quiet] == [TOKEN, TOKEN]
    log = await request_log(admin)
    tokens = [r for r in log if r["path"] == TOKEN]
    api = [r for r in log if r["path"].startswith("/api/")]
    assert len(tokens) >= 3
    assert all(r["status"] == 200 for r in tokens)
    assert len(api) > 0
    assert [r for r in api if r["status"] == 401] == []
    # Each new token came before the one it replaced expired (simulator clock).
    gaps = [later["time"] - earlier["time"] for earlier, later in itertools.pairwise(tokens)]
    assert all(gap < LIFETIME for gap in gaps), gaps


async def test_expired_token_is_refreshed_once_and_the_call_succeeds(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    await client.list_regions()
    fetches = client.tokens.fetches
    since = await sim_now(admin)
    response = await admin.post("/_sim/tokens/expire")
    assert response.status_code == 200
    assert response.json()["expired"] >= 1

    assert len(await client.list_regions()) == 2

    log = [(r["method"], r["path"], r["status"]) for r in await request_log(admin, since)]
    assert log == [
        ("GET", "/api/v2/architecture/regions", 401),
        ("POST", TOKEN, 200),
        ("GET", "/api/v2/architecture/regions", 200),
    ]
    assert client.tokens.fetches == fetches + 1
