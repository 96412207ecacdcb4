"""Trigger and emergency-group writes (SPEC §6.2), by the one write path of `writer.py`: read,
already so?, confirm leadership, PUT with the version read, and on a conflict read again.

Only the field the watcher owns changes (a trigger's `target.id`, a group's `enabled`); every
other field is written back as it was read.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from watcher.genesys.platform import EmergencyGroup, PlatformCalls, Trigger
from watcher.writer import Confirm, WriteOutcome, write_with_retries


def retargeted(current: Trigger, workflow_id: str) -> Trigger:
    """`current` pointing at `workflow_id`, everything else as read (the target's settings too)."""
    return current.model_copy(update={"target": current.target.model_copy(update={"id": workflow_id})})


async def write_trigger_target(
    platform: PlatformCalls,
    trigger_id: str,
    workflow_id: str,
    *,
    attempts: int = 5,
    clock: Callable[[], float] = time.monotonic,
    confirm: Confirm | None = None,
) -> WriteOutcome:
    """Point the trigger at `workflow_id` (validated locally, then PUT with the version read)."""
    return await write_with_retries(
        "trigger",
        trigger_id,
        lambda: platform.get_trigger(trigger_id),
        lambda current: current.target.id == workflow_id,
        lambda current: platform.put_trigger(retargeted(current, workflow_id), current, retries=0),
        attempts=attempts,
        clock=clock,
        confirm=confirm,
    )


async def write_group_enabled(
    platform: PlatformCalls,
    group_id: str,
    enabled: bool,
    *,
    attempts: int = 5,
    clock: Callable[[], float] = time.monotonic,
    confirm: Confirm | None = None,
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
        attempts=attempts,
        clock=clock,
        confirm=confirm,
    )
