"""A drill's report as the world is told it (SPEC §8): a `com.genesys.failover.drill` CloudEvent and
an audit trail record of kind "drill", failure for any outcome but SUCCEEDED."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.daemon._parts import S1
from tests.daemon.conftest import PRIMARY, SECONDARY
from tests.daemon.test_announce import Told, told
from watcher.daemon.announce import DRILL
from watcher.drills import Drill, DrillWrite, Outcome, Phase, drill_json

pytestmark = pytest.mark.anyio
__all__ = ["told"]

DONE = Drill(
    "d1",
    S1,
    PRIMARY,
    SECONDARY,
    60.0,
    "operator",
    Phase.ENDED,
    1000.0,
    arrived_at=1000.5,
    returning_at=1060.5,
    back_at=1061.0,
    ended_at=1061.0,
    outcome=Outcome.SUCCEEDED,
    writes=(DrillWrite("strategy", S1, 12.0, "success"), DrillWrite("strategy", S1, 9.0, "success", "back")),
)


async def test_a_drill_report_is_an_event_and_an_audit_record(told: Told) -> None:
    await told.announcer.drill(drill_json(DONE))
    failed = replace(DONE, id="d2", outcome=Outcome.FAILED, reason="outcome alarm firing: CallsFailing")
    await told.announcer.drill(drill_json(failed))
    events = [e for e in told.events() if e["type"] == DRILL]
    assert [e["data"]["id"] for e in events] == ["d1", "d2"]
    assert events[0]["data"]["outcome"] == "SUCCEEDED"
    assert events[0]["data"]["switchSeconds"] == 0.5
    assert events[0]["data"]["backSeconds"] == 0.5
    assert events[1]["data"]["reason"] == "outcome alarm firing: CallsFailing"
    records = [r for r in told.audit() if r["kind"] == "drill"]
    assert [(r["result"], r["error"]) for r in records] == [
        ("success", None),
        ("failure", "outcome alarm firing: CallsFailing"),
    ]
