"""The public platform's followers of a strategy (SPEC §6.2): one small class per object kind.

A `Follower` knows what its object should say for a strategy's decision and writes it by the one
write path (`watcher.platform_writes`: read, already so?, confirm leadership, PUT with the
version, re-read on a conflict). `followers.py` runs them beside the rules, audits and counts.

- a trigger's `target.id` is the workflow of the active region;
- an emergency group is enabled while the strategy is off its preferred region (`failed-over`),
  or while every region of it is down (`all-down`); disabled otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from watcher.config import EmergencyGroupSettings, TriggerSettings
from watcher.genesys.platform import PlatformCalls
from watcher.platform_writes import write_group_enabled, write_trigger_target
from watcher.writer import Confirm, WriteKind, WriteOutcome, rewrite_unchanged


@dataclass(frozen=True)
class Decision:
    """What a strategy's followers follow: the active region, the preferred one, all-down."""

    region: str
    preferred: str | None
    all_down: bool = False

    @property
    def failed_over(self) -> bool:
        return self.preferred is not None and self.region != self.preferred


class Follower(Protocol):
    """One object that follows a strategy."""

    kind: WriteKind
    id: str
    strategy: str

    def wanted(self, decision: Decision) -> str:
        """What the object should say, for logs and `/status`."""
        ...

    async def write(
        self, decision: Decision, *, attempts: int, clock: Callable[[], float], confirm: Confirm
    ) -> WriteOutcome: ...

    async def fence(self, confirm: Confirm) -> None:
        """Write the object back unchanged (a new leader's fence: its version moves on)."""
        ...

    async def region_said(self) -> str | None:
        """The region the object follows now, if it names one (None: it names none)."""
        ...


class TriggerFollower:
    kind: WriteKind = "trigger"

    def __init__(self, platform: PlatformCalls, settings: TriggerSettings) -> None:
        self._platform = platform
        self.settings = settings
        self.id = settings.id
        self.strategy = settings.strategy

    def wanted(self, decision: Decision) -> str:
        return f"target {self.settings.targets.get(decision.region)}"

    async def write(
        self, decision: Decision, *, attempts: int, clock: Callable[[], float], confirm: Confirm
    ) -> WriteOutcome:
        workflow = self.settings.targets.get(decision.region)
        if workflow is None:
            raise LookupError(f"no workflow configured for region {decision.region}")
        return await write_trigger_target(
            self._platform, self.id, workflow, attempts=attempts, clock=clock, confirm=confirm
        )

    async def fence(self, confirm: Confirm) -> None:
        await rewrite_unchanged(
            lambda: self._platform.get_trigger(self.id),
            lambda current: self._platform.put_trigger(current, current, retries=0),
            confirm,
        )

    async def region_said(self) -> str | None:
        target = (await self._platform.get_trigger(self.id)).target.id
        return next((r for r, w in self.settings.targets.items() if w == target), None)


class GroupFollower:
    kind: WriteKind = "emergency_group"

    def __init__(self, platform: PlatformCalls, settings: EmergencyGroupSettings) -> None:
        self._platform = platform
        self.settings = settings
        self.id = settings.id
        self.strategy = settings.strategy

    def enabled(self, decision: Decision) -> bool:
        if self.settings.enabled_when == "all-down":
            return decision.all_down
        return decision.failed_over

    def wanted(self, decision: Decision) -> str:
        return "enabled" if self.enabled(decision) else "disabled"

    async def write(
        self, decision: Decision, *, attempts: int, clock: Callable[[], float], confirm: Confirm
    ) -> WriteOutcome:
        return await write_group_enabled(
            self._platform, self.id, self.enabled(decision), attempts=attempts, clock=clock, confirm=confirm
        )

    async def fence(self, confirm: Confirm) -> None:
        await rewrite_unchanged(
            lambda: self._platform.get_emergency_group(self.id),
            lambda current: self._platform.put_emergency_group(current, retries=0),
            confirm,
        )

    async def region_said(self) -> str | None:
        return None  # a group says "emergency or not", not where to route


def platform_followers(
    platform: PlatformCalls,
    triggers: Sequence[TriggerSettings],
    groups: Sequence[EmergencyGroupSettings],
) -> list[Follower]:
    return [
        *(TriggerFollower(platform, t) for t in triggers),
        *(GroupFollower(platform, g) for g in groups),
    ]
