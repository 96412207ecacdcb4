"""A tiny stand-in for the shell: feeds events into `step`, keeps the world, records actions."""

from __future__ import annotations

from collections.abc import Iterable

from watcher.core import (
    Action,
    CorePolicy,
    Event,
    FailbackMode,
    FailbackPolicy,
    Observation,
    RegionHealth,
    Reweight,
    StrategyPolicy,
    StrategySnapshot,
    StrategyStatus,
    Thresholds,
    Tick,
    WorldState,
    WriteFailed,
    WriteSucceeded,
    step,
)


def make_policy(
    *strategies: StrategyPolicy,
    fall: int = 2,
    rise: int = 3,
    mode: FailbackMode = "auto",
    hold: float = 60.0,
    window: float = 600.0,
    max_hold: float = 3600.0,
    dry_run: bool = False,
) -> CorePolicy:
    return CorePolicy(
        thresholds=Thresholds(fall=fall, rise=rise),
        failback=FailbackPolicy(mode, hold, window, max_hold),
        strategies=strategies or (StrategyPolicy("s1", ("a", "b", "c")),),
        dry_run=dry_run,
    )


class Shell:
    """Feeds events in order, like the daemon does; `at` is advanced by the test."""

    def __init__(self, policy: CorePolicy) -> None:
        self.policy = policy
        self.world = WorldState.initial(policy)
        self.history: list[Action] = []

    def feed(self, event: Event) -> tuple[Action, ...]:
        self.world, actions = step(self.world, event, self.policy)
        self.history.extend(actions)
        return actions

    def observe(self, region: str, ok: bool, at: float, reason: str | None = None) -> tuple[Action, ...]:
        why = reason or ("status=HEALTHY" if ok else "status=DEGRADED")
        return self.feed(Observation(region, ok, at, why))

    def streak(self, region: str, ok: bool, at: float, count: int) -> tuple[Action, ...]:
        out: list[Action] = []
        for _ in range(count):
            out.extend(self.observe(region, ok, at))
        return tuple(out)

    def up(self, region: str, at: float) -> tuple[Action, ...]:
        return self.streak(region, True, at, self.policy.thresholds.rise)

    def down(self, region: str, at: float) -> tuple[Action, ...]:
        return self.streak(region, False, at, self.policy.thresholds.fall)

    def tick(self, at: float) -> tuple[Action, ...]:
        return self.feed(Tick(at))

    def ack(self, write: Reweight, at: float, version: int | None = None) -> tuple[Action, ...]:
        return self.feed(WriteSucceeded(write.strategy, write.to_region, at, version))

    def fail(self, write: Reweight, at: float, error: str = "http 503") -> tuple[Action, ...]:
        return self.feed(WriteFailed(write.strategy, write.to_region, at, error))

    def status(self, strategy: str = "s1") -> StrategyStatus:
        return self.world.strategies[strategy]

    def region(self, region: str) -> RegionHealth:
        return self.world.regions[region]


def started(
    policy: CorePolicy | None = None,
    active: str | None = "a",
    healthy: Iterable[str] = ("a", "b", "c"),
    at: float = 0.0,
) -> Shell:
    """A shell whose strategies were snapshotted on `active` and whose `healthy` regions are
    confirmed healthy at `at`."""
    shell = Shell(policy or make_policy())
    for sp in shell.policy.strategies:
        shell.feed(StrategySnapshot(sp.id, active, 1, at, initial=True))
    for region in healthy:
        shell.up(region, at)
    return shell


def reweights(actions: Iterable[Action]) -> list[Reweight]:
    return [a for a in actions if isinstance(a, Reweight)]


def only_reweight(actions: Iterable[Action]) -> Reweight:
    found = reweights(actions)
    assert len(found) == 1, found
    return found[0]
