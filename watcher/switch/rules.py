"""A strategy's EventBridge routing rules: a rule points at its active region's target.

The target is checked before the write rather than left to the server's 400, so the report names
what is wrong; a target seen once is not looked up again (`RuleTargets`, shared by every rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
import structlog

from watcher.config import RuleSettings
from watcher.genesys import Copies, GenesysClient, GenesysError, NotFound, RoutingRule
from watcher.switch.errors import NotFollowable
from watcher.switch.follower import Decision
from watcher.switch.plan import plan_rule, rule_matches
from watcher.switch.policy import WritePolicy
from watcher.switch.readiness import ReadinessCheck
from watcher.switch.writes import WriteKind, WriteOutcome, rewrite_unchanged, write_with_retries

log = structlog.get_logger("watcher.followers")


class RuleTargets:
    """The rule targets known to exist, and one lookup in flight per target at a time."""

    def __init__(self, client: GenesysClient) -> None:
        self._client = client
        self.known: set[str] = set()
        self._looking: dict[str, anyio.Event] = {}
        # This readiness round's answers, per target: forty rules on one target, one lookup.
        self._round: dict[str, str | None] = {}

    def new_round(self) -> None:
        """A readiness round starts: every target is looked up again (once)."""
        self._round = {}

    async def learn(self, targets: Sequence[str]) -> None:
        """Look each target up once (a target not found is left unknown: a switch checks it again)."""
        for target in targets:
            if target in self.known:
                continue
            try:
                if await self._client.target_exists(target):
                    self.known.add(target)
            except GenesysError as exc:
                log.warning("cannot look up a rule target yet", target=target, error=str(exc))

    async def missing(self, targets: Mapping[str, str], region: str) -> str | None:
        """Why a rule cannot point at `region`'s target (unmapped, or gone from the API), or None."""
        target = targets.get(region)
        if target is None:
            return f"no target configured for region {region}"
        while (pending := self._looking.get(target)) is not None:
            await pending.wait()  # a mass failover: forty rules, one target, one lookup
        if target in self.known:
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
        self.known.add(target)
        return None

    async def readiness(self, check: str, targets: Mapping[str, str], region: str) -> ReadinessCheck:
        """Whether `region`'s target exists now (looked up again: a target deleted since the last
        switch is found here, and a switch to that region checks it again before writing)."""
        target = targets.get(region)
        if target is None:
            return ReadinessCheck(check, False, f"no target configured for region {region}")
        if target not in self._round:
            self._round[target] = await self._lookup(target)
        why = self._round[target]
        return ReadinessCheck(check, why is None, why)

    async def _lookup(self, target: str) -> str | None:
        try:
            await self._client.get_target(target)
        except NotFound:
            self.known.discard(target)
            return f"target {target} does not exist in the API"
        except GenesysError as exc:
            return f"could not check target {target}: {exc}"
        self.known.add(target)
        return None


async def write_rule_target(
    client: GenesysClient,
    rule_id: str,
    region_targets: Mapping[str, str],
    region: str,
    policy: WritePolicy | None = None,
    *,
    copies: Copies | None = None,
) -> WriteOutcome:
    """Point `rule_id` at `region`'s target with the version read; re-read and re-plan on conflicts.

    With `copies`, the first attempt is planned from the last copy (no GET), and every read and
    write keeps the copy current."""
    store = copies if copies is not None else Copies()

    async def read() -> RoutingRule:
        return store.keep_rule(rule_id, await client.get_rule(rule_id))

    async def write(current: RoutingRule) -> RoutingRule:
        planned = plan_rule(current, region_targets, region)
        try:
            written = await client.put_rule(rule_id, planned, retries=0)
        except Exception:
            store.drop_rule(rule_id)
            raise
        if written is planned:
            store.drop_rule(rule_id)
            return written
        return store.keep_rule(rule_id, written)

    return await write_with_retries(
        "rule",
        rule_id,
        read,
        lambda current: rule_matches(current, region_targets, region),
        write,
        policy or WritePolicy(),
        first=None if copies is None else copies.rule(rule_id),
    )


class RuleFollower:
    """One rule: its first target is the active region's."""

    kind: WriteKind = "rule"
    platform = False
    verb = "be retargeted"

    def __init__(
        self, client: GenesysClient, settings: RuleSettings, targets: RuleTargets, copies: Copies | None
    ) -> None:
        self._client = client
        self._targets = targets
        self._copies = copies
        self.settings = settings
        self.id = settings.id
        self.strategy = settings.strategy

    def wanted(self, decision: Decision) -> str:
        return f"target {self.settings.targets.get(decision.region)}"

    async def prepare(self) -> None:
        await self._targets.learn(sorted(set(self.settings.targets.values())))

    async def write(self, decision: Decision, policy: WritePolicy) -> WriteOutcome:
        missing = await self._targets.missing(self.settings.targets, decision.region)
        if missing is not None:
            raise NotFollowable(missing)
        return await write_rule_target(
            self._client, self.id, self.settings.targets, decision.region, policy, copies=self._copies
        )

    async def fence(self, policy: WritePolicy) -> None:
        client, copies = self._client, self._copies
        if copies is not None:
            copies.drop_rule(self.id)  # kept again only from the fence's own answer
        fenced = await rewrite_unchanged(
            lambda: client.get_rule(self.id),
            lambda current: client.put_rule(self.id, current, retries=0),
            policy,
        )
        if copies is not None:
            copies.keep_rule(self.id, fenced)

    async def region_said(self) -> set[str | None]:
        ids = [t.id for t in (await self._client.get_rule(self.id)).targets]
        return {next((r for r, t in self.settings.targets.items() if t in ids[:1]), None)}

    async def readiness(self, region: str) -> tuple[ReadinessCheck, ...]:
        return (await self._targets.readiness(f"rule {self.id} target", self.settings.targets, region),)
