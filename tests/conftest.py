"""Fixtures for the whole suite: the anyio backend, and global logging state reset after every test.

`watcher.logs.configure_logging` configures structlog and the stdlib root logger process-wide (as
it should, once, at start-up); a test that starts a daemon or a CLI would otherwise leak its log
setup into every test after it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

# The loggers `configure_logging` quietens, besides the root logger it configures.
_CONFIGURED_LOGGERS = ("", "httpx", "httpcore", "uvicorn.access", "uvicorn.error", "aiohttp.access")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _is_pytests(handler: logging.Handler) -> bool:
    """pytest's own capture handlers come and go per test phase; they are not ours to remove."""
    return type(handler).__module__.startswith("_pytest")


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers = list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in _CONFIGURED_LOGGERS}
    yield
    structlog.reset_defaults()
    for handler in list(root.handlers):
        if handler not in handlers and not _is_pytests(handler):
            root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
