"""The async kit: a crash is logged at once and the task restarts; a stop ends the sleep; one backoff."""

from __future__ import annotations

import random

import anyio
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from watcher.aio import Backoff, guard, sleep
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
        await guard(
            "poller",
            body,
            stop=stop,
            endless=False,
            on_crash=lambda task: metrics.task_restarts.labels(task=task).inc(),
            backoff=Backoff(0.001, 0.001),
        )
    assert runs == [0, 1, 2]  # restarted until it returned normally
    crashes = [e for e in logs if e["event"] == "task crashed; restarting"]
    assert [e["task"] for e in crashes] == ["poller", "poller"]
    assert "boom 1" in crashes[0]["error"]
    assert metrics.registry.get_sample_value("failover_watcher_task_restarts_total", {"task": "poller"}) == 2


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


async def test_an_endless_task_that_returns_is_reported() -> None:
    async def body() -> None:
        return

    with structlog.testing.capture_logs() as logs, anyio.fail_after(2):
        await guard("scheduler", body, stop=anyio.Event())
    assert [e["task"] for e in logs if e["event"].startswith("a never-ending task returned")] == ["scheduler"]


async def test_the_shortest_of_several_deadlines_wins() -> None:
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    assert await sleep([30.0, None, 2.5, 7.0], anyio.Event(), sleeper=fake_sleep) is False
    assert slept == [2.5]


async def test_stop_interrupts_an_injected_sleeper() -> None:
    stop = anyio.Event()

    async def forever(delay: float) -> None:
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        result: list[bool] = []

        async def sleeper() -> None:
            result.append(await sleep(5.0, stop, sleeper=forever))

        tg.start_soon(sleeper)
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(2):
            stop.set()
    assert result == [True]


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_capped_and_jittered_within_its_bounds(attempt: int, seed: int) -> None:
    rng = random.Random(seed)
    full, half = Backoff(0.25, 8.0, "full"), Backoff(0.25, 8.0, "half")
    top = min(8.0, 0.25 * 2 ** (attempt - 1))
    assert 0 <= full.delay(attempt, rng) <= top
    assert top / 2 <= half.delay(attempt, rng) <= top
    assert Backoff(0.25, 8.0, "none").delay(attempt) == top
