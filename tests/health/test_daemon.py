"""The daemon with status page and probe health sources, against the simulator over loopback HTTP:
what each region's sources say decides, through the quorum, and `/status` and `/metrics` show it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.conftest import PRIMARY, SECONDARY
from tests.health.conftest import COMPONENTS, DUBLIN, US_EAST, add_fault, daemon, served, set_component
from tests.support import sample
from watcher.config import WatcherConfig, load_config

pytestmark = pytest.mark.anyio
COMPONENT = {PRIMARY: US_EAST, SECONDARY: DUBLIN}


def statuspage(url: str, interval: float = 0.3) -> dict[str, Any]:
    return {"url": url + COMPONENTS, "interval_seconds": interval, "timeout_seconds": min(0.2, interval / 2)}


def regions(*kinds: str, quorum: int | None = None) -> list[dict[str, Any]]:
    """PRIMARY and SECONDARY, each watched by the given kinds of sources."""
    out = []
    for region in (PRIMARY, SECONDARY):
        sources: list[dict[str, Any]] = []
        for kind in kinds:
            if kind == "statuspage":
                sources.append({"kind": "statuspage", "component": COMPONENT[region]})
            elif kind == "probe":
                sources.append({"kind": "probe", "max_latency_ms": 1000})
            else:
                sources.append({"kind": kind})
        out.append({"id": region, "health": sources, **({"quorum": quorum} if quorum else {})})
    return out


def reading(status: dict[str, Any], region: str, source: str) -> dict[str, Any] | None:
    entry = next(r for r in status["regions"] if r["id"] == region)
    return next((s for s in entry["sources"] if s["source"] == source), None)


async def test_a_status_page_outage_of_the_primary_fails_over(tmp_path: Path) -> None:
    def overrides(url: str) -> dict[str, Any]:
        return {"statuspage": statuspage(url), "regions": regions("statuspage", "region-health", quorum=2)}

    async with daemon(tmp_path, overrides) as h:
        await h.ready()
        await set_component(h.admin, f"{US_EAST} - Voice", "major_outage", group=US_EAST)
        await h.until(lambda: h.active() == SECONDARY and h.watcher.switch_log != [])

        switch = h.watcher.switch_log[-1]
        assert f"statuspage: component {US_EAST!r}: '{US_EAST} - Voice' major_outage" in str(switch)
        assert "region-health: status=HEALTHY" in str(switch)
        status = (await h.http.get("/status")).json()
        primary = reading(status, PRIMARY, "statuspage")
        assert primary is not None
        assert primary["verdict"] == "bad"
        assert primary["latencyMs"] is not None
        health = reading(status, PRIMARY, "region-health")
        assert health is not None
        assert health["verdict"] == "good"
        assert health["latencyMs"] is not None
        secondary = reading(status, SECONDARY, "statuspage")
        assert secondary is not None
        assert secondary["verdict"] == "good"
        metrics = (await h.http.get("/metrics")).text
        assert sample(metrics, "failover_watcher_source_healthy", region=PRIMARY, source="statuspage") == 0
        assert sample(metrics, "failover_watcher_source_healthy", region=PRIMARY, source="region-health") == 1
        # The region's own latency as it reports it (0 in the simulator), and the fetch's round trip.
        name = "failover_watcher_source_latency_seconds"
        assert sample(metrics, name, region=PRIMARY, source="region-health") is not None
        latency = sample(metrics, name, region=PRIMARY, source="statuspage")
        assert latency is not None
        assert latency > 0


async def test_one_dissenting_source_leaves_the_primary_in_place(tmp_path: Path) -> None:
    def overrides(url: str) -> dict[str, Any]:
        return {"statuspage": statuspage(url), "regions": regions("statuspage", "region-health", "probe")}

    async with daemon(tmp_path, overrides) as h:
        await h.ready()
        await set_component(h.admin, US_EAST, "major_outage")
        fetched = served(h.sim, COMPONENTS)
        polls = h.watcher.scheduler.polls if h.watcher.scheduler else 0
        # Several status page intervals, and many polls, with the page saying the primary is down.
        await h.until(
            lambda: (
                served(h.sim, COMPONENTS) >= fetched + 3
                and h.watcher.scheduler is not None
                and h.watcher.scheduler.polls >= polls + 20
            )
        )
        assert h.active() == PRIMARY
        assert h.watcher.switch_log == []
        assert h.requests("PUT", "/routing/strategies/") == []
        status = (await h.http.get("/status")).json()
        primary = next(r for r in status["regions"] if r["id"] == PRIMARY)
        assert primary["healthy"] is True
        assert primary["lastObservation"]["reason"].startswith("2/3 good (quorum 2)")
        page = reading(status, PRIMARY, "statuspage")
        assert page is not None
        assert page["verdict"] == "bad"
        probe = reading(status, PRIMARY, "probe")
        assert probe is not None
        assert probe["verdict"] == "good"
        assert probe["latencyMs"] is not None


async def test_a_status_page_that_is_down_is_no_evidence_and_nothing_switches(tmp_path: Path) -> None:
    def overrides(url: str) -> dict[str, Any]:
        return {"statuspage": statuspage(url), "regions": regions("statuspage")}

    async with daemon(tmp_path, overrides) as h:
        await h.ready()
        await add_fault(h.admin, path="components\\.json", status=503)
        # Were the page read, this would fail the primary over.
        await set_component(h.admin, US_EAST, "major_outage")
        failed = served(h.sim, COMPONENTS)
        await h.until(lambda: served(h.sim, COMPONENTS) >= failed + 4)
        assert h.active() == PRIMARY
        assert h.requests("PUT", "/routing/strategies/") == []
        assert all(r.healthy for r in h.watcher.engine.world.regions.values())
        metrics = (await h.http.get("/metrics")).text
        no_evidence = sample(
            metrics, "failover_watcher_health_checks_total", region=PRIMARY, result="no_evidence"
        )
        assert no_evidence is not None
        assert no_evidence >= 3
        errors = sample(metrics, "failover_watcher_statuspage_fetches_total", result="error")
        assert errors is not None
        assert errors >= 3
        status = (await h.http.get("/status")).json()
        page = reading(status, PRIMARY, "statuspage")
        assert page is not None
        assert page["verdict"] == "no_evidence"
        assert "http 503" in page["reason"]

        # The page comes back, still saying the primary is down: now that is evidence.
        await h.admin.delete("/_sim/faults")
        await h.until(lambda: h.active() == SECONDARY)


async def test_the_status_page_is_fetched_once_per_interval_however_many_regions(tmp_path: Path) -> None:
    extra = [f"region-{i}" for i in range(4)]
    interval = 0.5

    def overrides(url: str) -> dict[str, Any]:
        watched = regions("statuspage") + [
            {"id": r, "health": [{"kind": "statuspage", "component": US_EAST}]} for r in extra
        ]
        return {
            "statuspage": statuspage(url, interval),
            "regions": watched,
            "health": {"interval_seconds": 0.1, "timeout_seconds": 0.08},
        }

    async with daemon(tmp_path, overrides) as h:
        await h.ready()
        started, fetched = time.monotonic(), served(h.sim, COMPONENTS)
        polls = h.watcher.scheduler.polls if h.watcher.scheduler else 0
        await h.until(lambda: h.watcher.scheduler is not None and h.watcher.scheduler.polls >= polls + 120)
        elapsed = time.monotonic() - started
        fetches = served(h.sim, COMPONENTS) - fetched
        # 6 regions polled every 0.1 s: 120 polls in about 2 s, and one fetch per 0.5 s for all.
        assert 1 <= fetches <= elapsed / interval + 1, (fetches, elapsed)
        # Every region judged its component in the shared document (the extra regions, in no
        # strategy, are not in /status: they are on the board the status is drawn from).
        assert h.watcher.parts is not None
        board = h.watcher.parts.health.board
        for region in [PRIMARY, SECONDARY, *extra]:
            assert [(r.source, r.ok) for r in board.readings(region)] == [("statuspage", True)], region
        # The status page is no API call, and no region-health endpoint is polled.
        assert [r for r in h.sim.state.requests_since(None) if r.path.endswith("/health")] == []


def _toml(sim_url: str, state: Path, sources: str) -> str:
    return f"""
