"""A virtual strategy carried by a process automation trigger and an emergency group (SPEC §6.2):
the daemon against the simulator over loopback HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon._virtual import GROUP, TRIGGER, VIRTUAL, WORKFLOWS, BehindTheBack, virtual_overrides
from tests.daemon.conftest import PRIMARY, SECONDARY, STRATEGY, Harness, running_watcher
from tests.support import sample
from watcher.events.audit_trail import read_trail
from watcher.sim import SimulatorState, default_seed

pytestmark = pytest.mark.anyio


def trigger(h: Harness) -> dict[str, Any]:
    return h.sim.state.platform.triggers[TRIGGER]


def group(h: Harness) -> dict[str, Any]:
    return h.sim.state.platform.emergency_groups[GROUP]


def retarget_by_hand(state: SimulatorState, workflow: str) -> None:
    """Point the trigger at `workflow` behind the watcher's back (its version moves on)."""
    edited = {k: v for k, v in state.platform.triggers[TRIGGER].items() if k not in ("version", "selfUri")}
    state.platform.admin_put_trigger(TRIGGER, {**edited, "target": {**edited["target"], "id": workflow}})


def active(h: Harness) -> str | None:
    return h.watcher.engine.world.strategies[VIRTUAL].active_region


async def test_failover_retargets_the_trigger_and_enables_the_group_then_failback_undoes_both(
    tmp_path: Path,
) -> None:
    async with running_watcher(tmp_path, **virtual_overrides()) as h:
        await h.ready()
        assert active(h) == PRIMARY
        before = dict(trigger(h))
        assert (before["target"]["id"], group(h)["enabled"]) == (WORKFLOWS[PRIMARY], False)

        await h.set_region(PRIMARY, "DEGRADED")
        await h.until(lambda: active(h) == SECONDARY and h.watcher.switch_log != [])

        assert (trigger(h)["target"]["id"], group(h)["enabled"]) == (WORKFLOWS[SECONDARY], True)
        after = trigger(h)
        # Only target.id moved: every other field (the target's settings too) is as it was read.
        assert after["version"] == before["version"] + 1
        assert after["target"] == {**before["target"], "id": WORKFLOWS[SECONDARY]}
        for key in ("name", "topicName", "matchCriteria", "eventTTLSeconds", "description", "enabled"):
            assert after[key] == before[key]
        assert group(h)["emergencyCallFlows"][0]["ivrs"] == [{"id": "ivr-main", "name": "Main line"}]
        # A virtual strategy has no API object: the routing strategy of the org is never written.
        assert h.requests("PUT", "/routing/strategies/") == []
        decision = json.loads((tmp_path / "state" / "virtual-strategies.json").read_text())
        assert decision["strategies"][VIRTUAL]["order"] == [SECONDARY, PRIMARY]

        status = (await h.http.get("/status")).json()
        assert next(s for s in status["strategies"] if s["id"] == VIRTUAL)["activeRegion"] == SECONDARY
        followers = {f["id"]: f for f in status["followers"]}
        assert followers[TRIGGER]["wanted"] == f"target {WORKFLOWS[SECONDARY]}"
        assert followers[GROUP]["wanted"] == "enabled"
        metrics = (await h.http.get("/metrics")).text
        assert sample(metrics, "failover_watcher_update_latency_seconds_count", kind="trigger") == 1
        assert sample(metrics, "failover_watcher_update_latency_seconds_count", kind="emergency_group") == 1
        kinds = [(r["kind"], r.get("follower"), r["result"]) for r in read_trail(tmp_path / "state")]
        assert ("trigger", TRIGGER, "success") in kinds
        assert ("emergency_group", GROUP, "success") in kinds

        await h.set_region(PRIMARY, "HEALTHY")
        await h.until(lambda: active(h) == PRIMARY and len(h.watcher.switch_log) == 2)
        assert (trigger(h)["target"]["id"], group(h)["enabled"]) == (WORKFLOWS[PRIMARY], False)


async def test_all_down_group_follows_every_region_down_and_the_trigger_stays(tmp_path: Path) -> None:
    async with running_watcher(tmp_path, **virtual_overrides("all-down")) as h:
        await h.ready()
        await h.set_region(PRIMARY, "DOWN")
        await h.until(lambda: trigger(h)["target"]["id"] == WORKFLOWS[SECONDARY])
        assert group(h)["enabled"] is False  # failed over, but not all down

        await h.set_region(SECONDARY, "DOWN")
        await h.until(lambda: group(h)["enabled"] is True)
        assert trigger(h)["target"]["id"] == WORKFLOWS[SECONDARY]  # fail-open: nothing rerouted

        await h.set_region(SECONDARY, "HEALTHY")
        await h.until(lambda: group(h)["enabled"] is False)


