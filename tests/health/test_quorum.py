"""A region's sources combined by a quorum (SPEC §6.1): a dissenting source does not move the
verdict, a silent one does not count against the region, and each source's answer is named."""

from __future__ import annotations

import pytest

from tests.support import FakeClock
from watcher.core import Observation
from watcher.health import Misconfigured, NoEvidence, QuorumSource, Reused, SourceBoard, Throttled
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


class Standing(Said):
    """A source whose verdict is one already counted (a status page between two fetches)."""

    async def observe(self, region: str) -> Observation:
        assert self.ok is not None
        raise Reused(Observation(region, ok=self.ok, at=0.5, reason=self.reason), "already counted")


async def test_a_stale_bad_page_and_a_fresh_good_probe_under_quorum_2_is_no_new_evidence() -> None:
    """SPEC §4.2: the verdict is "bad", decided by the stale answer alone: it moves no counter, however
    often the fresh probe is asked."""
    board = SourceBoard()
    sources = [
        Standing("statuspage", False, "component 'Americas (US East)' major_outage"),
        Said("probe", True, "http 200"),
    ]
    with pytest.raises(Reused) as caught:
        await QuorumSource(sources, quorum=2, board=board, clock=FakeClock()).observe(REGION)
    assert caught.value.observation.ok is False  # the verdict stands, for /status
    assert "statuspage: component 'Americas (US East)' major_outage (already counted)" in str(caught.value)
    shown = {r.source: r.to_dict() for r in board.readings(REGION)}
    assert (shown["statuspage"]["verdict"], shown["statuspage"]["fresh"]) == ("bad", False)
    assert (shown["probe"]["verdict"], shown["probe"]["fresh"]) == ("good", True)


async def test_a_fresh_answer_among_those_that_decided_is_evidence() -> None:
    # Fresh bad page, stale good probe: "bad", decided by the fresh page.
    obs = await QuorumSource(
        [Said("statuspage", False, "down"), Standing("probe", True, "ok")], quorum=2
    ).observe(REGION)
    assert obs.ok is False
    # Stale good page, fresh good probe: "good", and the probe that decided it is fresh.
    obs = await QuorumSource(
        [Standing("statuspage", True, "ok"), Said("probe", True, "ok")], quorum=2
    ).observe(REGION)
    assert obs.ok is True
    # Stale good page, fresh bad probe under quorum 2: "bad", decided by the fresh probe.
    obs = await QuorumSource(
        [Standing("statuspage", True, "ok"), Said("probe", False, "slow")], quorum=2
    ).observe(REGION)
    assert obs.ok is False


async def test_under_quorum_1_a_stale_good_page_decides_alone_and_is_no_new_evidence() -> None:
    sources = [Standing("statuspage", True, "operational"), Said("probe", False, "http 503")]
    with pytest.raises(Reused) as caught:
        await QuorumSource(sources, quorum=1).observe(REGION)
    assert caught.value.observation.ok is True


async def test_one_source_that_reuses_its_verdict_is_no_new_evidence() -> None:
    with pytest.raises(Reused):
        await QuorumSource([Standing("statuspage", False, "down")]).observe(REGION)


async def test_a_misconfigured_source_is_silent_not_bad() -> None:
    class Typo(Said):
        async def observe(self, region: str) -> Observation:
            raise Misconfigured("component 'Americas (US Eats)' is not on the status page")

    metrics = WatcherMetrics()
    board = SourceBoard(metrics)
    sources = [Typo("statuspage", None), Said("probe", True, "http 200")]
    # Under quorum 2 the silent page could still make the quorum: no evidence, never "bad".
    with pytest.raises(NoEvidence, match="undecided"):
        await QuorumSource(sources, quorum=2, board=board, clock=FakeClock()).observe(REGION)
    # Under quorum 1 the probe decides.
    assert (await QuorumSource(sources, quorum=1, board=board, clock=FakeClock()).observe(REGION)).ok is True
    value = metrics.registry.get_sample_value
    assert value("failover_watcher_source_misconfigured", {"region": REGION, "source": "statuspage"}) == 1
    reading = board.readings(REGION)[0].to_dict()
    assert reading["misconfigured"] is True
    assert "Americas (US Eats)" in reading["reason"]
