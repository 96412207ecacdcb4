"""Never-ending tasks: a crash is logged at once and the task restarts; a stop ends the sleep."""

from __future__ import annotations

import anyio
import pytest
import structlog

from watcher.daemon.tasks import guarded, sleep
from watcher.metrics import WatcherMetrics

pytestmark = pytest.mark.anyio


async def test_a_crashing_task_is_logged_counted_and_restarted() -> None:
    stop = anyio.Event()
    metrics = WatcherMetrics()
    runs: list[int] = []

    async def body() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")

    with structlog.testing.capture_logs() as logs, anyio.fail_after(5):
        await guarded("poller", body, stop=stop, metrics=metrics, base_backoff=0.001)
    assert runs == [0, 1, 2]  # restarted until it returned normally
    crashes = [e for e in logs if e["event"] == "task crashed; restarting"]
    assert [e["task"] for e in crashes] == ["poller", "poller"]
    assert "boom 1" in crashes[0]["error"]
    assert metrics.task_restarts.labels(task="poller")._value.get() == 2


async def test_stop_wakes_a_sleeping_loop_at_once() -> None:
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        result: list[bool] = []

        async def sleeper() -> None:
            result.append(await sleep(3600, stop))

        tg.start_soon(sleeper)
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(2):
            stop.set()
    assert result == [True]


async def test_sleep_without_a_stop_returns_false() -> None:
    assert await sleep(0.001, anyio.Event()) is False
    assert await sleep(0, anyio.Event()) is False
