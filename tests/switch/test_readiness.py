"""Each kind of follower answers for its own target in a standby region (SPEC §8), against the real
simulator: a rule's EventBridge target exists; a trigger's workflow exists, is not deleted and is
published; an emergency group has nothing region-specific."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.daemon._parts import PRIMARY, SECONDARY, Rig, running_rig
from watcher.config import EmergencyGroupSettings, RuleSettings, TriggerSettings
from watcher.genesys.platform import PlatformCalls
from watcher.sim import flow_seed
from watcher.switch.platform import GroupFollower, TriggerFollower
from watcher.switch.readiness import ReadinessCheck
from watcher.switch.rules import RuleFollower, RuleTargets

pytestmark = pytest.mark.anyio

TARGETS = {PRIMARY: "target-use1", SECONDARY: "target-euw1"}
WORKFLOWS = {PRIMARY: "workflow-use1", SECONDARY: "workflow-euw1"}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path) as r:
        yield r


def rule(rig: Rig, targets: dict[str, str], shared: RuleTargets | None = None) -> RuleFollower:
    settings = RuleSettings(id="rule-1", strategy="strategy-1", targets=targets)
    return RuleFollower(rig.client, settings, shared or RuleTargets(rig.client), None)


def trigger(rig: Rig, workflows: dict[str, str] = WORKFLOWS) -> TriggerFollower:
    settings = TriggerSettings(id="trigger-1", strategy="strategy-1", targets=workflows)
    return TriggerFollower(PlatformCalls(rig.client), settings)


async def test_a_rule_is_ready_while_its_target_exists_and_not_once_it_is_deleted(rig: Rig) -> None:
    targets = RuleTargets(rig.client)
    follower = rule(rig, TARGETS, targets)
    assert await follower.readiness(SECONDARY) == (ReadinessCheck("rule rule-1 target", True),)
    assert TARGETS[SECONDARY] in targets.known
    (await rig.admin.delete(f"/_sim/targets/{TARGETS[SECONDARY]}")).raise_for_status()
    targets.new_round()
    (check,) = await follower.readiness(SECONDARY)
    assert not check.ok
    assert check.reason == "target target-euw1 does not exist in the API"
    assert TARGETS[SECONDARY] not in targets.known  # a switch there checks it again before writing


async def test_rules_on_one_target_look_it_up_once_per_round(rig: Rig) -> None:
    targets = RuleTargets(rig.client)
    followers = [rule(rig, TARGETS, targets) for _ in range(5)]
    before = len(rig.sim.state.requests_since(None))
    for follower in followers:
        assert (await follower.readiness(SECONDARY))[0].ok
    lookups = [r for r in rig.sim.state.requests_since(None)[before:] if "/eventbridge/targets/" in r.path]
    assert len(lookups) == 1


async def test_a_rule_without_a_target_for_the_region_is_not_ready(rig: Rig) -> None:
    (check,) = await rule(rig, {PRIMARY: "target-use1"}).readiness(SECONDARY)
    assert not check.ok
    assert check.reason == f"no target configured for region {SECONDARY}"


@pytest.mark.parametrize(
    ("flow", "reason"),
    [
        (None, "flow workflow-euw9 does not exist"),
        (flow_seed("workflow-euw9", "EU workflow", published=False), "flow workflow-euw9 is not published"),
        (flow_seed("workflow-euw9", "EU workflow", deleted=True), "flow workflow-euw9 is deleted"),
        (flow_seed("workflow-euw9", "EU workflow"), None),
    ],
)
async def test_a_trigger_is_ready_when_its_workflow_exists_is_not_deleted_and_is_published(
    rig: Rig, flow: dict[str, object] | None, reason: str | None
) -> None:
    # A workflow the default org does not hold (it holds the default trigger's own).
    if flow is not None:
        (await rig.admin.put("/_sim/flows/workflow-euw9", json=flow)).raise_for_status()
    (check,) = await trigger(rig, {**WORKFLOWS, SECONDARY: "workflow-euw9"}).readiness(SECONDARY)
    assert check == ReadinessCheck("trigger trigger-1 workflow", reason is None, reason)


async def test_an_emergency_group_has_nothing_region_specific_to_check(rig: Rig) -> None:
    settings = EmergencyGroupSettings(id="emergency-group-1", strategy="strategy-1")
    assert await GroupFollower(PlatformCalls(rig.client), settings).readiness(SECONDARY) == ()
