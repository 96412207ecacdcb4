"""A switch planned from the last copies read or written: one PUT per object when nothing changed
behind the watcher's back, and read → plan → write again when something did. Real HTTP against the
simulator; the simulator's request log says what crossed the network."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.daemon._parts import (
    FAILOVER,
    RULE_1,
    RULE_2,
    RULE_PATH,
    S1,
    STRATEGY_PATH,
    Gate,
    RecordingReports,
    Rig,
    reweight,
    running_rig,
)
from tests.daemon.conftest import PRIMARY, SECONDARY, TARGETS
from watcher.genesys import Copies
from watcher.sim import strategy_seed
from watcher.switch import Executor, SwitchResult

pytestmark = pytest.mark.anyio

FAILBACK = (PRIMARY, SECONDARY)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path) as r:
        yield r


async def primed(rig: Rig) -> tuple[Executor, Copies, RecordingReports]:
    """An executor with copies of S1 and its rules as the read-back leaves them, targets known;
    the simulator's request log emptied, so what follows is the switch alone."""
    copies, reports = Copies(), RecordingReports()
    followers = rig.followers(copies=copies)
    executor = rig.executor(followers=followers, copies=copies, report=reports)
    copies.keep_strategy(await rig.client.get_strategy(S1))
    for rule in (RULE_1, RULE_2):
        copies.keep_rule(rule, await rig.client.get_rule(rule))
    await followers.learn_targets()
    rig.sim.state.requests.clear()
    return executor, copies, reports


async def test_a_switch_with_fresh_copies_sends_one_put_per_object_and_no_get(rig: Rig) -> None:
    executor, copies, reports = await primed(rig)

    await executor.execute(reweight(S1, FAILOVER))

    log = rig.api_log()
    assert [m for m, _, _ in log] == ["PUT", "PUT", "PUT"]  # no GET at all: strategy, rules, targets
    assert log[0] == ("PUT", STRATEGY_PATH + S1, 200)  # the strategy first, then its rules
    assert sorted(log[1:]) == [("PUT", RULE_PATH + RULE_1, 200), ("PUT", RULE_PATH + RULE_2, 200)]
    assert rig.order(S1) == [(SECONDARY, 1, 100), (PRIMARY, 2, 0)]
    assert rig.target(RULE_1) == rig.target(RULE_2) == [TARGETS[SECONDARY]]
    assert reports.reports[0].result is SwitchResult.SUCCESS

    # The PUT answers became the copies: the way back costs one PUT per object too.
    strategy_copy = copies.strategy(S1)
    assert strategy_copy is not None
    assert strategy_copy.version == rig.strategy(S1)["version"]
    rig.sim.state.requests.clear()
    await executor.execute(reweight(S1, FAILBACK, kind="failback"))
    assert [m for m, _, _ in rig.api_log()] == ["PUT", "PUT", "PUT"]
    assert rig.target(RULE_1) == [TARGETS[PRIMARY]]


async def test_a_stale_copy_meets_a_conflict_and_the_object_is_read_then_written(rig: Rig) -> None:
    executor, _, reports = await primed(rig)
    await rig.edit_strategy(S1)  # behind the watcher's back: same content, the version moves on
    await rig.point_rule(RULE_1, TARGETS[PRIMARY])

    await executor.execute(reweight(S1, FAILOVER))

    assert rig.sim_log(STRATEGY_PATH + S1) == [
        ("PUT", STRATEGY_PATH + S1, 409),
        ("GET", STRATEGY_PATH + S1, 200),
        ("PUT", STRATEGY_PATH + S1, 200),
    ]
    assert rig.sim_log(RULE_PATH + RULE_1) == [
        ("PUT", RULE_PATH + RULE_1, 409),
        ("GET", RULE_PATH + RULE_1, 200),
        ("PUT", RULE_PATH + RULE_1, 200),
    ]
    assert rig.sim_log(RULE_PATH + RULE_2) == [("PUT", RULE_PATH + RULE_2, 200)]
    assert rig.order(S1) == [(SECONDARY, 1, 100), (PRIMARY, 2, 0)]
    assert rig.target(RULE_1) == [TARGETS[SECONDARY]]
    (report,) = reports.reports
    assert report.result is SwitchResult.SUCCESS
    assert {(w.object_id, w.conflicts) for w in report.writes} == {(S1, 1), (RULE_1, 1), (RULE_2, 0)}


