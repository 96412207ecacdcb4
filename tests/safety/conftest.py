"""Fixtures of the safety suite (SPEC §4.1): asyncio, clean logging, and the real etcd of tests/leader."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from tests.leader.conftest import real_etcd  # noqa: F401 - a fixture, shared with tests/leader


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
