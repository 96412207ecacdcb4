"""The TOML keys of SPEC §5, the environment overlay, secret files, and one clear line per problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from watcher.config import ConfigError, load_config

SECRET = "s3cr3t-MARKER-cfg-31"

FULL = f"""
[genesys]
environment = "mypurecloud.ie"
api_base_url = "http://127.0.0.1:8080"
login_base_url = "http://127.0.0.1:8080"
client_id = "watcher-client"
client_secret = "{SECRET}"
requests_per_minute = 300

[health]
interval_seconds = 5.0
timeout_seconds = 2.0
fall = 2
rise = 3
max_sync_interval_seconds = 300

[failback]
mode = "manual"
hold_seconds = 90

[[regions]]
id = "us-east-1"

[[regions]]
id = "eu-west-1"

[[strategies]]
id = "strategy-1"
regions = ["us-east-1", "eu-west-1"]

[[rules]]
id = "rule-1"
strategy = "strategy-1"
targets = {{ "us-east-1" = "target-use1", "eu-west-1" = "target-euw1" }}

[[sinks]]
name = "event-mesh"
url = "https://mesh.example.com/ingest"
secret = "whsec_MARKER"

[server]
listen = "127.0.0.1:9464"

[state]
dir = "var/"
"""

MINIMAL = """
[genesys]
client_id = "watcher-client"
client_secret = "from-file"

