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
