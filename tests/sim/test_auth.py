"""OAuth client credentials: issue, refuse, expire."""

from __future__ import annotations

import httpx
import pytest

from tests.support import FakeClock
from watcher.sim import RunningSimulator, SimulatorState, running_simulator

from ._support import fetch_token

pytestmark = pytest.mark.anyio

HEALTH = "/api/v2/architecture/regions/us-east-1/health"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_issues_a_bearer_token_that_opens_the_api(client: httpx.AsyncClient) -> None:
    response = await fetch_token(client)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert len(body["access_token"]) >= 32
    assert (await client.get(HEALTH, headers=bearer(body["access_token"]))).status_code == 200


async def test_tokens_are_random(client: httpx.AsyncClient) -> None:
    first = (await fetch_token(client)).json()["access_token"]
    second = (await fetch_token(client)).json()["access_token"]

    assert first != second


async def test_wrong_secret_is_invalid_client_without_echoing_it(
    client: httpx.AsyncClient,
) -> None:
    response = await fetch_token(client, secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "not-the-secret" not in response.text
    assert "sim-secret" not in response.text


async def test_missing_basic_auth_is_invalid_client(client: httpx.AsyncClient) -> None:
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("form", "error"),
    [({}, "invalid_request"), ({"grant_type": "password"}, "unsupported_grant_type")],
)
async def test_missing_or_other_grant_type_is_400(
    client: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    response = await client.post("/oauth/token", auth=("sim-client", "sim-secret"), data=form)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["message"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Bearer forged"}, "invalid access token"),
        ({"Authorization": "Basic c2ltLWNsaWVudDpzaW0tc2VjcmV0"}, "missing bearer token"),
    ],
)
async def test_api_without_a_valid_token_is_401_with_message(
    client: httpx.AsyncClient, headers: dict[str, str], message: str
) -> None:
    response = await client.get(HEALTH, headers=headers)

    assert response.status_code == 401
    assert response.json()["message"] == message
    assert response.json()["status"] == 401


async def test_token_expires_after_its_lifetime(client: httpx.AsyncClient, clock: FakeClock) -> None:
    token = (await fetch_token(client)).json()["access_token"]

    clock.advance(86398)
    assert (await client.get(HEALTH, headers=bearer(token))).status_code == 200
    clock.advance(1)
    response = await client.get(HEALTH, headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["message"] == "access token expired"


async def test_admin_expire_revokes_every_token_issued_so_far(
    client: httpx.AsyncClient,
) -> None:
    old = [(await fetch_token(client)).json()["access_token"] for _ in range(2)]

    expired = await client.post("/_sim/tokens/expire")
    fresh = (await fetch_token(client)).json()["access_token"]

    assert expired.json() == {"expired": 2}
    for token in old:
        assert (await client.get(HEALTH, headers=bearer(token))).status_code == 401
    assert (await client.get(HEALTH, headers=bearer(fresh))).status_code == 200


async def test_custom_credentials_and_lifetime(clock: FakeClock) -> None:
    state = SimulatorState(
        client_id="watcher", client_secret="s3cr3t-value", token_lifetime_seconds=60, clock=clock
    )
    async with running_simulator(state) as sim, httpx.AsyncClient(base_url=sim.base_url) as c:
        assert (await fetch_token(c)).status_code == 401
        response = await fetch_token(c, "watcher", "s3cr3t-value")

    assert response.json()["expires_in"] == 60
    assert "s3cr3t-value" not in repr(state)


async def test_running_simulator_reports_its_address(sim: RunningSimulator) -> None:
    assert sim.base_url == f"http://127.0.0.1:{sim.port}"
    assert sim.port > 0
