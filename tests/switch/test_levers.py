"""Sites, IVRs and data actions following a strategy (SPEC §6.2.1), driven through the one write
sequence (`Followers.follow`) against the real simulator over loopback HTTP. The hostile cases
first: media regions the strategy does not know or lacks, a restart and a change of leader while
failed over, a flow that does not exist, an edit between read and patch, a read without config,
a secret in a URL template."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from tests.daemon._parts import PRIMARY, S1, SECONDARY, Gate, Rig, running_rig
from watcher.config import DataActionSettings, IvrSettings, SiteSettings, WatcherConfig
from watcher.config._checks import cross_check
from watcher.events import read_trail
from watcher.switch import FollowerKinds, FollowerMemory, Followers, WritePolicy
from watcher.switch.levers import DataActionFollower, IvrFollower, SiteFollower

pytestmark = pytest.mark.anyio

SITE, IVR, ACTION = "site-1", "ivr-main", "action-1"
FLOWS = {PRIMARY: "flow-use1", SECONDARY: "flow-euw1"}
URLS = {
    PRIMARY: "https://use1.backend.example.com/customers/${input.customerId}",
    SECONDARY: "https://euw1.backend.example.com/customers/${input.customerId}",
}
SECRET = "s3cr3t-api-key-value"


class SharedStore:
    """The leader backend's shared state (etcd in production): one dict every instance sees."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def load_shared(self, name: str) -> str | None:
        return self.values.get(name)

    async def save_shared(self, name: str, value: str) -> None:
        self.values[name] = value


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path) as r:
        yield r


def followers(
    rig: Rig,
    *,
    sites: Sequence[SiteSettings] = (),
    ivrs: Sequence[IvrSettings] = (),
    data_actions: Sequence[DataActionSettings] = (),
    memory: FollowerMemory | None = None,
    gate: Gate | None = None,
) -> Followers:
    kinds = FollowerKinds(rig.client, memory=memory, preference=lambda strategy: [PRIMARY, SECONDARY])
    return Followers(
        kinds,
        (),
        sites=sites,
        ivrs=ivrs,
        data_actions=data_actions,
        gate=gate or Gate(),
        metrics=rig.metrics,
        trail=rig.trail,
        policy=WritePolicy(attempts=3, clock=rig.clock),
        preferred=lambda strategy: PRIMARY,
    )


def site(rig: Rig) -> dict[str, Any]:
    return rig.sim.state.levers.sites[SITE]


def ivr(rig: Rig) -> dict[str, Any]:
    return rig.sim.state.levers.ivrs[IVR]


def action(rig: Rig) -> dict[str, Any]:
    return rig.sim.state.levers.actions[ACTION]


async def edit_site(rig: Rig, **changes: Any) -> None:
    body = {k: v for k, v in site(rig).items() if k not in ("version", "selfUri")}
    answer = await rig.admin.put(f"/_sim/sites/{SITE}", json={**body, **changes})
    assert answer.status_code == 200, answer.text


SITE_1 = SiteSettings(id=SITE, strategy=S1)


# --------------------------------------------------------------------------------- sites


async def test_a_region_the_strategy_does_not_know_keeps_its_place_at_the_end(rig: Rig) -> None:
    await edit_site(rig, mediaRegions=["us-east-1", "ap-south-1", "eu-west-1", "ap-northeast-1"])
    before = dict(site(rig))

    followed = await followers(rig, sites=[SITE_1]).follow(S1, SECONDARY)

    assert followed.complete, followed.errors
    after = site(rig)
    assert after["mediaRegions"] == ["eu-west-1", "us-east-1", "ap-south-1", "ap-northeast-1"]
    assert after["mediaRegionsUseLatencyBased"] is False  # failed over: latency-based off
    assert after["version"] == before["version"] + 1
    unchanged = {k for k in before if k not in ("mediaRegions", "mediaRegionsUseLatencyBased")}
    for key in unchanged - {"version", "dateModified", "modifiedBy"}:
        assert after[key] == before[key], key


