"""SPEC §4.2 end to end (issue 19, items 4 and 5): a real `failover-watcher run` process against the
simulator, its status page at `/api/v2/components.json` driven through `/_sim/status/components`.

- A typo in a status-page component name is loud (metric, `/status`, `regions` and
  `check-config --online` exit 1 naming it), never a failover.
- `fall` counts fetches of the status page that brought a new document, not the polls between them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness import DaemonProcess, cli, daemon_process
from tests.health.conftest import COMPONENTS, DUBLIN, US_EAST, set_component
from tests.safety._bench import Bench, bench
from tests.safety._config import PRIMARY, SECONDARY, STRATEGY
from tests.safety._daemon import alive
from tests.support import until

pytestmark = pytest.mark.anyio

TYPO = "Americas (US Eats)"
MISCONFIGURED = "failover_watcher_source_misconfigured"


def fetches(b: Bench, since: float = 0.0, until: float = float("inf")) -> int:
    """Status page fetches the simulator answered between two instants of its clock."""
    return sum(1 for r in b.sim.state.requests_since(since) if r.path == COMPONENTS and r.time < until)


def strategy_puts(b: Bench) -> list[Any]:
    return [
        r for r in b.sim.state.requests_since(None) if r.method == "PUT" and "/routing/strategies/" in r.path
    ]


def page(b: Bench, interval: float) -> dict[str, Any]:
    timeout = round(interval * 0.8, 3)  # generous: a slow fetch on a loaded machine is no evidence
    return {"url": b.sim.base_url + COMPONENTS, "interval_seconds": interval, "timeout_seconds": timeout}


def sources(status: dict[str, Any], region: str) -> dict[str, dict[str, Any]]:
    (row,) = [r for r in status["regions"] if r["id"] == region]
    return {s["source"]: s for s in row["sources"]}


async def test_a_typo_in_a_component_name_is_loud_and_never_a_failover(tmp_path: Path) -> None:
    """Issue 19 item 4: `Americas (US Eats)`, with the status page and the region-health endpoint
    both required (`quorum = 2`, as `config/platform.toml`). Before: the missing component counted
    as bad, and the primary was failed over within seconds."""
    async with bench(tmp_path, receive=False) as b:
        regions = [
            {
                "id": PRIMARY,
                "quorum": 2,
                "health": [{"kind": "statuspage", "component": TYPO}, {"kind": "region-health"}],
            },
            {
                "id": SECONDARY,
                "quorum": 2,
                "health": [{"kind": "statuspage", "component": DUBLIN}, {"kind": "region-health"}],
            },
        ]
        # Timeouts generous enough that a loaded machine never makes region-health say "bad".
        config = b.config(
            with_sink=False,
            statuspage=page(b, 0.3),
            health={"interval_seconds": 0.5, "timeout_seconds": 0.4},
            regions=regions,
        )
        async with daemon_process(config) as d:
            view = d.view

            async def loud() -> bool:
                alive(d)
                status = await view.status_or_none()
                return (
                    status is not None
                    and await view.metric(MISCONFIGURED, region=PRIMARY, source="statuspage") == 1
                    # not there at all until the secondary's first status page fetch is judged
                    and sources(status, SECONDARY).get("statuspage", {}).get("verdict") == "good"
                )

            await until(loud, "the typo flagged and the secondary judged", 20, detail=view.status_or_none)
            # Many fetches and polls: had the typo been "bad" (fall 2), the primary would be gone.
            start = fetches(b)
            await until(lambda: fetches(b) >= start + 6, "six more status page fetches", 20)
            await view.more_polls(PRIMARY, 10)
            alive(d)
            assert strategy_puts(b) == []
            assert await b.admin.routes_to(STRATEGY) == PRIMARY

            status = await view.status()
            typo = sources(status, PRIMARY)["statuspage"]
            assert typo["misconfigured"] is True
            assert typo["verdict"] == "no_evidence"
            assert (
                f"component {TYPO!r} is not on the status page (did you mean {US_EAST!r}?)" in typo["reason"]
            )
            assert sources(status, PRIMARY)["region-health"]["verdict"] == "good"
            assert sources(status, SECONDARY)["statuspage"]["misconfigured"] is False
            assert await view.metric(MISCONFIGURED, region=SECONDARY, source="statuspage") == 0
            assert await view.metric("failover_watcher_switches_total") == 0

            # The one-shot commands say so, and fail.
            code, out, err = await cli("regions", "--config", str(config))
            assert code == 1, (out, err)
            assert f"region {PRIMARY}, source statuspage: misconfigured: component {TYPO!r}" in err
            code, out, err = await cli("check-config", "--config", str(config), "--online")
            assert code == 1, (out, err)
            assert f"regions[0].health[0].component (region {PRIMARY}): component {TYPO!r} is not on" in err

            # The page gains that component (or the name is fixed): evidence again, the gauge 0.
            await set_component(b.admin.http, TYPO, "operational")

            async def fixed() -> bool:
                alive(d)
                return await view.metric(MISCONFIGURED, region=PRIMARY, source="statuspage") == 0

            await until(fixed, "the gauge back to 0", 20)
            await view.ready()
            assert sources(await view.status(), PRIMARY)["statuspage"]["misconfigured"] is False
            assert strategy_puts(b) == []


async def test_fall_counts_status_page_fetches_not_polls(tmp_path: Path) -> None:
    """Issue 19 item 5: `fall = 3` with the page fetched every 0.6 s and each region polled every
    0.1 s. Before: three polls of one fetched document were "three bad observations", and the switch
    came after one fetch. Now the switch comes after the third fetch that brought the outage."""
    async with bench(tmp_path, receive=False) as b:
        regions = [
            {"id": PRIMARY, "health": [{"kind": "statuspage", "component": US_EAST}]},
            {"id": SECONDARY, "health": [{"kind": "statuspage", "component": DUBLIN}]},
        ]
        config = b.config(
            with_sink=False,
            statuspage=page(b, 0.6),
            health={"interval_seconds": 0.1, "timeout_seconds": 0.08, "fall": 3, "rise": 2},
            regions=regions,
        )
        async with daemon_process(config) as d:
            await d.view.ready(timeout=20)
            outage_at = b.sim.state.clock()
            await set_component(b.admin.http, f"{US_EAST} - Voice", "major_outage", group=US_EAST)
            await until(_switched(b, d), "the switch to the secondary", 20)
            switched_at = strategy_puts(b)[0].time
            # The fetches that brought the outage before the switch was written: three, not one.
            assert fetches(b, outage_at, switched_at) >= 3, fetches(b, outage_at, switched_at)
            reused = await d.view.metric(
                "failover_watcher_health_checks_total", region=PRIMARY, result="reused"
            )
            assert reused > 0
            status = await d.view.status()
            (strategy,) = [s for s in status["strategies"] if s["id"] == STRATEGY]
            assert "major_outage" in str(strategy), strategy


def _switched(b: Bench, d: DaemonProcess) -> Any:
    async def check() -> bool:
        alive(d)
        return bool(strategy_puts(b)) and await b.admin.routes_to(STRATEGY) == SECONDARY

    return check
