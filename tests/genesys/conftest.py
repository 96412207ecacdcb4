"""Fixtures of the Genesys client tests: fake time, a scripted API, a fresh metrics registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.support import FakeClock
from watcher.genesys import GenesysClient
from watcher.metrics import WatcherMetrics

from ._support import FakeGenesys, make_client


@pytest.fixture
def fake_time() -> FakeClock:
    return FakeClock(autojump=True)


@pytest.fixture
def api() -> FakeGenesys:
    return FakeGenesys()


@pytest.fixture
def metrics() -> WatcherMetrics:
    return WatcherMetrics()


@pytest.fixture
def client_factory(
    api: FakeGenesys, fake_time: FakeClock, metrics: WatcherMetrics
) -> Callable[..., GenesysClient]:
    def build(**settings: Any) -> GenesysClient:
        return make_client(api, fake_time, metrics, **settings)

    return build


@pytest.fixture
async def client(client_factory: Callable[..., GenesysClient]) -> AsyncIterator[GenesysClient]:
    async with client_factory() as opened:
        yield opened
