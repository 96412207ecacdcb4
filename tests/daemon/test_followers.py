"""Followers.follow, driven directly: the one path by which a strategy's EventBridge rules are made
to point at its region, for a switch and for a repair, against the real simulator over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.daemon._parts import RULE_1, RULE_2, RULE_3, RULE_PATH, S1, Gate, Rig, running_rig
from tests.daemon.conftest import PRIMARY, SECONDARY, TARGETS
from watcher.config import RuleSettings

pytestmark = pytest.mark.anyio

TARGET_PATH = "/api/v2/eventbridge/targets/"
SWITCH_WHY = {"summary": "us-east-1 failed", "observations": [], "thresholds": {"fall": 2}}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path) as r:
        yield r


async def test_rules_already_pointing_at_the_region_are_read_and_not_written(rig: Rig) -> None:
    followers = rig.followers()

    followed = await followers.follow(S1, PRIMARY)

    assert followed.complete
    assert followed.errors == ()
    assert sorted((w.object_id, w.changed, w.version_after) for w in followed.writes) == [
        (RULE_1, False, 1),
        (RULE_2, False, 1),
    ]
    assert rig.requests("PUT") == []
    assert sorted(p for _, p, _ in rig.requests("GET", RULE_PATH)) == [RULE_PATH + RULE_1, RULE_PATH + RULE_2]
    assert rig.audit() == []  # a repair that changed nothing leaves no trace
    assert rig.metric("failover_watcher_update_latency_seconds_count", kind="rule") is None


async def test_a_switch_retargets_every_rule_of_the_strategy_and_audits_each(rig: Rig) -> None:
    followers = rig.followers()

    followed = await followers.follow(S1, SECONDARY, explanation=SWITCH_WHY)

    assert followed.complete
    assert sorted(rig.rule_puts()) == [RULE_1, RULE_2]
    assert rig.target(RULE_1) == rig.target(RULE_2) == [TARGETS[SECONDARY]]
    assert rig.target(RULE_3) == [TARGETS[PRIMARY]]  # another strategy's rule
    assert sorted((w.object_id, w.version_before, w.version_after) for w in followed.writes) == [
        (RULE_1, 1, 2),
        (RULE_2, 1, 2),
    ]
    audit = sorted(rig.audit(), key=lambda r: r["rule"])
    assert [(r["kind"], r["rule"], r["result"], r["version_after"]) for r in audit] == [
        ("rule", RULE_1, "success", 2),
        ("rule", RULE_2, "success", 2),
    ]
    assert all(r["explanation"] == SWITCH_WHY for r in audit)
    assert rig.metric("failover_watcher_update_latency_seconds_count", kind="rule") == 2

    target_checks = len(rig.requests("GET", TARGET_PATH))
    assert target_checks >= 1

    # A switch audits its rule writes whatever they did, even when there was nothing to change.
    again = await followers.follow(S1, SECONDARY, explanation=SWITCH_WHY)
    assert [w.changed for w in again.writes] == [False, False]
    assert len(rig.audit()) == 4
    # The target was seen to exist: it is not looked up again.
    assert len(rig.requests("GET", TARGET_PATH)) == target_checks


async def test_a_rule_without_a_target_for_the_region_is_reported_and_the_others_written(rig: Rig) -> None:
    rules = [
        RuleSettings(id=RULE_1, strategy=S1, targets={PRIMARY: TARGETS[PRIMARY]}),
        RuleSettings(id=RULE_2, strategy=S1, targets=TARGETS),
    ]
    followers = rig.followers(rules=rules)

    followed = await followers.follow(S1, SECONDARY, explanation=SWITCH_WHY)

    assert followed.errors == (f"rule {RULE_1}: no target configured for region {SECONDARY}",)
    assert not followed.complete
    assert rig.rule_puts() == [RULE_2]
    assert rig.target(RULE_1) == [TARGETS[PRIMARY]]
    assert rig.requests("GET", RULE_PATH + RULE_1) == []  # nothing to plan with: not even read
    failures = [(r["rule"], r["error"]) for r in rig.audit() if r["result"] == "failure"]
    assert failures == [(RULE_1, followed.errors[0].removeprefix(f"rule {RULE_1}: "))]


async def test_a_target_missing_from_the_api_is_reported_by_name(rig: Rig) -> None:
    rules = [
        RuleSettings(id=RULE_1, strategy=S1, targets=TARGETS),
        RuleSettings(id=RULE_2, strategy=S1, targets={PRIMARY: TARGETS[PRIMARY], SECONDARY: "target-gone"}),
    ]
    followers = rig.followers(rules=rules)

    followed = await followers.follow(S1, SECONDARY)

    assert followed.errors == (
        f"rule {RULE_2}: target target-gone (region {SECONDARY}) does not exist in the API",
    )
    assert rig.rule_puts() == [RULE_1]
    assert rig.target(RULE_2) == [TARGETS[PRIMARY]]


async def test_an_api_error_on_one_rule_is_reported_and_the_others_written(rig: Rig) -> None:
    rules = [*rig.cfg.rules, RuleSettings(id="rule-deleted", strategy=S1, targets=TARGETS)]
    await rig.fault(path=f"^{RULE_PATH}{RULE_2}$", method="PUT", status=403, message="missing scope")
    followers = rig.followers(rules=rules)

    followed = await followers.follow(S1, SECONDARY)

    assert rig.rule_puts() == [RULE_1]
    assert rig.target(RULE_1) == [TARGETS[SECONDARY]]
    errors = sorted(followed.errors)
    assert len(errors) == 2
    assert errors[0].startswith(f"rule {RULE_2}: ")
    assert "missing scope" in errors[0]
    assert errors[1].startswith("rule rule-deleted: ")
    assert "404" in errors[1]
    assert [w.object_id for w in followed.writes] == [RULE_1]
    # A repair's failures are audited (a change it could not make), its successes only when they changed.
    assert sorted((r["rule"], r["result"]) for r in rig.audit()) == [
        (RULE_1, "success"),
        (RULE_2, "failure"),
        ("rule-deleted", "failure"),
    ]


async def test_a_gate_that_refuses_stops_every_write(rig: Rig) -> None:
    gate = Gate(leader=False)
    followers = rig.followers(gate=gate)

    followed = await followers.follow(S1, SECONDARY, explanation=SWITCH_WHY)

    assert sorted(followed.errors) == [
        f"rule {RULE_1}: leadership lost before it could be retargeted",
        f"rule {RULE_2}: leadership lost before it could be retargeted",
    ]
    assert followed.writes == ()
    assert sorted(gate.asked) == [S1, S1]
    assert rig.requests("GET") == []
    assert rig.requests("PUT") == []
    assert rig.target(RULE_1) == rig.target(RULE_2) == [TARGETS[PRIMARY]]


async def test_leadership_lost_after_a_rule_was_read_stops_its_put(rig: Rig) -> None:
    gate = Gate(leader=True)

    async def deposed_during_a_rule_read(request: httpx.Request, response: httpx.Response) -> None:
        if request.method == "GET" and request.url.path.startswith(RULE_PATH):
            gate.leader = False

    rig.spy.hook = deposed_during_a_rule_read
    followers = rig.followers(gate=gate)

    followed = await followers.follow(S1, SECONDARY)

    assert rig.requests("PUT") == []
    assert len(followed.errors) == 2
    assert all(e.startswith((f"rule {RULE_1}: ", f"rule {RULE_2}: ")) for e in followed.errors)
    assert any("leadership could not be confirmed" in e for e in followed.errors)


async def test_a_repair_audits_only_the_rules_it_changed(rig: Rig) -> None:
    await rig.point_rule(RULE_1, TARGETS[SECONDARY])  # a switch interrupted before this rule
    followers = rig.followers()

    followed = await followers.follow(S1, PRIMARY)

    assert followed.complete
    assert rig.rule_puts() == [RULE_1]
    assert rig.target(RULE_1) == [TARGETS[PRIMARY]]
    (record,) = rig.audit()
    assert (record["kind"], record["rule"], record["result"]) == ("rule", RULE_1, "success")
    assert (record["version_before"], record["version_after"]) == (2, 3)
    assert record["explanation"] == {}  # a repair has no decision behind it


async def test_targets_the_watcher_does_not_manage_are_kept(rig: Rig) -> None:
    response = await rig.admin.put("/_sim/targets/target-archive", json={"type": "webhook"})
    assert response.status_code == 200, response.text
    body = {
        **rig.sim.state.org.rules[RULE_1],
        "targets": [{"id": TARGETS[PRIMARY]}, {"id": "target-archive"}],
    }
    response = await rig.admin.put(f"/_sim/rules/{RULE_1}", json=body)
    assert response.status_code == 200, response.text

    followed = await rig.followers().follow(S1, SECONDARY)

    assert followed.complete
    assert rig.target(RULE_1) == [TARGETS[SECONDARY], "target-archive"]
    assert rig.sim.state.org.rules[RULE_1]["name"] == "Call events"  # the rest of the rule untouched
