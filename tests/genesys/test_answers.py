"""Malformed answers are typed and counted; audit paging follows `nextPage` and never leaves the host."""

from __future__ import annotations

import httpx
import pytest

from watcher.genesys import GenesysClient, MalformedResponse, RoutingRule
from watcher.genesys.client import ClientState
from watcher.genesys.errors import ClientClosed
from watcher.metrics import WatcherMetrics

from ._support import (
    API,
    AUDIT_PATH,
    HEALTH_PATH,
    REGIONS_PATH,
    RULE_PATH,
    STRATEGY_PATH,
    FakeGenesys,
    json_response,
    sample,
)

pytestmark = pytest.mark.anyio

WRONG_ANSWERS = [
    ("region_health", HEALTH_PATH, b"<html>gateway</html>"),
    ("region_health", HEALTH_PATH, b'{"latencyMs": 12}'),
    ("region_health", HEALTH_PATH, b'{"status": 42}'),
    ("region_health", HEALTH_PATH, b'{"status": "HEALTHY", "syncIntervalSeconds": "often"}'),
    ("region_health", HEALTH_PATH, b'["HEALTHY"]'),
    ("regions", REGIONS_PATH, b'{"entities": "us-east-1"}'),
    ("regions", REGIONS_PATH, b'{"entities": [{"name": "no id"}]}'),
    ("strategy", STRATEGY_PATH, b'{"id": "strategy-1"}'),
    ("strategy", STRATEGY_PATH, b'{"id": "strategy-1", "routingConfig": {"regions": []}}'),
    ("strategy", STRATEGY_PATH, b""),
    ("rule", RULE_PATH, b'{"id": "rule-1", "priority": "high", "targets": [{"id": "t"}]}'),
    ("rule", RULE_PATH, b"{truncated"),
]


async def call(client: GenesysClient, endpoint: str) -> object:
    if endpoint == "region_health":
        return await client.region_health("us-east-1")
    if endpoint == "regions":
        return await client.list_regions()
    if endpoint == "strategy":
        return await client.get_strategy("strategy-1")
    return await client.get_rule("rule-1")


@pytest.mark.parametrize(("endpoint", "path", "body"), WRONG_ANSWERS)
async def test_malformed_answer_is_typed_and_counted(
    api: FakeGenesys, client: GenesysClient, metrics: WatcherMetrics, endpoint: str, path: str, body: bytes
) -> None:
    api.on("GET", path, httpx.Response(200, content=body))
    with pytest.raises(MalformedResponse) as caught:
        await call(client, endpoint)
    assert caught.value.__cause__ is None
    assert caught.value.endpoint == endpoint
    assert sample(metrics, "failover_watcher_malformed_responses_total", endpoint=endpoint) == 1
    assert len(api.api_requests()) == 1  # a malformed answer is not retried


async def audit_entries(client: GenesysClient) -> list[str | None]:
    return [e.id async for e in client.audit_logs("strategy-1")]


def audit_page(cursor: int, next_page: str | None) -> dict[str, object]:
    body: dict[str, object] = {
        "entities": [{"id": f"a{cursor}-{i}", "entityId": "strategy-1", "action": "update"} for i in range(2)]
    }
    if next_page is not None:
        body["nextPage"] = next_page
    return body


async def test_audit_logs_follow_next_page_until_absent(api: FakeGenesys, client: GenesysClient) -> None:
    api.on(
        "GET",
        AUDIT_PATH,
        json_response(200, audit_page(1, f"{AUDIT_PATH}?cursor=2&pageSize=2")),
        json_response(200, audit_page(2, f"{API}{AUDIT_PATH}?cursor=3&pageSize=2")),
        json_response(200, audit_page(3, f"{AUDIT_PATH}?cursor=4&pageSize=2")),
        json_response(200, audit_page(4, None)),
    )
    entries = [e.id async for e in client.audit_logs("strategy-1", page_size=2)]
    assert entries == [f"a{c}-{i}" for c in range(1, 5) for i in range(2)]
    sent = api.api_requests()
    assert len(sent) == 4
    assert dict(sent[0].url.params) == {"pageSize": "2", "filterEntityId": "strategy-1"}
    assert [r.url.params.get("cursor") for r in sent[1:]] == ["2", "3", "4"]


@pytest.mark.parametrize(
    "next_page",
    [
        "https://evil.example/api/v2/platform/auditlogs?cursor=2",
        "//evil.example/api/v2/platform/auditlogs",
        "http://api.genesys.test/api/v2/platform/auditlogs",  # downgraded to plain http
        "api/v2/platform/auditlogs",
    ],
)
async def test_next_page_to_another_host_is_refused(
    api: FakeGenesys, client: GenesysClient, metrics: WatcherMetrics, next_page: str
) -> None:
    api.on("GET", AUDIT_PATH, json_response(200, audit_page(1, next_page)))
    seen: list[str | None] = []

    async def read_all() -> None:
        async for entry in client.audit_logs("strategy-1"):
            seen.append(entry.id)

    with pytest.raises(MalformedResponse, match="nextPage"):
        await read_all()
    assert seen == ["a1-0", "a1-1"]
    assert {r.url.host for r in api.requests} == {"api.genesys.test", "login.genesys.test"}
    assert len(api.api_requests()) == 1
    assert sample(metrics, "failover_watcher_malformed_responses_total", endpoint="audit_logs") == 1


async def test_next_page_loop_is_refused(api: FakeGenesys, client: GenesysClient) -> None:
    api.on("GET", AUDIT_PATH, json_response(200, audit_page(1, f"{AUDIT_PATH}?cursor=2")))
    with pytest.raises(MalformedResponse, match="repeats"):
        await audit_entries(client)
    assert len(api.api_requests()) == 2


async def test_put_rule_without_version_is_refused_locally(api: FakeGenesys, client: GenesysClient) -> None:
    rule = RoutingRule.model_validate({"id": "rule-1", "priority": 1, "targets": [{"id": "t"}]})
    with pytest.raises(Exception, match="version"):
        await client.put_rule("rule-1", rule)
    assert api.api_requests() == []


async def test_closed_client_refuses_calls(client: GenesysClient) -> None:
    await client.aclose()
    assert client.state is ClientState.CLOSED
    with pytest.raises(ClientClosed):
        await client.list_regions()
    with pytest.raises(ClientClosed):
        await client.__aenter__()