[[strategies]]
id = "strategy-1"
regions = ["us-east-1", "eu-west-1"]
"""

Write = Callable[[str], Path]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def test_every_spec_key_loads(write_config: Write) -> None:
    cfg = load_config(write_config(FULL))
    g = cfg.genesys
    assert (g.environment, g.client_id, g.requests_per_minute) == ("mypurecloud.ie", "watcher-client", 300)
    assert g.api_url == g.login_url == "http://127.0.0.1:8080"
    assert cfg.client_secret().get_secret_value() == SECRET
    assert (cfg.health.interval_seconds, cfg.health.timeout_seconds) == (5.0, 2.0)
    assert (cfg.health.fall, cfg.health.rise, cfg.health.max_sync_interval_seconds) == (2, 3, 300)
    assert (cfg.failback.mode, cfg.failback.hold_seconds) == ("manual", 90)
    assert [r.id for r in cfg.regions] == ["us-east-1", "eu-west-1"]
    assert cfg.strategies[0].regions == ["us-east-1", "eu-west-1"]
    assert cfg.rules[0].targets == {"us-east-1": "target-use1", "eu-west-1": "target-euw1"}
    assert cfg.sinks[0].name == "event-mesh"
    assert [s.get_secret_value() for s in cfg.sink_secrets(cfg.sinks[0])] == ["whsec_MARKER"]
    assert cfg.server.host_port == ("127.0.0.1", 9464)
    assert cfg.state.dir == Path("var/")
    assert SECRET not in repr(cfg)
    assert SECRET not in str(cfg)


def test_environment_sets_both_base_urls(write_config: Write) -> None:
    cfg = load_config(
        write_config(MINIMAL.replace("[genesys]", '[genesys]\nenvironment = "usw2.pure.cloud"'))
    )
    assert cfg.genesys.api_url == "https://api.usw2.pure.cloud"
    assert cfg.genesys.login_url == "https://login.usw2.pure.cloud"
    assert cfg.region_ids() == ["us-east-1", "eu-west-1"]


def test_environment_variable_overrides_the_file(
    write_config: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHER_GENESYS__CLIENT_SECRET", "from-env")
    monkeypatch.setenv("WATCHER_HEALTH__FALL", "4")
    cfg = load_config(write_config(MINIMAL))
    assert cfg.client_secret().get_secret_value() == "from-env"
    assert cfg.health.fall == 4
    assert cfg.genesys.client_id == "watcher-client"  # the rest of the section still comes from the file


def test_client_secret_file_with_variable_expansion(
    write_config: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "genesys-secret").write_text(f"{SECRET}\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    text = MINIMAL.replace(
        'client_secret = "from-file"', 'client_secret_file = "${CREDENTIALS_DIRECTORY}/genesys-secret"'
    )
    cfg = load_config(write_config(text))
    assert cfg.client_secret().get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "genesys.client_secret_file: "),
        ("empty", "is empty"),
        ("both", "genesys.client_secret: give client_secret or client_secret_file, not both"),
        ("neither", "genesys.client_secret: missing"),
    ],
)
def test_secret_file_problems(write_config: Write, tmp_path: Path, setup: str, expected: str) -> None:
    secret_file = tmp_path / "secret"
    if setup == "empty":
        secret_file.write_text("\n", encoding="utf-8")
    lines = {
        "missing": f'client_secret_file = "{secret_file}"',
        "empty": f'client_secret_file = "{secret_file}"',
        "both": f'client_secret = "x"\nclient_secret_file = "{secret_file}"',
        "neither": "",
    }
    problems = problems_of(write_config(MINIMAL.replace('client_secret = "from-file"', lines[setup])))
    assert len(problems) == 1
    assert problems[0].startswith(expected) or expected in problems[0]


# Each broken config yields exactly one problem line that names the key.
CROSS_CHECKS = [
    (
        "[[rules]]",
        '[[strategies]]\nid = "strategy-2"\nregions = ["ap-south-9"]\n\n[[rules]]',
        "strategies[1].regions: unknown region 'ap-south-9'",
    ),
    (
        'targets = { "us-east-1" = "target-use1", "eu-west-1" = "target-euw1" }',
        'targets = { "us-east-1" = "target-use1" }',
        "rules[0].targets: no target for region(s) eu-west-1",
    ),
    ("fall = 2", "fall = 0", "health.fall: must be at least 1"),
    ("rise = 3", "rise = 0", "health.rise: must be at least 1"),
    ("timeout_seconds = 2.0", "timeout_seconds = 5.0", "health.timeout_seconds: 5.0 must be below"),
    (
        'api_base_url = "http://127.0.0.1:8080"',
        'api_base_url = "http://gateway.example.com"',
        "genesys.api_base_url: plain http to gateway.example.com refused",
    ),
    (
        'login_base_url = "http://127.0.0.1:8080"',
        'login_base_url = "ftp://127.0.0.1"',
        "genesys.login_base_url: 'ftp://127.0.0.1' is not an http(s) URL",
    ),
    (
        'url = "https://mesh.example.com/ingest"',
        'url = "http://mesh.example.com/ingest"',
        "sinks[0].url: plain http",
    ),
    (
        'strategy = "strategy-1"',
        'strategy = "strategy-9"',
        "rules[0].strategy: unknown strategy 'strategy-9'",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CROSS_CHECKS)
def test_cross_check_names_the_key(write_config: Write, old: str, new: str, expected: str) -> None:
    assert old in FULL
    problems = problems_of(write_config(FULL.replace(old, new)))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_http_to_loopback_is_allowed(write_config: Write, host: str) -> None:
    text = FULL.replace("http://127.0.0.1:8080", f"http://{host}:8080")
    assert load_config(write_config(text)).genesys.api_url == f"http://{host}:8080"


def test_budget_too_small_gives_the_smallest_interval_that_fits(write_config: Write) -> None:
    text = FULL.replace("requests_per_minute = 300", "requests_per_minute = 10")
    problems = problems_of(write_config(text))
    assert len(problems) == 1
    # 2 regions, 80 % of 10/min = 8 polls/min => one poll cycle every 15 s at the fastest.
    assert problems[0].startswith("health.interval_seconds: 2 regions every 5.0s need 24 requests/min")
    assert problems[0].endswith("the smallest interval that fits is 15.0s")
    fixed = text.replace("interval_seconds = 5.0", "interval_seconds = 15.0")
    assert load_config(write_config(fixed)).health.interval_seconds == 15.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            FULL.replace("[health]", "[health]\nintervall_seconds = 3"),
            "health.intervall_seconds: unknown key",
        ),
        (FULL + "\n[extra]\nx = 1\n", "extra: unknown key"),
        (
            FULL.replace('id = "us-east-1"\n', 'id = "us-east-1"\nzone = "a"\n', 1),
            "regions[0].zone: unknown key",
        ),
        (FULL.replace("fall = 2", 'fall = "two"'), "health.fall: "),
        (FULL.replace('mode = "manual"', 'mode = "sometimes"'), "failback.mode: "),
        (FULL.replace('client_id = "watcher-client"\n', ""), "genesys.client_id: missing"),
    ],
)
def test_type_problems_name_the_key(write_config: Write, text: str, expected: str) -> None:
    problems = problems_of(write_config(text))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def test_several_problems_are_reported_together(write_config: Write) -> None:
    text = (
        FULL.replace("fall = 2", "fall = 0")
        .replace("timeout_seconds = 2.0", "timeout_seconds = 9.0")
        .replace('regions = ["us-east-1", "eu-west-1"]', 'regions = ["us-east-1", "ap-south-9"]')
        .replace('api_base_url = "http://127.0.0.1:8080"', 'api_base_url = "http://10.0.0.5:8080"')
    )
    problems = problems_of(write_config(text))
    keys = sorted(p.split(":", 1)[0] for p in problems)
    assert keys == sorted(
        [
            "health.fall",
            "health.timeout_seconds",
            "strategies[0].regions",
            "genesys.api_base_url",
            "rules[0].targets",
        ]
    )
    assert all(SECRET not in p for p in problems)


def test_unreadable_or_invalid_files(
    write_config: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert problems_of(tmp_path / "absent.toml") == [f"--config: {tmp_path / 'absent.toml'} does not exist"]
    assert problems_of(tmp_path)[0].startswith(f"--config: {tmp_path} is not readable")
    assert "is not valid TOML" in problems_of(write_config("[genesys\n"))[0]
    monkeypatch.setenv("WATCHER_REGIONS", "not json")
    assert problems_of(write_config(MINIMAL))[0].startswith(
        'environment: error parsing value for field "regions"'
    )


def test_secret_values_never_appear_in_problems(write_config: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHER_GENESYS__CLIENT_SECRET", SECRET)
    text = MINIMAL.replace('client_secret = "from-file"', 'client_secret = ["not", "a", "string"]')
    text = text.replace("[[strategies]]", "[health]\nfall = 0\n\n[[strategies]]")
    problems = problems_of(write_config(text))
    assert problems == ["health.fall: must be at least 1 (got 0)"]


def test_environment_secret_overrides_a_secret_file_named_in_the_toml(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = FULL.replace(f'client_secret = "{SECRET}"', 'client_secret_file = "/nonexistent/secret"')
    monkeypatch.setenv("WATCHER_GENESYS__CLIENT_SECRET", "from-the-environment")
    cfg = load_config(write_config(text))
    assert cfg.client_secret().get_secret_value() == "from-the-environment"

    secret_file = tmp_path / "mounted"
    secret_file.write_text("from-a-mounted-file\n")
    monkeypatch.delenv("WATCHER_GENESYS__CLIENT_SECRET")
    monkeypatch.setenv("WATCHER_GENESYS__CLIENT_SECRET_FILE", str(secret_file))
    cfg = load_config(write_config(FULL))  # the TOML's inline secret yields to the env's file
    assert cfg.client_secret().get_secret_value() == "from-a-mounted-file"


GENESYS = '[genesys]\nclient_id = "c"\nclient_secret = "s"\n'


def test_an_empty_admin_token_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    for server in ('admin_token = ""', f'admin_token_file = "{empty}"'):
        config = tmp_path / "w.toml"
        config.write_text(GENESYS + f"[server]\n{server}\n")
        with pytest.raises(ConfigError) as caught:
            load_config(config)
        assert any(p.startswith("server.admin_token") for p in caught.value.problems), caught.value.problems


def test_a_lease_shorter_than_the_request_timeout_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text(
        GENESYS + 'request_timeout_seconds = 10\n[leader]\nbackend = "etcd"\nttl_seconds = 10\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert any(p.startswith("leader.ttl_seconds") for p in caught.value.problems)
    one = '[[regions]]\nid = "a"\n[[strategies]]\nid = "s"\nregions = ["a"]\n'
    config.write_text(GENESYS + '[leader]\nbackend = "etcd"\n' + one)
    load_config(config)  # the defaults pass
