"""SPEC §4.1 "Operator commands are durable and audited": holds, pins and the dry-run switch survive a
restart (kept under `[state] dir`); each command, its expiry and its release are written to the audit
trail and emitted as events (`com.genesys.failover.operator`, `data.command`, `data.strategy`)."""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.harness import cli, daemon_process
from tests.safety._bench import OPERATOR, TWO_STRATEGIES, Bench, bench
from tests.safety._config import OTHER, PRIMARY, SECONDARY, STRATEGY
from tests.safety._daemon import alive, in_process
from tests.safety._sim import STRATEGY_PATH, parse_time
from tests.support import until
from watcher.events import read_trail

pytestmark = pytest.mark.anyio

COMMANDS = {"hold", "pin", "release", "expired", "dry-run"}


def _until(doc: dict[str, Any] | None) -> datetime:
    assert doc is not None
    assert doc.get("until"), doc
    return parse_time(str(doc["until"]))


def operator_events(b: Bench) -> list[tuple[str, str | None]]:
    return [(e["data"].get("command"), e["data"].get("strategy")) for e in b.events(OPERATOR)]


def trail_commands(state_dir: Path) -> list[tuple[str | None, str | None]]:
    """(command, strategy) of every operator record of the local audit trail.

    The command may sit in the record's `command`, its `kind`, or its explanation's `command`.
    """
    found = []
    for record in read_trail(state_dir):
        explanation = record.get("explanation") or {}
        named = {record.get("command"), record.get("kind"), explanation.get("command")} & COMMANDS
        for command in named:
            found.append((command, record.get("strategy")))
    return found


async def test_a_hold_and_a_pin_survive_sigterm_and_restart(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        await b.seed_second_strategy()
        config = b.config(strategies=TWO_STRATEGIES)
        async with daemon_process(config, "first") as d:
            await d.view.ready()
            code, _, err = await cli(
                "hold", "--strategy", STRATEGY, "--for", "10m", "--reason", "drill", "--config", str(config)
            )
            assert code == 0, err
            code, _, err = await cli(
                "hold", "--strategy", OTHER, "--for", "10m", "--pin", SECONDARY, "--config", str(config)
            )
            assert code == 0, err
            held = _until((await d.view.strategy(STRATEGY))["hold"])
            pin = (await d.view.strategy(OTHER))["pin"]
            assert pin is not None
            assert pin["region"] == SECONDARY, pin
            pinned = _until(pin)

            async def pin_applied() -> bool:
                return await b.admin.routes_to(OTHER) == SECONDARY

            await until(pin_applied, f"{OTHER} routed to its pin {SECONDARY}", 10)
            d.send(signal.SIGTERM)
            assert await d.wait_exit(15) == 0

        async with daemon_process(config, "second") as d:
            await d.view.ready()
            s1, s2 = await d.view.strategy(STRATEGY), await d.view.strategy(OTHER)
            assert s1["hold"] is not None, f"the hold did not survive the restart: {s1}"
            assert abs((_until(s1["hold"]) - held).total_seconds()) < 1.0, (s1["hold"], held)
            assert s2["pin"] is not None, f"the pin did not survive the restart: {s2}"
            assert s2["pin"]["region"] == SECONDARY, s2
            assert abs((_until(s2["pin"]) - pinned).total_seconds()) < 1.0, (s2["pin"], pinned)

            # An outage during the hold is not switched.
            _, since = await b.admin.requests()
            await b.admin.set_region(PRIMARY, "DOWN")

            async def unhealthy() -> bool:
                alive(d)
                return (await d.view.region(PRIMARY))["healthy"] is False

            await until(unhealthy, f"/status shows {PRIMARY} unhealthy", 10)
            await d.view.more_polls(PRIMARY, 10)
            writes = await b.admin.puts(STRATEGY_PATH + STRATEGY, since)
            assert writes == [], f"{STRATEGY} was written during its hold: {writes}"
            assert await b.admin.routes_to(STRATEGY) == PRIMARY
            assert await b.admin.routes_to(OTHER) == SECONDARY

        commands = operator_events(b)
        assert ("hold", STRATEGY) in commands, commands
        assert ("pin", OTHER) in commands, commands
        trail = trail_commands(b.state_dir())
        assert ("hold", STRATEGY) in trail, trail
        assert ("pin", OTHER) in trail, trail


async def test_every_operator_command_is_audited_and_emitted(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        await b.seed_second_strategy()
        async with in_process(b.config(strategies=TWO_STRATEGIES)) as d:
            await d.view.ready()
            commands: list[tuple[str, dict[str, Any]]] = [
                ("/admin/hold", {"strategy": STRATEGY, "seconds": 600, "reason": "drill"}),
                ("/admin/hold", {"strategy": OTHER, "seconds": 0.5, "region": SECONDARY}),
                ("/admin/release", {"strategy": STRATEGY}),
                ("/admin/dry-run", {"enabled": True}),
            ]
            for path, body in commands:
                response = await d.view.admin(path, body)
                assert response.status_code == 200, (path, response.text)
            wanted = {("hold", STRATEGY), ("pin", OTHER), ("expired", OTHER), ("release", STRATEGY)}

            async def all_emitted() -> bool:
                commands = operator_events(b)
                return wanted <= set(commands) and any(c == "dry-run" for c, _ in commands)

            await until(
                all_emitted,
                f"{OPERATOR} events for hold, pin, expired, release and dry-run",
                8,
                detail=lambda: operator_events(b),
            )
            assert all(e["data"].get("command") in COMMANDS for e in b.events(OPERATOR))
        trail = set(trail_commands(b.state_dir()))
        assert wanted <= trail, trail
        assert any(c == "dry-run" for c, _ in trail), trail
