"""Fixtures: a simulator on a free loopback port, a config file pointing at it, a Genesys client
built from that config, and a plain HTTP client for the simulator's admin API."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from watcher.config import WatcherConfig, load_config
from watcher.genesys import GenesysClient
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator

from ._support import RecordedSleep, config_text

# Loading the CA bundle costs ~80 ms per client; the simulator speaks plain HTTP anyway.
SHARED_TLS = ssl.create_default_context()


@pytest.fixture
def state() -> SimulatorState:
    """The simulator's state; tests that need other knobs override this fixture in their module."""
    return SimulatorState(default_seed(), seed_rng=7)


@pytest.fixture
async def sim(state: SimulatorState) -> AsyncIterator[RunningSimulator]:
    async with running_simulator(state) as running:
        yield running


@pytest.fixture
def config_path(sim: RunningSimulator, tmp_path: Path) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(config_text(sim.base_url, tmp_path / "state"), encoding="utf-8")
    return path


@pytest.fixture
def cfg(config_path: Path) -> WatcherConfig:
    return load_config(config_path)


@pytest.fixture
def sleep() -> RecordedSleep:
    """The client's retry and budget waits: recorded, not slept, so backoff costs no real time."""
    return RecordedSleep()


@pytest.fixture
async def client(cfg: WatcherConfig, sleep: RecordedSleep) -> AsyncIterator[GenesysClient]:
    async with GenesysClient(cfg.genesys, cfg.client_secret(), sleep=sleep) as genesys:
        yield genesys


@pytest.fixture
async def admin(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's `/_sim` admin API, driven over HTTP as a user would."""
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=5.0, verify=SHARED_TLS) as http:
        yield http
