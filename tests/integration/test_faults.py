"""Each injected fault class is answered as SPEC §2 says, over real loopback HTTP.

The client's config has `max_retries = 2` (3 attempts) and a 1 s request timeout; its waits go to a
recorded sleep, so the backoff costs no real time but is still observable.
"""

from __future__ import annotations

import httpx
import pytest

from watcher.config import WatcherConfig
from watcher.genesys import (
    AuthenticationError,
    BadRequest,
    GenesysClient,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportFailure,
)

from ._support import RecordedSleep, add_fault, request_log, sim_now

pytestmark = pytest.mark.anyio

REGIONS = "/api/v2/architecture/regions"
STRATEGY = "/api/v2/routing/strategies/strategy-1"
TOKEN = "/oauth/token"


async def _log_of(admin: httpx.AsyncClient, path: str, since: float) -> list[tuple[str, int]]:
    return [(r["method"], r["status"]) for r in await request_log(admin, since) if r["path"] == path]


async def _warm(client: GenesysClient, admin: httpx.AsyncClient) -> float:
    """Fetch the token first, so the request log after the returned time holds only the call."""
    await client.tokens.token()
    return await sim_now(admin)


async def test_500_once_is_retried_then_succeeds(
    client: GenesysClient, admin: httpx.AsyncClient, sleep: RecordedSleep
) -> None:
    since = await _warm(client, admin)
    await add_fault(admin, path=f"^{REGIONS}$", status=500, count=1)

    regions = await client.list_regions()

    assert {r.id for r in regions} == {"us-east-1", "eu-west-1"}
    assert await _log_of(admin, REGIONS, since) == [("GET", 500), ("GET", 200)]
    assert len(sleep.calls) == 1  # one backoff between the two attempts
    assert 0 <= sleep.calls[0] <= 8.0


async def test_503_every_time_is_server_error_after_max_retries_plus_one(
    client: GenesysClient, admin: httpx.AsyncClient, cfg: WatcherConfig, sleep: RecordedSleep
) -> None:
    since = await _warm(client, admin)
    await add_fault(admin, path=f"^{REGIONS}$", status=503, errorRate=1)

    with pytest.raises(ServerError) as caught:
        await client.list_regions()

    assert caught.value.status == 503
    attempts = cfg.genesys.max_retries + 1
    assert await _log_of(admin, REGIONS, since) == [("GET", 503)] * attempts
    assert len(sleep.calls) == attempts - 1
    # Exponential backoff with jitter, bounded: never more than the cap.
    assert all(0 <= s <= 8.0 for s in sleep.calls)


