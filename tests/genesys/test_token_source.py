"""OAuth client credentials (SPEC §2): request shape, caching, refresh ahead of expiry, single flight."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from urllib.parse import parse_qs

import anyio
import httpx
import pytest
import respx
from pydantic import SecretStr

from tests.support import FakeClock
from watcher.genesys import (
    AuthenticationError,
    GenesysClient,
    MalformedResponse,
    RequestTimeout,
    ServerError,
    TokenSource,
    TokenThrottled,
    TransportFailure,
)
from watcher.metrics import WatcherMetrics

from ._support import (
    CLIENT_ID,
    HEALTH_PATH,
    LOGIN,
    SECRET,
    TOKEN_PREFIX,
    FakeGenesys,
    hang,
    json_response,
    sample,
    settings,
)

pytestmark = pytest.mark.anyio

TOKEN_URL = f"{LOGIN}/oauth/token"


def token_source(
    http: httpx.AsyncClient,
    fake_time: FakeClock,
    metrics: WatcherMetrics | None = None,
    **options: float,
) -> TokenSource:
    return TokenSource(
        http,
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        client_secret=SecretStr(SECRET),
        metrics=metrics,
        clock=fake_time,
        sleep=fake_time.sleep,
        **options,  # type: ignore[arg-type]
    )


def mock_http(api: FakeGenesys) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(api.handler))


async def test_token_request_is_client_credentials_with_basic_auth(fake_time: FakeClock) -> None:
    with respx.mock(using="httpx", assert_all_called=True) as router:
        route = router.post(TOKEN_URL).respond(
            200, json={"access_token": f"{TOKEN_PREFIX}-r", "token_type": "bearer", "expires_in": 86399}
        )
        health = router.get(f"https://api.genesys.test{HEALTH_PATH}").respond(200, json={"status": "HEALTHY"})
        client = GenesysClient(
            settings(),
            SecretStr(SECRET),
            transport_kind="httpx",
            clock=fake_time,
            sleep=fake_time.sleep,
        )
        async with client:
            report = await client.region_health("us-east-1")
    assert report.status == "HEALTHY"
    assert route.call_count == 1
    request = route.calls[0].request
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    expected = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}
    assert health.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN_PREFIX}-r"


async def test_token_is_cached_until_expiry(api: FakeGenesys, fake_time: FakeClock) -> None:
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time)
        first = await tokens.token()
        fake_time.now += 3000
        assert await tokens.token() == first
        assert len(api.token_requests()) == 1
        fake_time.now += 600  # past the one-hour lifetime
        assert not tokens.has_token
        second = await tokens.token()
    assert second != first
    assert len(api.token_requests()) == 2


@pytest.mark.parametrize(("lifetime", "margin", "due"), [(3600.0, 300.0, 3300.0), (100.0, 300.0, 75.0)])
async def test_refresh_is_due_ahead_of_expiry(
    fake_time: FakeClock, lifetime: float, margin: float, due: float
) -> None:
    api = FakeGenesys(lifetime=lifetime)
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time, refresh_margin=margin)
        assert tokens.refresh_due_in() == 0.0  # no token yet
        await tokens.token()
        assert tokens.refresh_due_in() == pytest.approx(due)
        fake_time.now += due - 1
        assert tokens.refresh_due_in() == pytest.approx(1.0)
        assert tokens.has_token
        fake_time.now += 1
        assert tokens.refresh_due_in() == 0.0


async def test_refresher_replaces_the_token_before_it_expires(fake_time: FakeClock) -> None:
    api = FakeGenesys(lifetime=3600.0, clock=fake_time)
    three_issued = anyio.Event()
    original = api.issue_token

    def counting_issue() -> httpx.Response:
        response = original()
        if len(api.issued) >= 3:
            three_issued.set()
        return response

    api.issue_token = counting_issue  # type: ignore[method-assign]
    stop = anyio.Event()
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time, refresh_margin=300.0)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(tokens.run_refresher, stop)
                await three_issued.wait()
                stop.set()
    times = api.token_times[:3]
    # Each refresh happens 300 s before the previous token expires, never after.
    assert [b - a for a, b in itertools.pairwise(times)] == [3300.0, 3300.0]
    assert tokens.has_token


async def test_refresher_backs_off_after_a_failed_refresh_and_stops_when_cancelled(
    fake_time: FakeClock,
) -> None:
    api = FakeGenesys()
    api.on("POST", "/oauth/token", json_response(503, {"message": "down"}))
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time, max_retries=0)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(tokens.run_refresher)
                while len(fake_time.sleeps) < 3:
                    await anyio.lowlevel.checkpoint()
                tg.cancel_scope.cancel()
    assert fake_time.sleeps[:3] == [2.0, 4.0, 8.0]
    assert not tokens.has_token


async def test_hundred_concurrent_callers_at_expiry_cause_one_token_request(fake_time: FakeClock) -> None:
    api = FakeGenesys()
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time)
        await tokens.token()
        fake_time.now += 4000  # expired
        gate, fetching = anyio.Event(), anyio.Event()

        async def slow_token(_request: httpx.Request) -> httpx.Response:
            fetching.set()
            await gate.wait()
            return api.issue_token()

        api.on("POST", "/oauth/token", slow_token)
        entered = 0
        results: list[str] = []

        async def caller() -> None:
            nonlocal entered
            entered += 1
            results.append(await tokens.token())

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    tg.start_soon(caller)
                await fetching.wait()
                while entered < 100:
                    await anyio.lowlevel.checkpoint()
                gate.set()
    assert len(api.token_requests()) == 2  # the first token, then exactly one refresh
    assert len(results) == 100
    assert set(results) == {api.issued[-1]}


async def test_token_throttled_with_400_is_retried_with_backoff(fake_time: FakeClock) -> None:
    api = FakeGenesys()
    throttled = json_response(400, {"message": "Rate limit exceeded the maximum. [client_credentials]"})
    api.on("POST", "/oauth/token", throttled, throttled, api.issue_token())
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time)
        value = await tokens.token()
    assert value == f"{TOKEN_PREFIX}-1"
    assert len(api.token_requests()) == 3
    assert len(fake_time.sleeps) == 2
    assert all(0 <= s <= 8.0 for s in fake_time.sleeps)


async def test_token_throttling_that_outlives_the_retries_is_typed(fake_time: FakeClock) -> None:
    api = FakeGenesys()
    api.on("POST", "/oauth/token", json_response(400, {"message": "rate limit exceeded"}))
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time, max_retries=2)
        with pytest.raises(TokenThrottled):
            await tokens.token()
    assert len(api.token_requests()) == 3


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, {"error": "invalid_client"}), (400, {"error": "invalid_grant", "error_description": "bad"})],
)
async def test_token_refused_is_authentication_error_and_not_retried(
    fake_time: FakeClock, metrics: WatcherMetrics, status: int, body: dict[str, str]
) -> None:
    api = FakeGenesys()
    api.on("POST", "/oauth/token", json_response(status, body))
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time, metrics)
        with pytest.raises(AuthenticationError, match="client credentials"):
            await tokens.token()
    assert len(api.token_requests()) == 1
    assert fake_time.sleeps == []
    assert sample(metrics, "failover_watcher_token_refreshes_total", result="failure") == 1


async def test_token_endpoint_5xx_is_retried_once_per_attempt_even_through_the_client(
    api: FakeGenesys, fake_time: FakeClock, client_factory: Callable[..., GenesysClient]
) -> None:
    api.on("POST", "/oauth/token", json_response(503, {"message": "unavailable"}))
    async with client_factory(max_retries=3) as client:
        with pytest.raises(ServerError):
            await client.list_regions()
    # The token source retries; the request pipeline must not multiply those retries.
    assert len(api.token_requests()) == 4
    assert api.api_requests() == []


async def test_token_transport_error_is_retried_then_typed(fake_time: FakeClock) -> None:
    api = FakeGenesys()
    api.on("POST", "/oauth/token", httpx.ConnectError("refused"))
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time, max_retries=2)
        with pytest.raises(TransportFailure):
            await tokens.token()
    assert len(api.token_requests()) == 3


async def test_hanging_token_endpoint_times_out(fake_time: FakeClock) -> None:
    api = FakeGenesys()
    api.on("POST", "/oauth/token", hang)
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time, max_retries=0, timeout=0.05)
        with anyio.fail_after(2), pytest.raises(RequestTimeout):
            await tokens.token()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"<html>oops</html>"),
        json_response(200, {"token_type": "bearer", "expires_in": 60}),
        json_response(200, {"access_token": 42, "expires_in": 60}),
        json_response(200, {"access_token": "t", "expires_in": "soon"}),
        json_response(200, ["access_token"]),
        httpx.Response(200, content=b'{"access_token": "t", "expires_in": Infinity}'),
    ],
    ids=["not-json", "missing-token", "token-not-string", "lifetime-not-number", "list", "infinite"],
)
async def test_malformed_token_answer(
    fake_time: FakeClock, metrics: WatcherMetrics, answer: httpx.Response
) -> None:
    api = FakeGenesys()
    api.on("POST", "/oauth/token", answer)
    async with mock_http(api) as http:
        tokens = token_source(http, fake_time, metrics)
        with pytest.raises(MalformedResponse):
            await tokens.token()
    assert sample(metrics, "failover_watcher_malformed_responses_total", endpoint="token") == 1


async def test_api_401_refreshes_the_token_once(
    api: FakeGenesys, client: GenesysClient, metrics: WatcherMetrics
) -> None:
    api.on(
        "GET",
        HEALTH_PATH,
        json_response(401, {"message": "expired"}),
        json_response(200, {"status": "HEALTHY"}),
    )
    report = await client.region_health("us-east-1")
    assert report.status == "HEALTHY"
    sent = [r.headers["Authorization"] for r in api.api_requests()]
    assert sent == [f"Bearer {TOKEN_PREFIX}-1", f"Bearer {TOKEN_PREFIX}-2"]
    assert len(api.token_requests()) == 2
    assert sample(metrics, "failover_watcher_token_refreshes_total", result="success") == 2


async def test_api_401_twice_is_authentication_error(api: FakeGenesys, client: GenesysClient) -> None:
    api.on("GET", HEALTH_PATH, json_response(401, {"message": "no"}))
    with pytest.raises(AuthenticationError) as caught:
        await client.region_health("us-east-1", retries=3)
    assert "client credentials" in str(caught.value)
    assert caught.value.status == 401
    assert len(api.api_requests()) == 2
    assert len(api.token_requests()) == 2
