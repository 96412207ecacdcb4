"""The status page source (SPEC §6.1): each region's component judged in one shared document,
fetched once per interval over real HTTP from the simulator; a failed fetch is no evidence."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from tests.health.conftest import COMPONENTS, DUBLIN, US_EAST, add_fault, served, set_component
from tests.support import FakeClock
from watcher.config import StatusPageSettings
from watcher.core import Observation
from watcher.core.hysteresis import RegionHealth, RegionState
from watcher.core.policy import Thresholds
from watcher.health import (
    Misconfigured,
    NoEvidence,
    QuorumSource,
    Reused,
    SourceBoard,
    StatusDocument,
    StatusPageFeed,
    StatusPageSource,
    judge_component,
)
from watcher.metrics import WatcherMetrics
from watcher.sim import RunningSimulator, StatusPage

pytestmark = pytest.mark.anyio


def _document(page: StatusPage) -> StatusDocument:
    return StatusDocument.model_validate(page.components_document("http://status.example"))


def _page() -> StatusPage:
    page = StatusPage()
    for service in ("Voice", "Chat"):
        page.set(f"{US_EAST} - {service}", "operational", group=US_EAST)
    page.set("Standalone", "operational")
    return page


@pytest.mark.parametrize(
    ("status", "degraded", "maintenance", "ok"),
    [
        ("operational", "good", "good", True),
        ("degraded_performance", "good", "good", True),
        ("degraded_performance", "bad", "good", False),
        ("under_maintenance", "good", "good", True),
        ("under_maintenance", "good", "bad", False),
        ("partial_outage", "good", "good", False),
        ("major_outage", "good", "good", False),
    ],
)
def test_a_component_status_is_judged_per_the_policy(
    status: str, degraded: str, maintenance: str, ok: bool
) -> None:
    page = _page()
    page.set("Standalone", status)
    verdict = judge_component(_document(page), "Standalone", degraded=degraded, maintenance=maintenance)
    assert verdict.ok is ok
    assert verdict.reason == f"component 'Standalone' {status}"


def test_a_group_is_bad_when_any_child_is_and_names_it() -> None:
    page = _page()
    assert judge_component(_document(page), US_EAST).ok is True
    page.set(f"{US_EAST} - Chat", "partial_outage", group=US_EAST)
    verdict = judge_component(_document(page), US_EAST)
    assert verdict.ok is False
    assert verdict.reason == f"component {US_EAST!r}: '{US_EAST} - Chat' partial_outage"


def test_a_group_names_at_most_three_failing_children() -> None:
    page = _page()
    for service in ("Voice", "Chat", "Email", "Video"):
        page.set(f"{US_EAST} - {service}", "major_outage", group=US_EAST)
    verdict = judge_component(_document(page), US_EAST)
    assert verdict.reason == (
        f"component {US_EAST!r}: '{US_EAST} - Voice' major_outage, '{US_EAST} - Chat' major_outage, "
        f"'{US_EAST} - Email' major_outage and 1 more"
    )


def test_a_group_with_a_degraded_child_follows_the_degraded_policy() -> None:
    page = _page()
    page.set(f"{US_EAST} - Voice", "degraded_performance", group=US_EAST)
    assert judge_component(_document(page), US_EAST, degraded="good").ok is True
    assert judge_component(_document(page), US_EAST, degraded="bad").ok is False


def test_a_component_is_found_by_id_as_well_as_by_name() -> None:
    page = _page()
    voice = page.set(f"{US_EAST} - Voice", "major_outage", group=US_EAST)
    verdict = judge_component(_document(page), voice.id)
    assert (verdict.ok, verdict.status) == (False, "major_outage")


def test_a_missing_component_is_misconfigured_no_evidence_naming_it() -> None:
    # SPEC §4.2 (it replaces the earlier rule that a missing component is bad): a typo or a rename on
    # the page says nothing about the region, and must never fail it over.
    with pytest.raises(Misconfigured) as caught:
        judge_component(_document(_page()), "Americas (US Eats)")
    assert isinstance(caught.value, NoEvidence)
    assert caught.value.result == "misconfigured"
    assert str(caught.value).startswith(
        "component 'Americas (US Eats)' is not on the status page (did you mean 'Americas (US East)'?)"
    )
    with pytest.raises(
        Misconfigured, match=r"^component 'Asia Pacific \(Tokyo\)' is not on the status page:"
    ):
        judge_component(_document(_page()), "Asia Pacific (Tokyo)")


def test_an_ambiguous_component_name_is_misconfigured() -> None:
    document = StatusDocument.model_validate(
        {
            "components": [
                {"id": "a", "name": "Twice", "status": "operational"},
                {"id": "b", "name": "Twice", "status": "major_outage"},
            ]
        }
    )
    with pytest.raises(
        Misconfigured, match="2 components have that name on the status page; configure its id"
    ):
        judge_component(document, "Twice")


def test_an_unknown_status_is_no_evidence() -> None:
    document = StatusDocument.model_validate({"components": [{"id": "a", "name": "A", "status": "exploded"}]})
    with pytest.raises(NoEvidence, match="unknown status 'exploded'"):
        judge_component(document, "A")


def _count(metrics: WatcherMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def _settings(url: str, **extra: object) -> StatusPageSettings:
    return StatusPageSettings(url=url, interval_seconds=30, timeout_seconds=2, **extra)  # type: ignore[arg-type]


async def test_the_page_is_fetched_once_per_interval_for_every_region(
    sim: RunningSimulator, admin: httpx.AsyncClient
) -> None:
    clock = FakeClock()
    regions = [f"region-{i}" for i in range(8)]
    async with httpx.AsyncClient() as http:
        feed = StatusPageFeed(_settings(sim.base_url + COMPONENTS), http, clock=clock)
        sources = [StatusPageSource(feed, US_EAST, clock=clock) for _ in regions]

        async def poll_all() -> None:
            async with anyio.create_task_group() as tg:
                for source, region in zip(sources, regions, strict=True):
                    tg.start_soon(_standing, source, region)  # fresh or reused, as a poll sees it

        await poll_all()
        assert served(sim, COMPONENTS) == 1
        clock.advance(29)
        await set_component(admin, f"{US_EAST} - Voice", "major_outage", group=US_EAST)
        await poll_all()
        assert served(sim, COMPONENTS) == 1  # the cached document, within the interval
        # Its verdict stands (good: the outage is not in the cached document), already counted.
        with pytest.raises(Reused) as reused:
            await sources[0].observe(regions[0])
        assert reused.value.observation.ok is True
        clock.advance(1)
        fresh = await sources[3].observe(regions[3])
        assert served(sim, COMPONENTS) == 2
        await poll_all()
        assert served(sim, COMPONENTS) == 2
        for obs in (fresh, await _standing(sources[5], regions[5])):
            assert obs.ok is False
            assert obs.reason == f"component {US_EAST!r}: '{US_EAST} - Voice' major_outage"
            assert obs.latency_ms is not None
        assert served(sim, COMPONENTS) == 2


async def _standing(source: StatusPageSource, region: str) -> Observation:
    """The verdict a source stands by, fresh or reused."""
    try:
        return await source.observe(region)
    except Reused as reused:
        return reused.observation


async def test_a_status_page_that_is_down_is_no_evidence_counted_and_not_retried_each_poll(
    sim: RunningSimulator, admin: httpx.AsyncClient
) -> None:
    clock, metrics = FakeClock(), WatcherMetrics()
    await add_fault(admin, path="components\\.json", status=503)
    async with httpx.AsyncClient() as http:
        feed = StatusPageFeed(_settings(sim.base_url + COMPONENTS), http, clock=clock, metrics=metrics)
        source = StatusPageSource(feed, DUBLIN, clock=clock)
        for _ in range(3):
            with pytest.raises(NoEvidence, match="status page: http 503"):
                await source.observe("eu-west-1")
        assert served(sim, COMPONENTS) == 1
        assert _count(metrics, "failover_watcher_statuspage_fetches_total", result="error") == 1
        await admin.delete("/_sim/faults")
        clock.advance(30)
        assert (await source.observe("eu-west-1")).ok is True
        assert _count(metrics, "failover_watcher_statuspage_fetches_total", result="success") == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        json.dumps({"page": {}}).encode(),
        json.dumps({"components": [{"id": 1}]}).encode(),
    ],
)
async def test_a_malformed_document_is_no_evidence_and_counted(body: bytes) -> None:
    metrics = WatcherMetrics()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        feed = StatusPageFeed(
            _settings("https://status.example/api/v2/components.json"), http, metrics=metrics
        )
        with pytest.raises(NoEvidence, match="malformed document"):
            await StatusPageSource(feed, US_EAST).observe("us-east-1")
    assert _count(metrics, "failover_watcher_statuspage_fetches_total", result="malformed") == 1
    assert _count(metrics, "failover_watcher_malformed_responses_total", endpoint="statuspage") == 1


async def test_a_status_page_that_hangs_is_no_evidence_within_its_timeout(
    sim: RunningSimulator, admin: httpx.AsyncClient
) -> None:
    await add_fault(admin, path="components\\.json", delayMs=3000)
    async with httpx.AsyncClient() as http:
        settings = StatusPageSettings(url=sim.base_url + COMPONENTS, interval_seconds=5, timeout_seconds=0.3)
        feed = StatusPageFeed(settings, http)
        with anyio.fail_after(2), pytest.raises(NoEvidence, match=r"no answer within 0\.3s"):
            await StatusPageSource(feed, US_EAST).observe("us-east-1")


def _value(metrics: WatcherMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_fall_counts_fetches_of_the_page_not_the_polls_between_them(
    sim: RunningSimulator, admin: httpx.AsyncClient
) -> None:
    """SPEC §4.2: `fall = 3` on a page fetched every 30 s means three fetches. Polled every 8 s (as
    in issue 19), the polls between two fetches reuse the verdict and move no counter."""
    clock = FakeClock()
    await set_component(admin, f"{US_EAST} - Voice", "major_outage", group=US_EAST)
    health = RegionHealth("us-east-1", state=RegionState.HEALTHY, since=clock())
    thresholds = Thresholds(fall=3, rise=3)
    async with httpx.AsyncClient() as http:
        feed = StatusPageFeed(_settings(sim.base_url + COMPONENTS), http, clock=clock)
        region = QuorumSource([StatusPageSource(feed, US_EAST, clock=clock)], clock=clock)
        counted: list[float] = []
        reused = 0
        standing: list[bool] = []
        unhealthy_at: float | None = None
        for _ in range(12):  # 0, 8, ..., 88 s
            try:
                obs = await region.observe("us-east-1")
            except Reused as exc:
                reused += 1
                standing.append(exc.observation.ok)  # the standing verdict, shown, not counted
            else:
                # As the scheduler does: only an observation reaches the hysteresis.
                counted.append(clock() - 1000)
                health, _ = health.observe(obs, thresholds, flap_window=600.0)
                if health.unhealthy and unhealthy_at is None:
                    unhealthy_at = clock() - 1000
            clock.advance(8)
    # Fetches at 0, 32 and 64 s (each when the cached document was 30 s old, or older).
    assert counted == [0, 32, 64]
    assert served(sim, COMPONENTS) == 3
    assert reused == 9
    assert standing == [False] * 9
    assert unhealthy_at == 64  # the third fetch, not the third poll (16 s)


async def test_a_rebuilt_source_does_not_count_the_same_document_again(
    sim: RunningSimulator,
) -> None:
    """A reload rebuilds the sources but keeps the feed: the document already counted stays counted."""
    clock = FakeClock()
    async with httpx.AsyncClient() as http:
        feed = StatusPageFeed(_settings(sim.base_url + COMPONENTS), http, clock=clock)
        assert (await StatusPageSource(feed, US_EAST, clock=clock).observe("us-east-1")).ok is True
        with pytest.raises(Reused):
            await StatusPageSource(feed, US_EAST, clock=clock).observe("us-east-1")
        # Another region judging the same component: its first sight of the document counts.
        assert (await StatusPageSource(feed, US_EAST, clock=clock).observe("eu-west-1")).ok is True


async def test_a_misconfigured_component_is_loud_on_the_board_and_never_bad(
    sim: RunningSimulator, admin: httpx.AsyncClient
) -> None:
    clock, metrics = FakeClock(), WatcherMetrics()
    board = SourceBoard(metrics)
    typo = "Americas (US Eats)"
    health = RegionHealth("us-east-1", state=RegionState.HEALTHY, since=clock())
    async with httpx.AsyncClient() as http:
        feed = StatusPageFeed(_settings(sim.base_url + COMPONENTS), http, clock=clock, metrics=metrics)
        region = QuorumSource([StatusPageSource(feed, typo, clock=clock)], board=board, clock=clock)
        for _ in range(5):
            with pytest.raises(
                Misconfigured, match=r"component 'Americas \(US Eats\)' is not on the status page"
            ):
                await region.observe("us-east-1")
            clock.advance(30)
        assert health.healthy  # nothing reached the hysteresis
        gauge = "failover_watcher_source_misconfigured"
        assert _value(metrics, gauge, region="us-east-1", source="statuspage") == 1
        (reading,) = board.readings("us-east-1")
        shown = reading.to_dict()
        assert shown["misconfigured"] is True
        assert shown["verdict"] == "no_evidence"
        assert (
            "'Americas (US Eats)' is not on the status page (did you mean 'Americas (US East)'?)"
            in shown["reason"]
        )
        assert [r.source for _, r in board.misconfigured()] == ["statuspage"]
        assert (
            _value(metrics, "failover_watcher_source_healthy", region="us-east-1", source="statuspage")
            is None
        )

        # The page gains the component (or the config is fixed): evidence again, and the gauge says 0.
        await set_component(admin, typo, "operational")
        obs = await region.observe("us-east-1")
        assert obs.ok is True
        assert _value(metrics, gauge, region="us-east-1", source="statuspage") == 0
        assert board.readings("us-east-1")[0].to_dict()["misconfigured"] is False
        assert board.misconfigured() == []
