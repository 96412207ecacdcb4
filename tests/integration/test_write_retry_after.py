"""A 429 on a switch's own write, over real HTTP: the write loop waits what `Retry-After` says, and
never longer than the client's cap (`MAX_RETRY_AFTER`), before it reads again and writes.

The write loop bypasses the client's retries (it sends its PUTs with `retries=0`, so a write that
may have landed is re-read, not resent blind): it must honour the platform's wait itself.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support import FakeClock
from watcher.genesys import GenesysClient, RateLimited, Strategy
from watcher.genesys.retry import MAX_RETRY_AFTER
from watcher.switch import WritePolicy
from watcher.switch.plan import plan_strategy, strategy_matches
from watcher.switch.store import write_strategy_order
from watcher.switch.writes import write_with_retries

from ._support import add_fault, by_id, request_log, sim_state, strategy_order

pytestmark = pytest.mark.anyio

STRATEGY = "/api/v2/routing/strategies/strategy-1"
FAILOVER = ["eu-west-1", "us-east-1"]


async def throttle_puts(admin: httpx.AsyncClient, *, retry_after: int, count: int) -> None:
    """The next `count` PUTs of the strategy are answered 429 with `Retry-After: retry_after`."""
    await add_fault(
        admin, path=f"^{STRATEGY}$", method="PUT", status=429, retryAfter=retry_after, count=count
    )


async def write_on_virtual_time(client: GenesysClient, time: FakeClock, *, attempts: int = 3) -> None:
    """The write loop of a strategy switch (as `write_strategy_order` builds it), its waits on `time`."""

    async def read() -> Strategy:
        return await client.get_strategy("strategy-1")

    async def write(current: Strategy) -> Strategy:
        return await client.put_strategy(plan_strategy(current, FAILOVER), retries=0)

    await write_with_retries(
        "strategy",
        "strategy-1",
        read,
        lambda current: strategy_matches(current, FAILOVER),
        write,
        WritePolicy(attempts=attempts, clock=time, sleep=time.sleep),
    )


async def test_a_throttled_write_waits_the_retry_after_before_reading_again(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    # Real time, the write function the executor calls: the re-read comes only after the 2 s told.
    await throttle_puts(admin, retry_after=2, count=1)

    outcome = await write_strategy_order(client, "strategy-1", FAILOVER, WritePolicy(attempts=3))

    assert outcome.changed
    strategy = by_id((await sim_state(admin))["strategies"], "strategy-1")
    assert strategy_order(strategy) == [("eu-west-1", 1, 100), ("us-east-1", 2, 0)]
    log = [r for r in await request_log(admin) if r["path"] == STRATEGY]
    statuses = [(r["method"], r["status"]) for r in log]
    assert statuses == [("GET", 200), ("PUT", 429), ("GET", 200), ("PUT", 200)]
    throttled, reread = log[1], log[2]
    assert reread["time"] - throttled["time"] >= 2.0, "the write loop read again before Retry-After"


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [
        pytest.param(7, 7.0, id="as-told"),
        pytest.param(int(MAX_RETRY_AFTER), MAX_RETRY_AFTER, id="the-cap-itself"),
        pytest.param(600, MAX_RETRY_AFTER, id="cut-to-the-cap"),
    ],
)
async def test_the_write_loop_waits_the_retry_after_up_to_the_cap(
    client: GenesysClient, admin: httpx.AsyncClient, retry_after: int, waited: float
) -> None:
    await throttle_puts(admin, retry_after=retry_after, count=1)
    time = FakeClock(autojump=True)

    await write_on_virtual_time(client, time)

    # One wait, exactly what the platform said (or the cap), between the 429 and the re-read.
    assert time.sleeps == [pytest.approx(waited)]
    log = [(r["method"], r["status"]) for r in await request_log(admin) if r["path"] == STRATEGY]
    assert log == [("GET", 200), ("PUT", 429), ("GET", 200), ("PUT", 200)]  # the client did not resend


async def test_a_write_throttled_every_time_waits_each_time_then_gives_up(
    client: GenesysClient, admin: httpx.AsyncClient
) -> None:
    await throttle_puts(admin, retry_after=5, count=10)
    time = FakeClock(autojump=True)

    with pytest.raises(RateLimited):
        await write_on_virtual_time(client, time, attempts=3)

    assert time.sleeps == [pytest.approx(5.0), pytest.approx(5.0)]  # no wait after the last attempt
    puts = [r["status"] for r in await request_log(admin) if r["path"] == STRATEGY and r["method"] == "PUT"]
    assert puts == [429, 429, 429]
