"""`failover-watcher status` renders `/status` as a table; `/status` says nothing of the API host's
reachability before its first answer."""

from __future__ import annotations

from watcher.daemon.status_table import render_table
from watcher.genesys.reachability import Reachability


def test_the_api_is_not_said_reachable_before_any_answer() -> None:
    reach = Reachability(clock=lambda: 5.0)
    assert reach.describe(lambda t: None if t is None else str(t))["reachable"] is None
    assert reach.describe(lambda t: None)["detail"] == "no answer yet"
    reach.answered()
    assert reach.describe(lambda t: None)["reachable"] is True
    reach.lost("connect timeout")
    assert reach.describe(lambda t: None)["reachable"] is False


STATUS = {
    "leader": True,
    "leadership": {"backend": "none", "holder": "host-1"},
    "ready": False,
    "readyDetail": "state dir not writable: outbox: No space left on device",
    "dryRun": False,
    "regions": [
        {
            "id": "us-east-1",
            "healthy": False,
            "state": "unhealthy",
            "sources": [{"source": "region-health", "verdict": "bad", "reason": "status DOWN"}],
        },
        {
            "id": "eu-west-1",
            "healthy": True,
            "state": "healthy",
            "sources": [{"source": "region-health", "verdict": "good", "reason": "HEALTHY"}],
        },
    ],
    "strategies": [
        {
            "id": "strategy-1",
            "activeRegion": "eu-west-1",
            "state": "steady",
            "hold": None,
            "pin": {"region": "eu-west-1", "until": "2026-12-07T03:00:00Z", "reason": "drill"},
            "lastSwitch": {
                "at": "2026-12-07T02:00:00Z",
                "kind": "failover",
                "from": "us-east-1",
                "to": "eu-west-1",
                "result": "success",
            },
        }
    ],
}


def test_the_table_names_leader_readiness_regions_and_strategies() -> None:
    text = render_table(STATUS)
    assert "leader: host-1 (this instance)" in text
    assert "ready: NO: state dir not writable: outbox: No space left on device" in text
    (east,) = [line for line in text.splitlines() if line.startswith("us-east-1")]
    assert "unhealthy" in east
    assert "region-health=bad (status DOWN)" in east
    (row,) = [line for line in text.splitlines() if line.startswith("strategy-1")]
    assert "eu-west-1" in row
    assert "pinned to eu-west-1 until 2026-12-07T03:00:00Z (drill)" in row
    assert "failover us-east-1 -> eu-west-1: success" in row
