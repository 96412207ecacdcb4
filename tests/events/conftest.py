"""Fixtures of the event tests."""

from __future__ import annotations

import pytest

from watcher.metrics import WatcherMetrics


@pytest.fixture
def metrics() -> WatcherMetrics:
    return WatcherMetrics()
