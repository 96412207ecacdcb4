"""Fixtures: the simulator on a free loopback port, its admin API, and helpers to drive its status
page and faults over HTTP as a user would."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.daemon.conftest import Harness, running_watcher, watcher_config
from watcher.config import WatcherConfig
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator

COMPONENTS = "/api/v2/components.json"
US_EAST, DUBLIN = "Americas (US East)", "EMEA (Dublin)"


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(SimulatorState(default_seed(), seed_rng=7)) as running:
        yield running


@pytest.fixture
async def admin(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=5.0) as http:
        yield http


async def set_component(admin: httpx.AsyncClient, key: str, status: str, group: str | None = None) -> None:
    body = {"status": status} if group is None else {"status": status, "group": group}
    response = await admin.put(f"/_sim/status/components/{quote(key)}", json=body)
    assert response.status_code == 200, response.text


async def add_fault(admin: httpx.AsyncClient, **spec: object) -> int:
    response = await admin.put("/_sim/faults", json=spec)
    assert response.status_code == 200, response.text
    fault_id: int = response.json()["id"]
    return fault_id


def served(sim: RunningSimulator, path: str) -> int:
    """How many requests for `path` the simulator has answered (or dropped)."""
    return sum(1 for r in sim.state.requests_since(None) if r.path == path)


@contextlib.asynccontextmanager
async def daemon(
    tmp_path: Path,
    overrides: Callable[[str], dict[str, Any]] = dict,
    *,
    cfg: Callable[[str], WatcherConfig] | None = None,
    config_path: Path | None = None,
) -> AsyncIterator[Harness]:
    """A simulator and a watcher daemon pointed at it; `overrides(sim_url)` changes the test config
    (the status page URL is the simulator's, known only once it runs), or `cfg(sim_url)` replaces it."""

    def build(sim_url: str) -> WatcherConfig:
        if cfg is not None:
            return cfg(sim_url)
        return watcher_config(sim_url, tmp_path / "state", **overrides(sim_url))

    state = SimulatorState(default_seed(), seed_rng=7)
    async with running_watcher(tmp_path, state=state, config=build, config_path=config_path) as h:
        yield h