async def test_a_conflict_during_the_trigger_write_is_re_read_and_keeps_the_other_edit(
    tmp_path: Path,
) -> None:
    wrappers: list[BehindTheBack] = []

    def wrap(inner: httpx.AsyncBaseTransport, base_url: str) -> httpx.AsyncBaseTransport:
        wrappers.append(BehindTheBack(inner, base_url))
        return wrappers[0]

    async with running_watcher(tmp_path, transport_wrapper=wrap, **virtual_overrides()) as h:
        await h.ready()
        await h.set_region(PRIMARY, "DEGRADED")
        await h.until(lambda: trigger(h)["target"]["id"] == WORKFLOWS[SECONDARY])

        assert wrappers[0].edited
        puts = [r.status for r in h.requests("PUT", "/processautomation/triggers/")]
        assert puts == [409, 200]
        # Re-read and re-planned from the edited trigger: the operator's edit is kept.
        assert trigger(h)["description"] == "edited by an operator"
        assert trigger(h)["version"] == 3


async def test_drift_of_the_followers_is_repaired_at_read_back(tmp_path: Path) -> None:
    async with running_watcher(tmp_path, **virtual_overrides()) as h:
        await h.ready()
        edited = {k: v for k, v in trigger(h).items() if k not in ("version", "selfUri")}
        edited["target"] = {**edited["target"], "id": WORKFLOWS[SECONDARY]}
        (await h.admin.put(f"/_sim/triggers/{TRIGGER}", json=edited)).raise_for_status()
        body = {k: v for k, v in group(h).items() if k != "version"}
        answer = await h.admin.put(f"/_sim/emergencygroups/{GROUP}", json={**body, "enabled": True})
        answer.raise_for_status()

        await h.until(lambda: trigger(h)["target"]["id"] == WORKFLOWS[PRIMARY] and not group(h)["enabled"])

        metrics = (await h.http.get("/metrics")).text
        for kind in ("trigger", "emergency_group"):
            repairs = sample(metrics, "failover_watcher_follower_repairs_total", kind=kind, result="success")
            assert repairs == 1
        assert active(h) == PRIMARY  # a follower's drift does not move the decision


async def test_the_virtual_decision_survives_a_restart(tmp_path: Path) -> None:
    state = SimulatorState(default_seed())
    manual = virtual_overrides(failback={"mode": "manual"})
    async with running_watcher(tmp_path, state=state, **manual) as h:
        await h.ready()
        await h.set_region(PRIMARY, "DEGRADED")
        await h.until(lambda: trigger(h)["target"]["id"] == WORKFLOWS[SECONDARY] and group(h)["enabled"])
        await h.set_region(PRIMARY, "HEALTHY")

    # While it was stopped, the trigger was pointed back at the preferred region by hand.
    retarget_by_hand(state, WORKFLOWS[PRIMARY])

    async with running_watcher(tmp_path, state=state, **manual) as h:
        await h.ready()
        # The stored decision (failed over to the secondary) stands; the trigger follows it again.
        assert active(h) == SECONDARY
        await h.until(lambda: trigger(h)["target"]["id"] == WORKFLOWS[SECONDARY])
        assert group(h)["enabled"] is True


async def test_first_start_adopts_the_region_the_followers_agree_on(tmp_path: Path) -> None:
    state = SimulatorState(default_seed())
    retarget_by_hand(state, WORKFLOWS[SECONDARY])

    async with running_watcher(tmp_path, state=state, **virtual_overrides(failback={"mode": "manual"})) as h:
        await h.ready()
        assert active(h) == SECONDARY
        await h.until(lambda: group(h)["enabled"] is True)  # off its preferred region: emergency on


async def test_a_follower_that_fails_does_not_stop_the_others_and_is_finished_later(
    tmp_path: Path,
) -> None:
    async with running_watcher(tmp_path, **virtual_overrides()) as h:
        await h.ready()
        # Every attempt of one trigger read fails (the client's retries included).
        fault = {"path": "/processautomation/triggers/", "method": "GET", "status": 503, "count": 3}
        (await h.admin.put("/_sim/faults", json=fault)).raise_for_status()

        await h.set_region(PRIMARY, "DEGRADED")
        await h.until(lambda: h.watcher.switch_log != [])

        report = h.watcher.switch_log[0]
        assert report["result"] == "partial"
        assert f"trigger {TRIGGER}" in report["error"]
        assert group(h)["enabled"] is True  # the group followed all the same
        await h.until(lambda: trigger(h)["target"]["id"] == WORKFLOWS[SECONDARY])  # the read-back finished it


async def test_a_routing_strategy_carries_its_trigger_and_group_after_its_own_put(tmp_path: Path) -> None:
    followers = {
        "triggers": [{"id": TRIGGER, "strategy": STRATEGY, "targets": WORKFLOWS}],
        "emergency_groups": [{"id": GROUP, "strategy": STRATEGY}],
    }
    async with running_watcher(tmp_path, **followers) as h:
        await h.ready()
        await h.set_region(PRIMARY, "DEGRADED")
        await h.until(lambda: h.active() == SECONDARY and h.watcher.switch_log != [])

        assert h.watcher.switch_log[0]["result"] == "success"
        kinds = [w["kind"] for w in h.watcher.switch_log[0]["writes"]]
        assert kinds[0] == "strategy"
        assert sorted(kinds[1:]) == ["emergency_group", "rule", "trigger"]
        assert (trigger(h)["target"]["id"], group(h)["enabled"]) == (WORKFLOWS[SECONDARY], True)
        assert not (tmp_path / "state" / "virtual-strategies.json").exists()
