"""`failover-watcher dns-sync` as a process: a bad config is refused at start (exit 2) with one line
per problem naming the key; `--check` prints the effective config with secrets masked."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dnssync.bind import tsig_keygen
from tests.dnssync.conftest import CONFIG
from watcher.events import generate_secret

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Files:
    dir: Path
    webhook_secret: str
    tsig_secret: str

    def config(self, text: str | None = None, edit: Callable[[str], str] = lambda t: t) -> Path:
        base = CONFIG.format(dir=self.dir, server="127.0.0.1:53", timeout=2.0) if text is None else text
        path = self.dir / "dns-sync.toml"
        path.write_text(edit(base))
        return path


@pytest.fixture
def files(tmp_path: Path) -> Files:
    webhook = generate_secret().get_secret_value()
    (tmp_path / "sink_secret").write_text(webhook + "\n")
    block = tsig_keygen("failover-watcher.")
    (tmp_path / "tsig.key").write_text(block)
    return Files(tmp_path, webhook, block.split('secret "', 1)[1].split('"', 1)[0])


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    return subprocess.run(
        [sys.executable, "-m", "watcher.cli", "dns-sync", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**environ, **(env or {})},
    )


def _refusal(done: subprocess.CompletedProcess[str], path: Path) -> list[str]:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    headline, *lines = done.stderr.splitlines()
    count = f"{len(lines)} problem" + ("" if len(lines) == 1 else "s")
    assert headline == f"{path}: configuration refused ({count})"
    return [line.strip() for line in lines]


def _sub(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, count)

    return edit


REFUSALS = [
    pytest.param(
        _sub(', "eu-west-1" = ["198.51.100.10", "198.51.100.11"]', ""),
        "records[0].values: no values for region(s) eu-west-1 of strategy 'voice-routing'",
        id="no-values-for-a-region-of-the-strategy",
    ),
    pytest.param(
        _sub(
            'regions = ["us-east-1", "eu-west-1"]\nvalues',
            'regions = ["us-east-1", "eu-west-1", "ap-south-1"]\nvalues',
        ),
        "records[3].values: no values for region(s) ap-south-1 of records[3].regions",
        id="no-values-for-a-region-of-the-record",
    ),
    pytest.param(
        _sub(
            'strategy = "chat-routing"\nregions = ["us-east-1", "eu-west-1"]\n', 'strategy = "chat-routing"\n'
        ),
        "records[3].strategy: 'chat-routing' is not under [[strategies]] (declared: voice-routing)",
        id="strategy-not-declared",
    ),
    pytest.param(
        _sub('["sip-use1.example.net."]', '["sip-use1.example.net.", "sip-use1b.example.net."]'),
        "records[2].values.us-east-1: a CNAME takes exactly one value (got 2)",
        id="cname-with-two-values",
    ),
    pytest.param(
        _sub('name = "voice.example.com."', 'name = "voice.example.org."'),
        "records[0].name: 'voice.example.org.' is outside the zone 'example.com.'",
        id="name-outside-the-zone",
    ),
    pytest.param(
        _sub('zone = "example.com."', 'zone = "example.com."\ntsig_algorithm = "hmac-md5"'),
        "dns.tsig_algorithm: 'hmac-md5' is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, "
        "hmac-sha512",
        id="bad-tsig-algorithm",
    ),
    pytest.param(
        _sub('"192.0.2.10"', '"192.0.2.300"'),
        "records[0].values.us-east-1: '192.0.2.300' is not an IPv4 address",
        id="bad-ipv4-literal",
    ),
    pytest.param(
        _sub('"2001:db8:2::10"', '"198.51.100.10"'),
        "records[1].values.eu-west-1: '198.51.100.10' is not an IPv6 address",
        id="ipv4-in-an-aaaa",
    ),
    pytest.param(
        _sub('"sip-euw1.example.net."', '"not a name!"'),
        "records[2].values.eu-west-1: 'not a name!' is not a domain name",
        id="bad-cname-target",
    ),
    pytest.param(
        _sub('type = "AAAA"', 'type = "MX"'),
        "records[1].type: Input should be 'A', 'AAAA' or 'CNAME'",
        id="unsupported-type",
    ),
    pytest.param(
        _sub('name = "sip.example.com."', 'name = "voice.example.com."'),
        "records[2].name: a CNAME cannot share its name with records[0] (A), records[1] (AAAA)",
        id="cname-beside-other-data",
    ),
    pytest.param(
        _sub('server = "127.0.0.1:53"', 'server = "ns1.example.com:53"'),
        "dns.server: 'ns1.example.com:53' is not IP[:port] (an address, not a host name: the receiver "
        "talks to the primary, not to a resolver)",
        id="server-not-an-address",
    ),
    pytest.param(
        _sub('zone = "example.com."', 'zone = "example.com."\ntsig_key_name = "someone-else."'),
        "dns.tsig_key_name: 'someone-else.' differs from the key block's name 'failover-watcher.'",
        id="key-name-differs-from-the-key-block",
    ),
    pytest.param(
        _sub("ttl = 42", "ttll = 42"),
        "dns.ttll: unknown key",
        id="unknown-key",
    ),
    pytest.param(
        _sub('secret_file = "{dir}/sink_secret"'.replace("{dir}", "DIR"), "", 1),
        "receiver.secret: missing (set it, or secret_file)",
        id="missing-webhook-secret",
    ),
]


@pytest.mark.parametrize(("edit", "problem"), REFUSALS)
def test_each_problem_is_refused_with_the_key_named(
    files: Files, edit: Callable[[str], str], problem: str
) -> None:
    base = CONFIG.format(dir="DIR", server="127.0.0.1:53", timeout=2.0)
    path = files.config(edit(base).replace("DIR", str(files.dir)))
    assert problem in _refusal(run("--config", str(path), "--check"), path)


def test_the_receiver_refuses_to_start_on_a_bad_config(files: Files) -> None:
    """Not only `--check`: the command itself exits 2 before listening, one line per problem."""
    path = files.config(
        edit=lambda t: t.replace('"192.0.2.10"', '"192.0.2.300"').replace(
            '["sip-use1.example.net."]', '["a.example.net.", "b.example.net."]'
        )
    )
    assert _refusal(run("--config", str(path)), path) == [
        "records[0].values.us-east-1: '192.0.2.300' is not an IPv4 address",
        "records[2].values.us-east-1: a CNAME takes exactly one value (got 2)",
    ]


def test_a_bad_webhook_secret_is_named_without_its_value(files: Files) -> None:
    (files.dir / "sink_secret").write_text("not-a-whsec-secret-MARKER\n")
    path = files.config()
    problems = _refusal(run("--config", str(path), "--check"), path)
    assert problems == [
        "receiver.secret_file: secret #1 is not a Standard Webhooks secret "
        "(expected 'whsec_' followed by base64)"
    ]
    assert "MARKER" not in run("--config", str(path)).stderr


def test_a_tsig_secret_that_is_not_base64_is_named_without_its_value(files: Files) -> None:
    (files.dir / "tsig.key").write_text("not base64 at all MARKER!")
    path = files.config()
    problems = _refusal(run("--config", str(path), "--check"), path)
    assert problems[0].startswith("dns.tsig_secret_file: not base64")
    assert not any("MARKER" in p for p in problems)


def test_check_prints_the_effective_config_with_secrets_masked(files: Files) -> None:
    path = files.config()
    done = run("--config", str(path), "--check")
    assert done.returncode == 0, done.stderr
    dumped = json.loads(done.stdout)
    # Taken from the tsig-keygen block, which was accepted as it is.
    assert dumped["dns"]["tsig_key_name"] == "failover-watcher."
    assert dumped["dns"]["tsig_algorithm"] == "hmac-sha256"
    assert dumped["dns"]["ttl"] == 42
    assert [r["type"] for r in dumped["records"]] == ["A", "AAAA", "CNAME", "A"]
    assert f"{path}: OK" in done.stderr
    for secret in (files.webhook_secret, files.tsig_secret):
        assert secret not in done.stdout + done.stderr


def test_the_environment_overrides_the_file(files: Files) -> None:
    """`WATCHER_DNS_SYNC_` + table + `__` + key; a secret given there replaces the file's source."""
    raw = base64.b64encode(b"k" * 32).decode()
    path = files.config()
    done = run(
        "--config",
        str(path),
        "--check",
        env={
            "WATCHER_DNS_SYNC_DNS__SERVER": "[::1]:5353",
            "WATCHER_DNS_SYNC_DNS__TSIG_SECRET": raw,  # raw base64: the key name must then be given
            "WATCHER_DNS_SYNC_DNS__TSIG_KEY_NAME": "from-env.",
            "WATCHER_DNS_SYNC_RECEIVER__LISTEN": "127.0.0.1:19465",
            "WATCHER_DNS_SYNC_STATE__DIR": str(files.dir / "elsewhere"),
        },
    )
    assert done.returncode == 0, done.stderr
    dumped = json.loads(done.stdout)
    assert dumped["dns"]["server"] == "[::1]:5353"
    assert dumped["dns"]["tsig_secret"] == "**********"
    assert dumped["dns"]["tsig_secret_file"] is None
    assert dumped["dns"]["tsig_key_name"] == "from-env."
    assert dumped["receiver"]["listen"] == "127.0.0.1:19465"
    assert dumped["state"]["dir"] == str(files.dir / "elsewhere")
    assert raw not in done.stdout + done.stderr
    # The daemon's own prefix is not ours: WATCHER_STATE__DIR leaves the receiver alone.
    done = run("--config", str(path), "--check", env={"WATCHER_STATE__DIR": "/nope"})
    assert json.loads(done.stdout)["state"]["dir"] == str(files.dir / "state")