async def test_a_site_that_lacks_a_region_of_the_strategy_is_refused_with_the_reason(rig: Rig) -> None:
    await edit_site(rig, mediaRegions=["us-east-1", "ap-south-1"])
    fs = followers(rig, sites=[SITE_1])

    followed = await fs.follow(S1, SECONDARY)

    assert not followed.complete
    (error,) = followed.errors
    assert "site site-1" in error
    assert "do not hold eu-west-1" in error
    assert rig.requests("PUT", "/api/v2/telephony/providers/edges/sites/") == []
    assert site(rig)["mediaRegions"] == ["us-east-1", "ap-south-1"]
    (shown,) = fs.describe()
    assert (shown["kind"], shown["result"]) == ("site", "failure")
    assert "do not hold eu-west-1" in shown["error"]
    failed = [r for r in read_trail(rig.trail.directory) if r.get("follower") == SITE]
    assert [(r["kind"], r["result"]) for r in failed] == [("site", "failure")]


async def test_a_restart_while_failed_over_restores_the_latency_flag(rig: Rig, tmp_path: Path) -> None:
    state = tmp_path / "state"
    await followers(rig, sites=[SITE_1], memory=FollowerMemory(state)).follow(S1, SECONDARY)
    assert site(rig)["mediaRegionsUseLatencyBased"] is False

    # A new process: nothing in memory but what the state dir kept.
    restarted = followers(rig, sites=[SITE_1], memory=FollowerMemory(state))
    followed = await restarted.follow(S1, PRIMARY)

    assert followed.complete, followed.errors
    assert site(rig)["mediaRegions"] == ["us-east-1", "eu-west-1"]
    assert site(rig)["mediaRegionsUseLatencyBased"] is True
    # Restored: nothing left to restore (a later failover keeps what the site says then).
    assert json.loads((state / "follower-memory.json").read_text())["strategies"] == {}


async def test_a_new_leader_restores_the_latency_flag_the_last_one_kept(rig: Rig, tmp_path: Path) -> None:
    shared = SharedStore()
    first = FollowerMemory(tmp_path / "a", shared)
    await followers(rig, sites=[SITE_1], memory=first).follow(S1, SECONDARY)
    assert site(rig)["mediaRegionsUseLatencyBased"] is False

    # Another instance, its own (empty) state dir, the same leader backend.
    second = followers(rig, sites=[SITE_1], memory=FollowerMemory(tmp_path / "b", shared))
    await second.follow(S1, PRIMARY)

    assert site(rig)["mediaRegionsUseLatencyBased"] is True


async def test_a_latency_flag_that_was_off_stays_off_and_a_second_failover_keeps_the_first_value(
    rig: Rig, tmp_path: Path
) -> None:
    memory = FollowerMemory(tmp_path / "state")
    fs = followers(rig, sites=[SITE_1], memory=memory)
    await fs.follow(S1, SECONDARY)
    await fs.follow(S1, SECONDARY)  # a repair while failed over: the False it wrote is not "the value"
    await fs.follow(S1, PRIMARY)
    assert site(rig)["mediaRegionsUseLatencyBased"] is True

    await edit_site(rig, mediaRegionsUseLatencyBased=False)
    await fs.follow(S1, SECONDARY)
    await fs.follow(S1, PRIMARY)
    assert site(rig)["mediaRegionsUseLatencyBased"] is False


# --------------------------------------------------------------------------------- IVRs


async def test_a_flow_that_does_not_exist_is_refused_and_named(rig: Rig) -> None:
    settings = IvrSettings(
        id=IVR, strategy=S1, open_hours_flows={PRIMARY: "flow-use1", SECONDARY: "flow-gone"}
    )
    fs = followers(rig, ivrs=[settings])

    followed = await fs.follow(S1, SECONDARY)

    (error,) = followed.errors
    assert "flow-gone" in error
    assert ivr(rig)["openHoursFlow"]["id"] == "flow-use1"
    checks = await IvrFollower(fs.kinds.platform, settings, fs.kinds.memory).readiness(SECONDARY)
    assert [(c.ok, c.reason) for c in checks] == [(False, "flow flow-gone does not exist")]


async def test_the_ivr_follows_the_region_and_takes_the_emergency_flow_while_all_down(rig: Rig) -> None:
    settings = IvrSettings(id=IVR, strategy=S1, open_hours_flows=FLOWS, emergency_flow="flow-emergency")
    fs = followers(rig, ivrs=[settings])
    before = dict(ivr(rig))

    await fs.follow(S1, SECONDARY)
    assert ivr(rig)["openHoursFlow"]["id"] == "flow-euw1"
    for key in ("dnis", "closedHoursFlow", "scheduleGroup", "name", "division"):
        assert ivr(rig)[key] == before[key]

    await fs.follow(S1, SECONDARY, all_down=True)
    assert ivr(rig)["openHoursFlow"]["id"] == "flow-emergency"
    await fs.follow(S1, PRIMARY)
    assert ivr(rig)["openHoursFlow"]["id"] == "flow-use1"