async def test_delay_beyond_the_timeout_is_request_timeout(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    await _warm(client, admin)
    await add_fault(admin, path="/health$", delayMs=800, count=1)

    # A health poll is not retried: a failed poll is the observation.
    with pytest.raises(RequestTimeout) as caught:
        await client.region_health("us-east-1", timeout=0.3)

    assert caught.value.endpoint == "region_health"
    # The fault is spent; the region answers again within the deadline.
    report = await client.region_health("us-east-1", timeout=1.0)
    assert report.status == "HEALTHY"


async def test_reset_is_transport_failure_and_retried(
    client: GenesysClient, admin: httpx.AsyncClient, cfg: WatcherConfig
) -> None:
    since = await _warm(client, admin)
    await add_fault(admin, path=f"^{REGIONS}$", reset=True, count=1)

    assert len(await client.list_regions()) == 2
    assert await _log_of(admin, REGIONS, since) == [("GET", 0), ("GET", 200)]

    since = await sim_now(admin)
    await add_fault(admin, path=f"^{REGIONS}$", reset=True)
    with pytest.raises(TransportFailure) as caught:
        await client.list_regions()
    assert not isinstance(caught.value, RequestTimeout)
    assert await _log_of(admin, REGIONS, since) == [("GET", 0)] * (cfg.genesys.max_retries + 1)


async def test_403_is_permission_denied_naming_the_scope_and_not_retried(
    client: GenesysClient, admin: httpx.AsyncClient, sleep: RecordedSleep
) -> None:
    since = await _warm(client, admin)
    await add_fault(admin, path=f"^{STRATEGY}$", status=403)

    with pytest.raises(PermissionDenied) as caught:
        await client.get_strategy("strategy-1")

    assert caught.value.scope == "routing:strategy:read"
    assert "routing:strategy:read" in str(caught.value)
    assert await _log_of(admin, STRATEGY, since) == [("GET", 403)]
    assert sleep.calls == []


async def test_404_is_not_found(client: GenesysClient, admin: httpx.AsyncClient) -> None:
    since = await _warm(client, admin)

    with pytest.raises(NotFound) as caught:
        await client.get_strategy("no-such-strategy")
    assert caught.value.status == 404
    assert await _log_of(admin, "/api/v2/routing/strategies/no-such-strategy", since) == [("GET", 404)]
    assert await client.target_exists("target-use1")
    assert not await client.target_exists("target-gone")


async def test_400_is_bad_request_with_the_servers_message(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    since = await _warm(client, admin)
    message = "routingConfig.evaluationTimeoutMs: must be an integer in 1..30000"
    await add_fault(admin, path=f"^{STRATEGY}$", status=400, message=message)

    with pytest.raises(BadRequest) as caught:
        await client.get_strategy("strategy-1")

    assert caught.value.server_message == message
    assert message in str(caught.value)
    assert await _log_of(admin, STRATEGY, since) == [("GET", 400)]


async def test_real_schema_400_from_the_simulator_is_bad_request(client: GenesysClient) -> None:
    rule = await client.get_rule("rule-1")
    broken = rule.model_copy(update={"targets": [rule.targets[0].model_copy(update={"id": "target-gone"})]})

    with pytest.raises(BadRequest) as caught:
        await client.put_rule("rule-1", broken)

    assert caught.value.server_message is not None
    assert "target-gone" in caught.value.server_message


async def test_token_endpoint_throttling_400_is_retried_then_succeeds(
    client: GenesysClient, admin: httpx.AsyncClient, sleep: RecordedSleep
) -> None:
    since = await sim_now(admin)
    await add_fault(admin, path=f"^{TOKEN}$", status=400, message="Rate limit exceeded", count=2)

    assert len(await client.list_regions()) == 2

    assert await _log_of(admin, TOKEN, since) == [("POST", 400), ("POST", 400), ("POST", 200)]
    assert len(sleep.calls) == 2


async def test_token_endpoint_other_400_is_not_retried(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    since = await sim_now(admin)
    await add_fault(admin, path=f"^{TOKEN}$", status=400, message="invalid_grant")

    with pytest.raises(AuthenticationError):
        await client.list_regions()

    assert await _log_of(admin, TOKEN, since) == [("POST", 400)]
    assert await _log_of(admin, REGIONS, since) == []


async def test_429_is_rate_limited_after_retries_honouring_retry_after(
    client: GenesysClient, admin: httpx.AsyncClient, cfg: WatcherConfig, sleep: RecordedSleep
) -> None:
    since = await _warm(client, admin)
    await add_fault(admin, path=f"^{REGIONS}$", status=429, retryAfter=2)

    with pytest.raises(RateLimited) as caught:
        await client.list_regions()

    assert caught.value.retry_after == 2
    attempts = cfg.genesys.max_retries + 1
    assert await _log_of(admin, REGIONS, since) == [("GET", 429)] * attempts
    assert sleep.calls == [2.0] * (attempts - 1)


async def test_401_twice_is_authentication_error_after_one_refresh(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    since = await _warm(client, admin)
    await add_fault(admin, path=f"^{REGIONS}$", status=401)

    with pytest.raises(AuthenticationError):
        await client.list_regions()

    log = [(r["method"], r["path"], r["status"]) for r in await request_log(admin, since)]
    assert log == [("GET", REGIONS, 401), ("POST", TOKEN, 200), ("GET", REGIONS, 401)]