def test_raw_base64_needs_the_key_name(files: Files) -> None:
    (files.dir / "tsig.key").write_text(files.tsig_secret + "\n")
    path = files.config()
    problems = _refusal(run("--config", str(path), "--check"), path)
    assert problems == [
        "dns.tsig_key_name: missing (set it, or give the tsig-keygen key block as the secret)"
    ]
    path = files.config(
        edit=_sub('zone = "example.com."', 'zone = "example.com."\ntsig_key_name = "failover-watcher."')
    )
    assert run("--config", str(path), "--check").returncode == 0


def test_an_unreadable_state_file_stops_the_start(files: Files) -> None:
    (files.dir / "state").mkdir()
    (files.dir / "state" / "dns-sync-state.json").write_text("[]")
    path = files.config()
    done = run("--config", str(path))
    assert done.returncode == 2
    assert "state.dir:" in done.stderr
    assert "move it away to start afresh" in done.stderr


def test_a_missing_config_file_exits_2(tmp_path: Path) -> None:
    done = run("--config", str(tmp_path / "nope.toml"), "--check")
    assert done.returncode == 2
    assert f"--config: {tmp_path / 'nope.toml'} does not exist" in done.stderr


def test_the_example_config_is_accepted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from watcher.dnssync import load_dns_sync_config

    monkeypatch.setenv("WATCHER_DNS_SYNC_STATE__DIR", str(tmp_path / "state"))
    cfg = load_dns_sync_config(REPO / "config/dns-sync.toml")
    assert cfg.receiver.listen == "127.0.0.1:9465"
    assert {r.type for r in cfg.records} == {"A", "AAAA", "CNAME"}
    assert cfg.state.dir == tmp_path / "state"


def test_a_secret_containing_two_slashes_is_read_whole() -> None:
    # base64 has "/": a secret holding "//" once looked like the start of a comment (a flaky test found it).
    from watcher.dnssync.tsigkey import parse_tsig_material

    block = 'key "k." {\n\talgorithm hmac-sha256; // the default\n\tsecret "ab//cd+ef/gh==";\n};\n'
    material = parse_tsig_material(block)
    assert material.secret_b64 == "ab//cd+ef/gh=="
    assert material.name == "k."
