"""The executor, driven directly: a Reweight becomes one strategy PUT and the rule PUTs, against the
real simulator over loopback, and its result is reported, counted, audited and fed back to the core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from tests.daemon._parts import (
    FAILOVER,
    RULE_1,
    RULE_2,
    RULE_3,
    RULE_PATH,
    S1,
    S2,
    STRATEGY_PATH,
    Gate,
    RecordingFeed,
    RecordingReports,
    Rig,
    Turnstile,
    reweight,
    running_rig,
)
from tests.daemon.conftest import PRIMARY, SECONDARY, TARGETS
from tests.support import until
from watcher.core import WriteFailed, WriteSkipped, WriteSucceeded
from watcher.switch import SwitchResult

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path) as r:
        yield r


async def test_a_reweight_writes_the_strategy_with_one_put_then_its_rules(rig: Rig) -> None:
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(feed=feed, report=reports)
    rig.clock.now = 1000.0  # the first bad observation of the streak was at 990 (see `explanation`)

    await executor.execute(reweight(S1, FAILOVER))

    assert rig.strategy_puts(S1) == [200]
    assert sorted(rig.rule_puts()) == [RULE_1, RULE_2]
    assert rig.order(S1) == [(SECONDARY, 1, 100), (PRIMARY, 2, 0)]
    assert rig.target(RULE_1) == rig.target(RULE_2) == [TARGETS[SECONDARY]]
    assert rig.target(RULE_3) == [TARGETS[PRIMARY]]  # another strategy's rule is not touched
    assert rig.requests("PUT", STRATEGY_PATH + S2) == []

    (report,) = reports.reports
    assert report.result is SwitchResult.SUCCESS
    assert report.error is None
    strategy_write, *rule_writes = report.writes
    assert (strategy_write.kind, strategy_write.object_id, strategy_write.changed) == ("strategy", S1, True)
    assert (strategy_write.version_before, strategy_write.version_after) == (1, 2)
    assert sorted((w.kind, w.object_id, w.version_after) for w in rule_writes) == [
        ("rule", RULE_1, 2),
        ("rule", RULE_2, 2),
    ]
    assert report.strategy_version == 2 == rig.strategy(S1)["version"]

    assert feed.events == [WriteSucceeded(S1, SECONDARY, 1000.0, 2)]
    assert rig.switches(S1, "success") == 1
    assert rig.switches(S1, "failure") == 0
    assert rig.metric("failover_watcher_update_latency_seconds_count", kind="strategy") == 1
    assert rig.metric("failover_watcher_update_latency_seconds_count", kind="rule") == 2
    # Detection to switch, on the fake clock: the PUT was acknowledged at 1000, the streak began at 990.
    assert rig.metric("failover_watcher_detection_to_switch_seconds_sum", strategy=S1) == 10.0

    audit = rig.audit()
    assert [(r["kind"], r["rule"], r["result"]) for r in audit[:1]] == [("strategy", None, "success")]
    assert sorted((r["kind"], r["rule"], r["result"]) for r in audit[1:]) == [
        ("rule", RULE_1, "success"),
        ("rule", RULE_2, "success"),
    ]
    assert (audit[0]["version_before"], audit[0]["version_after"]) == (1, 2)
    # Every write carries the decision's explanation, its instants made wall-clock times.
    assert all(r["explanation"]["summary"] == "us-east-1 failed" for r in audit)
    assert audit[0]["explanation"]["observations"][0]["at"] == "2027-01-15T08:16:30Z"
    assert executor.in_flight == set()


async def test_a_reweight_that_finds_the_strategy_already_routed_sends_no_put(rig: Rig) -> None:
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(feed=feed, report=reports)

    await executor.execute(reweight(S1, (PRIMARY, SECONDARY), kind="reconcile"))

    assert rig.requests("PUT") == []
    (report,) = reports.reports
    assert report.result is SwitchResult.SUCCESS
    assert [(w.kind, w.changed, w.version_after) for w in report.writes] == [
        ("strategy", False, 1),
        ("rule", False, 1),
        ("rule", False, 1),
    ]
    assert feed.events == [WriteSucceeded(S1, PRIMARY, rig.clock.now, 1)]
    # Nothing was written, so no write latency was measured.
    assert rig.metric("failover_watcher_update_latency_seconds_count", kind="strategy") is None


async def test_dry_run_writes_nothing_reports_dry_run_and_audits_the_decision(rig: Rig) -> None:
    feed, reports = RecordingFeed(), RecordingReports()
    gate = Gate()
    executor = rig.executor(gate=gate, feed=feed, report=reports)

    await executor.execute(reweight(S1, FAILOVER, dry_run=True))

    assert rig.requests("PUT") == []
    assert rig.requests("GET") == []
    assert gate.asked == []  # not even the gate: a dry run writes nothing whoever leads
    (report,) = reports.reports
    assert report.result is SwitchResult.DRY_RUN
    assert report.dry_run
    assert report.writes == []
    # The core hears it was skipped: its belief stays what the API holds (dry run decides against the truth).
    assert feed.events == [WriteSkipped(S1, SECONDARY, rig.clock.now, follower=False)]
    assert rig.switches(S1, "success") == rig.switches(S1, "failure") == 0
    (record,) = rig.audit()
    assert (record["kind"], record["result"], record["strategy"]) == ("decision", "dry_run", S1)
    assert record["explanation"]["summary"] == "us-east-1 failed"
    assert rig.order(S1)[0] == (PRIMARY, 1, 100)


async def test_a_gate_that_refuses_makes_a_follower_that_sends_no_put(rig: Rig) -> None:
    feed, reports = RecordingFeed(), RecordingReports()
    gate = Gate(leader=False)
    executor = rig.executor(gate=gate, feed=feed, report=reports, followers=rig.followers(gate=gate))

    await executor.execute(reweight(S1, FAILOVER))

    assert gate.asked == [S1]
    assert rig.requests("PUT") == []
    assert rig.requests("GET") == []
    (report,) = reports.reports
    assert report.result is SwitchResult.FOLLOWER
    assert report.writes == []
    # A follower keeps warm state; its belief stays what the API holds, marked as not led here.
    assert feed.events == [WriteSkipped(S1, SECONDARY, rig.clock.now, follower=True)]
    assert rig.audit() == []
    assert rig.switches(S1, "success") == rig.switches(S1, "failure") == 0


async def test_a_5xx_on_the_strategy_put_fails_the_switch_counts_and_audits_it(rig: Rig) -> None:
    await rig.fault(path=f"^{STRATEGY_PATH}{S1}$", method="PUT", status=503)
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(feed=feed, report=reports)

    await executor.execute(reweight(S1, FAILOVER))

    # A PUT that failed in transit may have landed: never resent blind, each retry re-reads first.
    assert rig.strategy_puts(S1) == [503, 503, 503]  # conflict_retries = 3 attempts
    strategy_calls = [m for m, _, _ in rig.sim_log(STRATEGY_PATH + S1)]
    assert strategy_calls == ["GET", "PUT", "GET", "PUT", "GET", "PUT"]
    assert rig.requests("GET", RULE_PATH) == []
    assert rig.requests("PUT", RULE_PATH) == []
    (report,) = reports.reports
    assert report.result is SwitchResult.FAILURE
    assert report.writes == []
    assert report.error is not None
    assert "503" in report.error
    (event,) = feed.events
    assert isinstance(event, WriteFailed)
    assert (event.strategy, event.region, event.error) == (S1, SECONDARY, report.error)
    assert rig.switches(S1, "failure") == 1
    assert rig.switches(S1, "success") == 0
    exposition = rig.metrics.exposition().decode()
    assert f'failover_watcher_switches_total{{result="failure",strategy="{S1}"}} 1.0' in exposition
    (record,) = rig.audit()
    assert (record["kind"], record["result"], record["error"]) == ("strategy", "failure", report.error)
    assert record["explanation"]["summary"] == "us-east-1 failed"
    assert rig.order(S1)[0] == (PRIMARY, 1, 100)


async def test_an_order_the_strategy_cannot_take_fails_without_a_put(rig: Rig) -> None:
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(feed=feed, report=reports)

    await executor.execute(reweight(S1, ("ap-south-1", PRIMARY)))

    assert rig.requests("PUT") == []
    (report,) = reports.reports
    assert report.result is SwitchResult.FAILURE
    assert report.error == f"strategy {S1} has no region(s) ap-south-1"
    assert isinstance(feed.events[0], WriteFailed)
    assert rig.switches(S1, "failure") == 1


async def test_a_failing_rule_put_is_partial_and_the_error_names_the_rule(rig: Rig) -> None:
    await rig.fault(path=f"^{RULE_PATH}{RULE_2}$", method="PUT", status=500)
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(feed=feed, report=reports)

    await executor.execute(reweight(S1, FAILOVER))

    assert rig.strategy_puts(S1) == [200]
    assert rig.rule_puts() == [RULE_1]  # the other rule is written all the same
    (report,) = reports.reports
    assert report.result is SwitchResult.PARTIAL
    assert report.error is not None
    assert report.error.startswith(f"rule {RULE_2}: ")
    assert RULE_1 not in report.error
    assert [(w.kind, w.object_id) for w in report.writes] == [("strategy", S1), ("rule", RULE_1)]
    # The strategy routes there: the core takes the switch as done (the read-back finishes the rule).
    assert feed.events == [WriteSucceeded(S1, SECONDARY, rig.clock.now, 2)]
    assert rig.switches(S1, "failure") == 1
    assert rig.switches(S1, "success") == 0
    failures = [(r["kind"], r["rule"]) for r in rig.audit() if r["result"] == "failure"]
    assert failures == [("rule", RULE_2)]


async def test_a_strategy_changed_between_read_and_write_is_reread_and_replanned(rig: Rig) -> None:
    renamed = anyio.Event()

    async def rename_after_first_read(request: httpx.Request, response: httpx.Response) -> None:
        if request.method == "GET" and request.url.path == STRATEGY_PATH + S1 and not renamed.is_set():
            renamed.set()
            await rig.edit_strategy(S1, name="renamed by an operator")

    rig.spy.hook = rename_after_first_read
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(feed=feed, report=reports)

    await executor.execute(reweight(S1, FAILOVER))

    assert renamed.is_set()
    assert rig.strategy_puts(S1) == [409, 200]
    (report,) = reports.reports
    assert report.result is SwitchResult.SUCCESS
    strategy_write = report.writes[0]
    assert strategy_write.conflicts == 1
    # Re-planned from what was read after the change: the operator's edit survives the PUT.
    assert rig.strategy(S1)["name"] == "renamed by an operator"
    assert rig.order(S1) == [(SECONDARY, 1, 100), (PRIMARY, 2, 0)]
    assert (strategy_write.version_before, strategy_write.version_after) == (2, 3)
    assert feed.events == [WriteSucceeded(S1, SECONDARY, rig.clock.now, 3)]


async def test_a_strategy_that_keeps_changing_fails_after_the_conflict_retries(rig: Rig) -> None:
    edits = 0

    async def rename_after_every_read(request: httpx.Request, response: httpx.Response) -> None:
        nonlocal edits
        if request.method == "GET" and request.url.path == STRATEGY_PATH + S1:
            edits += 1
            await rig.edit_strategy(S1, name=f"edit {edits}")

    rig.spy.hook = rename_after_every_read
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(feed=feed, report=reports)

    await executor.execute(reweight(S1, FAILOVER))

    assert rig.cfg.executor.conflict_retries == 3
    assert rig.strategy_puts(S1) == [409, 409, 409]
    (report,) = reports.reports
    assert report.result is SwitchResult.FAILURE
    assert report.error is not None
    assert "does not match the current version" in report.error
    assert isinstance(feed.events[0], WriteFailed)
    assert rig.requests("PUT", RULE_PATH) == []


async def test_two_reweights_of_one_strategy_never_overlap(rig: Rig) -> None:
    gate = Turnstile()
    reports = RecordingReports()
    executor = rig.executor(gate=gate, report=reports)

    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.execute, reweight(S1, FAILOVER))
        await until(lambda: gate.entered == [S1])
        tg.start_soon(executor.execute, reweight(S1, (PRIMARY, SECONDARY), kind="failback"))
        # Everything else has run as far as it can: the second write waits on the lock, not the gate.
        await anyio.wait_all_tasks_blocked()
        assert gate.entered == [S1]
        assert reports.reports == []
        assert executor.in_flight == {S1}
        gate.release(S1)
        await until(lambda: len(gate.entered) == 2)
        # The second write started only once the first had ended (reported, strategy and rules written).
        assert [r.to_region for r in reports.reports] == [SECONDARY]
        assert rig.target(RULE_1) == rig.target(RULE_2) == [TARGETS[SECONDARY]]
        gate.release(S1)

    assert [(r.to_region, r.result) for r in reports.reports] == [
        (SECONDARY, SwitchResult.SUCCESS),
        (PRIMARY, SwitchResult.SUCCESS),
    ]
    assert rig.strategy_puts(S1) == [200, 200]
    assert rig.order(S1)[0] == (PRIMARY, 1, 100)
    assert executor.in_flight == set()


async def test_reweights_of_different_strategies_run_in_parallel(rig: Rig) -> None:
    gate = Turnstile()
    reports = RecordingReports()
    executor = rig.executor(gate=gate, report=reports)

    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.execute, reweight(S1, FAILOVER))
        tg.start_soon(executor.execute, reweight(S2, FAILOVER))
        # Both reach the gate while neither has been let through: they do not wait for each other.
        await until(lambda: sorted(gate.entered) == [S1, S2])
        assert executor.in_flight == {S1, S2}
        gate.release(S2)
        await until(lambda: [r.strategy for r in reports.reports] == [S2])
        assert executor.in_flight == {S1}
        gate.release(S1)

    assert sorted((r.strategy, r.result) for r in reports.reports) == [
        (S1, SwitchResult.SUCCESS),
        (S2, SwitchResult.SUCCESS),
    ]
    assert rig.order(S1)[0] == rig.order(S2)[0] == (SECONDARY, 1, 100)
    assert rig.target(RULE_3) == [TARGETS[SECONDARY]]


async def test_wait_idle_returns_once_the_write_in_flight_has_ended(rig: Rig) -> None:
    gate = Turnstile()
    reports = RecordingReports()
    executor = rig.executor(gate=gate, report=reports)
    with anyio.fail_after(5):
        await executor.wait_idle()  # nothing ever ran: idle at once

    idle_with: list[tuple[int, set[str]]] = []

    async def wait_idle() -> None:
        await executor.wait_idle()
        idle_with.append((len(reports.reports), set(executor.in_flight)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.execute, reweight(S1, FAILOVER))
        await until(lambda: gate.entered == [S1])
        tg.start_soon(wait_idle)
        await anyio.wait_all_tasks_blocked()
        assert idle_with == []
        gate.release(S1)

    assert idle_with == [(1, set())]  # the report was out and nothing in flight when it returned


async def test_leadership_lost_between_the_read_and_the_put_sends_no_put(rig: Rig) -> None:
    gate = Gate(leader=True)

    async def deposed_during_the_read(request: httpx.Request, response: httpx.Response) -> None:
        if request.method == "GET" and request.url.path == STRATEGY_PATH + S1:
            gate.leader = False  # another instance took the lease while the GET was on the wire

    rig.spy.hook = deposed_during_the_read
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(gate=gate, feed=feed, report=reports, followers=rig.followers(gate=gate))

    await executor.execute(reweight(S1, FAILOVER))

    # The gate was asked before the write began, and leadership confirmed again after the read.
    assert (gate.asked, gate.confirmed) == ([S1], [S1])
    assert rig.requests("PUT") == []
    assert rig.order(S1)[0] == (PRIMARY, 1, 100)
    (report,) = reports.reports
    assert report.result is SwitchResult.FAILURE
    assert report.error == f"strategy {S1}: leadership could not be confirmed; not written"
    assert isinstance(feed.events[0], WriteFailed)


async def test_a_write_abandoned_at_shutdown_still_reports_counts_and_audits(rig: Rig) -> None:
    await rig.fault(path=f"^{STRATEGY_PATH}{S1}$", method="PUT", delayMs=1000, count=1)
    feed, reports = RecordingFeed(), RecordingReports()
    executor = rig.executor(feed=feed, report=reports)

    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.execute, reweight(S1, FAILOVER))
        await until(lambda: rig.sim.state.faults[0].hits == 1)  # the PUT hangs in the simulator
        executor.abandon()  # the shutdown's grace period is over

    (report,) = reports.reports
    assert report.result is SwitchResult.FAILURE
    assert report.error == "abandoned at shutdown after the grace period"
    assert feed.events == [WriteFailed(S1, SECONDARY, rig.clock.now, report.error)]
    assert rig.switches(S1, "failure") == 1
    assert [(r["kind"], r["result"], r["error"]) for r in rig.audit()] == [
        ("strategy", "failure", report.error)
    ]
    assert executor.in_flight == set()
