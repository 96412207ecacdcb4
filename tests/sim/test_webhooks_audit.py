"""Webhook registration (secret never shown) and audit log paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from watcher.sim import SimulatorState

from ._support import strategy_body

pytestmark = pytest.mark.anyio

STRATEGY = "/api/v2/routing/strategies/strategy-1"
AUDIT_FIELDS = {
    *("id", "timestamp", "entityId", "entityType", "action", "user"),
    *("status", "before", "after", "version"),
}
WEBHOOK_SECRET = "whsec_do-not-echo-me"
WEBHOOK = {
    "name": "External-DNS-Failover-Sync",
    "enabled": True,
    "targetUrl": "https://dns.example.com/api/sync",
    "secret": WEBHOOK_SECRET,
    "events": ["routing:strategy:updated", "architecture:region:healthchanged"],
    "format": "application/json",
    "headers": {"X-Event-Type": "architecture-failover"},
}


async def test_webhook_post_answers_an_id_and_never_the_secret(
    api: httpx.AsyncClient, state: SimulatorState
) -> None:
    created = await api.post("/api/v2/platform/webhooks", json=WEBHOOK)
    listed = await api.get("/api/v2/platform/webhooks")
    audit = await api.get("/api/v2/platform/auditlogs")
    everything = await api.get("/_sim/state")

    assert created.status_code == 200
    webhook_id = created.json()["id"]
    assert created.json()["targetUrl"] == WEBHOOK["targetUrl"]
    assert listed.json()["entities"] == [created.json()]
    entity = listed.json()["entities"][0]
    assert {"id", "name", "targetUrl", "events", "enabled"} <= entity.keys()
    for response in (created, listed, audit, everything):
        assert WEBHOOK_SECRET not in response.text
        assert "secret" not in response.text
    assert WEBHOOK_SECRET not in repr(state)
    assert state.org.webhook_secret(webhook_id) == WEBHOOK_SECRET


async def test_webhook_needs_name_and_url(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v2/platform/webhooks", json={**WEBHOOK, "targetUrl": "ftp://x"})

    assert response.status_code == 400
    assert response.json()["message"].startswith("targetUrl:")
    assert WEBHOOK_SECRET not in response.text


async def _all_pages(api: httpx.AsyncClient, first: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    next_page: str | None = first
    while next_page:
        body = (await api.get(next_page)).json()
        pages.append(body["entities"])
        next_page = body.get("nextPage")
        assert len(pages) < 50, "nextPage never ended"
    return pages


async def test_audit_pages_follow_next_page_until_absent(api: httpx.AsyncClient) -> None:
    for version in range(1, 8):  # 7 successes, versions 2..8
        assert (await api.put(STRATEGY, json=strategy_body(version=version))).status_code == 200
    await api.put("/api/v2/routing/strategies/strategy-1", json=strategy_body(version=1))  # a failure
    await api.put("/_sim/regions/us-east-1", json={"status": "DOWN"})  # another entity

    pages = await _all_pages(api, "/api/v2/platform/auditlogs?pageSize=3&filterEntityId=strategy-1")

    assert [len(page) for page in pages] == [3, 3, 2]
    entries = [entry for page in pages for entry in page]
    assert {e["entityId"] for e in entries} == {"strategy-1"}
    assert [e["version"] for e in entries] == [2, 3, 4, 5, 6, 7, 8, 8]
    assert [e["status"] for e in entries].count("FAILURE") == 1
    assert len({e["id"] for e in entries}) == 8
    for entry in entries:
        assert {
            "id",
            "timestamp",
            "entityId",
            "entityType",
            "action",
            "user",
            "status",
            "before",
            "after",
            "version",
        } <= entry.keys()


async def test_audit_next_page_is_absent_on_exact_multiple_and_keeps_filters(
    api: httpx.AsyncClient,
) -> None:
    for version in range(1, 5):
        await api.put(STRATEGY, json=strategy_body(version=version))

    first = (await api.get("/api/v2/platform/auditlogs?pageSize=2&filterEntityId=strategy-1")).json()
    second = (await api.get(first["nextPage"])).json()

    assert first["nextPage"].startswith(
        "/api/v2/platform/auditlogs?pageSize=2&filterEntityId=strategy-1&cursor="
    )
    assert len(second["entities"]) == 2
    assert "nextPage" not in second


async def test_audit_default_page_size_and_bad_parameters(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v2/platform/auditlogs")).json()

    assert body["pageSize"] == 25
    assert (await api.get("/api/v2/platform/auditlogs?pageSize=0")).status_code == 400
    assert (await api.get("/api/v2/platform/auditlogs?cursor=abc")).status_code == 400
