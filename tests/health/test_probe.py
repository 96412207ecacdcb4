"""The probe source (SPEC §6.1) over real HTTP against the simulator: the authenticated GET of
`/api/v2/date`, its median latency over a window, unexpected statuses, and the blackout rule."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.health.conftest import COMPONENTS, add_fault, served
from watcher.config import GenesysSettings, ProbeSourceSettings
from watcher.genesys import GenesysClient, RequestBudget
from watcher.health import ProbeSource, Throttled, Unreachable
from watcher.metrics import WatcherMetrics
from watcher.sim import RunningSimulator

pytestmark = pytest.mark.anyio

DATE = "/api/v2/date"


def _genesys(base_url: str) -> GenesysSettings:
    return GenesysSettings(
        api_base_url=base_url,
        login_base_url=base_url,
        client_id="sim-client",
        requests_per_minute=6000,
        max_retries=0,
        request_timeout_seconds=2,
    )


@pytest.fixture
async def client(sim: RunningSimulator) -> AsyncIterator[GenesysClient]:
    async with GenesysClient(_genesys(sim.base_url), SecretStr("sim-secret"), metrics=WatcherMetrics()) as c:
        yield c


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as plain:
        yield plain


ProbeFactory = Callable[..., ProbeSource]


@pytest.fixture
def probe(client: GenesysClient, http: httpx.AsyncClient) -> ProbeFactory:
    def build(url: str | None = None, timeout: float = 1.0, **settings: Any) -> ProbeSource:
        spec = ProbeSourceSettings(kind="probe", **settings)
        return ProbeSource(spec, url or client.url("date"), timeout=timeout, client=client, http=http)

    return build


async def test_a_token_probe_of_the_api_host_is_good_and_counted_in_the_api_budget(
    sim: RunningSimulator, client: GenesysClient, probe: ProbeFactory
) -> None:
    obs = await probe(max_latency_ms=1000).observe("us-east-1")
    assert obs.ok is True, obs.reason
    assert obs.latency_ms is not None
    assert obs.latency_ms < 1000
    assert obs.reason.startswith("http 200 in ")
    assert "median" in obs.reason
    # Sent with the token: the simulator answered 200 (it refuses /api/ calls without one).
    assert [r.status for r in sim.state.requests_since(None) if r.path == DATE] == [200]
    assert client.metrics is not None
    assert (
        client.metrics.registry.get_sample_value(
            "failover_watcher_api_requests_total", {"endpoint": "probe", "code": "200"}
        )
        == 1
    )


async def test_a_median_latency_above_the_threshold_is_bad_and_says_by_how_much(
    admin: httpx.AsyncClient, probe: ProbeFactory
) -> None:
    source = probe(max_latency_ms=150, latency_window=3)
    for _ in range(3):
        assert (await source.observe("us-east-1")).ok is True
    await add_fault(admin, path=f"^{DATE}$", delayMs=300)
    # One slow answer in a window of three: the median is still a fast one.
    first = await source.observe("us-east-1")
    assert first.ok is True, first.reason
    assert first.latency_ms is not None
    assert first.latency_ms >= 300
    second = await source.observe("us-east-1")
    assert second.ok is False
    assert "of the last 3 above max_latency_ms 150" in second.reason, second.reason
    median = int(second.reason.split("median ")[1].split("ms")[0])
    assert median >= 300
    assert second.failure is None  # an answer, judged slow: not a timeout
    await admin.delete("/_sim/faults")
    await source.observe("us-east-1")
    assert (await source.observe("us-east-1")).ok is True


async def test_a_status_outside_expect_status_is_bad(admin: httpx.AsyncClient, probe: ProbeFactory) -> None:
    await add_fault(admin, path=f"^{DATE}$", status=503)
    obs = await probe().observe("us-east-1")
    assert (obs.ok, obs.reason) == (False, "http 503 (expected 200)")
    accepting = probe(expect_status=[200, 503])
    assert (await accepting.observe("us-east-1")).ok is True


async def test_a_probe_timeout_is_bad_when_the_api_host_answers_other_calls(
    admin: httpx.AsyncClient, probe: ProbeFactory
) -> None:
    # Only the probe's own URL hangs; the reachability check (the configured date path) answers.
    await add_fault(admin, path="^/api/v2/date/slow$", delayMs=2000)
    source = probe(url=None)
    source.url = source.url + "/slow"
    obs = await source.observe("us-east-1")
    assert (obs.ok, obs.failure, obs.reason) == (False, "timeout", "timeout after 1s")


async def test_a_throttled_probe_is_no_evidence(admin: httpx.AsyncClient, probe: ProbeFactory) -> None:
    await add_fault(admin, path=f"^{DATE}$", status=429, retryAfter=1)
    with pytest.raises(Throttled):
        await probe().observe("us-east-1")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_losing_the_api_host_is_no_evidence_and_marks_it_unreachable(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    # The login host (the simulator) gives a token; the API host is gone.
    settings = _genesys(sim.base_url).model_copy(
        update={"api_base_url": f"http://127.0.0.1:{_closed_port()}"}
    )
    async with GenesysClient(settings, SecretStr("sim-secret")) as client:
        spec = ProbeSourceSettings(kind="probe")
        source = ProbeSource(spec, client.url("date"), timeout=0.5, client=client, http=http)
        with pytest.raises(Unreachable, match="not evidence about us-east-1"):
            await source.observe("us-east-1")
        assert client.reachability.reachable is False


async def test_a_plain_probe_of_another_host_is_outside_the_api_budget(
    sim: RunningSimulator, client: GenesysClient, probe: ProbeFactory
) -> None:
    # 127.0.0.1 and localhost: another origin than the API host, as far as the probe knows.
    url = sim.base_url.replace("127.0.0.1", "localhost") + COMPONENTS
    obs = await probe(url=url, auth="none").observe("us-east-1")
    assert obs.ok is True, obs.reason
    assert served(sim, COMPONENTS) == 1
    assert client.metrics is not None
    assert (
        client.metrics.registry.get_sample_value(
            "failover_watcher_api_requests_total", {"endpoint": "probe", "code": "200"}
        )
        is None
    )


async def test_a_plain_probe_of_another_host_that_is_down_is_bad(probe: ProbeFactory) -> None:
    url = f"http://localhost:{_closed_port()}/ping"
    obs = await probe(url=url, auth="none").observe("us-east-1")
    assert (obs.ok, obs.failure) == (False, "error"), obs.reason
    assert obs.reason == "request failed (ConnectError)"


async def test_a_plain_probe_of_the_api_host_is_in_the_api_budget_and_sends_no_token(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    budget = RequestBudget(6000, clock=lambda: 0.0)  # time stands still: nothing refills
    async with GenesysClient(_genesys(sim.base_url), SecretStr("sim-secret"), budget=budget) as client:
        spec = ProbeSourceSettings(kind="probe", auth="none", expect_status=[401])
        source = ProbeSource(spec, client.url("date"), timeout=1.0, client=client, http=http)
        before = budget.available
        obs = await source.observe("us-east-1")
    # No token: the simulator refuses the call, and that answer is what the probe judges.
    assert obs.ok is True, obs.reason
    assert obs.reason.startswith("http 401 in ")
    assert [r.status for r in sim.state.requests_since(None) if r.path == DATE] == [401]
    assert budget.available == before - 1