[genesys]
api_base_url = "{sim_url}"
login_base_url = "{sim_url}"
client_id = "sim-client"
client_secret = "sim-secret"
requests_per_minute = 6000
max_retries = 2

[health]
interval_seconds = 0.2
timeout_seconds = 0.15
fall = 2
rise = 2

[statuspage]
url = "{sim_url}{COMPONENTS}"
interval_seconds = 0.3
timeout_seconds = 0.15

[failback]
mode = "manual"

[[regions]]
id = "{PRIMARY}"
{sources}
[[regions]]
id = "{SECONDARY}"

[[strategies]]
id = "strategy-1"
regions = ["{PRIMARY}", "{SECONDARY}"]

[[rules]]
id = "rule-1"
strategy = "strategy-1"
targets = {{ "{PRIMARY}" = "target-use1", "{SECONDARY}" = "target-euw1" }}

[state]
dir = "{state}"

[server]
listen = "127.0.0.1:0"
"""


async def test_a_reload_brings_new_sources_into_play(tmp_path: Path) -> None:
    path = tmp_path / "watcher.toml"
    state = tmp_path / "state"

    def initial(url: str) -> WatcherConfig:
        path.write_text(_toml(url, state, ""), encoding="utf-8")
        return load_config(path)

    async with daemon(tmp_path, cfg=initial, config_path=path) as h:
        await h.ready()
        # The primary's component is down on the status page, but nobody reads the page yet.
        await set_component(h.admin, US_EAST, "major_outage")
        polls = h.watcher.scheduler.polls if h.watcher.scheduler else 0
        await h.until(lambda: h.watcher.scheduler is not None and h.watcher.scheduler.polls >= polls + 6)
        assert served(h.sim, COMPONENTS) == 0
        assert h.active() == PRIMARY

        sources = f'[[regions.health]]\nkind = "statuspage"\ncomponent = "{US_EAST}"\n'
        path.write_text(_toml(h.sim.base_url, state, sources), encoding="utf-8")
        assert await h.watcher.reload() is True
        await h.until(lambda: h.active() == SECONDARY)
        status = (await h.http.get("/status")).json()
        page = reading(status, PRIMARY, "statuspage")
        assert page is not None
        assert page["reason"].startswith(f"component {US_EAST!r}: '{US_EAST} - "), page
        assert "major_outage" in page["reason"]
        # The region-health reading the primary had before is no longer one of its sources.
        assert reading(status, PRIMARY, "region-health") is None


async def test_a_slow_api_for_the_primary_fails_over_on_its_probe_median(tmp_path: Path) -> None:
    def overrides(url: str) -> dict[str, Any]:
        probe = {"kind": "probe", "max_latency_ms": 150, "latency_window": 3, "timeout_seconds": 0.8}
        # The secondary's probe is of another URL (the status page, no token): the fault below
        # slows the primary's only.
        other = {"kind": "probe", "url": url + COMPONENTS, "auth": "none", "max_latency_ms": 150}
        return {
            "health": {"interval_seconds": 1.0, "timeout_seconds": 0.8},
            "regions": [{"id": PRIMARY, "health": [probe]}, {"id": SECONDARY, "health": [other]}],
        }

    async with daemon(tmp_path, overrides) as h:
        await h.ready()
        await add_fault(h.admin, path="^/api/v2/date$", delayMs=300)
        await h.until(lambda: h.active() == SECONDARY, timeout=20)
        switch = str(h.watcher.switch_log[-1])
        assert "above max_latency_ms 150" in switch, switch
        status = (await h.http.get("/status")).json()
        probe = reading(status, PRIMARY, "probe")
        assert probe is not None
        assert probe["verdict"] == "bad"
        assert probe["latencyMs"] >= 300
        metrics = (await h.http.get("/metrics")).text
        latency = sample(metrics, "failover_watcher_source_latency_seconds", region=PRIMARY, source="probe")
        assert latency is not None
        assert latency >= 0.3
        assert sample(metrics, "failover_watcher_source_healthy", region=SECONDARY, source="probe") == 1
