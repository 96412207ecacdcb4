"""Where a strategy's decision reaches the objects that follow it, by one write sequence:
gate → (the kind's) read → already so? → confirm leadership → write with the version → conflict
re-read → audit → metrics, catching one set of errors (`WRITE_ERRORS`).

One path for every follower write: the switch (right after its strategy's PUT) and the read-back's
repairs (a follower that does not follow its strategy's decision: a switch interrupted between
the strategy and its followers, or an edit behind the watcher's back) both go through `follow`.
A new kind of follower is one class (`follower.Follower`) and one line in `FollowerKinds.build`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import structlog

from watcher.config import (
    DataActionSettings,
    EmergencyGroupSettings,
    IvrSettings,
    RuleSettings,
    SiteSettings,
    TriggerSettings,
)
from watcher.events import AuditRecord, AuditTrail
from watcher.genesys import Copies, GenesysClient, Priority, request_priority
from watcher.genesys.platform import PlatformCalls
from watcher.metrics import WatcherMetrics
from watcher.switch.errors import WRITE_ERRORS
from watcher.switch.follower import Decision, Follower
from watcher.switch.levers import DataActionFollower, IvrFollower, Preference, SiteFollower
from watcher.switch.memory import FollowerMemory
from watcher.switch.platform import platform_followers
from watcher.switch.policy import Gate, WritePolicy
from watcher.switch.rules import RuleFollower, RuleTargets
from watcher.switch.writes import WriteOutcome, version_or_none

log = structlog.get_logger("watcher.followers")


@dataclass(frozen=True)
class Followed:
    """What making a strategy's followers follow it did: the writes, and what failed."""

    writes: tuple[WriteOutcome, ...]
    errors: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.errors


class FollowerKinds:
    """Builds the followers a config names, every kind from the same client and copies."""

    def __init__(
        self,
        client: GenesysClient,
        copies: Copies | None = None,
        *,
        memory: FollowerMemory | None = None,
        preference: Preference = lambda strategy: (),
    ) -> None:
        self.client = client
        self.platform = PlatformCalls(client)
        self.copies = copies
        self.targets = RuleTargets(client)
        # What a site or IVR restores after a failover (durable and shared in the daemon).
        self.memory = memory or FollowerMemory(None)
        self.preference = preference  # a strategy's regions, preferred first

    def build(
        self,
        rules: Sequence[RuleSettings],
        triggers: Sequence[TriggerSettings] = (),
        groups: Sequence[EmergencyGroupSettings] = (),
        *,
        sites: Sequence[SiteSettings] = (),
        ivrs: Sequence[IvrSettings] = (),
        data_actions: Sequence[DataActionSettings] = (),
    ) -> list[Follower]:
        return [
            *(RuleFollower(self.client, r, self.targets, self.copies) for r in rules),
            *platform_followers(self.platform, triggers, groups),
            *(SiteFollower(self.platform, s, self.memory, self.preference) for s in sites),
            *(IvrFollower(self.platform, i, self.memory) for i in ivrs),
            *(DataActionFollower(self.platform, a) for a in data_actions),
        ]


