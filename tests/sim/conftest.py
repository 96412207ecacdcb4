"""Fixtures: a simulator on a free loopback port with a fake clock, and a client for it."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support import FakeClock
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator

from ._support import fetch_token

# Loading the CA bundle costs ~80 ms per client; the simulator speaks plain HTTP anyway.
SHARED_TLS = ssl.create_default_context()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> SimulatorState:
    return SimulatorState(default_seed(), clock=clock, seed_rng=1234)


@pytest.fixture
async def sim(state: SimulatorState) -> AsyncIterator[RunningSimulator]:
    async with running_simulator(state) as running:
        yield running


@pytest.fixture
async def client(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10.0, verify=SHARED_TLS) as http:
        yield http


@pytest.fixture
async def api(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same client, carrying a fresh bearer token."""
    response = await fetch_token(client)
    assert response.status_code == 200
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client
