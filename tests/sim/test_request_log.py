"""The request log: what the watcher asked, what it got, when."""

from __future__ import annotations

import httpx
import pytest

from tests.support import FakeClock

from ._support import fetch_token

pytestmark = pytest.mark.anyio

HEALTH = "/api/v2/architecture/regions/us-east-1/health"


async def test_log_lists_api_and_token_requests_with_status_and_time(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await fetch_token(client, secret="wrong")
    await client.get(HEALTH)
    clock.advance(5)
    await client.put("/_sim/faults", json={"path": "health", "reset": True})
    with pytest.raises(httpx.TransportError):
        await client.get(HEALTH)

    body = (await client.get("/_sim/requests")).json()

    assert body["requests"] == [
        {"method": "POST", "path": "/oauth/token", "status": 401, "time": 1000.0},
        {"method": "GET", "path": HEALTH, "status": 401, "time": 1000.0},
        {"method": "GET", "path": HEALTH, "status": 0, "time": 1005.0},
    ]
    assert body["now"] == 1005.0


async def test_since_filters_and_delete_clears(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await client.get(HEALTH)
    clock.advance(1)
    await client.get("/api/v2/architecture/regions")

    recent = (await client.get("/_sim/requests", params={"since": 1000.5})).json()["requests"]
    cleared = await client.delete("/_sim/requests")

    assert [r["path"] for r in recent] == ["/api/v2/architecture/regions"]
    assert cleared.json() == {"cleared": 2}
    assert (await client.get("/_sim/requests")).json()["requests"] == []
    assert (await client.get("/_sim/requests?since=soon")).status_code == 400


async def test_log_never_holds_query_strings_or_credentials(client: httpx.AsyncClient) -> None:
    token = (await fetch_token(client)).json()["access_token"]
    await client.get("/api/v2/platform/auditlogs?pageSize=3", headers={"Authorization": f"Bearer {token}"})

    text = (await client.get("/_sim/requests")).text

    assert token not in text
    assert "sim-secret" not in text
    assert "pageSize" not in text
