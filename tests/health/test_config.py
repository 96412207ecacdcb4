"""`[statuspage]` and `[[regions.health]]` (SPEC §6.1): defaults, one line per problem naming its key,
and `config/platform.toml` against the simulator with only its base URLs overridden."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.health.conftest import DUBLIN, US_EAST, served
from tests.integration._support import run_cli
from watcher.config import (
    ConfigError,
    ProbeSourceSettings,
    RegionHealthSourceSettings,
    StatusPageSourceSettings,
    load_config,
)
from watcher.sim import RunningSimulator

PLATFORM = Path(__file__).parents[2] / "config" / "platform.toml"

BASE = """
[genesys]
api_base_url = "http://127.0.0.1:8080"
login_base_url = "http://127.0.0.1:8080"
client_id = "sim-client"
client_secret = "sim-secret"

[health]
interval_seconds = 5.0
timeout_seconds = 2.0

[[strategies]]
id = "strategy-1"
regions = ["us-east-1", "eu-west-1"]

[[regions]]
id = "eu-west-1"
"""

US_EAST_SOURCES = """
[[regions]]
id = "us-east-1"
quorum = 2
[[regions.health]]
kind = "statuspage"
component = "Americas (US East)"
[[regions.health]]
kind = "probe"
max_latency_ms = 1500
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


Write = Callable[[str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def _write(text: str) -> Path:
        path = tmp_path / "watcher.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def test_a_region_without_sources_is_watched_by_region_health_and_the_defaults(write: Write) -> None:
    cfg = load_config(write(BASE + US_EAST_SOURCES))
    plain = next(r for r in cfg.regions if r.id == "eu-west-1")
    assert (plain.health, plain.quorum) == ([], None)
    region = next(r for r in cfg.regions if r.id == "us-east-1")
    page, probe = region.health
    assert isinstance(page, StatusPageSourceSettings)
    assert page.component == US_EAST
    assert isinstance(probe, ProbeSourceSettings)
    assert (probe.url, probe.auth, probe.expect_status, probe.latency_window) == (None, "token", [200], 3)
    sp = cfg.statuspage
    assert sp.url == "https://status.mypurecloud.com/api/v2/components.json"
    assert (sp.interval_seconds, sp.degraded, sp.maintenance) == (30.0, "good", "good")


def test_an_explicit_region_health_source(write: Write) -> None:
    text = BASE + US_EAST_SOURCES + '[[regions.health]]\nkind = "region-health"\n'
    sources = load_config(write(text)).regions[1].health
    assert isinstance(sources[2], RegionHealthSourceSettings)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('kind = "probe"', 'kind = "ping"'),
            "regions[1].health[1].kind: unknown source kind 'ping' (one of region-health, statuspage, probe)",
        ),
        (
            ('kind = "probe"\n', ""),
            "regions[1].health[1].kind: missing (one of region-health, statuspage, probe)",
        ),
        (
            ("quorum = 2", "quorum = 3"),
            "regions[1].quorum: 3 must be between 1 and the number of health sources",
        ),
        (
            ("quorum = 2", "quorum = 0"),
            "regions[1].quorum: 0 must be between 1 and the number of health sources",
        ),
        (('component = "Americas (US East)"\n', ""), "regions[1].health[0].component: missing"),
        (("max_latency_ms = 1500", "max_latency = 1500"), "regions[1].health[1].max_latency: unknown key"),
        (
            ("max_latency_ms = 1500", "max_latency_ms = 0"),
            "regions[1].health[1].max_latency_ms: Input should be",
        ),
        (
            ("max_latency_ms = 1500", "expect_status = []"),
            "regions[1].health[1].expect_status: List should have",
        ),
        (
            ("max_latency_ms = 1500", 'url = "https://example.com/ping"'),
            "regions[1].health[1].auth: 'token' would send the watcher's token to example.com, not the API "
            "host 127.0.0.1:8080",
        ),
        (
            ("max_latency_ms = 1500", "timeout_seconds = 5"),
            "regions[1].health[1].timeout_seconds: 5 must be below health.interval_seconds (5)",
        ),
        (
            ("max_latency_ms = 1500", 'name = "statuspage"'),
            "regions[1].health[1].name: duplicate source name",
        ),
        (
            # SPEC §4.2: a threshold at or above the timeout could never say "bad".
            ("max_latency_ms = 1500", "max_latency_ms = 2000"),
            "regions[1].health[1].max_latency_ms: 2000 must be below the probe's timeout (2000 ms, "
            "health.timeout_seconds = 2)",
        ),
        (
            ("max_latency_ms = 1500", "max_latency_ms = 1500\ntimeout_seconds = 1"),
            "regions[1].health[1].max_latency_ms: 1500 must be below the probe's timeout (1000 ms, "
            "regions[1].health[1].timeout_seconds = 1)",
        ),
    ],
)
def test_a_bad_source_is_one_line_naming_its_key(
    write: Write, change: tuple[str, str], expected: str
) -> None:
    text = BASE + US_EAST_SOURCES.replace(*change)
    problems = problems_of(write(text))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_a_statuspage_source_needs_a_statuspage_url(write: Write) -> None:
    problems = problems_of(write(BASE + US_EAST_SOURCES + '\n[statuspage]\nurl = ""\n'))
    assert problems == ["regions[1].health[0]: a statuspage source needs [statuspage] url (it is empty)"]


