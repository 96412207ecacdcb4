"""A region dies under 40 strategies at the platform's 300 requests a minute: everything moves inside
the budget, writes go before the polls that cannot change a decision, the failing region is still
polled during the drain, and no 429 is drawn. The daemon against the simulator over loopback."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.daemon.conftest import PRIMARY, SECONDARY, TARGETS, running_watcher
from watcher.core import Observation, StrategySnapshot
from watcher.daemon.engine import Engine, policy_from_config
from watcher.sim import SimSeed, SimulatorState, default_seed, rule_seed, strategy_seed

pytestmark = pytest.mark.anyio

N = 40
BYSTANDER = "ap-south-1"  # third in line behind a healthy candidate: its polls change no decision
STRATEGIES = [f"mass-{i:02d}" for i in range(N)]
RULES = [f"mass-rule-{i:02d}" for i in range(N)]
HEALTH_PATH = "/api/v2/architecture/regions/{}/health"
RULE_TARGETS = {**TARGETS, BYSTANDER: "target-aps1"}


def mass_seed() -> SimSeed:
    seed = default_seed()
    data = seed.model_dump()
    data["regions"].append({"id": BYSTANDER, "name": "AP South"})
    data["targets"].append(
        {"id": RULE_TARGETS[BYSTANDER], "type": "webhook", "url": "https://aps1.example.com/in"}
    )
    data["strategies"] = [strategy_seed(s, [PRIMARY, SECONDARY, BYSTANDER]) for s in STRATEGIES]
    data["rules"] = [rule_seed(r, TARGETS[PRIMARY]) for r in RULES]
    data["triggers"], data["emergencyGroups"], data["statusComponents"] = [], [], None
    return SimSeed.model_validate(data)


def first_region(strategy: dict[str, Any]) -> str:
    regions = strategy["routingConfig"]["regions"]
    return str(min(regions, key=lambda r: r["priority"])["regionId"])


def mass_config() -> dict[str, Any]:
    return {
        "genesys": {"requests_per_minute": 300},
        "health": {"interval_seconds": 1.0, "timeout_seconds": 0.5, "fall": 2, "rise": 2},
        "failback": {"mode": "manual"},
        "regions": [{"id": PRIMARY}, {"id": SECONDARY}, {"id": BYSTANDER}],
        "strategies": [{"id": s, "regions": [PRIMARY, SECONDARY, BYSTANDER]} for s in STRATEGIES],
        "rules": [
            {"id": r, "strategy": s, "targets": RULE_TARGETS} for r, s in zip(RULES, STRATEGIES, strict=True)
        ],
        # No periodic read-back during the test: the copies are the initial read's.
        "executor": {"reconcile_interval_seconds": 3600.0, "write_retry_seconds": 0.3},
    }


async def test_forty_strategies_move_inside_300_a_minute_with_one_put_per_object(tmp_path: Path) -> None:
    state = SimulatorState(mass_seed(), per_minute=300, seed_rng=7)
    async with running_watcher(tmp_path, state=state, **mass_config()) as h:
        await h.until(
            lambda: (
                h.watcher.readiness()[0]
                and all(r.healthy for r in h.watcher.engine.world.regions.values())
                and not h.watcher.parts.readback.rule_repairs  # type: ignore[union-attr]
                and h.watcher.parts.followers.known_targets == set(RULE_TARGETS.values())  # type: ignore[union-attr]
                # the first readiness round (deferrable) is over: it reads no target during the drain
                and h.watcher.parts.readiness.board.rounds >= 1
            ),
            timeout=60,
        )
        degraded_at = state.clock()
        await h.set_region(PRIMARY, "DEGRADED")

        def moved() -> bool:
            org = h.sim.state.org
            return all(first_region(org.strategies[s]) == SECONDARY for s in STRATEGIES) and all(
                org.rules[r]["targets"][0]["id"] == TARGETS[SECONDARY] for r in RULES
            )

        await h.until(moved, timeout=90)
        last_put = max(r.time for r in state.requests_since(degraded_at) if r.method == "PUT")

        def polled_after_the_switch() -> bool:
            after = state.requests_since(last_put)
            return sum(1 for r in after if r.path == HEALTH_PATH.format(PRIMARY)) >= 2

        # The failing region's polls go on after the switch has spent the window (its reserve).
        await h.until(polled_after_the_switch, timeout=10)
        log = [r for r in state.requests_since(degraded_at) if r.path.startswith("/api/")]

    assert [r for r in state.requests_since(None) if r.status == 429] == []
    writes = [r for r in log if r.method == "PUT"]
    assert len(writes) == 2 * N
    assert all(r.status == 200 for r in writes)
    reads = [
        r for r in log if r.method == "GET" and ("/routing/strategies/" in r.path or "/rules/" in r.path)
    ]
    assert reads == []  # planned from the copies: not one GET of a strategy or a rule
    assert [r for r in log if "/eventbridge/targets/" in r.path] == []  # targets known since start

    # SPEC 9: the window had room (the start-up reads left most of its 300), so the 80 writes went
    # out as fast as the concurrency cap allows, not at the average rate (80 PUTs at 5/s: 16 s).
    first, last = writes[0].time, writes[-1].time
    assert last - first < 8.0, f"the writes dripped: {last - first:.1f} s from the first to the last"
    # The failing region's polls went on through the switch (the decisive reserve): no long gap.
    failing = [r.time for r in log if r.path == HEALTH_PATH.format(PRIMARY)]
    assert max(b - a for a, b in itertools.pairwise(failing)) < 5.0, "a gap in the polls during the switch"


def engine_for(cfg: dict[str, Any]) -> Engine:
    from tests.daemon.conftest import watcher_config

    async def ignore(*_: object) -> None:
        return None

    return Engine(policy_from_config(watcher_config("http://sim", Path("/tmp/unused"), **cfg)), ignore)


async def test_the_decisive_regions_are_the_active_the_candidate_and_those_not_known_healthy() -> None:
    cfg = {
        "regions": [{"id": r} for r in (PRIMARY, SECONDARY, "eu-central-1", BYSTANDER)],
        "strategies": [{"id": "s1", "regions": [PRIMARY, SECONDARY, "eu-central-1"]}],
        "rules": [],
    }
    engine = engine_for(cfg)
    assert all(engine.decisive(r) for r in (PRIMARY, SECONDARY, "eu-central-1"))  # not known healthy yet
    assert not engine.decisive(BYSTANDER)  # in no strategy: decides nothing
    t = 1000.0
    for _ in range(3):
        for region in (PRIMARY, SECONDARY, "eu-central-1", BYSTANDER):
            t += 0.1
            await engine.feed(Observation(region, ok=True, at=t, reason="ok"))
    await engine.feed(StrategySnapshot("s1", PRIMARY, 1, t, initial=True))

    assert engine.decisive(PRIMARY)  # routed to
    assert engine.decisive(SECONDARY)  # where a failover would go
    assert not engine.decisive("eu-central-1")  # third in line, behind a healthy candidate
    assert not engine.decisive(BYSTANDER)  # in no strategy

    await engine.feed(Observation(SECONDARY, ok=False, at=t + 1, reason="http 503"))
    assert engine.decisive(SECONDARY)  # settling: its next answers decide
    await engine.feed(Observation(SECONDARY, ok=False, at=t + 2, reason="http 503"))
    assert engine.decisive("eu-central-1")  # the candidate now that the secondary is down


def decisive_by_full_scan(engine: Engine, region: str) -> bool:
    """The definition, read straight: every strategy looked at (what `Engine.decisive` shortcuts)."""
    world = engine.world
    health = world.regions.get(region)
    if health is None:
        return False
    if not health.healthy or health.settling:
        return True
    for sp in engine.policy.strategies:
        status = world.strategies.get(sp.id)
        active = None if status is None else status.active_region
        if status is not None and region in (active, status.write.target):
            return True
        nxt = next(
            (c for c in sp.preference if c != active and (h := world.regions.get(c)) and h.healthy), None
        )
        if nxt == region:
            return True
    return False


SCAN_REGIONS = (PRIMARY, SECONDARY, "eu-central-1", BYSTANDER)


@settings(max_examples=100, deadline=None)
@given(
    events=st.lists(
        st.one_of(
            # Mostly good answers, so that regions settle healthy and the routing rules matter.
            st.tuples(
                st.just("obs"), st.sampled_from(SCAN_REGIONS), st.sampled_from((True, True, True, False))
            ),
            # A snapshot may route a strategy to a region outside its preference (an edit by hand).
            st.tuples(st.just("snap"), st.sampled_from(("s1", "s2", "s3")), st.sampled_from(SCAN_REGIONS)),
        ),
        max_size=60,
    )
)
# Routed to, and no strategy's next candidate: decisive only because s3 routes there.
@example(
    events=[("obs", PRIMARY, True), ("obs", PRIMARY, True), ("snap", "s3", "eu-central-1")]
    + [("obs", "eu-central-1", True)] * 2
)
async def test_decisive_agrees_with_a_scan_of_every_strategy(events: list[tuple[str, str, Any]]) -> None:
    cfg = {
        "regions": [{"id": r} for r in SCAN_REGIONS],
        "strategies": [
            {"id": "s1", "regions": [PRIMARY, SECONDARY, "eu-central-1"]},
            {"id": "s2", "regions": [SECONDARY, PRIMARY]},
            # A region no strategy would move to: only being routed to makes its polls decisive.
            {"id": "s3", "regions": ["eu-central-1"]},
        ],
        "rules": [],
        "health": {"fall": 2, "rise": 2},
    }
    engine = engine_for(cfg)
    version = 0
    for t, (kind, who, what) in enumerate(events, start=1):
        if kind == "obs":
            await engine.feed(Observation(who, ok=what, at=float(t), reason="ok" if what else "http 503"))
        else:
            version += 1
            await engine.feed(StrategySnapshot(who, what, version, float(t), initial=version % 4 != 0))
        for region in SCAN_REGIONS:
            assert engine.decisive(region) == decisive_by_full_scan(engine, region), (region, engine.world)
