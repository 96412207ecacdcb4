"""`failover-watcher status` also shows each standby's readiness and the drill running or the last
(SPEC §5, §8)."""

from __future__ import annotations

from watcher.daemon.status_table import render_table

STATUS = {
    "leader": True,
    "ready": True,
    "regions": [],
    "strategies": [],
    "readiness": [
        {
            "strategy": "strategy-1",
            "region": "eu-west-1",
            "ready": False,
            "checks": [
                {"check": "strategy names region", "ok": True, "reason": None},
                {"check": "rule rule-1 target", "ok": False, "reason": "target target-euw1 does not exist"},
            ],
        }
    ],
    "drills": {
        "running": None,
        "recent": [
            {"id": "d1", "strategy": "strategy-1", "outcome": "SUCCEEDED", "endedAt": "2026-12-07T10:00:00Z"}
        ],
    },
}


def test_the_table_names_a_standby_not_ready_with_its_failed_check_and_the_last_drill() -> None:
    text = render_table(STATUS)
    row = next(line for line in text.splitlines() if line.startswith("strategy-1  eu-west-1"))
    assert "NO" in row
    assert "rule rule-1 target: target target-euw1 does not exist" in row
    assert "strategy names region" not in row
    assert "no drill running; last: d1 of strategy-1 SUCCEEDED at 2026-12-07T10:00:00Z" in text


def test_without_readiness_or_drills_the_table_says_nothing_of_them() -> None:
    text = render_table({"leader": True, "ready": True, "regions": [], "strategies": []})
    assert "STANDBY" not in text
    assert "drill" not in text
