"""Every error of SPEC §2: what is retried (429, 5xx, transport), what is not, and how it is typed."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from tests.support import FakeClock
from watcher.genesys import (
    BadRequest,
    GenesysClient,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestTimeout,
    RoutingRule,
    ServerError,
    Strategy,
    TransportFailure,
    VersionConflict,
)
from watcher.metrics import WatcherMetrics

from ._support import (
    HEALTH_PATH,
    RULE_PATH,
    STRATEGY_PATH,
    FakeGenesys,
    hang,
    json_response,
    rule_body,
    sample,
    strategy_body,
)

pytestmark = pytest.mark.anyio


async def test_429_honours_retry_after(api: FakeGenesys, client: GenesysClient, fake_time: FakeClock) -> None:
    api.on(
        "GET",
        STRATEGY_PATH,
        json_response(429, {"message": "slow down"}, **{"Retry-After": "7"}),
        json_response(200, strategy_body()),
    )
    strategy = await client.get_strategy("strategy-1")
    assert strategy.id == "strategy-1"
    assert fake_time.sleeps == [7.0]
    assert len(api.api_requests()) == 2


async def test_429_that_outlives_the_retries_is_rate_limited(
    api: FakeGenesys, client: GenesysClient, fake_time: FakeClock
) -> None:
    api.on("GET", STRATEGY_PATH, json_response(429, {"message": "slow down"}, **{"Retry-After": "2"}))
    with pytest.raises(RateLimited) as caught:
        await client.get_strategy("strategy-1")
    assert caught.value.retry_after == 2.0
    assert fake_time.sleeps == [2.0, 2.0, 2.0]
    assert len(api.api_requests()) == 4


@pytest.mark.parametrize("max_retries", [0, 2, 6])
async def test_5xx_gets_bounded_exponential_backoff_then_server_error(
    api: FakeGenesys, fake_time: FakeClock, client_factory: Any, metrics: WatcherMetrics, max_retries: int
) -> None:
    api.on("GET", STRATEGY_PATH, json_response(503, {"message": "unavailable"}))
    async with client_factory(max_retries=max_retries) as client:
        with pytest.raises(ServerError) as caught:
            await client.get_strategy("strategy-1")
    assert caught.value.status == 503
    assert len(api.api_requests()) == max_retries + 1
    assert len(fake_time.sleeps) == max_retries
    for attempt, slept in enumerate(fake_time.sleeps):
        assert 0 <= slept <= min(8.0, 0.25 * 2**attempt)
    assert (
        sample(metrics, "failover_watcher_api_requests_total", endpoint="strategy", code="503")
        == max_retries + 1
    )


async def test_backoff_is_jittered(api: FakeGenesys, fake_time: FakeClock, client_factory: Any) -> None:
    api.on("GET", STRATEGY_PATH, json_response(500, {}))
    async with client_factory(max_retries=8) as client:
        with pytest.raises(ServerError):
            await client.get_strategy("strategy-1")
    exact = [min(8.0, 0.25 * 2**n) for n in range(8)]
    assert fake_time.sleeps != exact
    assert len(set(fake_time.sleeps)) > 1


async def test_5xx_then_success(api: FakeGenesys, client: GenesysClient) -> None:
    api.on(
        "GET",
        STRATEGY_PATH,
        json_response(502, {}),
        json_response(500, {}),
        json_response(200, strategy_body()),
    )
    assert (await client.get_strategy("strategy-1")).version == 3
    assert len(api.api_requests()) == 3


async def test_transport_errors_are_retried_then_typed(
    api: FakeGenesys, fake_time: FakeClock, client_factory: Any, metrics: WatcherMetrics
) -> None:
    api.on("GET", STRATEGY_PATH, httpx.ConnectError("connection refused"))
    async with client_factory(max_retries=2) as client:
        with pytest.raises(TransportFailure) as caught:
            await client.get_strategy("strategy-1")
    assert not isinstance(caught.value, RequestTimeout)
    assert len(api.api_requests()) == 3
    assert len(fake_time.sleeps) == 2
    assert all(0 <= s <= 8.0 for s in fake_time.sleeps)
    assert sample(metrics, "failover_watcher_api_requests_total", endpoint="strategy", code="error") == 3


async def test_transport_error_then_success(api: FakeGenesys, client: GenesysClient) -> None:
    api.on("GET", STRATEGY_PATH, httpx.ReadError("reset"), json_response(200, strategy_body()))
    assert (await client.get_strategy("strategy-1")).id == "strategy-1"


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequest), (403, PermissionDenied), (404, NotFound), (409, VersionConflict), (422, Exception)],
)
async def test_other_4xx_are_never_retried(
    api: FakeGenesys, client: GenesysClient, fake_time: FakeClock, status: int, error: type[Exception]
) -> None:
    api.on("GET", STRATEGY_PATH, json_response(status, {"message": "nope"}))
    with pytest.raises(error):
        await client.get_strategy("strategy-1")
    assert len(api.api_requests()) == 1
    assert fake_time.sleeps == []


async def test_403_names_the_missing_scope(api: FakeGenesys, client: GenesysClient) -> None:
    api.on("PUT", STRATEGY_PATH, json_response(403, {"message": "Missing permission"}))
    with pytest.raises(PermissionDenied) as caught:
        await client.put_strategy(Strategy.model_validate(strategy_body()))
    assert caught.value.scope == "routing:strategy:write"
    assert "routing:strategy:write" in str(caught.value)


async def test_409_is_a_version_conflict(api: FakeGenesys, client: GenesysClient) -> None:
    api.on("PUT", STRATEGY_PATH, json_response(409, {"message": "Conflict"}))
    with pytest.raises(VersionConflict) as caught:
        await client.put_strategy(Strategy.model_validate(strategy_body()))
    assert caught.value.status == 409
    assert json.loads(api.api_requests()[0].content)["version"] == 3  # the version read is sent back


async def test_400_version_mismatch_is_a_version_conflict(api: FakeGenesys, client: GenesysClient) -> None:
    message = "Rule version 6 does not match the current version 7"
    api.on("PUT", RULE_PATH, json_response(400, {"message": message}))
    with pytest.raises(VersionConflict) as caught:
        await client.put_rule("rule-1", RoutingRule.model_validate(rule_body(6)))
    assert caught.value.server_message == message
    assert len(api.api_requests()) == 1


async def test_400_surfaces_the_server_message(api: FakeGenesys, client: GenesysClient) -> None:
    api.on("PUT", RULE_PATH, json_response(400, {"message": "targets[0]: target-x does not exist"}))
    with pytest.raises(BadRequest) as caught:
        await client.put_rule("rule-1", RoutingRule.model_validate(rule_body()))
    assert "targets[0]: target-x does not exist" in str(caught.value)


async def test_hanging_request_times_out_within_the_deadline(
    api: FakeGenesys, client_factory: Any, metrics: WatcherMetrics
) -> None:
    api.on("GET", HEALTH_PATH, hang)
    async with client_factory(request_timeout_seconds=0.05) as client:
        start = anyio.current_time()
        with anyio.fail_after(2), pytest.raises(RequestTimeout):
            await client.region_health("us-east-1")
        assert anyio.current_time() - start < 1.0
    assert (
        sample(metrics, "failover_watcher_api_requests_total", endpoint="region_health", code="timeout") == 1
    )


async def test_per_call_timeout_overrides_the_default_and_timeouts_are_retried(
    api: FakeGenesys, client_factory: Any
) -> None:
    api.on("GET", STRATEGY_PATH, hang, json_response(200, strategy_body()))
    async with client_factory(request_timeout_seconds=30.0) as client:
        with anyio.fail_after(2):
            await client.request("GET", "strategy", path={"strategyId": "strategy-1"}, timeout=0.05)
    assert len(api.api_requests()) == 2
