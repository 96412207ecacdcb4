"""Properties of `step` over random event sequences fed the way a shell would feed them."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core import (
    Action,
    AllRegionsDown,
    AllRegionsDownCleared,
    CorePolicy,
    Event,
    FailbackPolicy,
    Observation,
    OperatorFailback,
    OperatorHold,
    OperatorMove,
    OperatorPin,
    OperatorRelease,
    RegionState,
    Reweight,
    SafetyPolicy,
    StrategyPolicy,
    StrategySnapshot,
    Thresholds,
    Tick,
    WorldState,
    WriteFailed,
    WriteSkipped,
    WriteSucceeded,
    step,
)

from ._world import reweights, started

REGIONS = ("a", "b", "c")
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, database=None)


@st.composite
def policies(draw: st.DrawFn) -> CorePolicy:
    strategies = []
    for i in range(draw(st.integers(1, 2))):
        order = draw(st.permutations(REGIONS))
        strategies.append(
            StrategyPolicy(
                f"s{i}",
                tuple(order[: draw(st.integers(1, 3))]),
                drift=draw(st.sampled_from(["report", "reconcile"])),
                retry_seconds=draw(st.sampled_from([0.0, 3.0])),
            )
        )
    return CorePolicy(
        thresholds=Thresholds(fall=draw(st.integers(1, 3)), rise=draw(st.integers(1, 3))),
        failback=FailbackPolicy(
            draw(st.sampled_from(["auto", "manual"])),
            hold_seconds=draw(st.sampled_from([0.0, 5.0, 30.0])),
            flap_window_seconds=draw(st.sampled_from([0.0, 60.0, 600.0])),
            max_hold_seconds=draw(st.sampled_from([10.0, 3600.0])),
        ),
        strategies=tuple(strategies),
        dry_run=draw(st.booleans()),
        safety=SafetyPolicy(
            max_switches=draw(st.sampled_from([None, None, 1, 2])),
            window_seconds=draw(st.sampled_from([10.0, 60.0, 3600.0])),
            min_seconds_between_switches=draw(st.sampled_from([0.0, 0.0, 5.0, 45.0])),
        ),
    )


dt = st.sampled_from([0.0, 0.5, 1.0, 5.0, 40.0])
strategy_index = st.integers(0, 2)  # 2 may name no strategy: an unknown id
region_name = st.sampled_from((*REGIONS, "zz"))
observation_op = st.tuples(st.just("obs"), region_name, st.booleans(), dt)
ops = st.lists(
    st.one_of(
        observation_op,
        observation_op,
        observation_op,
        st.tuples(st.just("tick"), dt),
        st.tuples(st.just("ack"), strategy_index, st.booleans(), dt),
        st.tuples(st.just("ack"), strategy_index, st.booleans(), dt),
        st.tuples(st.just("snap"), strategy_index, st.sampled_from((*REGIONS, None)), dt),
        st.tuples(st.just("hold"), strategy_index, dt, dt),
        st.tuples(st.just("pin"), strategy_index, region_name, dt, dt),
        st.tuples(st.just("release"), strategy_index, dt),
        st.tuples(st.just("override"), strategy_index, dt),
        st.tuples(st.just("skip"), strategy_index, dt),
        st.tuples(st.just("move"), strategy_index, region_name, st.booleans(), dt),
        st.tuples(st.just("failback"), strategy_index, dt),
    ),
    max_size=80,
)


@dataclass
class Trace:
    """A recorded run, and what a shell has in flight, for checking invariants."""

    policy: CorePolicy
    world: WorldState
    now: float = 0.0
    steps: list[tuple[Event, WorldState, tuple[Action, ...]]] = field(default_factory=list)
    inflight: dict[str, Reweight] = field(default_factory=dict)
    bad_seen: dict[str, int] = field(default_factory=dict)
    # bad-observation counts at the emission of each strategy's in-flight / last acked failover
    mark_pending: dict[str, dict[str, int]] = field(default_factory=dict)
    mark_acked: dict[str, dict[str, int]] = field(default_factory=dict)
    # The automatic switches the safety budget counts, (strategy, at), as this model sees them: a
    # failover or failback the rules decided, once per decision (a failed one's retry to the same
    # region is the same switch; one the shell did not write is not a switch).
    counted: list[tuple[str, float]] = field(default_factory=list)
    last_counted: dict[str, tuple[str, float] | None] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def feed(self, event: Event) -> None:
        before = self.world
        self.world, actions = step(before, event, self.policy)
        self.steps.append((event, self.world, actions))
        if isinstance(event, Observation) and not event.ok:
            self.bad_seen[event.region] = self.bad_seen.get(event.region, 0) + 1
        if isinstance(event, WriteSkipped) and event.strategy in self.inflight:
            del self.inflight[event.strategy]
            entry = self.last_counted.pop(event.strategy, None)
            if entry is not None:
                self.counted.remove(entry)
        if isinstance(event, WriteSucceeded | WriteFailed) and event.strategy in self.inflight:
            if isinstance(event, WriteFailed):
                self.failed[event.strategy] = event.region
            else:
                self.failed.pop(event.strategy, None)
            del self.inflight[event.strategy]
            mark = self.mark_pending.pop(event.strategy, None)
            if isinstance(event, WriteSucceeded) and mark is not None:
                self.mark_acked[event.strategy] = mark
        self.check(before, actions, event)
        self.check_safety(before, actions, event)
        self.check_not_stranded()
        for write in reweights(actions):
            self.inflight[write.strategy] = write
            if write.kind == "failover":
                self.mark_pending[write.strategy] = dict(self.bad_seen)

    def check(self, before: WorldState, actions: tuple[Action, ...], event: Event) -> None:
        seen: set[str] = set()
        if self.policy.dry_run and isinstance(event, OperatorMove | OperatorFailback):
            assert reweights(actions) == [], "an operator command wrote in dry run"
        for write in reweights(actions):
            sp = self.policy.strategy(write.strategy)
            assert sp is not None
            state = self.world.regions[write.to_region].state
            forced = isinstance(event, OperatorMove) and event.force
            if forced:
                # Forced: a region not yet confirmed, or an unhealthy one only while a hold keeps it.
                assert state is not RegionState.UNHEALTHY or before.strategies[write.strategy].held
            else:
                assert state is RegionState.HEALTHY
            assert write.strategy not in self.inflight, "a second write while one is in flight"
            assert write.strategy not in seen
            seen.add(write.strategy)
            assert write.order[0] == write.to_region
            assert sorted(write.order) == sorted(sp.preference)
            assert len(write.order) == len(sp.preference)
            assert write.dry_run == self.policy.dry_run
            if not forced:
                assert not all(self.world.regions[r].state is RegionState.UNHEALTHY for r in sp.preference)
            # The region the write leaves: the one the strategy routes to as of this step (a snapshot
            # in this very step may have moved it), not before it.
            leaving = write.from_region
            if write.kind == "failover" and leaving in sp.preference:
                assert leaving is not None
                # only a confirmed-unhealthy region is ever failed away from, never UNKNOWN
                assert self.world.regions[leaving].state is RegionState.UNHEALTHY
            mark = self.mark_acked.get(write.strategy)
            if write.kind == "failover" and mark is not None and leaving in sp.preference:
                assert leaving is not None
                bad_since = self.bad_seen.get(leaving, 0) - mark.get(leaving, 0)
                assert bad_since >= self.policy.thresholds.fall

    def check_safety(self, before: WorldState, actions: tuple[Action, ...], event: Event) -> None:
        """SPEC §8: no automatic switch beyond `max_switches` within any window, none of one strategy
        sooner than `min_seconds_between_switches` after its last, unless an operator overrode the
        rule that held it back; operator commands never count."""
        rules = self.policy.safety
        operator = isinstance(event, OperatorMove | OperatorFailback)
        for write in reweights(actions):
            if operator:
                assert write.kind in ("move", "failback")
                continue
            if write.kind not in ("failover", "failback") or not rules.limited or write.dry_run:
                continue  # a dry run writes nothing: no budget spent, none enforced
            last = self.last_counted.get(write.strategy)
            if self.failed.get(write.strategy) == write.to_region and last is not None:
                continue  # the retry of a counted switch that failed
            overridden = (
                isinstance(event, OperatorRelease)
                and event.override
                and event.strategy == write.strategy
                and before.strategies[write.strategy].safety is not None
            )
            if not overridden:
                if rules.max_switches is not None:
                    inside = [at for _, at in self.counted if self.now - at < rules.window_seconds]
                    assert len(inside) < rules.max_switches, f"budget exceeded by {write}"
                mine = [at for s, at in self.counted if s == write.strategy]
                if mine and rules.min_seconds_between_switches > 0:
                    assert self.now - mine[-1] >= rules.min_seconds_between_switches, write
            entry = (write.strategy, self.now)
            self.counted.append(entry)
            self.last_counted[write.strategy] = entry
        for sp in self.policy.strategies:
            status = self.world.strategies[sp.id]
            block = status.safety
            if block is None:
                continue
            # Held back is always visible: a rule named, in the status and its reason.
            assert block.rule in block.reason
            assert not self.policy.dry_run, "a dry run is held back by a safety rule"
            assert block.blocked == (block.rule == "safety.max_switches")
            assert status.write.target is None
            if isinstance(event, Tick):
                # Re-evaluated on every tick: a hold stands only while its rule holds.
                if block.blocked:
                    assert rules.max_switches is not None
                    inside = [at for _, at in self.counted if self.now - at < rules.window_seconds]
                    assert len(inside) >= rules.max_switches
                else:
                    mine = [at for s, at in self.counted if s == sp.id]
                    assert mine
                    assert self.now - mine[-1] < rules.min_seconds_between_switches

    def check_not_stranded(self) -> None:
        """Liveness (SPEC §4.1, "it protects what the API routes to"): after any step, a strategy
        free to write (snapshot seen, nothing in flight, no retry wait, no operator hold) is never
        left on a region that is unhealthy and whose latest answer is bad, or on no region of its
        own, while one of its regions is healthy with a clean latest answer.

        Two exceptions, both visible: a safety rule holds the switch back (SPEC §8; `check_safety`
        asserts it is named and justified), or the decision was skipped (dry run, or not the leader)."""
        regions = self.world.regions
        for sp in self.policy.strategies:
            status = self.world.strategies[sp.id]
            free = status.snapshot_seen and status.write.target is None and status.write.retry_at is None
            if not free or status.hold is not None:
                continue
            if status.safety is not None or status.skipped is not None:
                continue
            active = status.active_region
            if active in sp.preference:
                assert active is not None
                if not (regions[active].unhealthy and regions[active].good_streak == 0):
                    continue
            clean = [r for r in sp.preference if regions[r].healthy and regions[r].bad_streak == 0]
            assert not clean, f"{sp.id} left on {active} while {clean} are healthy"

    def run(self, op: tuple[object, ...]) -> None:
        kind = op[0]
        self.now += float(op[-1])  # type: ignore[arg-type]
        ids = [s.id for s in self.policy.strategies]
        name = ids[op[1]] if isinstance(op[1], int) and op[1] < len(ids) else "nope"
        if kind == "obs":
            self.feed(Observation(str(op[1]), bool(op[2]), self.now, "probe"))
        elif kind == "tick":
            self.feed(Tick(self.now))
        elif kind == "ack":
            write = self.inflight.get(name)
            if write is None:
                self.feed(WriteSucceeded(name, "a", self.now))  # stale: must be ignored
            elif op[2]:
                self.feed(WriteSucceeded(name, write.to_region, self.now, 2))
            else:
                self.feed(WriteFailed(name, write.to_region, self.now, "http 503"))
        elif kind == "snap":
            self.feed(StrategySnapshot(name, op[2], 3, self.now))  # type: ignore[arg-type]
        elif kind == "hold":
            self.feed(OperatorHold(name, self.now + float(op[2]), self.now))  # type: ignore[arg-type]
        elif kind == "pin":
            until = self.now + float(op[3])  # type: ignore[arg-type]
            self.feed(OperatorPin(name, str(op[2]), until, self.now))
        elif kind == "move":
            self.feed(OperatorMove(name, str(op[2]), self.now, force=bool(op[3])))
        elif kind == "failback":
            self.feed(OperatorFailback(name, self.now))
        elif kind == "override":
            self.feed(OperatorRelease(name, self.now, override=True))
        elif kind == "skip":
            write = self.inflight.get(name)
            if write is not None:
                # Dry run, or (otherwise) this instance does not lead.
                self.feed(WriteSkipped(name, write.to_region, self.now, follower=not self.policy.dry_run))
        else:
            self.feed(OperatorRelease(name, self.now))


def play(policy: CorePolicy, starts: list[str | None], script: list[tuple[object, ...]]) -> Trace:
    trace = Trace(policy, WorldState.initial(policy))
    for sp, active in zip(policy.strategies, starts, strict=False):
        trace.feed(StrategySnapshot(sp.id, active, 1, 0.0, initial=True))
    for op in script:
        trace.run(op)
    return trace


starts = st.lists(st.sampled_from((*REGIONS, None)), min_size=2, max_size=2)


@PROPERTY_SETTINGS
@given(policies(), starts, ops)
def test_invariants_hold_over_random_event_sequences(
    policy: CorePolicy, active: list[str | None], script: list[tuple[object, ...]]
) -> None:
    trace = play(policy, active, script)
    for sp in policy.strategies:
        alerts = [
            type(a)
            for _, _, actions in trace.steps
            for a in actions
            if isinstance(a, AllRegionsDown | AllRegionsDownCleared) and a.strategy == sp.id
        ]
        # AllRegionsDown is raised once per episode, and only cleared after being raised.
        assert alerts == [AllRegionsDown, AllRegionsDownCleared] * (len(alerts) // 2) + (
            [AllRegionsDown] if len(alerts) % 2 else []
        )


@PROPERTY_SETTINGS
@given(policies(), starts, ops)
def test_step_is_deterministic(
    policy: CorePolicy, active: list[str | None], script: list[tuple[object, ...]]
) -> None:
    assert play(policy, active, script).steps == play(policy, active, script).steps


@settings(max_examples=200, deadline=None, database=None)
@given(st.data())
def test_a_region_flickering_faster_than_fall_never_causes_a_switch(data: st.DataObject) -> None:
    fall = data.draw(st.integers(2, 4), label="fall")
    from ._world import make_policy

    policy = make_policy(StrategyPolicy("s1", ("a", "b")), fall=fall, rise=data.draw(st.integers(1, 3)))
    shell = started(policy, active="a", healthy=("a", "b"))
    runs = data.draw(
        st.lists(st.tuples(st.integers(1, 4), st.integers(1, fall - 1), st.sampled_from(["a", "b"]))),
        label="runs",
    )
    now = 1.0
    for good, bad, region in runs:
        for ok in [True] * good + [False] * bad:
            now += 1.0
            shell.observe(region, ok, now)
        shell.tick(now + 0.5)
    assert reweights(shell.history) == []
    assert shell.region("a").state is RegionState.HEALTHY
    assert shell.region("b").state is RegionState.HEALTHY


@settings(max_examples=100, deadline=None, database=None)
@given(policies(), st.lists(st.tuples(st.sampled_from(REGIONS), st.booleans()), max_size=40))
def test_all_regions_unhealthy_means_no_write(policy: CorePolicy, noise: list[tuple[str, bool]]) -> None:
    trace = Trace(policy, WorldState.initial(policy))
    for sp in policy.strategies:
        trace.feed(StrategySnapshot(sp.id, sp.preference[0], 1, 0.0, initial=True))
    for region, ok in noise:
        trace.run(("obs", region, ok, 1.0))
        for sp in policy.strategies:
            if sp.id in trace.inflight:
                trace.run(("ack", policy.strategies.index(sp), True, 0.0))
    for _ in range(policy.thresholds.fall):
        for region in REGIONS:
            trace.run(("obs", region, False, 1.0))
    for sp in policy.strategies:
        if sp.id in trace.inflight:
            trace.run(("ack", policy.strategies.index(sp), True, 0.0))
    for _ in range(5):
        trace.run(("tick", 100.0))
        for region in REGIONS:
            trace.run(("obs", region, False, 1.0))
    tail = trace.steps[-20:]
    assert all(not reweights(actions) for _, _, actions in tail)
    for sp in policy.strategies:
        assert trace.world.strategies[sp.id].all_down
