"""Fixtures of the safety suite (SPEC §4.1): the real etcd of tests/leader (asyncio and the logging
reset come from the root conftest)."""

from __future__ import annotations

from tests.leader.conftest import real_etcd  # noqa: F401 - a fixture, shared with tests/leader
