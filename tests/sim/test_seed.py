"""Seed files (TOML and JSON) and the ``simulate`` command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx
import pytest

from watcher.sim import (
    SeedError,
    SimulatorState,
    add_simulate_parser,
    default_seed,
    load_seed,
    running_simulator,
)

from ._support import fetch_token

SEED_TOML = """
[[regions]]
id = "use1"
status = "DEGRADED"
latencyMs = 5

[[regions]]
id = "euw1"

[[targets]]
id = "t-use1"
type = "webhook"

[[strategies]]
id = "s1"
name = "Failover"
type = "custom"
enabled = true
version = 4

[strategies.routingConfig]
evaluationTimeoutMs = 5000

[[strategies.routingConfig.regions]]
regionId = "use1"
priority = 1
weight = 100
failoverTrigger = "health_degraded"

[[strategies.routingConfig.regions]]
regionId = "euw1"
priority = 2
weight = 0
failoverTrigger = "health_degraded"

[[rules]]
id = "r1"
name = "Calls"
status = "enabled"
priority = 10
conditions = [{ field = "eventType", operator = "equals", value = "x" }]
targets = [{ id = "t-use1" }]
"""


def test_toml_seed_loads(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(SEED_TOML)

    seed = load_seed(path)
    state = SimulatorState(seed)

    assert [r.id for r in seed.regions] == ["use1", "euw1"]
    assert state.org.region("use1").health() == {
        "status": "DEGRADED",
        "syncIntervalSeconds": 30,
        "latencyMs": 5,
    }
    assert state.org.strategy("s1")["version"] == 4
    assert state.org.rule("r1")["version"] == 1
    assert state.org.target("t-use1")["type"] == "webhook"


def test_json_seed_round_trips_the_default(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    path.write_text(default_seed().model_dump_json())

    assert load_seed(path) == default_seed()


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("org.yaml", "{}", "unknown extension '.yaml'"),
        ("org.toml", "regions = [", "invalid TOML"),
        ("org.json", "[1, 2]", "top level must be"),
        (
            "org.json",
            '{"regions": [{"id": "a", "syncIntervalSeconds": -1}]}',
            "regions.0.syncIntervalSeconds",
        ),
        ("org.json", '{"regionz": []}', "regionz"),
        (
            "org.json",
            json.dumps(
                {"strategies": [{"id": "s", "routingConfig": {"regions": [{"regionId": "nowhere"}]}}]}
            ),
            "strategies[0] (s): routingConfig.regions[0].regionId: unknown region 'nowhere'",
        ),
        (
            "org.json",
            json.dumps({"rules": [{"id": "r", "priority": 1, "targets": [{"id": "t-gone"}]}]}),
            "rules[0] (r): targets[0].id: target 't-gone' does not exist",
        ),
        ("org.json", json.dumps({"rules": [{"priority": 1}]}), "rules[0].id: required"),
    ],
)
def test_bad_seed_names_file_and_problem(tmp_path: Path, name: str, text: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(text)

    with pytest.raises(SeedError) as caught:
        load_seed(path)

    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_missing_seed_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read"):
        load_seed(tmp_path / "absent.toml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="failover-watcher")
    add_simulate_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_simulate_parser_defaults_and_options(tmp_path: Path) -> None:
    args = _parser().parse_args(
        ["simulate", "--port", "8080", "--seed-file", str(tmp_path / "x.toml"), "--per-minute", "50"]
    )

    assert (args.port, args.host, args.client_id) == (8080, "127.0.0.1", "sim-client")
    assert args.seed_file == tmp_path / "x.toml"
    assert (args.per_minute, args.token_lifetime) == (50, 86399)
    assert callable(args.func)


def test_simulate_refuses_a_bad_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    args = _parser().parse_args(["simulate", "--port", "0", "--seed-file", str(path)])

    assert args.func(args) == 2
    assert "invalid JSON" in capsys.readouterr().err


@pytest.mark.anyio
async def test_seeded_simulator_serves_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(SEED_TOML)

    state = SimulatorState(load_seed(path))
    async with running_simulator(state) as sim, httpx.AsyncClient(base_url=sim.base_url) as client:
        token = (await fetch_token(client)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        strategy = (await client.get("/api/v2/routing/strategies/s1")).json()
        health = (await client.get("/api/v2/architecture/regions/use1/health")).json()

    assert strategy["version"] == 4
    assert health["status"] == "DEGRADED"
