"""`apply-strategy` and `update-rule` through the real command line, against the simulator.

Exit codes: 0 done, 1 the API refused or failed, 2 bad input (checked locally, nothing written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._support import add_fault, by_id, request_log, run_cli, sim_state, strategy_order

pytestmark = pytest.mark.anyio

STRATEGY = "/api/v2/routing/strategies/strategy-1"
RULE = "/api/v2/eventbridge/routing/rules/rule-1"


async def _writes(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    return [r for r in await request_log(admin) if r["method"] == "PUT"]


async def test_apply_strategy_writes_the_order_and_a_repeat_writes_nothing(
    config_path: Path, admin: httpx.AsyncClient
) -> None:
    argv = ["apply-strategy", "--config", str(config_path), "--strategy", "strategy-1"]

    first = await run_cli(*argv, "--primary", "eu-west-1", "--secondary", "us-east-1")
    again = await run_cli(*argv, "--primary", "eu-west-1", "--secondary", "us-east-1")

    assert (first.code, again.code) == (0, 0), (first.err, again.err)
    assert "version 1 -> 2" in first.out
    assert "eu-west-1 > us-east-1" in first.out
    assert "nothing written" in again.out
    strategy = by_id((await sim_state(admin))["strategies"], "strategy-1")
    assert strategy_order(strategy) == [("eu-west-1", 1, 100), ("us-east-1", 2, 0)]
    assert [r["status"] for r in await _writes(admin)] == [200]


async def test_apply_strategy_with_an_unknown_region_is_bad_input(
    config_path: Path, admin: httpx.AsyncClient
) -> None:
    result = await run_cli(
        "apply-strategy", "--config", str(config_path), "--strategy", "strategy-1", "--primary", "ap-south-1"
    )

    assert result.code == 2
    assert "ap-south-1" in result.err
    assert await _writes(admin) == []


async def test_apply_strategy_refused_by_the_api_exits_1(config_path: Path, admin: httpx.AsyncClient) -> None:
    await add_fault(admin, path=f"^{STRATEGY}$", status=403)

    result = await run_cli(
        "apply-strategy", "--config", str(config_path), "--strategy", "strategy-1", "--primary", "eu-west-1"
    )

    assert result.code == 1
    assert "routing:strategy:read" in result.err
    assert await _writes(admin) == []


async def test_update_rule_retargets_to_the_regions_target(
    config_path: Path, admin: httpx.AsyncClient
) -> None:
    result = await run_cli(
        "update-rule", "--config", str(config_path), "--rule", "rule-1", "--region", "eu-west-1"
    )

    assert result.code == 0, result.err
    assert "version 1 -> 2" in result.out
    rule = by_id((await sim_state(admin))["rules"], "rule-1")
    assert [t["id"] for t in rule["targets"]] == ["target-euw1"]


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        pytest.param(["--rule", "rule-1", "--region", "ap-south-1"], "ap-south-1", id="unknown-region"),
        pytest.param(["--rule", "rule-9", "--region", "eu-west-1"], "rule-9", id="rule-not-configured"),
    ],
)
async def test_update_rule_bad_region_or_rule_is_bad_input(
    config_path: Path, admin: httpx.AsyncClient, argv: list[str], mentions: str
) -> None:
    result = await run_cli("update-rule", "--config", str(config_path), *argv)

    assert result.code == 2
    assert mentions in result.err
    assert await _writes(admin) == []


@pytest.mark.parametrize(
    ("changes", "mentions"),
    [
        pytest.param(
            {
                "conditions": [
                    {"field": "eventType", "operator": "equals", "value": f"e{i}"} for i in range(16)
                ]
            },
            "conditions",
            id="16-conditions",
        ),
        pytest.param(
            {"conditions": [{"field": "eventType", "operator": "equals", "value": "x" * 1000}]},
            "1000",
            id="condition-text-too-long",
        ),
        pytest.param({"priority": 1001}, "priority", id="priority-out-of-range"),
        pytest.param({"targets": [{"id": "target-gone"}]}, "target-gone", id="missing-target"),
    ],
)
async def test_update_rule_file_breaking_the_limits_is_bad_input_and_writes_nothing(
    config_path: Path, admin: httpx.AsyncClient, tmp_path: Path, changes: dict[str, Any], mentions: str
) -> None:
    changes_file = tmp_path / "changes.json"
    changes_file.write_text(json.dumps(changes), encoding="utf-8")

    result = await run_cli(
        "update-rule", "--config", str(config_path), "--rule", "rule-1", "--file", str(changes_file)
    )

    assert result.code == 2, result.err
    assert mentions in result.err
    assert await _writes(admin) == []
    assert by_id((await sim_state(admin))["rules"], "rule-1")["version"] == 1


async def test_update_rule_file_within_the_limits_is_written(
    config_path: Path, admin: httpx.AsyncClient, tmp_path: Path
) -> None:
    changes = {
        "conditions": [{"field": "eventType", "operator": "equals", "value": f"e{i}"} for i in range(15)]
    }
    changes_file = tmp_path / "changes.json"
    changes_file.write_text(json.dumps(changes), encoding="utf-8")

    result = await run_cli(
        "update-rule", "--config", str(config_path), "--rule", "rule-1", "--file", str(changes_file)
    )

    assert result.code == 0, result.err
    rule = by_id((await sim_state(admin))["rules"], "rule-1")
    assert len(rule["conditions"]) == 15
    assert rule["version"] == 2


async def test_update_rule_refused_by_the_api_exits_1(config_path: Path, admin: httpx.AsyncClient) -> None:
    await add_fault(admin, path=f"^{RULE}$", status=403)

    result = await run_cli(
        "update-rule", "--config", str(config_path), "--rule", "rule-1", "--region", "eu-west-1"
    )

    assert result.code == 1
    assert "eventbridge:read" in result.err


async def test_a_bad_config_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[genesys]\nclient_id = "x"\n', encoding="utf-8")

    result = await run_cli("regions", "--config", str(bad))

    assert result.code == 2
    assert "genesys.client_secret" in result.err
