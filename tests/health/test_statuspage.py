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
from watcher.health import NoEvidence, StatusDocument, StatusPageFeed, StatusPageSource, judge_component
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


def test_a_missing_component_is_bad_and_says_so() -> None:
    verdict = judge_component(_document(_page()), "Asia Pacific (Tokyo)")
    assert verdict.ok is False
    assert verdict.reason == "component 'Asia Pacific (Tokyo)' missing from the status page"


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
                    tg.start_soon(source.observe, region)

        await poll_all()
        assert served(sim, COMPONENTS) == 1
        clock.advance(29)
        await set_component(admin, f"{US_EAST} - Voice", "major_outage", group=US_EAST)
        await poll_all()
        assert served(sim, COMPONENTS) == 1  # the cached document, within the interval
        assert (await sources[0].observe(regions[0])).ok is True
        clock.advance(1)
        await poll_all()
        assert served(sim, COMPONENTS) == 2
        obs = await sources[3].observe(regions[3])
        assert obs.ok is False
        assert obs.reason == f"component {US_EAST!r}: '{US_EAST} - Voice' major_outage"
        assert obs.latency_ms is not None
        assert served(sim, COMPONENTS) == 2


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