def test_statuspage_section_errors_name_their_key(write: Write) -> None:
    text = BASE + '\n[statuspage]\nurl = "ftp://status"\ndegraded = "meh"\n' + US_EAST_SOURCES
    problems = problems_of(write(text))
    assert problems == ["statuspage.degraded: Input should be 'good' or 'bad'"]
    fixed = text.replace('degraded = "meh"\n', "").replace(
        "[statuspage]\n", "[statuspage]\ntimeout_seconds = 40\n"
    )
    assert problems_of(write(fixed)) == [
        "statuspage.timeout_seconds: 40 must be below statuspage.interval_seconds (30)",
        "statuspage.url: 'ftp://status' is not an http(s) URL",
    ]


def test_token_probes_count_in_the_request_budget_and_the_status_page_does_not(write: Write) -> None:
    # eu-west-1: region-health (1 call); us-east-1: the status page (none) and a token probe (1).
    text = BASE.replace("interval_seconds = 5.0", "interval_seconds = 2.5") + US_EAST_SOURCES
    text = text.replace(
        'client_secret = "sim-secret"', 'client_secret = "sim-secret"\nrequests_per_minute = 60'
    )
    assert load_config(write(text)).health.interval_seconds == 2.5  # 2 calls per 2.5 s = 48/min <= 80 % of 60
    extra = '[[regions.health]]\nkind = "region-health"\n'
    problems = problems_of(write(text + extra))
    assert problems == [
        "health.interval_seconds: 2 regions (3 API health calls) every 2.5s need 72 requests/min, more "
        "than 80% of genesys.requests_per_minute=60; the smallest interval that fits is 3.75s"
    ]


