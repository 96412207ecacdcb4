"""SPEC §4.1 "It never dies of one bad object": an unplannable strategy (a configured region missing
from the API's copy) or an unknown target is reported and retried; the daemon and every other
strategy go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import daemon_process
from tests.safety._bench import TWO_STRATEGIES, bench
from tests.safety._config import OTHER, PRIMARY, RULE, SECONDARY, STRATEGY, TARGETS
from tests.safety._daemon import alive, in_process
from tests.support import until
from watcher.sim import strategy_seed

pytestmark = pytest.mark.anyio


async def test_a_strategy_missing_a_region_in_the_api_does_not_kill_the_daemon(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b:
        await b.seed_second_strategy()
        # The API's copy of strategy-1 knows only the primary; the config says it may use eu-west-1.
        await b.admin.put_strategy(STRATEGY, strategy_seed(STRATEGY, [PRIMARY]))
        config = b.config(with_sink=False, strategies=TWO_STRATEGIES)
        async with daemon_process(config) as d:
            await d.view.ready()
            await b.admin.set_region(PRIMARY, "DOWN")

            async def other_switched() -> bool:
                alive(d)
                return await b.admin.routes_to(OTHER) == SECONDARY

            await until(other_switched, f"{OTHER} (plannable) fails over to {SECONDARY}", 10)

            async def reported() -> bool:
                alive(d)
                return SECONDARY in str((await d.view.strategy(STRATEGY)).get("lastError") or "")

            await until(
                reported,
                f"/status {STRATEGY}.lastError names the missing region {SECONDARY}",
                10,
                detail=lambda: d.view.strategy(STRATEGY),
            )
            assert await d.view.answers()
            assert d.logged(
                lambda line: (
                    line.get("level") in ("warning", "error")
                    and STRATEGY in json.dumps(line)
                    and SECONDARY in json.dumps(line)
                )
            ), d.timeline()

            # The API's copy is repaired: the next read plans again, and the switch happens.
            await b.admin.put_strategy(STRATEGY, strategy_seed(STRATEGY, [PRIMARY, SECONDARY]))

            async def repaired_and_switched() -> bool:
                alive(d)
                return await b.admin.routes_to(STRATEGY) == SECONDARY

            await until(repaired_and_switched, f"{STRATEGY} fails over once its API copy is repaired", 10)
            alive(d)


async def test_a_rule_whose_target_is_gone_is_reported_and_the_strategy_still_switches(
    tmp_path: Path,
) -> None:
    async with bench(tmp_path, receive=False) as b, in_process(b.config(with_sink=False)) as d:
        await d.view.ready()
        await b.admin.delete_target(TARGETS[SECONDARY])
        await b.admin.set_region(PRIMARY, "DOWN")

        async def switched() -> bool:
            alive(d)
            return await b.admin.routes_to(STRATEGY) == SECONDARY

        await until(switched, f"{STRATEGY} fails over although the rule cannot follow", 10)

        async def reported() -> bool:
            alive(d)
            s = await d.view.strategy(STRATEGY)
            said = f"{s.get('lastError')} {(s.get('lastSwitch') or {}).get('error')}"
            return TARGETS[SECONDARY] in said

        await until(
            reported,
            f"/status {STRATEGY} names the missing target {TARGETS[SECONDARY]} (lastError, lastSwitch.error)",
            10,
            detail=lambda: d.view.strategy(STRATEGY),
        )
        await d.view.more_polls(PRIMARY, 10)
        alive(d)
        assert await b.admin.rule_target(RULE) == TARGETS[PRIMARY]

        # The target exists again: the next read-back retargets the rule.
        await b.admin.put_target(
            TARGETS[SECONDARY], {"type": "webhook", "url": "https://euw1.example.com/in"}
        )

        async def followed() -> bool:
            alive(d)
            return await b.admin.rule_target(RULE) == TARGETS[SECONDARY]

        await until(followed, f"{RULE} follows once {TARGETS[SECONDARY]} exists again", 10)
