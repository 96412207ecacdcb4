"""deploy/systemd/failover-watcher-dns-sync.service: hardened like the daemon's unit, clean under
`systemd-analyze verify`, `security` exposure below a measured bound, and the example config it
points at accepted with its secrets read from the systemd credentials."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dnssync.bind import tsig_keygen
from watcher.dnssync import load_dns_sync_config
from watcher.events import generate_secret

UNIT = "failover-watcher-dns-sync.service"
# Measured: 1.1 with systemd 252, as the daemon's unit: what remains is the network access the
# receiver needs (a listener, outbound DNS to the primary) and the host root.
EXPOSURE_BOUND = 1.5

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze missing: run `sh deploy/install-system-deps.sh`",
)


def _directives(unit: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; systemd allows a key more than once."""
    section, found = "", []
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def _verify(tmp_path: Path, unit_text: str) -> subprocess.CompletedProcess[str]:
    """`verify` inside a throwaway root: a stub binary for ExecStart, systemd's own units, the unit."""
    root = tmp_path / "root"
    stub = root / "usr/bin/failover-watcher"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    system_units = Path("/usr/lib/systemd/system")
    if not system_units.is_dir():
        system_units = Path("/lib/systemd/system")
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system" / UNIT).write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", UNIT],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_required_directives(repo: Path) -> None:
    directives = _directives(repo / "deploy/systemd" / UNIT)
    service = {key: value for section, key, value in directives if section == "Service"}
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "30",
        "ExecStart": "/usr/bin/failover-watcher dns-sync --config /etc/failover-watcher/dns-sync.toml",
        "Restart": "on-failure",
        "DynamicUser": "yes",
        "StateDirectory": "failover-watcher-dns-sync",
        "StateDirectoryMode": "0700",
        "Environment": "WATCHER_DNS_SYNC_STATE__DIR=%S/failover-watcher-dns-sync",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "SystemCallArchitectures": "native",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "ProtectClock": "yes",
        "ProtectHostname": "yes",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "RestrictRealtime": "yes",
        "RestrictSUIDSGID": "yes",
        "UMask": "0077",
        "ProtectProc": "invisible",
        "ProcSubset": "pid",
    }
    assert {key: service.get(key) for key in expected} == expected
    credentials = [v for s, k, v in directives if k == "LoadCredential"]
    assert credentials == [
        "sink_secret:/etc/failover-watcher/sink_secret",
        "tsig.key:/etc/failover-watcher/tsig.key",
    ]
    assert "@system-service" in [v for s, k, v in directives if k == "SystemCallFilter"]
    # No secret in the environment: only the state directory is set there.
    assert [v for s, k, v in directives if k == "Environment"] == [expected["Environment"]]


def test_example_config_reads_its_secrets_from_the_credentials(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook = generate_secret().get_secret_value()
    (tmp_path / "sink_secret").write_text(webhook + "\n")
    (tmp_path / "tsig.key").write_text(tsig_keygen("failover-watcher."))
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("WATCHER_DNS_SYNC_STATE__DIR", str(tmp_path / "state"))
    cfg = load_dns_sync_config(repo / "deploy/systemd/dns-sync.toml.example")
    assert [s.get_secret_value() for s in cfg.webhook_secrets()] == [webhook]
    assert 'key "failover-watcher."' in cfg.tsig_text()
    assert cfg.state.dir == tmp_path / "state"
    assert cfg.receiver.listen == "127.0.0.1:9465"


@needs_systemd_analyze
def test_systemd_analyze_verify_is_clean(repo: Path, tmp_path: Path) -> None:
    done = _verify(tmp_path, (repo / "deploy/systemd" / UNIT).read_text())
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout + done.stderr == ""


@needs_systemd_analyze
def test_systemd_analyze_verify_reports_a_bad_unit(repo: Path, tmp_path: Path) -> None:
    """The check above can fail: an unknown key only warns (exit 0), so output must be empty."""
    text = (repo / "deploy/systemd" / UNIT).read_text().replace("UMask=0077", "UMask=0077\nUMaskk=0077")
    done = _verify(tmp_path, text)
    assert "Unknown key 'UMaskk'" in done.stdout + done.stderr


@needs_systemd_analyze
def test_systemd_analyze_security_exposure(repo: Path) -> None:
    done = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            f"--threshold={int(EXPOSURE_BOUND * 10)}",
            str(repo / "deploy/systemd" / UNIT),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) < EXPOSURE_BOUND, done.stdout
    assert done.returncode == 0, done.stderr
