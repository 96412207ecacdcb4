"""`config/platform.toml`, the real-organization profile, run by the daemon against the simulator
with only what a simulator needs overridden through the `WATCHER_*` environment: the base URLs,
the credentials, the state directory, the listening port, and the timings (so a test takes seconds,
not minutes; failback is made automatic to see it come back).

The profile watches each region by the status page and the API probe with `quorum = 2`, and
carries a virtual strategy by a trigger and an emergency group.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon._virtual import BehindTheBack
from tests.daemon.conftest import Harness, running_watcher
from tests.health.conftest import add_fault
from watcher.config import WatcherConfig, load_config

pytestmark = pytest.mark.anyio

PROFILE = Path(__file__).resolve().parents[2] / "config" / "platform.toml"
STRATEGY, TRIGGER, GROUP = "contact-center", "trigger-1", "emergency-group-1"
US, EU = "us-east-1", "eu-west-1"
WORKFLOW = {US: "workflow-use1", EU: "workflow-euw1"}
US_EAST = "Americas (US East)"


def profile(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    interval: float,
    timeout: float,
    max_latency_ms: int | None = None,
) -> Callable[[str], WatcherConfig]:
    """The profile's loader; `max_latency_ms` replaces the probes' 1500 (a copy of the profile) where
    the test's timeout is shorter: a threshold must be below the probe's timeout (SPEC §4.2)."""
    path = PROFILE
    if max_latency_ms is not None:
        text = PROFILE.read_text(encoding="utf-8")
        assert text.count("max_latency_ms = 1500") == 2
        path = tmp_path / "platform.toml"
        path.write_text(text.replace("max_latency_ms = 1500", f"max_latency_ms = {max_latency_ms}"), "utf-8")

    def load(sim_url: str) -> WatcherConfig:
        creds = tmp_path / "credentials"
        creds.mkdir(exist_ok=True)
        (creds / "client_secret").write_text("sim-secret\n", encoding="utf-8")
        (creds / "admin_token").write_text("profile-admin-token-0123456789\n", encoding="utf-8")
        env = {
            "CREDENTIALS_DIRECTORY": str(creds),
            "WATCHER_GENESYS__API_BASE_URL": sim_url,
            "WATCHER_GENESYS__LOGIN_BASE_URL": sim_url,
            "WATCHER_GENESYS__CLIENT_ID": "sim-client",
            "WATCHER_STATUSPAGE__URL": f"{sim_url}/api/v2/components.json",
            "WATCHER_STATUSPAGE__INTERVAL_SECONDS": str(interval),
            "WATCHER_STATUSPAGE__TIMEOUT_SECONDS": str(timeout),
            "WATCHER_HEALTH__INTERVAL_SECONDS": str(interval),
            "WATCHER_HEALTH__TIMEOUT_SECONDS": str(timeout),
            "WATCHER_FAILBACK__MODE": "auto",
            "WATCHER_FAILBACK__HOLD_SECONDS": "1",
            "WATCHER_EXECUTOR__RECONCILE_INTERVAL_SECONDS": "0.5",
            "WATCHER_STATE__DIR": str(tmp_path / "state"),
            "WATCHER_SERVER__LISTEN": "127.0.0.1:0",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_config(path)

    return load


def trigger(h: Harness) -> dict[str, Any]:
    return h.sim.state.platform.triggers[TRIGGER]


def group(h: Harness) -> dict[str, Any]:
    return h.sim.state.platform.emergency_groups[GROUP]


def active(h: Harness) -> str | None:
    status = h.watcher.engine.world.strategies[STRATEGY]
    return None if status.write.target is not None else status.active_region


def sources(status: dict[str, Any], region: str) -> dict[str, dict[str, Any]]:
    (row,) = [r for r in status["regions"] if r["id"] == region]
    return {s["source"]: s for s in row["sources"]}


async def test_a_status_page_outage_moves_the_followers_through_a_conflict_and_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    edits: list[BehindTheBack] = []

    def wrap(inner: httpx.AsyncBaseTransport, base_url: str) -> httpx.AsyncBaseTransport:
        edits.append(BehindTheBack(inner, base_url))
        return edits[0]

    # 300/min allows no faster; the probes' threshold below their 0.4 s timeout.
    load = profile(monkeypatch, tmp_path, interval=0.5, timeout=0.4, max_latency_ms=300)
    async with running_watcher(tmp_path, config=load, transport_wrapper=wrap) as h:
        await h.ready()
        assert (trigger(h)["target"]["id"], group(h)["enabled"]) == (WORKFLOW[US], False)

        # One child of the region's group in a major outage: the status page says bad, the probe
        # still says good; with quorum 2 the one dissenting source is enough.
        put = await h.admin.put(
            f"/_sim/status/components/{US_EAST} - Voice", json={"status": "major_outage", "group": US_EAST}
        )
        assert put.status_code == 200, put.text

        def moved() -> bool:
            return active(h) == EU and trigger(h)["target"]["id"] == WORKFLOW[EU] and group(h)["enabled"]

        await h.until(moved, timeout=20)
        why = str(h.watcher.switch_log[0])
        assert "1/2 good (quorum 2)" in why, why
        assert "major_outage" in why, why
        # Someone edited the trigger just before the watcher's PUT: re-read, re-planned, kept.
        assert edits[0].edited
        assert [r.status for r in h.requests("PUT", "/processautomation/triggers/")][:2] == [409, 200]
        assert trigger(h)["description"] == "edited by an operator"

        status = (await h.http.get("/status")).json()
        assert sources(status, US)["statuspage"]["verdict"] == "bad"
        assert sources(status, US)["probe"]["verdict"] == "good"
        assert sources(status, US)["probe"]["latencyMs"] > 0

        # Recovery: back after the hold, the group disabled again, nothing else touched.
        put = await h.admin.put(f"/_sim/status/components/{US_EAST} - Voice", json={"status": "operational"})
        assert put.status_code == 200, put.text
        await h.until(
            lambda: (
                active(h) == US and trigger(h)["target"]["id"] == WORKFLOW[US] and not group(h)["enabled"]
            ),
            timeout=20,
        )
        assert trigger(h)["description"] == "edited by an operator"
        assert [s["kind"] for s in h.watcher.switch_log] == ["failover", "failback"]


async def test_a_slow_api_host_is_above_the_probe_threshold_for_every_region_and_strands_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Both regions' probes go to the one API host of the organization: when it is slower than
    `max_latency_ms` (1500 in the profile), every region is bad. All down: the watcher stays where
    it is (no region is better), says so, and the followers are not moved."""
    load = profile(monkeypatch, tmp_path, interval=2.0, timeout=1.9)
    async with running_watcher(tmp_path, config=load) as h:
        await h.ready()
        await add_fault(h.admin, path="^/api/v2/date$", delayMs=1600)
        await h.until(lambda: h.watcher.engine.world.strategies[STRATEGY].all_down, timeout=40)
        status = (await h.http.get("/status")).json()
        for region in (US, EU):
            probe = sources(status, region)["probe"]
            assert probe["verdict"] == "bad"
            assert probe["latencyMs"] >= 1500
            assert "above max_latency_ms 1500" in probe["reason"], probe["reason"]
        assert active(h) == US
        assert h.watcher.switch_log == []
        assert (trigger(h)["target"]["id"], group(h)["enabled"]) == (WORKFLOW[US], False)

        assert (await h.admin.delete("/_sim/faults")).json()["cleared"] == 1
        await h.until(lambda: not h.watcher.engine.world.strategies[STRATEGY].all_down, timeout=40)
        assert h.watcher.switch_log == []