class Followers:
    """Every follower of every strategy, and the one way they are made to follow it."""

    def __init__(
        self,
        kinds: FollowerKinds,
        rules: Sequence[RuleSettings],
        triggers: Sequence[TriggerSettings] = (),
        groups: Sequence[EmergencyGroupSettings] = (),
        *,
        sites: Sequence[SiteSettings] = (),
        ivrs: Sequence[IvrSettings] = (),
        data_actions: Sequence[DataActionSettings] = (),
        gate: Gate,
        metrics: WatcherMetrics,
        trail: AuditTrail | None,
        policy: WritePolicy,
        preferred: Callable[[str], str | None] = lambda strategy: None,
    ) -> None:
        self.kinds = kinds
        self._gate = gate
        self._metrics = metrics
        self._trail = trail
        self._policy = policy
        self._preferred = preferred
        self._of: Mapping[str, list[Follower]] = {}
        # Per follower (kind, id): what it was last made to say, for `/status`.
        self.last: dict[tuple[str, str], dict[str, Any]] = {}
        self.configure(rules, triggers, groups, sites=sites, ivrs=ivrs, data_actions=data_actions)

    def configure(
        self,
        rules: Sequence[RuleSettings],
        triggers: Sequence[TriggerSettings] = (),
        groups: Sequence[EmergencyGroupSettings] = (),
        *,
        sites: Sequence[SiteSettings] = (),
        ivrs: Sequence[IvrSettings] = (),
        data_actions: Sequence[DataActionSettings] = (),
    ) -> None:
        """Follow what the (reloaded) config names."""
        grouped: dict[str, list[Follower]] = {}
        built = self.kinds.build(rules, triggers, groups, sites=sites, ivrs=ivrs, data_actions=data_actions)
        for follower in built:
            grouped.setdefault(follower.strategy, []).append(follower)
            for result in ("success", "failure") if follower.platform else ():
                # zeros on the dashboard before the first repair
                self._metrics.follower_repairs.labels(
                    kind=follower.kind, strategy=follower.strategy, result=result
                )
        self._of = grouped

    def of(self, strategy: str) -> list[Follower]:
        return list(self._of.get(strategy, []))

    def platform_of(self, strategy: str) -> list[Follower]:
        """The public platform's followers of `strategy` (repaired by every periodic read-back)."""
        return [f for f in self.of(strategy) if f.platform]

    def describe(self) -> list[dict[str, Any]]:
        """The platform's followers (triggers, emergency groups, sites, IVRs, data actions), and
        what each was last made to say."""
        return [
            {"kind": f.kind, "id": f.id, "strategy": f.strategy, **self.last.get((f.kind, f.id), {})}
            for fs in self._of.values()
            for f in fs
            if f.platform
        ]

    async def region_said(self, strategy: str) -> str | None:
        """The region every follower that names one (rules, triggers) names, if they agree."""
        said: set[str | None] = set()
        for follower in self.of(strategy):
            said |= await follower.region_said()
        return said.pop() if len(said) == 1 else None

    async def fence(self, strategy: str) -> None:
        """A new leader's fence of every follower of `strategy`: each written back unchanged."""
        policy = self._policy.confirming(self._gate, strategy)
        for follower in self.of(strategy):
            await follower.fence(policy)

    @property
    def known_targets(self) -> frozenset[str]:
        return frozenset(self.kinds.targets.known)

    async def learn_targets(self) -> None:
        """Look up what the followers' writes need, once, at start, so that no switch spends a
        request on it (deferrable: it waits behind urgent requests)."""
        with request_priority(Priority.DEFERRABLE):
            for followers in self._of.values():
                for follower in followers:
                    await follower.prepare()

    async def follow(
        self,
        strategy: str,
        region: str,
        *,
        explanation: Mapping[str, Any] | None = None,
        all_down: bool = False,
        rules: bool = True,
    ) -> Followed:
        """Make every follower of `strategy` follow `region` (and `all_down`), in parallel.

        `explanation` is the switch's (its writes are audited whatever they did); without one this
        is a repair, audited and logged only when it changed something. `rules=False` leaves the
        rules out (the periodic repair of the platform's followers).
        """
        writes: list[WriteOutcome] = []
        errors: list[str] = []
        decision = Decision(region, self._preferred(strategy), all_down)
        policy = self._policy.confirming(self._gate, strategy)

        async def one(follower: Follower) -> None:
            outcome, error = await self._write(follower, decision, policy, explanation)
            if error is not None:
                errors.append(f"{follower.kind} {follower.id}: {error}")
            elif outcome is not None:
                writes.append(outcome)

        # Writes are urgent, whoever asks (a switch, or a repair from the read-back's task).
        with request_priority(Priority.WRITE):
            async with anyio.create_task_group() as tg:
                for follower in sorted(self.of(strategy), key=lambda f: f.platform):
                    if rules or follower.platform:
                        tg.start_soon(one, follower, name=f"follow:{follower.kind}:{follower.id}")
        return Followed(tuple(writes), tuple(errors))

    async def _write(
        self,
        follower: Follower,
        decision: Decision,
        policy: WritePolicy,
        explanation: Mapping[str, Any] | None,
    ) -> tuple[WriteOutcome | None, str | None]:
        """The one write sequence of a follower: (its outcome, or why it failed)."""
        strategy, repair = follower.strategy, explanation is None
        if not await self._gate.may_write(strategy):
            return None, f"leadership lost before it could {follower.verb}"
        try:
            outcome = await follower.write(decision, policy)
        except WRITE_ERRORS as exc:
            log.error(
                "follower write failed", kind=follower.kind, id=follower.id, strategy=strategy, error=str(exc)
            )
            self._note(follower, decision, None, str(exc), repair)
            await self._audit(follower, None, explanation, error=str(exc))
            return None, str(exc)
        self._note(follower, decision, outcome, None, repair)
        if outcome.changed:
            self._metrics.update_latency.labels(kind=follower.kind).observe(outcome.latency_seconds)
            if repair:
                log.warning(
                    f"{follower.kind} did not follow its strategy; repaired",
                    id=follower.id,
                    strategy=strategy,
                    wanted=follower.wanted(decision),
                )
        if outcome.changed or not repair:
            await self._audit(follower, outcome, explanation)
        return outcome, None

    def _note(
        self,
        follower: Follower,
        decision: Decision,
        outcome: WriteOutcome | None,
        error: str | None,
        repair: bool,
    ) -> None:
        """Remember for `/status`; count a repair (a follower found not following) by its result."""
        if not follower.platform:
            return
        if repair and (error is not None or (outcome is not None and outcome.changed)):
            self._metrics.follower_repairs.labels(
                kind=follower.kind, strategy=follower.strategy, result="failure" if error else "success"
            ).inc()
        self.last[(follower.kind, follower.id)] = {
            "wanted": follower.wanted(decision),
            "version": None if outcome is None else outcome.version_after,
            "result": "failure" if error else ("written" if outcome and outcome.changed else "as wanted"),
            "error": error,
            "at": self._policy.clock(),
        }

    async def _audit(
        self,
        follower: Follower,
        outcome: WriteOutcome | None,
        explanation: Mapping[str, Any] | None,
        *,
        error: str | None = None,
    ) -> None:
        if self._trail is None:
            return
        kind = follower.kind
        await self._trail.append(
            AuditRecord(
                strategy=follower.strategy,
                kind=kind,
                rule=follower.id if kind == "rule" else None,
                follower=None if kind == "rule" else follower.id,
                result="failure" if outcome is None else "success",
                version_before=None if outcome is None else version_or_none(outcome.version_before),
                version_after=None if outcome is None else version_or_none(outcome.version_after),
                latency_seconds=None if outcome is None else outcome.latency_seconds,
                error=error,
                explanation=dict(explanation) if explanation is not None else {},
            )
        )
