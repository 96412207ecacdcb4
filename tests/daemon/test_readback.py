"""ReadBack, driven directly against the real simulator: the initial read adopts what the API holds,
the periodic read feeds the core (only while leader, never over a write in flight), and the rules are
made to follow their strategy's active region."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
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
    Rig,
    Turnstile,
    reweight,
    running_rig,
)
from tests.daemon.conftest import PRIMARY, SECONDARY, TARGETS
from tests.support import until
from watcher.core import (
    Action,
    DriftDetected,
    Event,
    Observation,
    Reweight,
    StrategySnapshot,
    WorldState,
)
from watcher.daemon.engine import Engine, policy_from_config
from watcher.daemon.leadership import Leadership
from watcher.daemon.readback import ReadBack
from watcher.genesys import Copies, Strategy, VersionConflict
from watcher.sim import strategy_seed
from watcher.switch import ApiStrategies, Executor, Fence, Strategies, WritePolicy

pytestmark = pytest.mark.anyio

MISSING = "strategy-missing"


@dataclass
class Core:
    """The real engine around the pure core, and everything it was fed and decided."""

    engine: Engine
    events: list[Event] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    def snapshots(self, strategy: str, *, initial: bool) -> list[StrategySnapshot]:
        return [
            e
            for e in self.events
            if isinstance(e, StrategySnapshot) and e.strategy == strategy and e.initial is initial
        ]


def core_for(rig: Rig, *, dry_run: bool = False) -> Core:
    recorded: list[Event] = []
    decided: list[Action] = []

    async def on_actions(actions: Sequence[Action], world: WorldState, event: Event) -> None:
        recorded.append(event)
        decided.extend(actions)

    engine = Engine(policy_from_config(rig.cfg, dry_run=dry_run), on_actions)
    return Core(engine, recorded, decided)


def readback_for(
    rig: Rig,
    core: Core,
    *,
    leadership: Leadership | None = None,
    executor: Executor | None = None,
    copies: Copies | None = None,
) -> tuple[ReadBack, anyio.Event]:
    stop = anyio.Event()
    gate = leadership or Gate(leader=True)
    followers = rig.followers(gate=gate, copies=copies)
    strategies = Strategies(ApiStrategies(rig.client, copies))
    readback = ReadBack(
        strategies,
        Fence(strategies, followers, gate, WritePolicy(clock=rig.clock)),
        core.engine,
        executor or rig.executor(feed=RecordingFeed()),
        followers,
        gate,
        lambda: rig.cfg,
        metrics=rig.metrics,
        stop=stop,
        clock=rig.clock,
    )
    return readback, stop


def strategy_reads(rig: Rig, strategy: str) -> int:
    return len(rig.sim_log(STRATEGY_PATH + strategy))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path) as r:
        yield r


async def test_the_initial_read_adopts_what_the_api_holds_and_makes_the_rules_follow(rig: Rig) -> None:
    # Behind the watcher's back, before it started: strategy-2 was moved to eu-west-1 (a switch
    # whose rule write never happened, or an operator), so its rule no longer follows it.
    await rig.edit_strategy(S2, routingConfig=strategy_seed(S2, list(FAILOVER))["routingConfig"])
    core = core_for(rig)
    readback, _ = readback_for(rig, core)
    assert readback.unread == {S1, S2}

    await readback.initial_read()

    assert readback.unread == set()
    assert not readback.reading
    assert core.snapshots(S1, initial=True) == [StrategySnapshot(S1, PRIMARY, 1, rig.clock.now, initial=True)]
    assert core.snapshots(S2, initial=True) == [
        StrategySnapshot(S2, SECONDARY, 2, rig.clock.now, initial=True)
    ]
    world = core.engine.world.strategies
    assert (world[S1].active_region, world[S1].version) == (PRIMARY, 1)
    assert (world[S2].active_region, world[S2].version) == (SECONDARY, 2)
    assert core.actions == []  # adopted as the truth: no drift, no switch
    # Level-triggered: the rule of strategy-2 now follows where strategy-2 routes; nothing else written.
    assert rig.rule_puts() == [RULE_3]
    assert rig.target(RULE_3) == [TARGETS[SECONDARY]]
    assert rig.requests("PUT", STRATEGY_PATH) == []
    assert readback.rule_repairs == set()


async def test_an_unreadable_strategy_does_not_keep_the_others_unread(tmp_path: Path) -> None:
    strategies = [
        {"id": MISSING, "regions": [PRIMARY, SECONDARY]},
        {"id": S1, "regions": [PRIMARY, SECONDARY]},
    ]
    rules = [{"id": RULE_1, "strategy": S1, "targets": TARGETS}]
    async with running_rig(tmp_path, strategies=strategies, rules=rules) as rig:
        core = core_for(rig)
        readback, stop = readback_for(rig, core)
        async with anyio.create_task_group() as tg:
            tg.start_soon(readback.initial_read)
            await until(lambda: core.snapshots(S1, initial=True) != [])
            assert readback.unread == {MISSING}
            assert readback.reading
            assert core.engine.world.strategies[S1].active_region == PRIMARY
            assert not core.engine.world.strategies[MISSING].snapshot_seen
            # It is tried again after a backoff, on its own: what was read is not read again.
            await until(lambda: strategy_reads(rig, MISSING) == 2, timeout=10)
            assert [s for _, _, s in rig.sim_log(STRATEGY_PATH + MISSING)] == [404, 404]
            assert strategy_reads(rig, S1) == 1
            assert readback.unread == {MISSING}
            stop.set()  # the daemon stops: the initial read ends, the strategy still unread
        assert readback.unread == {MISSING}
        assert not readback.reading
        assert core.snapshots(MISSING, initial=True) == []


async def test_the_periodic_read_feeds_the_core_only_while_leader(rig: Rig) -> None:
    gate = Gate(leader=True)
    core = core_for(rig)
    readback, stop = readback_for(rig, core, leadership=gate)
    await readback.initial_read()
    reads_before = strategy_reads(rig, S1), strategy_reads(rig, S2)
    fed_before = len(core.events)
    gate.leader = False
    gate.leader_reads = 0

    async with anyio.create_task_group() as tg:
        tg.start_soon(readback.run)
        await until(lambda: gate.leader_reads >= 3)  # three rounds asked, as a follower
        assert (strategy_reads(rig, S1), strategy_reads(rig, S2)) == reads_before
        assert len(core.events) == fed_before

        gate.leader = True
        await until(lambda: bool(core.snapshots(S1, initial=False) and core.snapshots(S2, initial=False)))
        assert core.snapshots(S1, initial=False)[0].active_region == PRIMARY

        # A change behind the watcher's back is now seen by the core (drift).
        await rig.edit_strategy(S1, routingConfig=strategy_seed(S1, list(FAILOVER))["routingConfig"])
        await until(lambda: any(isinstance(a, DriftDetected) for a in core.actions))
        stop.set()

    (drift,) = [a for a in core.actions if isinstance(a, DriftDetected)]
    assert (drift.strategy, drift.expected_region, drift.actual_region) == (S1, PRIMARY, SECONDARY)


async def test_the_periodic_read_keeps_the_copies_fresh_so_a_switch_sends_one_put(rig: Rig) -> None:
    copies = Copies()
    executor = rig.executor(feed=RecordingFeed(), followers=rig.followers(copies=copies), copies=copies)
    core = core_for(rig)
    readback, stop = readback_for(rig, core, executor=executor, copies=copies)
    await readback.initial_read()
    await rig.edit_strategy(S1)  # behind the watcher's back: the version moves on
    version = rig.strategy(S1)["version"]

    async with anyio.create_task_group() as tg:
        tg.start_soon(readback.run)
        await until(lambda: getattr(copies.strategy(S1), "version", None) == version)
        stop.set()
    rig.sim.state.requests.clear()

    await executor.execute(reweight(S1, FAILOVER))

    assert rig.sim_log(STRATEGY_PATH + S1) == [("PUT", STRATEGY_PATH + S1, 200)]  # no 409, no GET


async def test_the_periodic_read_skips_a_strategy_whose_write_is_in_flight(rig: Rig) -> None:
    turnstile = Turnstile()
    executor = rig.executor(gate=turnstile, feed=RecordingFeed())
    core = core_for(rig)
    readback, stop = readback_for(rig, core, executor=executor)
    await readback.initial_read()

    async with anyio.create_task_group() as tg:
        tg.start_soon(executor.execute, reweight(S1, FAILOVER))
        await until(lambda: executor.in_flight == {S1})
        s1_reads, s2_reads = strategy_reads(rig, S1), strategy_reads(rig, S2)
        tg.start_soon(readback.run)
        await until(lambda: strategy_reads(rig, S2) >= s2_reads + 3)  # three rounds went by
        assert strategy_reads(rig, S1) == s1_reads
        assert core.snapshots(S1, initial=False) == []

        turnstile.release(S1)
        await until(lambda: executor.in_flight == set())
        # Once the write is over, the strategy is read back again and found where it was written.
        await until(lambda: any(s.active_region == SECONDARY for s in core.snapshots(S1, initial=False)))
        stop.set()


async def test_repair_rules_retargets_a_rule_that_does_not_follow_its_strategy(rig: Rig) -> None:
    core = core_for(rig)
    readback, _ = readback_for(rig, core)
    await readback.initial_read()
    assert rig.rule_puts() == []  # every rule followed its strategy

    # A switch whose rule write failed leaves the rule behind; the executor's report asks for a repair.
    await rig.point_rule(RULE_2, TARGETS[SECONDARY])
    readback.rule_repairs.add(S1)

    await readback.repair_rules()

    assert rig.rule_puts() == [RULE_2]
    assert rig.target(RULE_2) == [TARGETS[PRIMARY]]
    assert readback.rule_repairs == set()
    (record,) = rig.audit()
    assert (record["kind"], record["rule"], record["explanation"]) == ("rule", RULE_2, {})


async def test_a_repair_that_fails_is_kept_and_done_on_a_later_round(rig: Rig) -> None:
    core = core_for(rig)
    readback, _ = readback_for(rig, core)
    await readback.initial_read()
    await rig.point_rule(RULE_1, TARGETS[SECONDARY])
    await rig.fault(path=f"^{RULE_PATH}{RULE_1}$", method="PUT", status=500)
    readback.rule_repairs.add(S1)

    await readback.repair_rules()

    assert readback.rule_repairs == {S1}
    assert rig.target(RULE_1) == [TARGETS[SECONDARY]]

    assert (await rig.admin.delete("/_sim/faults")).status_code == 200
    await readback.repair_rules()

    assert readback.rule_repairs == set()
    assert rig.target(RULE_1) == [TARGETS[PRIMARY]]


async def test_repair_rules_writes_nothing_in_dry_run(rig: Rig) -> None:
    await rig.point_rule(RULE_1, TARGETS[SECONDARY])
    core = core_for(rig, dry_run=True)
    readback, _ = readback_for(rig, core)

    await readback.initial_read()

    assert rig.requests("PUT") == []
    assert rig.target(RULE_1) == [TARGETS[SECONDARY]]
    assert readback.rule_repairs == set()  # dropped, not retried every round


async def test_repair_rules_writes_nothing_while_not_leader(rig: Rig) -> None:
    await rig.point_rule(RULE_1, TARGETS[SECONDARY])
    gate = Gate(leader=False)
    core = core_for(rig)
    readback, _ = readback_for(rig, core, leadership=gate)

    await readback.initial_read()

    assert core.engine.world.strategies[S1].active_region == PRIMARY  # a follower reads all the same
    assert rig.requests("PUT") == []
    assert readback.rule_repairs == {S1, S2}  # kept for when it leads
    gate.leader = True
    await readback.repair_rules()
    assert rig.rule_puts() == [RULE_1]
    assert readback.rule_repairs == set()


async def test_a_read_back_answered_before_a_switch_is_not_taken_for_drift(tmp_path: Path) -> None:
    strategies = [{"id": S1, "regions": [PRIMARY, SECONDARY]}]
    rules = [{"id": RULE_1, "strategy": S1, "targets": TARGETS}]
    async with running_rig(tmp_path, strategies=strategies, rules=rules) as rig:
        core = core_for(rig)
        executor = rig.executor(feed=core.engine.feed)
        readback, stop = readback_for(rig, core, executor=executor)
        await readback.initial_read()
        # us-east-1 fails: the core decides to switch strategy-1 to eu-west-1.
        for at, (region, ok) in enumerate([(PRIMARY, True), (SECONDARY, True)] * 2 + [(PRIMARY, False)] * 2):
            status = "HEALTHY" if ok else "DEGRADED"
            await core.engine.feed(Observation(region, ok, 1000.0 + at, f"status={status}", status=status))
        (switch,) = [a for a in core.actions if isinstance(a, Reweight)]
        assert switch.to_region == SECONDARY

        # The switch runs while a read-back GET of strategy-1 is on the wire (a slow API): the GET
        # was answered with the strategy as it was before the switch, and is fed after it.
        answered, switched = anyio.Event(), anyio.Event()

        async def hold_the_answer_during_the_switch(request: httpx.Request, response: httpx.Response) -> None:
            if request.method == "GET" and request.url.path == STRATEGY_PATH + S1 and not answered.is_set():
                answered.set()
                await switched.wait()

        async def switch_once_the_read_back_was_answered() -> None:
            await answered.wait()
            await executor.execute(switch)
            switched.set()

        rig.spy.hook = hold_the_answer_during_the_switch
        async with anyio.create_task_group() as tg:
            tg.start_soon(switch_once_the_read_back_was_answered)
            tg.start_soon(readback.run)
            await until(lambda: switched.is_set() and core.snapshots(S1, initial=False) != [])
            stop.set()

        assert rig.order(S1)[0] == (SECONDARY, 1, 100)
        assert [a for a in core.actions if isinstance(a, DriftDetected)] == []
        assert core.engine.world.strategies[S1].active_region == SECONDARY


class FencingGate(Gate):
    """A leader among several instances: other instances may have written, so it fences."""

    @property
    def fences(self) -> bool:
        return True


async def test_a_new_leader_fences_what_it_owns_before_its_first_decision(rig: Rig) -> None:
    # SPEC: a new leader writes every object it owns back unchanged before its first decision, so a
    # write a deposed leader planned on the old version is refused with a conflict.
    before = {s: rig.strategy(s) for s in (S1, S2)}
    rules_before = {r: rig.target(r) for r in (RULE_1, RULE_2, RULE_3)}
    gate = FencingGate(leader=True)
    core = core_for(rig)
    readback, _ = readback_for(rig, core, leadership=gate)

    await readback.initial_read()

    for strategy in (S1, S2):
        assert rig.strategy_puts(strategy) == [200]
        after = rig.strategy(strategy)
        assert after["version"] == before[strategy]["version"] + 1  # the version moved on
        assert after["routingConfig"] == before[strategy]["routingConfig"]  # nothing else did
    # The core's first word on each strategy is the fenced version: the fence came first.
    assert core.snapshots(S1, initial=True) == [StrategySnapshot(S1, PRIMARY, 2, rig.clock.now, initial=True)]
    assert core.snapshots(S2, initial=True) == [StrategySnapshot(S2, PRIMARY, 2, rig.clock.now, initial=True)]
    assert sorted(rig.rule_puts()) == [RULE_1, RULE_2, RULE_3]
    assert {r: rig.target(r) for r in rules_before} == rules_before
    assert all(rig.sim.state.org.rules[r]["version"] == 2 for r in rules_before)
    assert gate.confirmed.count(S1) >= 3
    assert gate.confirmed.count(S2) >= 2

    # A deposed leader's write planned on the version it read before the takeover is refused.
    stale = Strategy.model_validate(
        {**before[S1], "routingConfig": strategy_seed(S1, list(FAILOVER))["routingConfig"]}
    )
    with pytest.raises(VersionConflict):
        await rig.client.put_strategy(stale, retries=0)
    assert rig.order(S1)[0][0] == PRIMARY
