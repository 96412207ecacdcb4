"""The Announcer, driven directly: every decision and switch mapped to its metric, its log line, its
CloudEvent (stored by a real Dispatcher in a real Outbox, read back from it) and the audit trail."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from tests.daemon._parts import S1, WALL_EPOCH, explanation, reweight
from tests.daemon.conftest import PRIMARY, SECONDARY
from tests.support import FakeClock
from watcher.core import (
    Action,
    AllRegionsDown,
    AllRegionsDownCleared,
    DriftDetected,
    Refused,
    RegionTransition,
)
from watcher.daemon.announce import SWITCH_LOG_SIZE, Announcer
from watcher.daemon.status import WallClock
from watcher.events import (
    ALL_DOWN,
    ALL_DOWN_CLEARED,
    DECISION,
    DRIFT,
    FAILBACK,
    OPERATOR,
    REGION_CHANGED,
    SWITCH_FAILED,
    SWITCHED,
    SWITCHING,
    AuditTrail,
    Dispatcher,
    Outbox,
    SequenceStore,
    SinkSpec,
    generate_secret,
    read_trail,
)
from watcher.metrics import WatcherMetrics
from watcher.switch import SwitchReport, SwitchResult, WriteOutcome

pytestmark = pytest.mark.anyio

SINK = "mesh"
SOURCE = "urn:failover-watcher:test-instance"


@dataclass
class Told:
    """An announcer wired to real channels, and ways to read each of them back."""

    announcer: Announcer
    metrics: WatcherMetrics
    outbox: Outbox
    trail: AuditTrail
    clock: FakeClock
    speaking: list[bool]

    def events(self) -> list[dict[str, Any]]:
        """Every event stored for the sink, in the order stored per subject (read and acknowledged)."""
        seen: list[dict[str, Any]] = []
        while batch := self.outbox.next_batch(SINK, 32):
            for item in batch:
                seen.append(json.loads(item.body))
                self.outbox.ack(SINK, item.event_id)
        return seen

    def audit(self) -> list[dict[str, Any]]:
        return list(read_trail(self.trail.directory))

    def metric(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


@pytest.fixture
async def told(tmp_path: Path) -> AsyncIterator[Told]:
    clock = FakeClock()
    metrics = WatcherMetrics()
    speaking = [True]
    state = tmp_path / "state"
    trail = AuditTrail(state)
    outbox = Outbox(state / "outbox.sqlite3")
    async with httpx.AsyncClient() as http:  # the dispatcher is not run: events stay in the outbox
        sink = SinkSpec(SINK, "http://127.0.0.1:9/unused", (generate_secret(),))
        announcer = Announcer(  # built complete, as the daemon's composition root builds it
            metrics,
            WallClock(clock, lambda: WALL_EPOCH + clock.now),
            source=lambda: SOURCE,
            speaks=lambda: speaking[0],
            clock=clock,
            trail=trail,
            dispatcher=Dispatcher(outbox, [sink], http, metrics, source=SOURCE),
            sequences=SequenceStore(state, wall=lambda: 0.0),
            active_of=lambda strategy: PRIMARY,
        )
        try:
            yield Told(announcer, metrics, outbox, trail, clock, speaking)
        finally:
            outbox.close()
            trail.close()


WHY = explanation("the reason")

# action, (metric, labels, value), (log event, level), (event type, subject) or None, audited.
# Levels mean something (SPEC 4.2): routine events are info, what an operator should look at warning.
DECISIONS = [
    pytest.param(
        reweight(S1),
        ("failover_watcher_decisions_total", {"strategy": S1, "kind": "failover", "dry_run": "false"}, 1.0),
        ("decision: switch", "warning"),
        None,  # the switch itself is announced by its report
        False,
        id="reweight",
    ),
    pytest.param(
        RegionTransition(PRIMARY, healthy=False, explanation=WHY),
        ("failover_watcher_region_healthy", {"region": PRIMARY}, 0.0),
        ("region unhealthy", "warning"),
        (REGION_CHANGED, PRIMARY),
        False,
        id="region-unhealthy",
    ),
    pytest.param(
        RegionTransition(SECONDARY, healthy=True, explanation=WHY),
        ("failover_watcher_region_healthy", {"region": SECONDARY}, 1.0),
        ("region healthy", "info"),
        (REGION_CHANGED, SECONDARY),
        False,
        id="region-healthy",
    ),
    pytest.param(
        AllRegionsDown(S1, WHY),
        ("failover_watcher_all_regions_down", {"strategy": S1}, 1.0),
        ("every region down; changing nothing (fail-open)", "error"),
        (ALL_DOWN, S1),
        True,
        id="all-down",
    ),
    pytest.param(
        AllRegionsDownCleared(S1, WHY),
        ("failover_watcher_all_regions_down", {"strategy": S1}, 0.0),
        ("a region is healthy again", "info"),
        (ALL_DOWN_CLEARED, S1),
        False,
        id="all-down-cleared",
    ),
    pytest.param(
        DriftDetected(S1, PRIMARY, SECONDARY, WHY),
        ("failover_watcher_drift_detected_total", {"strategy": S1}, 1.0),
        ("drift: strategy changed behind the watcher's back", "warning"),
        (DRIFT, S1),
        True,
        id="drift",
    ),
    pytest.param(
        Refused(S1, WHY),
        ("failover_watcher_decisions_total", {"strategy": S1, "kind": "refused", "dry_run": "false"}, 1.0),
        ("refused", "warning"),
        (DECISION, S1),
        False,
        id="refused",
    ),
]


@pytest.mark.parametrize(("action", "metric", "logged", "published", "audited"), DECISIONS)
async def test_each_decision_has_its_metric_log_line_and_event(
    told: Told,
    action: Action,
    metric: tuple[str, dict[str, str], float],
    logged: tuple[str, str],
    published: tuple[str, str] | None,
    audited: bool,
) -> None:
    with structlog.testing.capture_logs() as logs:
        await told.announcer.decision(action)

    name, labels, value = metric
    assert told.metric(name, **labels) == value
    assert [(e["event"], e["log_level"]) for e in logs] == [logged]
    assert logs[0]["why"] == action.explanation.summary

    events = told.events()
    if published is None:
        assert events == []
    else:
        (event,) = events
        assert (event["type"], event["subject"], event["source"]) == (*published, SOURCE)
        assert event["specversion"] == "1.0"
        data = event["data"]
        assert data["explanation"]["summary"] == "the reason"
        assert data["explanation"]["at"] == "2027-01-15T08:16:31Z"  # monotonic 991.0, as wall-clock time
        if "strategy" in data:  # an event about a strategy says where it routes, in sequence
            assert (data["activeRegion"], data["sequence"]) == (PRIMARY, 1)

    records = told.audit()
    if audited:
        (record,) = records
        assert (record["kind"], record["result"], record["strategy"]) == ("decision", "success", S1)
        assert record["explanation"]["summary"] == "the reason"
    else:
        assert records == []


async def test_a_drift_event_names_what_was_expected_and_what_was_found(told: Told) -> None:
    await told.announcer.decision(DriftDetected(S1, PRIMARY, SECONDARY, WHY))

    (event,) = told.events()
    assert (event["data"]["expected"], event["data"]["actual"]) == (PRIMARY, SECONDARY)


def report_of(result: SwitchResult, *, kind: str = "failover", latency: float = 0.25) -> SwitchReport:
    writes = []
    if result in (SwitchResult.SUCCESS, SwitchResult.PARTIAL):
        writes = [WriteOutcome("strategy", S1, True, 1, 2, 0.1, 0)]
    return SwitchReport(
        S1,
        kind,
        PRIMARY if kind == "failover" else SECONDARY,
        SECONDARY if kind == "failover" else PRIMARY,
        result is SwitchResult.DRY_RUN,
        result,
        writes=writes,
        error="rule rule-2: http 500" if result in (SwitchResult.PARTIAL, SwitchResult.FAILURE) else None,
        latency_seconds=latency,
    )


@pytest.mark.parametrize(
    ("result", "kind", "event_type", "level", "routes_to"),
    [
        pytest.param(SwitchResult.SUCCESS, "failover", SWITCHED, "info", SECONDARY, id="success"),
        pytest.param(SwitchResult.SUCCESS, "failback", FAILBACK, "info", PRIMARY, id="failback"),
        pytest.param(SwitchResult.PARTIAL, "failover", SWITCHED, "error", SECONDARY, id="partial"),
        pytest.param(SwitchResult.FAILURE, "failover", SWITCH_FAILED, "error", PRIMARY, id="failure"),
        pytest.param(SwitchResult.DRY_RUN, "failover", DECISION, "warning", PRIMARY, id="dry-run"),
    ],
)
async def test_each_switch_result_has_its_event_log_level_and_status_entry(
    told: Told, result: SwitchResult, kind: str, event_type: str, level: str, routes_to: str
) -> None:
    order = (SECONDARY, PRIMARY) if kind == "failover" else (PRIMARY, SECONDARY)
    action = reweight(S1, order, kind="failback" if kind == "failback" else "failover")
    report = report_of(result, kind=kind)

    with structlog.testing.capture_logs() as logs:
        await told.announcer.switch(report, action)

    assert [(e["event"], e["log_level"]) for e in logs] == [(f"switch {result.value}", level)]
    (event,) = told.events()
    assert (event["type"], event["subject"]) == (event_type, S1)
    data = event["data"]
    # Where the strategy routes after this switch: the new region only if the strategy was written.
    assert data["activeRegion"] == routes_to
    assert (data["result"], data["to"], data["order"]) == (result.value, action.to_region, list(order))
    assert data["error"] == report.error
    assert data["at"] == "2027-01-15T08:16:40Z"  # the fake clock's 1000.0, as wall-clock time
    status = told.announcer.last_switches[S1]
    assert status == told.announcer.switch_log[-1]
    assert {k: status[k] for k in ("result", "to", "latencySeconds")} == {
        "result": result.value,
        "to": action.to_region,
        "latencySeconds": 0.25,
    }


async def test_a_follower_s_switch_is_neither_told_nor_kept(told: Told) -> None:
    with structlog.testing.capture_logs() as logs:
        await told.announcer.switch(report_of(SwitchResult.FOLLOWER), reweight(S1))

    assert logs == []
    assert told.events() == []
    assert told.announcer.last_switches == {}
    assert told.announcer.switch_log == []


async def test_the_switch_log_keeps_the_latest_switches_only(told: Told) -> None:
    announcer = told.announcer
    for i in range(SWITCH_LOG_SIZE + 5):
        await announcer.switch(report_of(SwitchResult.SUCCESS, latency=float(i)), reweight(S1))

    assert len(announcer.switch_log) == SWITCH_LOG_SIZE
    assert [s["latencySeconds"] for s in announcer.switch_log[:2]] == [5.0, 6.0]
    assert announcer.switch_log[-1]["latencySeconds"] == SWITCH_LOG_SIZE + 4
    assert announcer.last_switches[S1] is announcer.switch_log[-1]
    # Each switch event of the strategy has the next sequence number.
    sequences = [e["data"]["sequence"] for e in told.events()]
    assert sequences == list(range(1, SWITCH_LOG_SIZE + 6))


async def test_nothing_is_published_while_this_instance_does_not_speak(told: Told) -> None:
    told.speaking[0] = False
    announcer = told.announcer

    await announcer.decision(AllRegionsDown(S1, WHY))
    await announcer.decision(RegionTransition(PRIMARY, healthy=False, explanation=WHY))
    await announcer.intent(reweight(S1))
    await announcer.switch(report_of(SwitchResult.SUCCESS), reweight(S1))
    await announcer.operator("hold", S1, {"until": "later"})

    assert told.events() == []
    # What is local still happens: metrics, the audit trail, the switch for /status.
    assert told.metric("failover_watcher_all_regions_down", strategy=S1) == 1.0
    assert [r["kind"] for r in told.audit()] == ["decision", "operator"]
    assert announcer.last_switches[S1]["result"] == "success"

    told.speaking[0] = True
    await announcer.decision(AllRegionsDown(S1, WHY))
    assert [e["type"] for e in told.events()] == [ALL_DOWN]


async def test_the_intent_is_stored_before_the_write_with_where_the_strategy_routes_now(told: Told) -> None:
    await told.announcer.intent(reweight(S1, (SECONDARY, PRIMARY)))

    (event,) = told.events()
    assert (event["type"], event["subject"]) == (SWITCHING, S1)
    data = event["data"]
    assert (data["from"], data["to"], data["activeRegion"]) == (PRIMARY, SECONDARY, PRIMARY)
    assert data["order"] == [SECONDARY, PRIMARY]


async def test_an_operator_command_is_audited_and_published(told: Told) -> None:
    await told.announcer.operator("pin", S1, {"region": SECONDARY, "reason": "maintenance"})

    (event,) = told.events()
    assert (event["type"], event["subject"]) == (OPERATOR, S1)
    assert event["data"] == {"command": "pin", "strategy": S1, "region": SECONDARY, "reason": "maintenance"}
    (record,) = told.audit()
    assert (record["kind"], record["strategy"], record["explanation"]["command"]) == ("operator", S1, "pin")


async def test_an_outbox_that_cannot_store_is_logged_not_raised(told: Told) -> None:
    told.outbox.close()

    with structlog.testing.capture_logs() as logs:
        await told.announcer.decision(AllRegionsDown(S1, WHY))

    assert ("could not store event in the outbox", "error") in [(e["event"], e["log_level"]) for e in logs]
    assert told.metric("failover_watcher_all_regions_down", strategy=S1) == 1.0


def _resync_sequences(told: Told) -> dict[str, Any]:
    (resync,) = [e for e in told.events() if e["type"].endswith("resync")]
    return {s["id"]: s["sequence"] for s in resync["data"]["strategies"]}


async def test_a_resync_is_numbered_after_everything_another_instance_sent(
    told: Told, tmp_path: Path
) -> None:
    """A new leader (or this instance after its state directory was lost) has sent nothing yet:
    its resync must still be newer than the last event of the previous leader, or a receiver that
    applied that one takes the resync as old and never converges on it."""
    previous = SequenceStore(tmp_path / "previous-leader", wall=lambda: 0.0)
    last_of_previous = [previous.next(S1) for _ in range(3)][-1]
    (tmp_path / "new-leader").mkdir()
    told.announcer.sequences = SequenceStore(tmp_path / "new-leader", wall=lambda: 1.0)  # 1000 ms
    await told.announcer.resync(lambda: {"strategies": [{"id": S1, "activeRegion": SECONDARY}]})
    assert _resync_sequences(told)[S1] > last_of_previous
    # Issued, so kept: the next event of the strategy is newer still.
    assert SequenceStore(tmp_path / "new-leader", wall=lambda: 0.0).current(S1) == 1000


async def test_a_strategy_whose_write_is_in_flight_keeps_its_last_sequence_in_a_resync(told: Told) -> None:
    """Its SWITCHED event is numbered before the world settles on the new region: a new number on
    the old region would overtake it at the receiver."""
    sequences = told.announcer.sequences
    assert sequences is not None
    switched = sequences.next(S1)
    told.announcer.settling = lambda strategy: strategy == S1
    status = {"strategies": [{"id": S1, "activeRegion": PRIMARY}, {"id": "s2", "activeRegion": PRIMARY}]}
    await told.announcer.resync(lambda: status)
    numbered = _resync_sequences(told)
    assert numbered[S1] == switched
    assert numbered["s2"] == 1


class _FailingThenWorking:
    """An outbox that refuses (a full disk) until `ok`, then stores into the real one."""

    def __init__(self, real: Outbox) -> None:
        self.real = real
        self.ok = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def enqueue(self, *args: Any, **kwargs: Any) -> str:
        if not self.ok:
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.enqueue(*args, **kwargs)


async def test_events_the_outbox_cannot_store_are_kept_in_order_and_stored_once_it_can(told: Told) -> None:
    flaky = _FailingThenWorking(told.outbox)
    told.announcer.dispatcher._outbox = flaky  # type: ignore[union-attr]  # the disk fills
    await told.announcer.intent(reweight(S1))
    await told.announcer.decision(AllRegionsDown(S1, WHY))
    assert told.events() == []
    assert told.announcer.unstored == 2
    assert told.metric("failover_watcher_events_unstored") == 2.0
    assert told.metric("failover_watcher_state_write_failures_total", what="outbox") == 1.0
    assert told.announcer.disk.problem() is not None
    assert not await told.announcer.store_unstored()  # still full: nothing lost, nothing stored

    flaky.ok = True
    assert await told.announcer.store_unstored()
    assert [e["type"] for e in told.events()] == [SWITCHING, ALL_DOWN]
    assert told.announcer.unstored == 0
    assert told.announcer.disk.problem() is None


async def test_a_refused_operator_command_is_counted_and_audited(told: Told) -> None:
    await told.announcer.refusal("pin", S1, {"region": "mars-1"}, 404, "unknown region 'mars-1'")

    (record,) = told.audit()
    assert (record["kind"], record["result"], record["error"]) == (
        "operator",
        "refused",
        "unknown region 'mars-1'",
    )
    assert record["explanation"]["command"] == "pin"
    assert record["explanation"]["region"] == "mars-1"
    assert told.metric("failover_watcher_operator_refusals_total", command="pin", code="404") == 1.0
    (event,) = told.events()  # emitted too: the mesh sees what operators tried, done or not
    assert (event["data"]["command"], event["data"]["result"], event["data"]["code"]) == (
        "pin",
        "refused",
        404,
    )
