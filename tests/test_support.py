"""The suite's one condition wait: it returns once the condition holds, and a condition that never
holds fails with what it was waiting for and the last value it saw (sync and async the same)."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from tests.support import until, until_sync

pytestmark = pytest.mark.anyio


async def test_until_returns_once_another_task_makes_the_condition_true() -> None:
    seen: list[int] = []
    async with anyio.create_task_group() as tg:

        async def produce() -> None:
            for n in range(3):
                await anyio.sleep(0.01)
                seen.append(n)

        tg.start_soon(produce)
        await until(lambda: len(seen) == 3, "three items", 5)
    assert seen == [0, 1, 2]


async def test_until_fails_naming_the_condition_and_the_last_value_seen() -> None:
    with pytest.raises(AssertionError) as failure:
        await until(lambda: [], "an item in the queue", 0.05, detail=lambda: "queue empty")
    text = str(failure.value)
    assert "not true within 0.05s: an item in the queue" in text
    assert "last observed: []" in text
    assert "last seen: 'queue empty'" in text


async def test_an_unnamed_condition_is_named_by_its_source() -> None:
    with pytest.raises(AssertionError, match=r"lambda: 1 \+ 1 == 3"):
        await until(lambda: 1 + 1 == 3, timeout=0.02)


async def test_an_async_check_that_cannot_connect_yet_is_retried_until_it_holds() -> None:
    calls = 0

    async def check() -> bool:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("connection refused")
        return True

    await until(check, "the server to answer", 5, interval=0.001)
    assert calls == 3


async def test_a_server_that_never_answers_is_named_in_the_failure() -> None:
    async def check() -> bool:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(AssertionError, match="last observed: 'ConnectError: connection refused'"):
        await until(check, "the server to answer", 0.05)


async def test_any_other_error_of_the_check_fails_at_once() -> None:
    def check() -> bool:
        raise KeyError("strategy-1")

    started = time.monotonic()
    with pytest.raises(KeyError):
        await until(check, "never", 30)
    assert time.monotonic() - started < 5


def test_until_sync_has_the_same_semantics() -> None:
    answers = iter([None, 0, "ready"])
    until_sync(lambda: next(answers), "ready", 5, interval=0.001)
    with pytest.raises(AssertionError, match=r"last observed: 0"):
        until_sync(lambda: 0, "a count above zero", 0.05)
