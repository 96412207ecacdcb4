"""A region's sources combined by a quorum (SPEC §6.1): a dissenting source does not move the
verdict, a silent one does not count against the region, and each source's answer is named."""

from __future__ import annotations

import pytest

from tests.support import FakeClock
from watcher.core import Observation
from watcher.health import NoEvidence, QuorumSource, SourceBoard, Throttled
from watcher.metrics import WatcherMetrics

pytestmark = pytest.mark.anyio
REGION = "us-east-1"


class Said:
    """A source that says what it is told: good, bad (with a reason), or nothing at all."""

    def __init__(self, name: str, ok: bool | None, reason: str = "", latency_ms: float | None = None) -> None:
        self.name, self.kind, self.ok, self.reason, self.latency_ms = name, name, ok, reason, latency_ms

    async def observe(self, region: str) -> Observation:
        if self.ok is None:
            raise NoEvidence(self.reason)
        return Observation(region, ok=self.ok, at=1.0, reason=self.reason, latency_ms=self.latency_ms)


async def test_one_dissenting_source_of_three_leaves_the_region_good_and_is_named() -> None:
    sources = [
        Said("statuspage", False, "component 'Americas (US East)' major_outage"),
        Said("region-health", True, "status=HEALTHY", 12.0),
        Said("probe", True, "http 200 in 30ms", 30.0),
    ]
    obs = await QuorumSource(sources).observe(REGION)
    assert obs.ok is True
    assert obs.reason == (
        "2/3 good (quorum 2): statuspage: component 'Americas (US East)' major_outage; "
        "region-health: status=HEALTHY; probe: http 200 in 30ms"
    )


async def test_two_dissenting_sources_of_three_make_it_bad() -> None:
    sources = [Said("a", False, "down"), Said("b", False, "slow"), Said("c", True, "fine")]
    obs = await QuorumSource(sources).observe(REGION)
    assert obs.ok is False
    assert obs.reason.startswith("1/3 good (quorum 2)")


async def test_a_silent_source_that_could_still_make_the_quorum_is_no_evidence() -> None:
    sources = [Said("statuspage", None, "status page: http 503"), Said("probe", True, "http 200")]
    with pytest.raises(NoEvidence, match="undecided with 1 source"):
        await QuorumSource(sources, quorum=2).observe(REGION)


async def test_a_bad_answer_no_silent_source_could_outvote_is_evidence() -> None:
    sources = [
        Said("statuspage", None, "status page: http 503"),
        Said("probe", False, "http 503 (expected 200)"),
    ]
    obs = await QuorumSource(sources, quorum=2).observe(REGION)
    assert obs.ok is False
    assert "statuspage: no evidence (status page: http 503)" in obs.reason
    assert "probe: http 503 (expected 200)" in obs.reason


async def test_no_source_with_evidence_is_no_evidence() -> None:
    sources = [Said("a", None, "x"), Said("b", None, "y")]
    with pytest.raises(Throttled, match="no source gave evidence"):
        await QuorumSource(sources, quorum=1).observe(REGION)


async def test_every_source_answer_is_on_the_board_and_in_the_metrics() -> None:
    metrics = WatcherMetrics()
    board = SourceBoard(metrics)
    sources = [Said("statuspage", None, "status page: http 503"), Said("probe", True, "http 200", 42.0)]
    await QuorumSource(sources, quorum=1, board=board, clock=FakeClock()).observe(REGION)
    readings = {r.source: r.to_dict() for r in board.readings(REGION)}
    assert readings["probe"]["verdict"] == "good"
    assert readings["probe"]["latencyMs"] == 42.0
    assert readings["statuspage"]["verdict"] == "no_evidence"
    value = metrics.registry.get_sample_value
    assert value("failover_watcher_source_latency_seconds", {"region": REGION, "source": "probe"}) == 0.042
    assert value("failover_watcher_source_healthy", {"region": REGION, "source": "probe"}) == 1
    assert value("failover_watcher_source_healthy", {"region": REGION, "source": "statuspage"}) is None
    checks = "failover_watcher_source_checks_total"
    assert value(checks, {"region": REGION, "source": "statuspage", "result": "no_evidence"}) == 1
    assert value(checks, {"region": REGION, "source": "probe", "result": "healthy"}) == 1


async def test_the_board_lists_a_region_s_sources_in_the_configured_order() -> None:
    board = SourceBoard()
    board.configure({REGION: ["statuspage", "probe"]})
    # The probe answers first; the board still lists the sources as configured.
    board.record(REGION, "probe", "probe", Observation(REGION, ok=True, at=1.0, reason="http 200"), 1.0)
    board.record(REGION, "statuspage", "statuspage", NoEvidence("status page: http 503"), 2.0)
    assert [r.source for r in board.readings(REGION)] == ["statuspage", "probe"]
    board.configure({REGION: ["probe"]})
    assert [r.source for r in board.readings(REGION)] == ["probe"]