async def test_a_copy_that_says_nothing_to_do_is_checked_against_the_server(rig: Rig) -> None:
    executor, _, _ = await primed(rig)
    await executor.execute(reweight(S1, FAILOVER))
    # Someone moves the strategy back behind the watcher's back: its copy still says "secondary".
    await rig.edit_strategy(S1, routingConfig=strategy_seed(S1, list(FAILBACK))["routingConfig"])
    assert rig.order(S1)[0][0] == PRIMARY
    rig.sim.state.requests.clear()

    await executor.execute(reweight(S1, FAILOVER))

    # Not skipped on the copy's word: read, found on the primary, written.
    assert rig.sim_log(STRATEGY_PATH + S1) == [
        ("GET", STRATEGY_PATH + S1, 200),
        ("PUT", STRATEGY_PATH + S1, 200),
    ]
    assert rig.order(S1)[0][0] == SECONDARY


async def test_a_copy_older_than_a_fence_is_refused_and_a_deposed_leader_does_not_retry(rig: Rig) -> None:
    # A leader planned from its copy; meanwhile a new leader fenced the strategy (wrote it back
    # unchanged: the version moved on) and this instance lost the lease. Its PUT carries the
    # copy's version: refused with a conflict; the retry reads, asks the gate, and stops.
    gate = Gate()
    copies, reports = Copies(), RecordingReports()
    executor = rig.executor(
        gate=gate, followers=rig.followers(gate=gate, copies=copies), copies=copies, report=reports
    )
    copies.keep_strategy(await rig.client.get_strategy(S1))
    fenced_order = rig.order(S1)
    await rig.edit_strategy(S1)  # the new leader's fence

    async def deposed_after_the_conflict(request: httpx.Request, response: httpx.Response) -> None:
        if request.method == "PUT" and response.status_code == 409:
            gate.leader = False

    rig.spy.hook = deposed_after_the_conflict
    rig.sim.state.requests.clear()

    await executor.execute(reweight(S1, FAILOVER))

    assert rig.sim_log(STRATEGY_PATH + S1) == [
        ("PUT", STRATEGY_PATH + S1, 409),
        ("GET", STRATEGY_PATH + S1, 200),  # and then the gate says no: nothing more is sent
    ]
    assert rig.order(S1) == fenced_order
    assert gate.confirmed == [S1, S1]
    assert reports.reports[0].result is SwitchResult.FAILURE


async def test_a_write_that_failed_in_transit_is_read_before_it_is_sent_again(rig: Rig) -> None:
    executor, _, reports = await primed(rig)
    await rig.fault(path=f"^{STRATEGY_PATH}{S1}$", method="PUT", status=503, count=1)

    await executor.execute(reweight(S1, FAILOVER))

    assert rig.sim_log(STRATEGY_PATH + S1) == [
        ("PUT", STRATEGY_PATH + S1, 503),
        ("GET", STRATEGY_PATH + S1, 200),  # never blind: it may have landed
        ("PUT", STRATEGY_PATH + S1, 200),
    ]
    assert reports.reports[0].result is SwitchResult.SUCCESS


async def test_without_copies_every_write_reads_first(rig: Rig) -> None:
    # `executor.write_from_copies = false`: the old path, kept for the benchmark's comparison.
    executor = rig.executor()
    rig.sim.state.requests.clear()

    await executor.execute(reweight(S1, FAILOVER))

    assert rig.sim_log(STRATEGY_PATH + S1) == [
        ("GET", STRATEGY_PATH + S1, 200),
        ("PUT", STRATEGY_PATH + S1, 200),
    ]
    assert [m for m, _, _ in rig.sim_log(RULE_PATH + RULE_1)] == ["GET", "PUT"]