async def test_an_emergency_only_ivr_gets_its_own_flow_back_after_a_restart(rig: Rig, tmp_path: Path) -> None:
    settings = IvrSettings(id=IVR, strategy=S1, emergency_flow="flow-emergency")
    await followers(rig, ivrs=[settings], memory=FollowerMemory(tmp_path / "s")).follow(
        S1, SECONDARY, all_down=True
    )
    assert ivr(rig)["openHoursFlow"]["id"] == "flow-emergency"

    await followers(rig, ivrs=[settings], memory=FollowerMemory(tmp_path / "s")).follow(S1, SECONDARY)

    assert ivr(rig)["openHoursFlow"]["id"] == "flow-use1"


async def test_ivr_readiness_names_a_deleted_or_unpublished_flow(rig: Rig) -> None:
    for flow_id, body in (
        ("flow-euw1", {"name": "Main line (eu-west-1)", "type": "INBOUNDCALL", "deleted": True}),
        ("flow-emergency", {"name": "Emergency", "type": "INBOUNDCALL"}),
    ):
        answer = await rig.admin.put(f"/_sim/flows/{flow_id}", json=body)
        assert answer.status_code == 200, answer.text
    settings = IvrSettings(id=IVR, strategy=S1, open_hours_flows=FLOWS, emergency_flow="flow-emergency")
    follower = IvrFollower(followers(rig).kinds.platform, settings, FollowerMemory(None))

    checks = await follower.readiness(SECONDARY)

    assert [(c.check, c.ok, c.reason) for c in checks] == [
        ("ivr ivr-main open hours flow", False, "flow flow-euw1 is deleted"),
        ("ivr ivr-main emergency flow", False, "flow flow-emergency is not published"),
    ]
    assert [c.ok for c in await follower.readiness(PRIMARY)] == [True, False]


# --------------------------------------------------------------------------------- data actions


async def test_an_action_edited_between_read_and_patch_is_re_read_and_keeps_the_edit(rig: Rig) -> None:
    edited = False

    async def edit_after_the_first_read(request: httpx.Request, response: httpx.Response) -> None:
        nonlocal edited
        if request.method == "GET" and "/integrations/actions/" in request.url.path and not edited:
            edited = True
            body = {k: v for k, v in action(rig).items() if k not in ("version", "selfUri")}
            body["config"] = {**body["config"], "timeoutSeconds": 42}
            answer = await rig.admin.put(f"/_sim/dataactions/{ACTION}", json=body)
            assert answer.status_code == 200, answer.text

    rig.spy.hook = edit_after_the_first_read
    settings = DataActionSettings(id=ACTION, strategy=S1, request_url_templates=URLS)

    followed = await followers(rig, data_actions=[settings]).follow(S1, SECONDARY)

    assert followed.complete, followed.errors
    patches = [status for _, _, status in rig.requests("PATCH", "/api/v2/integrations/actions/")]
    assert patches == [409, 200]
    assert action(rig)["config"]["request"]["requestUrlTemplate"] == URLS[SECONDARY]
    assert action(rig)["config"]["timeoutSeconds"] == 42  # the edit, re-read and kept
    assert action(rig)["config"]["response"]["translationMap"] == {"tier": "$.tier"}


