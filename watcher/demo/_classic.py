"""The classic scenario: the seed documents' API (region health, strategies, EventBridge rules).

A small built-in org (3 regions, 2 strategies, 2 rules): the primary region degrades, both
strategies fail over, the region recovers, and after the failback hold both return.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx

from watcher.config import WatcherConfig
from watcher.daemon.service import Watcher
from watcher.demo._ui import DEMO_PER_MINUTE, Scenario, Story, wait_for
from watcher.sim import RunningSimulator, SimSeed, rule_seed, strategy_seed

PRIMARY = "us-east-1"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
TARGETS = {"us-east-1": "target-use1", "eu-west-1": "target-euw1", "ap-southeast-2": "target-apse2"}
STRATEGIES = {
    "voice-routing": ["us-east-1", "eu-west-1", "ap-southeast-2"],
    "digital-routing": ["us-east-1", "ap-southeast-2", "eu-west-1"],
}
RULES = {"rule-voice-events": "voice-routing", "rule-digital-events": "digital-routing"}


def demo_seed() -> SimSeed:
    """The demo org: every strategy starts on the primary, every rule on the primary's target."""
    return SimSeed.model_validate(
        {
            "regions": [{"id": r, "name": r} for r in REGIONS],
            "targets": [
                {"id": t, "type": "webhook", "url": f"https://{t}.example.com/in"} for t in TARGETS.values()
            ],
            "strategies": [strategy_seed(sid, order) for sid, order in STRATEGIES.items()],
            "rules": [rule_seed(rid, TARGETS[PRIMARY]) for rid in RULES],
        }
    )


def demo_config(sim_url: str, state_dir: Path, receiver_url: str, secret: str, speed: float) -> WatcherConfig:
    interval = 1.0 / speed
    return WatcherConfig(
        genesys={
            "api_base_url": sim_url,
            "login_base_url": sim_url,
            "client_id": "sim-client",
            "client_secret": "sim-secret",
            "requests_per_minute": DEMO_PER_MINUTE,
        },
        health={"interval_seconds": interval, "timeout_seconds": interval / 2, "fall": 2, "rise": 2},
        failback={"mode": "auto", "hold_seconds": 6.0 / speed},
        regions=[{"id": r} for r in REGIONS],
        strategies=[{"id": s, "regions": order} for s, order in STRATEGIES.items()],
        rules=[{"id": r, "strategy": s, "targets": TARGETS} for r, s in RULES.items()],
        sinks=[{"name": "dns-sync", "url": receiver_url, "secret": secret}],
        state={"dir": str(state_dir)},
        executor={"reconcile_interval_seconds": 5.0},
        server={"listen": "127.0.0.1:0"},
    )


async def script(
    watcher: Watcher, admin: httpx.AsyncClient, sim: RunningSimulator, scenario: Scenario, speed: float
) -> None:
    def all_on(region: str) -> bool:
        strategies = watcher.engine.world.strategies.values()
        return all(s.active_region == region and s.write.target is None for s in strategies)

    scenario.mark("steady", "all regions healthy; both strategies on us-east-1")
    await anyio.sleep(3 / speed)
    await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DEGRADED"})
    scenario.mark("degraded", f"{PRIMARY} DEGRADED by the simulator: hysteresis counting (fall=2)")
    await wait_for(
        lambda: not any(s.active_region == PRIMARY for s in watcher.engine.world.strategies.values()), 60
    )
    scenario.mark("failed_over", "failed over: both strategies away from us-east-1, rules retargeted")
    await anyio.sleep(4 / speed)
    await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "HEALTHY"})
    scenario.mark("recovered", f"{PRIMARY} HEALTHY again: failback waits for rise=2 and the 6 s hold")
    await wait_for(lambda: all_on(PRIMARY), 90)
    scenario.mark("failed_back", "failed back to us-east-1; waiting for the receiver to get every event")


CLASSIC = Story(
    title="failover-watcher demo",
    seed=demo_seed,
    config=demo_config,
    script=script,
    regions=len(REGIONS),
)
