"""The daemon as a real process under a stand-in for systemd: what `Type=notify` + `WatchdogSec=` rely on.

The test binds the AF_UNIX datagram socket systemd would hold, hands it to `watcher.cli run` in
`NOTIFY_SOCKET` with `WATCHDOG_USEC=1000000` (a ping every 0.5 s), and reads what arrives: READY=1 only
after the first health poll, STATUS= summaries, WATCHDOG=1 while the poll loop turns (also while the
platform throttles it) and none while the process is stopped, RELOADING=1 then READY=1 on SIGHUP,
STOPPING=1 and exit code 0 on SIGTERM.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest

from tests.harness import DaemonProcess, daemon_process
from tests.support import until
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio

WATCHDOG_USEC = 1_000_000
WATCHDOG_TIMEOUT = WATCHDOG_USEC / 1_000_000
HEALTH_PATH = re.compile(r"^/api/v2/architecture/regions/[^/]+/health$")
STATUS_LINE = re.compile(r"^\d+/2 regions healthy; strategy-1->(us-east-1|eu-west-1|\?) \([a-z_]+\)$")

CONFIG = """
[genesys]
api_base_url = "{url}"
login_base_url = "{url}"
client_id = "sim-client"
client_secret = "sim-secret"
requests_per_minute = 6000
max_retries = 1

[health]
interval_seconds = 0.2
timeout_seconds = 0.15
fall = 2
rise = 2

[[regions]]
id = "us-east-1"
[[regions]]
id = "eu-west-1"

[[strategies]]
id = "strategy-1"
regions = ["us-east-1", "eu-west-1"]

[server]
listen = "127.0.0.1:0"

