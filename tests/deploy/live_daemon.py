"""The simulator and a watcher daemon on free loopback ports, for the deployment end-to-end tests.

The same shape as tests/daemon/conftest.py (that module is not importable from here: tests/deploy is
not a package), kept to what these tests need: a fast-polling two-region org, the simulator's admin
API, and the daemon's HTTP surface.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from watcher.config import WatcherConfig
from watcher.daemon.service import Watcher
from watcher.serving import bind_socket
from watcher.sim import RequestRecord, RunningSimulator, SimulatorState, running_simulator
from watcher.systemd_notify import SystemdNotifier

PRIMARY, SECONDARY = "us-east-1", "eu-west-1"
STRATEGY, RULE = "strategy-1", "rule-1"
TARGETS = {PRIMARY: "target-use1", SECONDARY: "target-euw1"}


def fast_config(sim_url: str, state_dir: Path, hold_seconds: float) -> WatcherConfig:
    """A config polling every 0.2 s, switching after 2 bad polls, failing back after `hold_seconds`."""
    return WatcherConfig(
        genesys={
            "api_base_url": sim_url,
            "login_base_url": sim_url,
            "client_id": "sim-client",
            "client_secret": "sim-secret",
            "requests_per_minute": 6000,
            "max_retries": 2,
        },
        health={"interval_seconds": 0.2, "timeout_seconds": 0.15, "fall": 2, "rise": 2},
        failback={"mode": "auto", "hold_seconds": hold_seconds},
        regions=[{"id": PRIMARY}, {"id": SECONDARY}],
        strategies=[{"id": STRATEGY, "regions": [PRIMARY, SECONDARY]}],
        rules=[{"id": RULE, "strategy": STRATEGY, "targets": TARGETS}],
        state={"dir": str(state_dir)},
        server={"listen": "127.0.0.1:0"},
        executor={"reconcile_interval_seconds": 0.5, "write_retry_seconds": 0.3},
    )


@dataclass
class LiveDaemon:
    sim: RunningSimulator
    watcher: Watcher
    admin: httpx.AsyncClient  # the simulator's admin API
    http: httpx.AsyncClient  # the daemon's HTTP surface

    @property
    def address(self) -> str:
        """`host:port` of the daemon's HTTP server, as a scrape target."""
        return self.watcher.listen_url.removeprefix("http://")

    async def set_region(self, region: str, status: str) -> None:
        (await self.admin.put(f"/_sim/regions/{region}", json={"status": status})).raise_for_status()

    def requests(self, method: str, fragment: str) -> list[RequestRecord]:
        return [r for r in self.sim.state.requests_since(None) if r.method == method and fragment in r.path]

    def active(self) -> str | None:
        return self.watcher.engine.world.strategies[STRATEGY].active_region

    async def until(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        """Wait for a condition with a deadline."""
        with anyio.fail_after(timeout):
            while not predicate():
                await anyio.sleep(0.01)

    async def ready(self) -> None:
        await self.until(
            lambda: (
                self.watcher.readiness()[0]
                and all(h.healthy for h in self.watcher.engine.world.regions.values())
            )
        )


@contextlib.asynccontextmanager
async def live_daemon(
    state_dir: Path, state: SimulatorState, *, hold_seconds: float = 1.0, **watcher_args: Any
) -> AsyncIterator[LiveDaemon]:
    """The simulator for `state` and a `Watcher` against it, in this event loop; stopped on exit."""
    async with running_simulator(state) as sim:
        sock = bind_socket("127.0.0.1", 0)
        # Not under systemd, whatever the environment of the test run says.
        watcher_args.setdefault("notifier", SystemdNotifier(address=None))
        watcher = Watcher(
            fast_config(sim.base_url, state_dir, hold_seconds), listen_socket=sock, **watcher_args
        )
        async with (
            anyio.create_task_group() as tg,
            httpx.AsyncClient(base_url=sim.base_url) as admin,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as http,
        ):
            tg.start_soon(watcher.serve)
            await watcher.started.wait()
            try:
                yield LiveDaemon(sim, watcher, admin, http)
            finally:
                watcher.request_stop()
