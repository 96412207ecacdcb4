"""Optimistic locking over real HTTP: a change behind the watcher's back between its read and its
write is met by re-reading, re-planning and retrying, a bounded number of times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from watcher.config import WatcherConfig
from watcher.genesys import GenesysClient, VersionConflict, make_transport
from watcher.switch import WritePolicy, write_rule_target, write_strategy_order

from ._support import (
    RecordedSleep,
    SpyTransport,
    add_fault,
    by_id,
    no_hook,
    request_log,
    sim_state,
    strategy_order,
)

pytestmark = pytest.mark.anyio

STRATEGY = "/api/v2/routing/strategies/strategy-1"
RULE = "/api/v2/eventbridge/routing/rules/rule-1"
FAILOVER = ["eu-west-1", "us-east-1"]


class BehindTheBack:
    """After the client's GET of `path` is answered, act through the admin API (`times` times)."""

    def __init__(self, admin: httpx.AsyncClient, path: str, times: int = 1) -> None:
        self.admin = admin
        self.path = path
        self.left = times
        self.acted = 0

    async def __call__(self, request: httpx.Request, response: httpx.Response) -> None:
        if request.method == "GET" and request.url.path == self.path and self.left > 0:
            self.left -= 1
            self.acted += 1
            await self.act()

    async def act(self) -> None:
        raise NotImplementedError


class RenameStrategy(BehindTheBack):
    """An operator renames the strategy in the UI: its version moves on."""

    async def act(self) -> None:
        current = (await self.admin.get("/_sim/state")).json()
        body = {**by_id(current["strategies"], "strategy-1"), "name": f"renamed-{self.acted}"}
        response = await self.admin.put("/_sim/strategies/strategy-1", json=body)
        assert response.status_code == 200, response.text


class InjectConflict(BehindTheBack):
    """The next request on the path (the PUT) is answered `status` with `message`, once."""

    def __init__(self, admin: httpx.AsyncClient, path: str, status: int, message: str | None) -> None:
        super().__init__(admin, path)
        self.status = status
        self.message = message

    async def act(self) -> None:
        spec: dict[str, Any] = {"path": f"^{self.path}$", "status": self.status, "count": 1}
        if self.message is not None:
            spec["message"] = self.message
        await add_fault(self.admin, **spec)


@pytest.fixture
async def spied(
    cfg: WatcherConfig, sleep: RecordedSleep
) -> AsyncIterator[tuple[GenesysClient, SpyTransport]]:
    """A client whose transport lets a test act between two of its requests."""
    limits = httpx.Limits(max_connections=8)
    spy = SpyTransport(make_transport("aiohttp", limits), hook=no_hook)
    async with GenesysClient(cfg.genesys, cfg.client_secret(), transport=spy, sleep=sleep) as client:
        yield client, spy


async def test_strategy_changed_between_read_and_write_is_reread_and_replanned(
    spied: tuple[GenesysClient, SpyTransport], admin: httpx.AsyncClient
) -> None:
    client, spy = spied
    rename = RenameStrategy(admin, STRATEGY)
    spy.hook = rename

    outcome = await write_strategy_order(client, "strategy-1", FAILOVER, WritePolicy(attempts=3))

    assert rename.acted == 1
    assert outcome.changed
    assert outcome.conflicts >= 1
    strategy = by_id((await sim_state(admin))["strategies"], "strategy-1")
    assert strategy_order(strategy) == [("eu-west-1", 1, 100), ("us-east-1", 2, 0)]
    # Re-planned from what the server held after the change, not the stale read: the rename survives.
    assert strategy["name"] == "renamed-1"
    assert outcome.version_after == strategy["version"] == 3
    puts = [r["status"] for r in await request_log(admin) if r["method"] == "PUT" and r["path"] == STRATEGY]
    assert puts == [409, 200]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        pytest.param(409, None, id="409"),
        pytest.param(400, "Version 1 does not match the current version 2", id="400-version-mismatch"),
    ],
)
async def test_injected_conflict_on_the_put_is_retried(
    spied: tuple[GenesysClient, SpyTransport], admin: httpx.AsyncClient, status: int, message: str | None
) -> None:
    client, spy = spied
    spy.hook = InjectConflict(admin, STRATEGY, status, message)

    outcome = await write_strategy_order(client, "strategy-1", FAILOVER, WritePolicy(attempts=3))

    assert outcome.conflicts == 1
    strategy = by_id((await sim_state(admin))["strategies"], "strategy-1")
    assert strategy_order(strategy) == [("eu-west-1", 1, 100), ("us-east-1", 2, 0)]
    log = [(r["method"], r["status"]) for r in await request_log(admin) if r["path"] == STRATEGY]
    assert log == [("GET", 200), ("PUT", status), ("GET", 200), ("PUT", 200)]


async def test_conflicts_are_bounded(
    spied: tuple[GenesysClient, SpyTransport], admin: httpx.AsyncClient
) -> None:
    client, spy = spied
    spy.hook = RenameStrategy(admin, STRATEGY, times=100)

    with pytest.raises(VersionConflict):
        await write_strategy_order(client, "strategy-1", FAILOVER, WritePolicy(attempts=3))

    puts = [r["status"] for r in await request_log(admin) if r["method"] == "PUT" and r["path"] == STRATEGY]
    assert puts == [409, 409, 409]
    strategy = by_id((await sim_state(admin))["strategies"], "strategy-1")
    assert strategy_order(strategy)[0][0] == "us-east-1"  # nothing half-written


async def test_rule_changed_between_read_and_write_is_retargeted(
    spied: tuple[GenesysClient, SpyTransport], admin: httpx.AsyncClient
) -> None:
    client, spy = spied

    class Redescribe(BehindTheBack):
        async def act(self) -> None:
            rule = by_id((await self.admin.get("/_sim/state")).json()["rules"], "rule-1")
            response = await self.admin.put(
                "/_sim/rules/rule-1", json={**rule, "description": "edited by hand"}
            )
            assert response.status_code == 200, response.text

    spy.hook = Redescribe(admin, RULE)
    targets = {"us-east-1": "target-use1", "eu-west-1": "target-euw1"}

    outcome = await write_rule_target(client, "rule-1", targets, "eu-west-1", WritePolicy(attempts=3))

    assert outcome.conflicts == 1
    rule = by_id((await sim_state(admin))["rules"], "rule-1")
    assert [t["id"] for t in rule["targets"]] == ["target-euw1"]
    assert rule["description"] == "edited by hand"
    # A second run finds nothing to do and writes nothing (idempotent).
    again = await write_rule_target(client, "rule-1", targets, "eu-west-1", WritePolicy(attempts=3))
    assert not again.changed
    puts = [r["status"] for r in await request_log(admin) if r["method"] == "PUT" and r["path"] == RULE]
    assert puts == [409, 200]
