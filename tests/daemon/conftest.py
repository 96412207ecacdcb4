"""Fixtures that start real things: the simulator on a free loopback port and a watcher daemon
pointed at it, both in this event loop, torn down after each test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from tests.safety._config import base_config, merged
from tests.support import until
from watcher.config import WatcherConfig
from watcher.daemon.service import Watcher
from watcher.serving import bind_socket
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator
from watcher.systemd_notify import SystemdNotifier

PRIMARY, SECONDARY = "us-east-1", "eu-west-1"
STRATEGY, RULE = "strategy-1", "rule-1"
TARGETS = {PRIMARY: "target-use1", SECONDARY: "target-euw1"}
ADMIN_TOKEN = "test-admin-token-0123456789"


def watcher_config(sim_url: str, state_dir: Path, **overrides: Any) -> WatcherConfig:
    """A fast-polling config for the default simulator org (two regions, one strategy, one rule)."""
    data = merged(base_config(sim_url, state_dir, 0), server={"admin_token": ADMIN_TOKEN})
    data["executor"] = {"reconcile_interval_seconds": 0.5, "write_retry_seconds": 0.3}
    data = merged(data, **overrides)
    return WatcherConfig(**data)


@dataclass
class Harness:
    sim: RunningSimulator
    watcher: Watcher
    admin: httpx.AsyncClient  # the simulator's admin API
    http: httpx.AsyncClient  # the daemon's HTTP surface

    @property
    def address(self) -> str:
        """`host:port` of the daemon's HTTP server, as a scrape target."""
        return self.watcher.listen_url.removeprefix("http://")

    async def set_region(self, region: str, status: str, **extra: Any) -> None:
        r = await self.admin.put(f"/_sim/regions/{region}", json={"status": status, **extra})
        r.raise_for_status()

    async def strategy(self) -> dict[str, Any]:
        return self.sim.state.org.strategies[STRATEGY]

    def rule(self) -> dict[str, Any]:
        return self.sim.state.org.rules[RULE]

    def requests(self, method: str, fragment: str) -> list[Any]:
        return [r for r in self.sim.state.requests_since(None) if r.method == method and fragment in r.path]

    def active(self) -> str | None:
        return self.watcher.engine.world.strategies[STRATEGY].active_region

    async def until(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        """Wait for a condition with a deadline (no sleeping as synchronisation)."""
        await until(predicate, timeout=timeout)

    async def ready(self) -> None:
        await self.until(
            lambda: (
                self.watcher.readiness()[0]
                and all(h.healthy for h in self.watcher.engine.world.regions.values())
            )
        )


@contextlib.asynccontextmanager
async def running_watcher(
    tmp_path: Path,
    *,
    state: SimulatorState | None = None,
    transport_wrapper: Callable[[httpx.AsyncBaseTransport, str], httpx.AsyncBaseTransport] | None = None,
    config: Callable[[str], WatcherConfig] | None = None,
    config_path: Path | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """The simulator and a daemon on it; `config(sim_url)` replaces the default config."""
    async with running_simulator(state or SimulatorState(default_seed())) as sim:
        if config is not None:
            cfg = config(sim.base_url)
        else:
            cfg = watcher_config(sim.base_url, tmp_path / "state", **overrides)
        transport = None
        if transport_wrapper is not None:
            transport = transport_wrapper(httpx.AsyncHTTPTransport(), sim.base_url)
        sock = bind_socket("127.0.0.1", 0)
        # Not under systemd, whatever the environment of the test run says.
        watcher = Watcher(
            cfg,
            config_path=str(config_path) if config_path else None,
            listen_socket=sock,
            transport=transport,
            notifier=SystemdNotifier(address=None),
        )
        port = sock.getsockname()[1]
        async with (
            anyio.create_task_group() as tg,
            httpx.AsyncClient(base_url=sim.base_url) as admin,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            tg.start_soon(watcher.serve)
            await watcher.started.wait()
            try:
                yield Harness(sim, watcher, admin, http)
            finally:
                watcher.request_stop()
