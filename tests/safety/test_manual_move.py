"""SPEC §4.1 "It protects what the API routes to": a manual move is adopted as the new active region,
and when that region fails the watcher moves the strategy away from it, whatever the drift mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.safety._bench import bench
from tests.safety._config import PRIMARY, SECONDARY, STRATEGY
from tests.safety._daemon import in_process
from tests.safety._sim import STRATEGY_PATH
from tests.support import until
from watcher.sim import strategy_seed

pytestmark = pytest.mark.anyio


async def test_a_manual_move_is_adopted_and_protected_in_report_mode(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b, in_process(b.config(with_sink=False)) as d:
        await d.view.ready()
        assert (await d.view.strategy(STRATEGY))["activeRegion"] == PRIMARY

        # An operator moves the strategy by hand (drift = "report", the default).
        await b.admin.put_strategy(STRATEGY, strategy_seed(STRATEGY, [SECONDARY, PRIMARY]))

        async def adopted() -> bool:
            return bool((await d.view.strategy(STRATEGY))["activeRegion"] == SECONDARY)

        await until(
            adopted,
            f"/status activeRegion adopts the manual move to {SECONDARY}",
            5,
            detail=lambda: d.view.strategy(STRATEGY),
        )
        _, since = await b.admin.requests()

        # The region the API really routes to fails while the primary is healthy: the watcher moves away.
        await b.admin.set_region(SECONDARY, "DOWN")

        async def written_back() -> bool:
            return await b.admin.routes_to(STRATEGY) == PRIMARY

        await until(
            written_back,
            f"the watcher writes {STRATEGY} back to {PRIMARY}",
            10,
            detail=lambda: d.view.strategy(STRATEGY),
        )
        puts = await b.admin.puts(STRATEGY_PATH, since)
        assert [p["status"] for p in puts] == [200], puts

        # The simulator logs the PUT before the watcher has read its answer: wait for the ack.
        async def acknowledged() -> bool:
            return bool((await d.view.strategy(STRATEGY))["activeRegion"] == PRIMARY)

        await until(
            acknowledged,
            f"/status activeRegion is {PRIMARY} again",
            5,
            detail=lambda: d.view.strategy(STRATEGY),
        )
        assert not d.exited_unexpectedly, d.crash
