"""Where a strategy's decision reaches the objects that follow it: its EventBridge routing rules,
and on the public platform its process automation triggers and emergency groups
(`platform_followers.py`, one class per kind).

One path for every follower write: the switch (right after its strategy's PUT) and the read-back's
repairs (a follower that does not follow its strategy's decision: a switch interrupted between
the strategy and its followers, or an edit behind the watcher's back) both go through `follow`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import structlog

from watcher.config import RuleSettings
from watcher.daemon.leadership import Leadership
from watcher.daemon.platform_followers import Decision, Follower
from watcher.events import AuditRecord, AuditTrail
from watcher.events.audit_trail import Kind
from watcher.genesys import Copies, GenesysClient, GenesysError, Priority, request_priority
from watcher.genesys.platform import InvalidTriggerUpdate
from watcher.metrics import WatcherMetrics
from watcher.reweight import PlanError
from watcher.writer import WriteOutcome, WriteRefused, write_rule_target

log = structlog.get_logger("watcher.followers")


@dataclass(frozen=True)
class Followed:
    """What making a strategy's followers follow it did: the writes, and what failed."""

    writes: tuple[WriteOutcome, ...]
    errors: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.errors


def version_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Followers:
    """The rules of every strategy, and the one way they are made to follow it."""

    def __init__(
        self,
        client: GenesysClient,
        rules: Sequence[RuleSettings],
        *,
        gate: Leadership,
        metrics: WatcherMetrics,
        trail: AuditTrail | None,
        attempts: int,
        clock: Callable[[], float],
        others: Sequence[Follower] = (),
        preferred: Callable[[str], str | None] = lambda strategy: None,
        copies: Copies | None = None,
    ) -> None:
        self._client = client
        self._copies = copies
        self._gate = gate
        self._metrics = metrics
        self._trail = trail
        self.attempts = attempts
        self._clock = clock
        self._rules: Mapping[str, list[RuleSettings]] = _by_strategy(rules)
        self._known_targets: set[str] = set()
        self._preferred = preferred
        self.set_others(others)
        # Per follower (kind, id): what it was last made to say, for `/status`.
        self.last: dict[tuple[str, str], dict[str, Any]] = {}
        self._looking: dict[str, anyio.Event] = {}  # lookups in flight: one per target at a time

    def set_rules(self, rules: Sequence[RuleSettings]) -> None:
        self._rules = _by_strategy(rules)

    def set_others(self, others: Sequence[Follower]) -> None:
        grouped: dict[str, list[Follower]] = {}
        for follower in others:
            grouped.setdefault(follower.strategy, []).append(follower)
            for result in ("success", "failure"):  # zeros on the dashboard before the first repair
                self._metrics.follower_repairs.labels(
                    kind=follower.kind, strategy=follower.strategy, result=result
                )
        self._others: Mapping[str, list[Follower]] = grouped

    def rules_of(self, strategy: str) -> list[RuleSettings]:
        return list(self._rules.get(strategy, []))

    def others_of(self, strategy: str) -> list[Follower]:
        return list(self._others.get(strategy, []))

    def describe(self) -> list[dict[str, Any]]:
        """The triggers and emergency groups followed, and what each was last made to say."""
        return [
            {"kind": f.kind, "id": f.id, "strategy": f.strategy, **self.last.get((f.kind, f.id), {})}
            for fs in self._others.values()
            for f in fs
        ]

    async def region_said(self, strategy: str) -> str | None:
        """The region every follower that names one (rules, triggers) names, if they agree."""
        said: set[str | None] = set()
        for rule in self.rules_of(strategy):
            current = await self._client.get_rule(rule.id)
            ids = [t.id for t in current.targets]
            said.add(next((r for r, t in rule.targets.items() if t in ids[:1]), None))
        for follower in self.others_of(strategy):
            if follower.kind == "trigger":
                said.add(await follower.region_said())
        return said.pop() if len(said) == 1 else None

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

        async def other(follower: Follower) -> None:
            name = f"{follower.kind} {follower.id}"
            if not await self._gate.may_write(strategy):
                errors.append(f"{name}: leadership lost before it could follow")
                return
            try:
                outcome = await follower.write(
                    decision,
                    attempts=self.attempts,
                    clock=self._clock,
                    confirm=lambda: self._gate.confirm(strategy),
                )
            except (GenesysError, PlanError, WriteRefused, InvalidTriggerUpdate, LookupError) as exc:
                errors.append(f"{name}: {exc}")
                log.error("follower write failed", kind=follower.kind, id=follower.id, error=str(exc))
                self._note(follower, decision, None, str(exc), explanation is None)
                await self._audit(strategy, follower.kind, follower.id, None, explanation, error=str(exc))
                return
            writes.append(outcome)
            self._note(follower, decision, outcome, None, explanation is None)
            if outcome.changed:
                self._metrics.update_latency.labels(kind=follower.kind).observe(outcome.latency_seconds)
                if explanation is None:
                    log.warning(
                        f"{follower.kind} did not follow its strategy; repaired",
                        id=follower.id,
                        strategy=strategy,
                        wanted=follower.wanted(decision),
                    )
            if outcome.changed or explanation is not None:
                await self._audit(strategy, follower.kind, follower.id, outcome, explanation)

        async def one(rule: RuleSettings) -> None:
            if not await self._gate.may_write(strategy):
                errors.append(f"rule {rule.id}: leadership lost before it could be retargeted")
                return
            missing = await self._missing_target(rule, region)
            if missing is not None:
                errors.append(f"rule {rule.id}: {missing}")
                log.error("rule not retargeted", rule=rule.id, strategy=strategy, error=missing)
                await self._audit(strategy, "rule", rule.id, None, explanation, error=missing)
                return
            try:
                outcome = await write_rule_target(
                    self._client,
                    rule.id,
                    rule.targets,
                    region,
                    attempts=self.attempts,
                    clock=self._clock,
                    confirm=lambda: self._gate.confirm(strategy),
                    copies=self._copies,
                )
            except (GenesysError, PlanError, WriteRefused) as exc:
                errors.append(f"rule {rule.id}: {exc}")
                log.error("rule retarget failed", rule=rule.id, strategy=strategy, error=str(exc))
                await self._audit(strategy, "rule", rule.id, None, explanation, error=str(exc))
                return
            writes.append(outcome)
            if outcome.changed:
                self._metrics.update_latency.labels(kind="rule").observe(outcome.latency_seconds)
                if explanation is None:
                    log.warning(
                        "rule did not follow its strategy; retargeted",
                        rule=rule.id,
                        strategy=strategy,
                        region=region,
                    )
            if outcome.changed or explanation is not None:
                await self._audit(strategy, "rule", rule.id, outcome, explanation)

        # Writes are urgent, whoever asks (a switch, or a repair from the read-back's task).
        with request_priority(Priority.WRITE):
            async with anyio.create_task_group() as tg:
                for rule in self.rules_of(strategy) if rules else ():
                    tg.start_soon(one, rule, name=f"follow:{rule.id}")
                for follower in self.others_of(strategy):
                    tg.start_soon(other, follower, name=f"follow:{follower.kind}:{follower.id}")
        return Followed(tuple(writes), tuple(errors))

    def _note(
        self,
        follower: Follower,
        decision: Decision,
        outcome: WriteOutcome | None,
        error: str | None,
        repair: bool,
    ) -> None:
        """Remember for `/status`; count a repair (a follower found not following) by its result."""
        if repair and (error is not None or (outcome is not None and outcome.changed)):
            self._metrics.follower_repairs.labels(
                kind=follower.kind, strategy=follower.strategy, result="failure" if error else "success"
            ).inc()
        self.last[(follower.kind, follower.id)] = {
            "wanted": follower.wanted(decision),
            "version": None if outcome is None else outcome.version_after,
            "result": "failure" if error else ("written" if outcome and outcome.changed else "as wanted"),
            "error": error,
            "at": self._clock(),
        }

    async def fence(self, strategy: str) -> None:
        """A new leader's fence of the platform's followers: each written back unchanged."""
        for follower in self.others_of(strategy):
            await follower.fence(lambda: self._gate.confirm(strategy))

    @property
    def known_targets(self) -> frozenset[str]:
        return frozenset(self._known_targets)

    async def learn_targets(self) -> None:
        """Look up every configured target once, at start, so that no switch spends a request on
        it (a target not found is left unknown: the switch checks it again, and names it)."""
        wanted = sorted({t for rules in self._rules.values() for r in rules for t in r.targets.values()})
        with request_priority(Priority.DEFERRABLE):
            for target in wanted:
                if target in self._known_targets:
                    continue
                try:
                    if await self._client.target_exists(target):
                        self._known_targets.add(target)
                except GenesysError as exc:
                    log.warning("cannot look up a rule target yet", target=target, error=str(exc))

    async def _missing_target(self, rule: RuleSettings, region: str) -> str | None:
        """Why the rule cannot point at `region`'s target (unmapped, or gone from the API), or None.

        Checked here rather than left to the server's 400, so the report names what is wrong; a
        target seen once is not looked up again."""
        target = rule.targets.get(region)
        if target is None:
            return f"no target configured for region {region}"
        while (pending := self._looking.get(target)) is not None:
            await pending.wait()  # a mass failover: forty rules, one target, one lookup
        if target in self._known_targets:
            return None
        self._looking[target] = done = anyio.Event()
        try:
            exists = await self._client.target_exists(target)
        except GenesysError as exc:
            return f"could not check target {target}: {exc}"
        finally:
            del self._looking[target]
            done.set()
        if not exists:
            return f"target {target} (region {region}) does not exist in the API"
        self._known_targets.add(target)
        return None

    async def _audit(
        self,
        strategy: str,
        kind: Kind,
        object_id: str,
        outcome: WriteOutcome | None,
        explanation: Mapping[str, Any] | None,
        *,
        error: str | None = None,
    ) -> None:
        if self._trail is None:
            return
        await self._trail.append(
            AuditRecord(
                strategy=strategy,
                kind=kind,
                rule=object_id if kind == "rule" else None,
                follower=None if kind == "rule" else object_id,
                result="failure" if outcome is None else "success",
                version_before=None if outcome is None else version_or_none(outcome.version_before),
                version_after=None if outcome is None else version_or_none(outcome.version_after),
                latency_seconds=None if outcome is None else outcome.latency_seconds,
                error=error,
                explanation=dict(explanation) if explanation is not None else {},
            )
        )


def _by_strategy(rules: Sequence[RuleSettings]) -> dict[str, list[RuleSettings]]:
    grouped: dict[str, list[RuleSettings]] = {}
    for rule in rules:
        grouped.setdefault(rule.strategy, []).append(rule)
    return grouped