class WithoutIncludeConfig(httpx.AsyncBaseTransport):
    """Drops `includeConfig` from every data action read: the platform then answers no config."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "includeConfig" in request.url.params:
            params = request.url.params.remove("includeConfig")
            request = httpx.Request(
                request.method, request.url.copy_with(params=params), headers=request.headers
            )
        return await self.inner.handle_async_request(request)


async def test_an_action_read_without_its_config_is_never_patched(rig: Rig) -> None:
    rig.spy.inner = WithoutIncludeConfig(rig.spy.inner)
    settings = DataActionSettings(id=ACTION, strategy=S1, request_url_templates=URLS)
    fs = followers(rig, data_actions=[settings])
    before = dict(action(rig))

    followed = await fs.follow(S1, SECONDARY)
    with pytest.raises(Exception, match="no config"):
        await fs.fence(S1)

    (error,) = followed.errors
    assert "data action action-1: the answer has no config" in error
    assert "not patched" in error
    assert rig.requests("PATCH") == []
    assert action(rig) == before
    checks = await DataActionFollower(fs.kinds.platform, settings).readiness(SECONDARY)
    assert [c.ok for c in checks] == [False]


async def test_a_secret_in_a_url_template_is_never_logged_audited_or_shown(rig: Rig, tmp_path: Path) -> None:
    urls = {region: f"{url}?api_key={SECRET}&token={SECRET}" for region, url in URLS.items()}
    settings = DataActionSettings(id=ACTION, strategy=S1, request_url_templates=urls)
    fs = followers(rig, data_actions=[settings])
    # A failure too: its error text goes to the log, the audit trail and /status.
    # A server that echoes the URL it refused, in a 400 and in a 503 (retried in transit).
    echo = f"requestUrlTemplate {urls[SECONDARY]} is not allowed (api_key {SECRET})"
    await rig.fault(path="/integrations/actions/", method="PATCH", status=503, message=echo, count=1)
    await rig.fault(path="/integrations/actions/", method="PATCH", status=400, message=echo, count=1)

    with structlog.testing.capture_logs() as logs:
        failed = await fs.follow(S1, SECONDARY)
        shown_failed = json.dumps(fs.describe())
        done = await fs.follow(S1, SECONDARY)

    assert not failed.complete
    assert done.complete
    assert "is not allowed" in failed.errors[0]  # the server's word, without the secret
    assert action(rig)["config"]["request"]["requestUrlTemplate"] == urls[SECONDARY]  # written in full
    shown = json.dumps(fs.describe())
    assert "?[redacted]" in shown
    trail = (tmp_path / "state").glob("audit*")
    everything = [json.dumps(logs, default=str), shown, shown_failed, *failed.errors]
    everything += [p.read_text() for p in trail]
    for text in everything:
        assert SECRET not in text
    # The config check names a bad template without its query string.
    bad = {PRIMARY: f"ftp://use1.example.com/x?api_key={SECRET}", SECONDARY: urls[SECONDARY]}
    cfg = rig.cfg.model_copy(
        update={"data_actions": [DataActionSettings(id=ACTION, strategy=S1, request_url_templates=bad)]}
    )
    problems = problems_of(cfg)
    assert any("request_url_templates.us-east-1" in p and "is not an http(s) URL" in p for p in problems)
    assert all(SECRET not in p for p in problems)


def problems_of(cfg: WatcherConfig) -> list[str]:
    return cross_check(cfg)


# --------------------------------------------------------------------------------- fencing, regions said


async def test_a_new_leader_fences_each_lever_by_writing_it_back_unchanged(rig: Rig) -> None:
    settings = (
        SITE_1,
        IvrSettings(id=IVR, strategy=S1, open_hours_flows=FLOWS),
        DataActionSettings(id=ACTION, strategy=S1, request_url_templates=URLS),
    )
    gate = Gate()
    fs = followers(rig, sites=[settings[0]], ivrs=[settings[1]], data_actions=[settings[2]], gate=gate)
    before = (dict(site(rig)), dict(ivr(rig)), dict(action(rig)))

    await fs.fence(S1)
    assert await fs.region_said(S1) == PRIMARY

    for old, new in zip(before, (site(rig), ivr(rig), action(rig)), strict=True):
        assert new["version"] == old["version"] + 1
        for key in set(old) - {"version", "dateModified", "modifiedBy"}:
            assert new[key] == old[key], key
    assert gate.confirmed == [S1, S1, S1]
    (patch,) = [r for r in rig.sim.state.requests_since(None) if r.method == "PATCH"]
    assert patch.status == 200


async def test_site_readiness_needs_the_region_s_aws_region_in_the_media_regions(rig: Rig) -> None:
    settings = SiteSettings(id=SITE, strategy=S1, regions={SECONDARY: "eu-central-1"})
    follower = SiteFollower(
        followers(rig).kinds.platform, settings, FollowerMemory(None), lambda s: [PRIMARY]
    )

    (bad,) = await follower.readiness(SECONDARY)
    (good,) = await follower.readiness(PRIMARY)

    assert (bad.ok, bad.reason) == (
        False,
        "site site-1 mediaRegions ['us-east-1', 'eu-west-1'] do not hold eu-central-1",
    )
    assert (good.check, good.ok) == ("site site-1 media region us-east-1", True)
