"""The public platform's followers of a strategy (SPEC §6.2): one small class per object kind.

- a trigger's `target.id` is the workflow of the active region;
- an emergency group is enabled while the strategy is off its preferred region (`failed-over`),
  or while every region of it is down (`all-down`); disabled otherwise.

Only the field the watcher owns changes (a trigger's `target.id`, a group's `enabled`); every
other field is written back as it was read, by the one write loop (`writes.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

from watcher.config import EmergencyGroupSettings, TriggerSettings
from watcher.genesys import GenesysError, NotFound
from watcher.genesys.platform import EmergencyGroup, InvalidTriggerUpdate, PlatformCalls, Trigger
from watcher.switch.errors import NotFollowable, PlanError
from watcher.switch.follower import Decision, Follower
from watcher.switch.policy import WritePolicy
from watcher.switch.readiness import ReadinessCheck
from watcher.switch.writes import WriteKind, WriteOutcome, rewrite_unchanged, write_with_retries


def retargeted(current: Trigger, workflow_id: str) -> Trigger:
    """`current` pointing at `workflow_id`, everything else as read (the target's settings too)."""
    return current.model_copy(update={"target": current.target.model_copy(update={"id": workflow_id})})


async def write_trigger_target(
    platform: PlatformCalls, trigger_id: str, workflow_id: str, policy: WritePolicy | None = None
) -> WriteOutcome:
    """Point the trigger at `workflow_id` (validated locally, then PUT with the version read)."""
    return await write_with_retries(
        "trigger",
        trigger_id,
        lambda: platform.get_trigger(trigger_id),
        lambda current: current.target.id == workflow_id,
        lambda current: platform.put_trigger(retargeted(current, workflow_id), current, retries=0),
        policy or WritePolicy(),
    )


async def write_group_enabled(
    platform: PlatformCalls, group_id: str, enabled: bool, policy: WritePolicy | None = None
) -> WriteOutcome:
    """Enable or disable the emergency group (the whole group PUT with the version read)."""

    def plan(current: EmergencyGroup) -> EmergencyGroup:
        return current.model_copy(update={"enabled": enabled})

    return await write_with_retries(
        "emergency_group",
        group_id,
        lambda: platform.get_emergency_group(group_id),
        lambda current: current.enabled is enabled,
        lambda current: platform.put_emergency_group(plan(current), retries=0),
        policy or WritePolicy(),
    )


async def flow_readiness(
    platform: PlatformCalls, check: str, flow_id: str | None, region: str
) -> ReadinessCheck:
    """Whether the flow an object would start in `region` exists, is not deleted and is published."""
    if flow_id is None:
        return ReadinessCheck(check, False, f"no flow configured for region {region}")
    try:
        flow = await platform.get_flow(flow_id)
    except NotFound:
        return ReadinessCheck(check, False, f"flow {flow_id} does not exist")
    except GenesysError as exc:
        return ReadinessCheck(check, False, f"could not check flow {flow_id}: {exc}")
    if flow.deleted:
        return ReadinessCheck(check, False, f"flow {flow_id} is deleted")
    if flow.publishedVersion is None:
        return ReadinessCheck(check, False, f"flow {flow_id} is not published")
    return ReadinessCheck(check, True)


class TriggerFollower:
    """A process automation trigger: it starts the active region's workflow."""

    kind: WriteKind = "trigger"
    platform = True
    verb = "follow"

    def __init__(self, platform: PlatformCalls, settings: TriggerSettings) -> None:
        self._platform = platform
        self.settings = settings
        self.id = settings.id
        self.strategy = settings.strategy

    def wanted(self, decision: Decision) -> str:
        return f"target {self.settings.targets.get(decision.region)}"

    async def prepare(self) -> None:
        return None

    async def write(self, decision: Decision, policy: WritePolicy) -> WriteOutcome:
        workflow = self.settings.targets.get(decision.region)
        if workflow is None:
            raise NotFollowable(f"no workflow configured for region {decision.region}")
        try:
            return await write_trigger_target(self._platform, self.id, workflow, policy)
        except InvalidTriggerUpdate as exc:  # refused locally: the platform would refuse it too
            raise PlanError(str(exc)) from exc

    async def fence(self, policy: WritePolicy) -> None:
        await rewrite_unchanged(
            lambda: self._platform.get_trigger(self.id),
            lambda current: self._platform.put_trigger(current, current, retries=0),
            policy,
        )

    async def region_said(self) -> set[str | None]:
        target = (await self._platform.get_trigger(self.id)).target.id
        return {next((r for r, w in self.settings.targets.items() if w == target), None)}

    async def readiness(self, region: str) -> tuple[ReadinessCheck, ...]:
        workflow = self.settings.targets.get(region)
        return (await flow_readiness(self._platform, f"trigger {self.id} workflow", workflow, region),)


class GroupFollower:
    """An emergency group: enabled while the strategy is failed over (or all-down)."""

    kind: WriteKind = "emergency_group"
    platform = True
    verb = "follow"

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

    async def prepare(self) -> None:
        return None

    async def write(self, decision: Decision, policy: WritePolicy) -> WriteOutcome:
        return await write_group_enabled(self._platform, self.id, self.enabled(decision), policy)

    async def fence(self, policy: WritePolicy) -> None:
        await rewrite_unchanged(
            lambda: self._platform.get_emergency_group(self.id),
            lambda current: self._platform.put_emergency_group(current, retries=0),
            policy,
        )

    async def region_said(self) -> set[str | None]:
        return set()  # a group says "emergency or not", not where to route

    async def readiness(self, region: str) -> tuple[ReadinessCheck, ...]:
        return ()  # nothing region-specific: enabling it works the same for every region


def platform_followers(
    platform: PlatformCalls,
    triggers: Sequence[TriggerSettings],
    groups: Sequence[EmergencyGroupSettings],
) -> list[Follower]:
    return [
        *(TriggerFollower(platform, t) for t in triggers),
        *(GroupFollower(platform, g) for g in groups),
    ]
