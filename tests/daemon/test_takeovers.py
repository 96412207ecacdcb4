"""What a change of leadership sets off (`Takeovers`, the backend's `on_change`): the gauge at once;
on a gain, every strategy unread again and the initial read woken; nothing called back up."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.daemon.conftest import STRATEGY, watcher_config
from watcher.daemon.leadership import SingleInstance, Takeovers
from watcher.metrics import WatcherMetrics

pytestmark = pytest.mark.anyio


def leader_gauge(metrics: WatcherMetrics) -> float | None:
    return metrics.registry.get_sample_value("failover_watcher_leader")


async def test_a_gain_marks_every_strategy_unread_and_wakes_the_initial_read(tmp_path: Path) -> None:
    cfg = watcher_config("http://sim.invalid", tmp_path)
    metrics, unread = WatcherMetrics(), set[str]()
    takeovers = Takeovers(metrics, unread, lambda: cfg)

    takeovers(False)
    assert leader_gauge(metrics) == 0
    assert unread == set()
    with anyio.move_on_after(0.05) as waited:
        await takeovers.next()
    assert waited.cancelled_caught  # a loss wakes nobody

    takeovers(True)
    assert leader_gauge(metrics) == 1
    assert unread == {STRATEGY}  # the shared set, changed in place
    with anyio.fail_after(1):
        await takeovers.next()  # woken, even though it was asked before anyone waited


async def test_a_single_instance_reports_its_leadership_through_the_callback_it_was_built_with(
    tmp_path: Path,
) -> None:
    cfg = watcher_config("http://sim.invalid", tmp_path)
    metrics, unread = WatcherMetrics(), set[str]()
    takeovers = Takeovers(metrics, unread, lambda: cfg)
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(SingleInstance("me", on_change=takeovers).run, stop)
        with anyio.fail_after(1):
            await takeovers.next()
        stop.set()
    assert leader_gauge(metrics) == 1
    assert unread == {STRATEGY}
