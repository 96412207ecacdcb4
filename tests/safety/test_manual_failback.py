"""SPEC §5 `failback` and `move`: the way back under `[failback] mode = "manual"`, and an operator's
own switch, through the daemon's gated write path; a real daemon process against the simulator,
driven by the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import cli, daemon_process
from tests.safety._bench import OPERATOR, bench
from tests.safety._config import PRIMARY, SECONDARY, STRATEGY
from tests.safety._daemon import alive, in_process
from tests.safety._sim import STRATEGY_PATH
from tests.support import until
from watcher.events import read_trail

pytestmark = pytest.mark.anyio


async def test_manual_failback_and_move_from_the_command_line(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        config = b.config(failback={"mode": "manual", "hold_seconds": 0.5})
        common = ("--strategy", STRATEGY, "--config", str(config))
        async with daemon_process(config) as d:
            await d.view.ready()
            assert await b.admin.routes_to(STRATEGY) == PRIMARY

            async def region_is(region: str, healthy: bool) -> bool:
                alive(d)
                return (await d.view.region(region))["healthy"] is healthy

            async def routes_to(region: str) -> bool:
                return await b.admin.routes_to(STRATEGY) == region

            # The primary dies: failed over.
            await b.admin.set_region(PRIMARY, "DOWN")
            await until(lambda: routes_to(SECONDARY), f"{STRATEGY} failed over to {SECONDARY}", 15)

            # It recovers: under manual failback nothing moves.
            await b.admin.set_region(PRIMARY, "HEALTHY")
            await until(lambda: region_is(PRIMARY, True), f"{PRIMARY} healthy again", 15)
            _, since = await b.admin.requests()
            await d.view.more_polls(PRIMARY, 10)
            assert await b.admin.puts(STRATEGY_PATH + STRATEGY, since) == []
            assert await b.admin.routes_to(STRATEGY) == SECONDARY

            # `failback`: back on the primary when the command returns.
            code, out, err = await cli("failback", *common, "--reason", "incident closed", timeout=60)
            assert (code, err) == (0, ""), (out, err)
            assert out == f"failback {STRATEGY}: {SECONDARY} -> {PRIMARY}: written\n"
            assert await b.admin.routes_to(STRATEGY) == PRIMARY
            assert (await d.view.strategy(STRATEGY))["state"] == "steady"

            # Nothing left to do: said so, and done.
            code, out, err = await cli("failback", *common, "--json")
            assert code == 0, err
            answer = json.loads(out)
            assert (answer["done"], answer["result"]) == (True, "unchanged"), answer
            assert (
                answer["message"]
                == f"operator failback: {STRATEGY} already routes to its preferred region {PRIMARY}"
            )

            # A region that is not the strategy's: bad input, exit 2.
            code, out, err = await cli("move", *common, "--to", "mars-1")
            assert (code, out) == (2, ""), (out, err)
            assert f"cannot move {STRATEGY} to mars-1: not one of its regions" in err

            # `move` to an unhealthy region: refused, also forced while nothing holds it there.
            await b.admin.set_region(SECONDARY, "DOWN")
            await until(lambda: region_is(SECONDARY, False), f"{SECONDARY} unhealthy", 15)
            code, out, err = await cli("move", *common, "--to", SECONDARY)
            assert (code, out) == (1, ""), (out, err)
            assert f"cannot move {STRATEGY} to {SECONDARY}: {SECONDARY} unhealthy after" in err
            code, out, err = await cli("move", *common, "--to", SECONDARY, "--force")
            assert (code, out) == (1, ""), (out, err)
            assert f"only a hold keeps {STRATEGY} there: hold it first" in err
            assert await b.admin.routes_to(STRATEGY) == PRIMARY

            # Held, the forced move is done and stays.
            code, _, err = await cli("hold", *common, "--for", "10m", "--reason", "health source is wrong")
            assert code == 0, err
            code, out, err = await cli("move", *common, "--to", SECONDARY, "--force", timeout=60)
            assert (code, err) == (0, ""), (out, err)
            assert out == f"move {STRATEGY}: {PRIMARY} -> {SECONDARY}: written\n"
            assert await b.admin.routes_to(STRATEGY) == SECONDARY
            await d.view.more_polls(SECONDARY, 5)
            assert await b.admin.routes_to(STRATEGY) == SECONDARY

        commands = [(e["data"].get("command"), e["data"].get("result")) for e in b.events(OPERATOR)]
        for wanted in [
            ("failback", "done"),
            ("failback", "unchanged"),
            ("move", "refused"),
            ("move", "done"),
        ]:
            assert wanted in commands, commands
        trail = [
            (r["explanation"].get("command"), r["explanation"].get("result"), r.get("result"))
            for r in read_trail(b.state_dir())
            if r.get("kind") == "operator"
        ]
        assert ("failback", "done", "success") in trail, trail
        assert ("move", "refused", "refused") in trail, trail
        assert ("move", "done", "success") in trail, trail


async def test_move_and_failback_need_the_admin_token_and_a_known_strategy(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b, in_process(b.config(with_sink=False)) as d:
        await d.view.ready()
        _, since = await b.admin.requests()
        for path, body in (
            (f"/admin/strategies/{STRATEGY}/move", {"to": SECONDARY}),
            (f"/admin/strategies/{STRATEGY}/failback", {}),
        ):
            assert (await d.view.admin(path, body, token=None)).status_code == 401
            assert (await d.view.admin(path, body, token="wrong")).status_code == 401
        unknown = await d.view.admin("/admin/strategies/nope/failback", {})
        assert unknown.status_code == 404
        assert "unknown strategy 'nope'" in unknown.text
        bad = await d.view.admin(f"/admin/strategies/{STRATEGY}/move", {"force": True})
        assert bad.status_code == 400
        assert "to: Field required" in bad.text
        assert await b.admin.puts(STRATEGY_PATH + STRATEGY, since) == []
