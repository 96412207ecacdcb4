"""Platform audit logs across several pages, and the `audit` command's switch success rate."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from watcher.genesys import GenesysClient, VersionConflict
from watcher.switch import write_strategy_order

from ._support import request_log, run_cli, sim_state

pytestmark = pytest.mark.anyio

WRITES = 7
AUDIT = "/api/v2/platform/auditlogs"
ORDERS = (["eu-west-1", "us-east-1"], ["us-east-1", "eu-west-1"])


async def _switch_back_and_forth(client: GenesysClient) -> None:
    """Seven successful strategy writes, then one refused for a stale version (audited as FAILURE)."""
    for i in range(WRITES):
        outcome = await write_strategy_order(client, "strategy-1", ORDERS[i % 2])
        assert outcome.changed
    current = await client.get_strategy("strategy-1")
    with pytest.raises(VersionConflict):
        await client.put_strategy(current.model_copy(update={"version": 1}))


async def test_audit_logs_follow_next_page_and_return_every_entry_in_order(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    await _switch_back_and_forth(client)
    expected = [e["id"] for e in (await sim_state(admin))["audit"] if e["entityId"] == "strategy-1"]
    assert len(expected) == WRITES + 1

    entries = [entry async for entry in client.audit_logs("strategy-1", page_size=2)]

    assert [e.id for e in entries] == expected
    assert [e.status for e in entries] == ["SUCCESS"] * WRITES + ["FAILURE"]
    assert all(e.entityId == "strategy-1" for e in entries)
    pages = [r for r in await request_log(admin) if r["path"] == AUDIT]
    assert len(pages) == 4  # 8 entries, 2 a page
    assert all(r["status"] == 200 for r in pages)


async def test_audit_command_prints_the_switch_success_rate(
    client: GenesysClient, admin: httpx.AsyncClient, config_path: Path
) -> None:
    await _switch_back_and_forth(client)
    argv = ["audit", "--config", str(config_path), "--entity", "strategy-1", "--page-size", "2"]

    as_json = await run_cli(*argv, "--json")
    as_table = await run_cli(*argv)

    assert (as_json.code, as_table.code) == (0, 0), (as_json.err, as_table.err)
    row = json.loads(as_json.out)["platform"]["strategy-1"]
    assert row == {
        "entries": WRITES + 1,
        "writes": WRITES + 1,
        "succeeded": WRITES,
        "success_rate": pytest.approx(WRITES / (WRITES + 1)),
    }
    line = next(line for line in as_table.out.splitlines() if "strategy-1" in line)
    assert "87.5%" in line
