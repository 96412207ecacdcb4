"""SPEC §8 safety rules end to end: a real daemon process against the simulator, driven by the real
command line. With `max_switches = 1` per hour, a primary that dies under two strategies moves the
first one; the second is not written (the simulator's request log shows no PUT), the metric, `/status`,
the log, the events and the audit trail name the rule, and `release --override` lets it go."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.harness import DaemonProcess, cli, daemon_process
from tests.safety._bench import OPERATOR, TWO_STRATEGIES, bench
from tests.safety._config import OTHER, PRIMARY, SECONDARY, STRATEGY
from tests.safety._daemon import alive
from tests.safety._sim import STRATEGY_PATH
from tests.support import until
from watcher.events import read_trail

pytestmark = pytest.mark.anyio

BLOCKED = "failover_watcher_safety_blocked"
DECISION = "com.genesys.failover.decision"


async def test_the_switch_budget_stops_a_storm_until_an_operator_overrides_it(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        await b.seed_second_strategy()
        config = b.config(
            strategies=TWO_STRATEGIES,
            safety={"max_switches": 1, "window_seconds": 3600},
            failback={"mode": "manual", "hold_seconds": 0.5},
        )
        async with daemon_process(config) as d:
            await d.view.ready()
            assert await b.admin.routes_to(STRATEGY) == PRIMARY
            assert await b.admin.routes_to(OTHER) == PRIMARY
            assert await d.view.metric(BLOCKED, strategy=OTHER) == 0
            _, since = await b.admin.requests()

            async def routes(strategy: str, region: str) -> bool:
                alive(d)
                return await b.admin.routes_to(strategy) == region

            async def blocked() -> bool:
                alive(d)
                return bool((await d.view.strategy(OTHER))["safety"]["blocked"])

            async def gauge_is(value: float) -> bool:
                return await d.view.metric(BLOCKED, strategy=OTHER) == value

            # The primary dies under both: the first strategy spends the budget, the second is held.
            await b.admin.set_region(PRIMARY, "DOWN")
            await until(lambda: routes(STRATEGY, SECONDARY), f"{STRATEGY} failed over", 15)
            await until(blocked, f"{OTHER} held by safety.max_switches", 15)
            await d.view.more_polls(SECONDARY, 10)  # time to decide again, tick after tick

            # Not written: no PUT of the second strategy reached the API (the first one's did).
            assert await b.admin.puts(STRATEGY_PATH + OTHER, since) == []
            assert await b.admin.puts(STRATEGY_PATH + STRATEGY, since) != []
            assert await b.admin.routes_to(OTHER) == PRIMARY

            # Visible: the metric, /status, the explanation and the log name the rule.
            assert await d.view.metric(BLOCKED, strategy=OTHER) == 1
            assert await d.view.metric(BLOCKED, strategy=STRATEGY) == 0
            entry = await d.view.strategy(OTHER)
            safety = entry["safety"]
            assert (safety["blocked"], safety["rule"], safety["to"]) == (
                True,
                "safety.max_switches",
                SECONDARY,
            )
            assert (
                "safety.max_switches: 1 automatic switches of all strategies within 3600s (max 1)"
                in (safety["reason"])
            )
            assert safety["until"] is not None
            summary = entry["lastDecision"]["summary"]
            assert f"switching {OTHER} to {SECONDARY}; held back by safety.max_switches" in summary, summary
            assert entry["lastDecision"]["thresholds"]["safety_rule"] == "safety.max_switches"
            assert entry["activeRegion"] == PRIMARY
            assert d.logged(
                lambda line: (
                    line.get("event") == "safety rule safety.max_switches holds back an automatic switch"
                    and line.get("strategy") == OTHER
                    and line.get("level") == "warning"
                )
            ), d.timeline()

            # `release --override`: audited, and the held switch goes at once.
            common = ("--strategy", OTHER, "--config", str(config))
            code, out, err = await cli(
                "release", *common, "--override", "--reason", "storm is real", "--json"
            )
            assert code == 0, (out, err)
            assert json.loads(out)["id"] == OTHER

            await until(lambda: routes(OTHER, SECONDARY), f"{OTHER} failed over after the override", 15)
            await until(lambda: gauge_is(0), f"{BLOCKED}{{strategy={OTHER}}} back to 0", 10)
            safety = (await d.view.strategy(OTHER))["safety"]
            assert (safety["blocked"], safety["rule"]) == (False, None)

        trail = [
            r["explanation"]
            for r in read_trail(b.state_dir())
            if r.get("kind") == "operator" and r["explanation"].get("command") == "release"
        ]
        assert any(
            t.get("override") is True and t.get("rule") == "safety.max_switches" and t.get("to") == SECONDARY
            for t in trail
        ), trail
        decisions = [e["data"] for e in b.events(DECISION) if e["data"].get("strategy") == OTHER]
        assert any(
            e["decision"] == "safety_held" and e["rule"] == "safety.max_switches" and e["blocked"]
            for e in decisions
        ), decisions
        assert any(e["decision"] == "safety_released" for e in decisions), decisions
        overrides = [e["data"] for e in b.events(OPERATOR) if e["data"].get("override")]
        assert overrides, b.events(OPERATOR)


async def test_the_wait_between_switches_delays_a_flapping_primarys_failback(tmp_path: Path) -> None:
    wait = 4.0
    async with bench(tmp_path) as b:
        config = b.config(safety={"min_seconds_between_switches": wait}, failback={"hold_seconds": 0.3})
        async with daemon_process(config) as d:
            await d.view.ready()
            _, since = await b.admin.requests()

            async def routes(region: str) -> bool:
                alive(d)
                return await b.admin.routes_to(STRATEGY) == region

            async def delayed() -> bool:
                alive(d)
                return (await d.view.strategy(STRATEGY))["safety"]["rule"] == (
                    "safety.min_seconds_between_switches"
                )

            # The primary fails and comes straight back: the failback waits for the rule, then goes.
            await b.admin.set_region(PRIMARY, "DOWN")
            await until(lambda: routes(SECONDARY), f"{STRATEGY} failed over", 15)
            await b.admin.set_region(PRIMARY, "HEALTHY")
            await until(delayed, "the failback delayed by safety.min_seconds_between_switches", 10)
            entry = await d.view.strategy(STRATEGY)
            assert entry["safety"]["blocked"] is False
            assert entry["safety"]["to"] == PRIMARY
            summary = entry["lastDecision"]["summary"]
            assert "held back by safety.min_seconds_between_switches" in summary, summary
            assert "it goes in" in summary, summary
            assert await d.view.metric(BLOCKED, strategy=STRATEGY) == 0  # delayed, not blocked
            await until(lambda: routes(PRIMARY), f"{STRATEGY} failed back after the wait", 15)

        puts = [p for p in await b.admin.puts(STRATEGY_PATH + STRATEGY, since) if p["status"] == 200]
        assert len(puts) == 2, puts
        assert puts[1]["time"] - puts[0]["time"] >= wait - 0.5, puts  # the PUTs as the API saw them


async def test_a_restart_does_not_hand_the_watcher_a_fresh_budget(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        await b.seed_second_strategy()
        config = b.config(strategies=TWO_STRATEGIES, safety={"max_switches": 1, "window_seconds": 3600})

        async def blocked(d: DaemonProcess) -> bool:
            alive(d)
            return bool((await d.view.strategy(OTHER))["safety"]["blocked"])

        async with daemon_process(config, "first") as d:
            await d.view.ready()
            await b.admin.set_region(PRIMARY, "DOWN")
            await until(lambda: blocked(d), f"{OTHER} held by safety.max_switches", 15)

            # The budget is spent when the first switch is sent: its PUT may still be on its way.
            async def landed() -> bool:
                return await b.admin.routes_to(STRATEGY) == SECONDARY

            await until(landed, f"{STRATEGY}'s switch landed", 15)
            await d.view.more_polls(SECONDARY, 5)  # a tick or two: the budget is kept on disk
            d.send(signal.SIGTERM)
            assert await d.wait_exit(20) == 0
        _, since = await b.admin.requests()
        async with daemon_process(config, "second") as d:
            await until(lambda: blocked(d), f"{OTHER} still held by safety.max_switches after a restart", 15)
            await d.view.more_polls(SECONDARY, 10)
            assert d.logged(lambda line: line.get("event") == "safety budget restored"), d.timeline()
            assert await d.view.metric(BLOCKED, strategy=OTHER) == 1
        assert await b.admin.puts(STRATEGY_PATH + OTHER, since) == []
        assert await b.admin.routes_to(OTHER) == PRIMARY
