"""The virtual strategy store: durable, atomic, shaped like the API's strategy calls."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.daemon.conftest import PRIMARY, SECONDARY, watcher_config
from watcher.daemon.leadership import SingleInstance
from watcher.switch import WritePolicy, WriteRefused
from watcher.switch.virtual import FILE_NAME, VirtualStrategies

pytestmark = pytest.mark.anyio

VIRTUAL = "cc"


def store(directory: Path) -> VirtualStrategies:
    cfg = watcher_config(
        "http://127.0.0.1:1",
        directory,
        strategies=[{"id": VIRTUAL, "kind": "virtual", "regions": [PRIMARY, SECONDARY]}],
        rules=[],
        emergency_groups=[{"id": "g", "strategy": VIRTUAL}],
    )
    return VirtualStrategies(directory, lambda: cfg, SingleInstance("test"))


async def _yes() -> bool:
    return True


async def _no() -> bool:
    return False


async def test_a_write_is_durable_and_versioned(tmp_path: Path) -> None:
    first = store(tmp_path)
    await first.adopt(VIRTUAL, None)
    outcome = await first.write_order(
        VIRTUAL, [SECONDARY, PRIMARY], WritePolicy(attempts=3, clock=time.monotonic, confirm=_yes)
    )
    again = await first.write_order(
        VIRTUAL, [SECONDARY, PRIMARY], WritePolicy(attempts=3, clock=time.monotonic, confirm=_yes)
    )

    assert (outcome.changed, outcome.version_before, outcome.version_after) == (True, 1, 2)
    assert not again.changed
    reopened = await store(tmp_path).get(VIRTUAL)
    assert (reopened.active_region(), reopened.region_order(), reopened.version) == (
        SECONDARY,
        [SECONDARY, PRIMARY],
        2,
    )


async def test_no_write_without_leadership(tmp_path: Path) -> None:
    s = store(tmp_path)
    await s.adopt(VIRTUAL, PRIMARY)
    with pytest.raises(WriteRefused):
        await s.write_order(
            VIRTUAL, [SECONDARY, PRIMARY], WritePolicy(attempts=3, clock=time.monotonic, confirm=_no)
        )
    assert (await s.get(VIRTUAL)).active_region() == PRIMARY


async def test_an_unreadable_file_is_ignored_not_fatal(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("{not json", encoding="utf-8")
    s = store(tmp_path)
    assert not s.known(VIRTUAL)
    await s.adopt(VIRTUAL, "ap-south-1")  # not a region of the strategy: the preferred one instead
    assert (await s.get(VIRTUAL)).region_order() == [PRIMARY, SECONDARY]
