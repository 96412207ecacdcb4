"""What one API call puts on the wire. The client hands requests straight to its transport (no
`AsyncClient.send`), so what httpx's client would add must still be there, and nothing else."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
import respx
from pydantic import SecretStr

from watcher.genesys import GenesysClient, MalformedResponse, RegionHealthReport, RequestTimeout, RoutingRule
from watcher.metrics import WatcherMetrics

from ._support import (
    API,
    AUDIT_PATH,
    HEALTH_PATH,
    RULE_PATH,
    SECRET,
    FakeGenesys,
    json_response,
    sample,
    settings,
)

pytestmark = pytest.mark.anyio


async def test_a_call_carries_the_token_the_client_headers_and_its_timeout(
    api: FakeGenesys, client: GenesysClient
) -> None:
    api.on("GET", HEALTH_PATH, json_response(200, {"status": "HEALTHY"}))
    await client.region_health("us-east-1", timeout=1.5)
    (request,) = api.api_requests()
    assert request.headers["Authorization"] == f"Bearer {api.issued[0]}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == "failover-watcher"
    assert "gzip" in request.headers["Accept-Encoding"]  # as httpx's client sends it
    assert request.headers["Host"] == "api.genesys.test"
    assert request.extensions["timeout"] == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}
    assert "cookie" not in request.headers


async def test_a_put_sends_its_json_body_and_the_query_is_kept(
    api: FakeGenesys, client: GenesysClient
) -> None:
    rule = RoutingRule.model_validate(
        {"id": "rule-1", "version": 3, "priority": 5, "targets": [{"id": "t-1"}], "conditions": []}
    )
    api.on(
        "PUT",
        RULE_PATH,
        json_response(200, {**rule.model_dump(mode="json", exclude_none=True), "version": 4}),
    )
    api.on("GET", AUDIT_PATH, json_response(200, {"entities": []}))
    written = await client.put_rule("rule-1", rule)
    assert written.version == 4
    async for _ in client.audit_logs("strategy-1", page_size=7):
        pass
    put, audit = api.api_requests()
    assert put.headers["Content-Type"] == "application/json"
    assert json.loads(put.content)["version"] == 3
    assert int(put.headers["Content-Length"]) == len(put.content)
    assert dict(audit.url.params) == {"pageSize": "7", "filterEntityId": "strategy-1"}


async def test_a_compressed_answer_is_decoded(api: FakeGenesys, client: GenesysClient) -> None:
    body = gzip.compress(b'{"status": "DEGRADED"}')
    api.on("GET", HEALTH_PATH, httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"}))
    assert (await client.region_health("us-east-1")).status == "DEGRADED"


async def test_the_probe_gets_the_answer_time(api: FakeGenesys, client: GenesysClient) -> None:
    api.on("GET", "/api/v2/date", json_response(200, {"currentDate": "2026-12-04T00:00:00.000Z"}))
    answer = await client.probe(client.url("date"), timeout=2.0)
    assert answer.status == 200
    assert answer.latency_ms is not None
    assert answer.latency_ms >= 0


async def test_a_probe_without_token_sends_no_credential_and_is_counted_in_the_budget(
    api: FakeGenesys, client: GenesysClient, metrics: WatcherMetrics
) -> None:
    api.on("GET", "/api/v2/date", json_response(401, {"message": "no token"}))
    before = client.budget.available
    answer = await client.probe(client.url("date"), timeout=2.0, token=False)
    # Any answer is the probe's answer: a 401 to a plain GET is a status, not a refresh of our token.
    assert answer.status == 401
    assert answer.latency_ms is not None
    (request,) = api.api_requests()
    assert "Authorization" not in request.headers
    assert api.token_requests() == []
    assert client.budget.available == pytest.approx(before - 1)
    assert sample(metrics, "failover_watcher_api_requests_total", endpoint="probe", code="401") == 1


async def test_an_answer_of_the_wrong_shape_is_malformed_naming_the_field(
    api: FakeGenesys, client: GenesysClient, metrics: WatcherMetrics
) -> None:
    api.on("GET", HEALTH_PATH, json_response(200, {"status": 7}))
    with pytest.raises(MalformedResponse, match="status"):
        await client.request_model(
            "GET", "region_health", RegionHealthReport, path={"regionId": "us-east-1"}, retries=0
        )
    assert sample(metrics, "failover_watcher_malformed_responses_total", endpoint="region_health") == 1


async def test_respx_still_mocks_the_client_transport() -> None:
    # Users and tests mock the client with respx's httpx mocker: it replaces the client's choice
    # of transport for a URL, which the client still asks.
    with respx.mock(using="httpx", assert_all_called=True) as router:
        router.post("https://login.genesys.test/oauth/token").respond(
            200, json={"access_token": "t-1", "token_type": "bearer", "expires_in": 3600}
        )
        route = router.get(f"{API}{HEALTH_PATH}").respond(200, json={"status": "HEALTHY"})
        async with GenesysClient(settings(), SecretStr(SECRET), transport_kind="httpx") as client:
            assert (await client.region_health("us-east-1")).status == "HEALTHY"
    assert route.calls.last.request.headers["Authorization"] == "Bearer t-1"


class _HeadersThenNothing(httpx.AsyncByteStream):
    """An answer whose status and headers arrive, then whose body never does (a stalled gateway)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"status": '
        await anyio.sleep_forever()

    async def aclose(self) -> None:
        return None


async def test_a_body_that_never_ends_is_a_timeout_within_the_deadline(
    api: FakeGenesys, client: GenesysClient
) -> None:
    # The body is read inside the request's deadline, as `AsyncClient.request` read it: a stalled
    # answer cannot hold a poll (or a PUT) past its timeout.
    api.on(
        "GET",
        HEALTH_PATH,
        httpx.Response(200, headers={"Content-Type": "application/json"}, stream=_HeadersThenNothing()),
    )
    with anyio.fail_after(5), pytest.raises(RequestTimeout):
        await client.region_health("us-east-1", timeout=0.2)