[state]
dir = "{state}"
"""


@dataclass(frozen=True)
class Notification:
    """One datagram: its fields, and when the test read it (`time.monotonic`, like the sim's log)."""

    at: float
    fields: dict[str, str]

    @property
    def kind(self) -> str:
        """The first field's name: READY, STATUS, WATCHDOG, RELOADING, STOPPING."""
        return next(iter(self.fields))


@dataclass
class ServiceManager:
    """The receiving end of `NOTIFY_SOCKET`, as systemd holds it."""

    sock: socket.socket
    address: str
    received: list[Notification] = field(default_factory=list)

    async def pump(self) -> None:
        while True:
            await anyio.wait_readable(self.sock)
            with contextlib.suppress(BlockingIOError):
                while True:
                    payload = self.sock.recv(4096).decode()
                    fields = dict(line.split("=", 1) for line in payload.split("\n") if line)
                    self.received.append(Notification(time.monotonic(), fields))

    def since(self, at: float, kind: str | None = None) -> list[Notification]:
        return [n for n in self.received if n.at >= at and (kind is None or n.kind == kind)]


@contextlib.contextmanager
def notify_socket(tmp_path: Path) -> Iterator[ServiceManager]:
    # sun_path holds 107 bytes; a deep pytest tmp_path may not fit, a short temp directory does.
    directory = tmp_path if len(str(tmp_path)) < 90 else Path(tempfile.mkdtemp(prefix="notify-"))
    path = str(directory / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(path)
        sock.setblocking(False)
        yield ServiceManager(sock, path)
    finally:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def health_gets(sim: RunningSimulator) -> list[float]:
    return [
        r.time
        for r in sim.state.requests_since(None)
        if r.method == "GET" and HEALTH_PATH.match(r.path) and r.status == 200
    ]


def consecutive_status_without_watchdog(notes: list[Notification]) -> bool:
    """Two STATUS= ticks in a row with no WATCHDOG=1 between them: a ping was withheld."""
    kinds = [n.kind for n in notes if n.kind in ("STATUS", "WATCHDOG")]
    return any(a == b == "STATUS" for a, b in itertools.pairwise(kinds))


@pytest.mark.timeout(60)
async def test_notifications_follow_the_daemon_lifecycle(tmp_path: Path) -> None:
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        config = tmp_path / "watcher.toml"
        config.write_text(CONFIG.format(url=sim.base_url, state=tmp_path / "state"))
        with notify_socket(tmp_path) as manager:
            # WATCHDOG_PID is left unset: SystemdNotifier.from_env then takes the watchdog as its own.
            env = {**os.environ, "NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
            env.pop("WATCHDOG_PID", None)
            async with anyio.create_task_group() as tg:
                tg.start_soon(manager.pump)
                async with daemon_process(config, env=env, log_level="INFO") as d:
                    await _check_lifecycle(manager, d, sim, admin)
                tg.cancel_scope.cancel()


async def _check_lifecycle(
    manager: ServiceManager, d: DaemonProcess, sim: RunningSimulator, admin: httpx.AsyncClient
) -> None:
    received = manager.received

    # READY=1 comes first, and only once a health poll has been answered.
    await until(lambda: bool(manager.since(0, "READY")), message="READY=1", timeout=15)
    ready = manager.since(0, "READY")[0]
    assert received[0] is ready, [n.fields for n in received]
    assert ready.fields == {"READY": "1"}
    assert any(t < ready.at for t in health_gets(sim)), "READY=1 before any health poll was answered"

    # STATUS= summaries and WATCHDOG=1 pings at half the watchdog timeout.
    await until(
        lambda: (
            len(manager.since(ready.at, "WATCHDOG")) >= 4
            and any(
                n.fields["STATUS"] == "2/2 regions healthy; strategy-1->us-east-1 (steady)"
                for n in manager.since(ready.at, "STATUS")
            )
        ),
        message="4 WATCHDOG=1 and a STATUS= with both regions healthy",
    )
    for n in manager.since(ready.at, "STATUS"):
        assert STATUS_LINE.match(n.fields["STATUS"]), n.fields
    pings = [n.at for n in manager.since(ready.at, "WATCHDOG")]
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert all(0.4 <= g < WATCHDOG_TIMEOUT for g in gaps), gaps

    # Health polls that are throttled (429) give no observation: the data goes stale and the daemon
    # says so, but the loop is turning, and a restart would not help against throttling: pings go on.
    throttled_at = time.monotonic()
    fault = {"path": r"/regions/[^/]+/health$", "status": 429}
    (await admin.put("/_sim/faults", json=fault)).raise_for_status()
    await until(
        lambda: d.seen("no fresh health observation (throttled?); not ready"),
        message="the daemon reports stale health data while every poll is throttled",
    )
    assert len(manager.since(throttled_at, "WATCHDOG")) >= 2
    assert not consecutive_status_without_watchdog(manager.since(throttled_at))
    (await admin.delete("/_sim/faults")).raise_for_status()

    # A process that stops turning (SIGSTOP: nothing runs) sends no ping, so systemd would kill it;
    # once it runs again the pings resume.
    stopped_at = time.monotonic()
    d.process.send_signal(signal.SIGSTOP)
    with anyio.fail_after(5):
        while time.monotonic() < stopped_at + WATCHDOG_TIMEOUT * 1.5:  # a fixed span: absence is checked
            await anyio.sleep(0.05)
    assert manager.since(stopped_at + 0.1, "WATCHDOG") == []
    d.process.send_signal(signal.SIGCONT)
    recovered_at = time.monotonic()
    await until(lambda: len(manager.since(recovered_at, "WATCHDOG")) >= 2, message="WATCHDOG=1 after SIGCONT")

    # SIGHUP: RELOADING=1 (with the monotonic time systemd compares), then READY=1, then pings again.
    hup_at = time.monotonic()
    d.process.send_signal(signal.SIGHUP)
    await until(lambda: bool(manager.since(hup_at, "READY")), message="READY=1 after SIGHUP")
    after_hup = manager.since(hup_at)
    kinds = [n.kind for n in after_hup if n.kind in ("RELOADING", "READY")]
    assert kinds == ["RELOADING", "READY"], [n.fields for n in after_hup]
    reloading = next(n for n in after_hup if n.kind == "RELOADING")
    assert reloading.fields["RELOADING"] == "1"
    assert hup_at <= int(reloading.fields["MONOTONIC_USEC"]) / 1_000_000 <= reloading.at
    reloaded_at = manager.since(hup_at, "READY")[0].at
    await until(
        lambda: len(manager.since(reloaded_at, "WATCHDOG")) >= 2, message="WATCHDOG=1 after the reload"
    )

    # SIGTERM: STOPPING=1 is the last word, and the exit is clean.
    term_at = time.monotonic()
    code = await d.stop(signal.SIGTERM, timeout=15)
    assert code == 0
    await until(lambda: bool(manager.since(term_at, "STOPPING")), message="STOPPING=1 after SIGTERM")
    assert received[-1].fields == {"STOPPING": "1"}, [n.fields for n in received[-3:]]
    assert sum(n.kind == "STOPPING" for n in received) == 1


# --- The shipped unit and its example config, started as systemd would start them ---------------------

UNIT = Path(__file__).resolve().parents[2] / "deploy/systemd/failover-watcher.service"
EXAMPLE = UNIT.parent / "watcher.toml.example"
EXAMPLE_CLIENT_ID = "00000000-0000-0000-0000-000000000000"  # the example's own, unedited
ADMIN_TOKEN = "unit-admin-token-0123456789abcdef"


def unit_service_directives() -> list[tuple[str, str]]:
    """(key, value) of the unit's [Service] section in file order (keys may repeat)."""
    from tests.deploy.test_systemd_unit import _directives

    return [(key, value) for section, key, value in _directives(UNIT) if section == "Service"]


def place_credentials(host_files: dict[str, str], directory: Path) -> dict[str, str]:
    """What systemd does with LoadCredential=ID:PATH and SetCredential=ID:DATA before ExecStart.

    Each ID becomes `directory/ID`, from PATH when the host has that file, else from SetCredential's
    data (C escapes decoded) when the unit gives one; a LoadCredential without either fails the
    start, as systemd fails it (243/CREDENTIALS). Returns ID -> where its data came from.
    """
    directory.mkdir(mode=0o700)
    loaded: dict[str, str] = {}
    fallback: dict[str, str] = {}
    for key, value in unit_service_directives():
        ident, _, rest = value.partition(":")
        if key == "LoadCredential":
            loaded[ident] = rest
        elif key == "SetCredential":
            fallback[ident] = rest.encode().decode("unicode_escape")
    came_from = {}
    for ident, path in loaded.items():
        if path in host_files:
            (directory / ident).write_text(host_files[path])
            came_from[ident] = path
        elif ident in fallback:
            (directory / ident).write_text(fallback[ident])
            came_from[ident] = "SetCredential"
        else:
            raise AssertionError(f"LoadCredential={ident}:{path}: no such file and no SetCredential")
    return came_from


def unit_environment(state_root: Path) -> dict[str, str]:
    """The unit's Environment= lines with %S (the state root) expanded."""
    env = {}
    for key, value in unit_service_directives():
        if key == "Environment":
            name, _, setting = value.partition("=")
            env[name] = setting.replace("%S", str(state_root))
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(60)
async def test_the_unit_starts_the_example_config_with_credentials_only(tmp_path: Path) -> None:
    """The operator installs the example unedited and the two required secret files; nothing else.

    Only what points the daemon at the simulator is overlaid (the base URLs) and the port (tests
    share the machine). The admin API is on: manual failback depends on it.
    """
    exec_start = dict(unit_service_directives())["ExecStart"].split()
    assert exec_start[1:] == ["run", "--config", "/etc/failover-watcher/watcher.toml"]
    host_files = {
        "/etc/failover-watcher/client_secret": "sim-secret\n",
        "/etc/failover-watcher/admin_token": ADMIN_TOKEN + "\n",
    }
    credentials = tmp_path / "credentials"
    came_from = place_credentials(host_files, credentials)
    assert came_from == {
        "client_secret": "/etc/failover-watcher/client_secret",
        "admin_token": "/etc/failover-watcher/admin_token",
        "sink_secret": "SetCredential",  # no sink configured: its absent file must not stop the unit
    }
    port = free_port()
    state = SimulatorState(default_seed(), client_id=EXAMPLE_CLIENT_ID)
    async with running_simulator(state) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
        env.pop("WATCHDOG_PID", None)
        env.update(unit_environment(tmp_path / "var-lib"))
        env.update(
            {
                "CREDENTIALS_DIRECTORY": str(credentials),
                "WATCHDOG_USEC": "30000000",  # WatchdogSec=30
                "WATCHER_GENESYS__API_BASE_URL": sim.base_url,
                "WATCHER_GENESYS__LOGIN_BASE_URL": sim.base_url,
                "WATCHER_STATUSPAGE__URL": f"{sim.base_url}/api/v2/components.json",
                "WATCHER_SERVER__LISTEN": f"127.0.0.1:{port}",
            }
        )
        with notify_socket(tmp_path) as manager:
            env["NOTIFY_SOCKET"] = manager.address
            async with anyio.create_task_group() as tg:
                tg.start_soon(manager.pump)
                async with (
                    daemon_process(EXAMPLE, env=env) as d,
                    httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
                ):
                    await until(
                        lambda: bool(manager.since(0, "READY")) or d.process.returncode is not None,
                        message="READY=1 from the example config",
                        timeout=30,
                    )
                    assert manager.since(0, "READY"), d.tail(5)
                    assert (tmp_path / "var-lib/failover-watcher").is_dir()  # StateDirectory= + Environment=

                    status = (await http.get("/status")).json()
                    (strategy,) = status["strategies"]
                    assert (strategy["id"], strategy["activeRegion"]) == ("contact-center", "us-east-1")
                    assert (await http.get("/readyz")).status_code == 200

                    hold = {"strategy": "contact-center", "seconds": 600, "reason": "unit test"}
                    denied = await http.post("/admin/hold", json=hold)
                    assert denied.status_code == 401, denied.text
                    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                    held = await http.post("/admin/hold", json=hold, headers=bearer)
                    assert held.status_code == 200, held.text
                    released = await http.post(
                        "/admin/release", json={"strategy": "contact-center"}, headers=bearer
                    )
                    assert released.status_code == 200, released.text
                    assert ADMIN_TOKEN not in "\n".join(d.raw)

                    d.process.send_signal(signal.SIGTERM)
                    with anyio.fail_after(15):
                        assert await d.process.wait() == 0
                tg.cancel_scope.cancel()


def test_a_sink_without_its_credential_file_is_refused_by_name(tmp_path: Path) -> None:
    """The unit starts without /etc/failover-watcher/sink_secret; a config that uses the sink says so."""
    from watcher.config import ConfigError, load_config

    credentials = tmp_path / "credentials"
    required = {"/etc/failover-watcher/client_secret": "s\n", "/etc/failover-watcher/admin_token": "t\n"}
    place_credentials(required, credentials)
    text = EXAMPLE.read_text()
    sink = '# [[sinks]]\n# name = "dns-sync"\n# url = "http://127.0.0.1:9465/"\n'
    sink += '# secret_file = "${CREDENTIALS_DIRECTORY}/sink_secret"\n'
    assert sink in text, "the example's sink block changed: update this test"
    config = tmp_path / "watcher.toml"
    config.write_text(text.replace(sink, sink.replace("# ", "")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CREDENTIALS_DIRECTORY", str(credentials))
        with pytest.raises(ConfigError) as refused:
            load_config(config)
    assert f"sinks[0].secret_file: {credentials}/sink_secret is empty" in str(refused.value)