def _platform_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim_url: str) -> None:
    """The simulator's base URLs and credentials; secrets from a credentials directory, as systemd gives."""
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "client_secret").write_text("sim-secret\n", encoding="utf-8")
    (creds / "admin_token").write_text("a-test-admin-token-0123456789\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("WATCHER_GENESYS__API_BASE_URL", sim_url)
    monkeypatch.setenv("WATCHER_GENESYS__LOGIN_BASE_URL", sim_url)
    monkeypatch.setenv("WATCHER_GENESYS__CLIENT_ID", "sim-client")
    monkeypatch.setenv("WATCHER_STATUSPAGE__URL", sim_url + "/api/v2/components.json")


def test_platform_toml_loads_with_only_the_base_urls_overridden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _platform_environment(monkeypatch, tmp_path, "http://127.0.0.1:8080")
    cfg = load_config(PLATFORM)
    assert cfg.genesys.api_url == "http://127.0.0.1:8080"
    assert cfg.statuspage.url == "http://127.0.0.1:8080/api/v2/components.json"
    assert cfg.client_secret().get_secret_value() == "sim-secret"
    for region in cfg.regions:
        assert [s.kind for s in region.health] == ["statuspage", "probe"]
        assert region.quorum == 2
    # As written, it points at the public platform.
    monkeypatch.delenv("WATCHER_GENESYS__API_BASE_URL")
    monkeypatch.delenv("WATCHER_STATUSPAGE__URL")
    public = load_config(PLATFORM)
    assert public.genesys.api_url == "https://api.mypurecloud.com"
    assert public.statuspage.url == "https://status.mypurecloud.com/api/v2/components.json"


@pytest.mark.anyio
async def test_the_regions_command_shows_every_source_of_platform_toml_against_the_simulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim: RunningSimulator, admin: httpx.AsyncClient
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    _platform_environment(monkeypatch, tmp_path, sim.base_url)

    result = await run_cli("regions", "--config", str(PLATFORM), "--json")
    assert result.code == 0, result.err
    rows = {row["id"]: row for row in json.loads(result.out)["regions"]}
    for region, component in (("us-east-1", US_EAST), ("eu-west-1", DUBLIN)):
        row = rows[region]
        assert row["healthy"] is True
        assert row["quorum"] == 2
        sources = {s["source"]: s for s in row["sources"]}
        assert set(sources) == {"statuspage", "probe"}
        assert sources["statuspage"]["verdict"] == "good"
        assert sources["statuspage"]["reason"].startswith(f"component {component!r}")
        assert sources["probe"]["verdict"] == "good"
        assert sources["probe"]["latencyMs"] > 0
    assert served(sim, "/api/v2/components.json") == 1  # one fetch for both regions

    response = await admin.put(f"/_sim/status/components/{quote(DUBLIN)}", json={"status": "major_outage"})
    assert response.status_code == 200
    table = await run_cli("regions", "--config", str(PLATFORM))
    assert table.code == 1, table.err
    eu = "\n".join(
        line for line in table.out.splitlines() if "eu-west-1" in line or "statuspage: bad" in line
    )
    assert "statuspage: bad" in eu, table.out
    assert "unhealthy" in eu, table.out


def _typo(tmp_path: Path) -> Path:
    """config/platform.toml with the typo of issue 19 in the us-east-1 component."""
    text = PLATFORM.read_text(encoding="utf-8")
    assert text.count(f'component = "{US_EAST}"') == 1
    path = tmp_path / "typo.toml"
    path.write_text(text.replace(f'component = "{US_EAST}"', 'component = "Americas (US Eats)"'), "utf-8")
    return path


TYPO_NAMED = "component 'Americas (US Eats)' is not on the status page (did you mean 'Americas (US East)'?)"


@pytest.mark.anyio
async def test_check_config_online_exits_1_naming_a_component_the_page_does_not_hold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim: RunningSimulator
) -> None:
    _platform_environment(monkeypatch, tmp_path, sim.base_url)
    typo = _typo(tmp_path)
    offline = await run_cli("check-config", "--config", str(typo))
    assert offline.code == 0, offline.err  # the file is valid: only the page can tell
    online = await run_cli("check-config", "--config", str(typo), "--online")
    assert online.code == 1, online.err
    assert f"{typo}: valid, but 1 problem online" in online.err
    assert f"regions[0].health[0].component (region us-east-1): {TYPO_NAMED}" in online.err
    assert "EMEA (Dublin)" not in online.err
    assert served(sim, "/api/v2/components.json") == 1

    good = await run_cli("check-config", "--config", str(PLATFORM), "--online")
    assert good.code == 0, good.err
    assert good.err.strip().endswith(f"{PLATFORM}: OK")


@pytest.mark.anyio
async def test_check_config_online_says_when_the_page_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim: RunningSimulator, admin: httpx.AsyncClient
) -> None:
    _platform_environment(monkeypatch, tmp_path, sim.base_url)
    (await admin.put("/_sim/faults", json={"path": "components", "status": 503})).raise_for_status()
    result = await run_cli("check-config", "--config", str(PLATFORM), "--online")
    assert result.code == 1, result.err
    assert (
        f"statuspage.url: {sim.base_url}/api/v2/components.json could not be read: status page: http 503"
        in (result.err)
    )


@pytest.mark.anyio
async def test_the_regions_command_exits_1_naming_a_misconfigured_component(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim: RunningSimulator
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    _platform_environment(monkeypatch, tmp_path, sim.base_url)
    typo = _typo(tmp_path)
    result = await run_cli("regions", "--config", str(typo), "--json")
    assert result.code == 1, result.err
    assert f"region us-east-1, source statuspage: misconfigured: {TYPO_NAMED}" in result.err
    rows = {row["id"]: row for row in json.loads(result.out)["regions"]}
    us = rows["us-east-1"]
    assert (us["healthy"], us["misconfigured"]) == (False, ["statuspage"])
    page = next(s for s in us["sources"] if s["source"] == "statuspage")
    assert (page["verdict"], page["misconfigured"]) == ("no_evidence", True)
    assert TYPO_NAMED in page["reason"]
    assert (rows["eu-west-1"]["healthy"], rows["eu-west-1"]["misconfigured"]) == (True, [])

    table = await run_cli("regions", "--config", str(typo))
    assert table.code == 1
    assert "statuspage: misconfigured" in table.out, table.out
    assert "Americas (US Eats)" in table.out, table.out
