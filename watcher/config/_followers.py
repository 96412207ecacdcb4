"""The followers of a strategy on the public platform (SPEC §6.2): process automation triggers and
Architect emergency groups, and the cross-checks that tie them (and virtual strategies) together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from watcher.config import WatcherConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerSettings(_Section):
    """A trigger whose `target.id` follows its strategy's active region (a workflow per region)."""

    id: str = Field(min_length=1)
    strategy: str
    targets: dict[str, str]


class EmergencyGroupSettings(_Section):
    """An emergency group enabled while its strategy is off its preferred region (`failed-over`) or
    while every region of it is down (`all-down`), disabled otherwise."""

    id: str = Field(min_length=1)
    strategy: str
    enabled_when: Literal["failed-over", "all-down"] = "failed-over"


def _duplicates(key: str, ids: Sequence[str], problems: list[str]) -> None:
    seen: set[str] = set()
    for i, object_id in enumerate(ids):
        if object_id in seen:
            problems.append(f"{key}[{i}].id: duplicate id {object_id!r}")
        seen.add(object_id)


def check_followers(cfg: WatcherConfig, problems: list[str]) -> None:
    """Followers naming an unknown strategy, trigger targets that do not match their strategy's
    regions, and virtual strategies nothing follows (their decision would reach no one)."""
    regions = {s.id: s.regions for s in cfg.strategies}
    for i, trigger in enumerate(cfg.triggers):
        if trigger.strategy not in regions:
            problems.append(f"triggers[{i}].strategy: unknown strategy {trigger.strategy!r}")
            continue
        strategy_regions = regions[trigger.strategy]
        for region, workflow in trigger.targets.items():
            if region not in strategy_regions:
                problems.append(
                    f"triggers[{i}].targets.{region}: region {region!r} is not a region of "
                    f"strategy {trigger.strategy!r}"
                )
            if not workflow:
                problems.append(f"triggers[{i}].targets.{region}: empty workflow id")
        missing = [r for r in strategy_regions if r not in trigger.targets]
        if missing:
            problems.append(
                f"triggers[{i}].targets: no workflow for region(s) {', '.join(missing)} "
                f"of strategy {trigger.strategy!r}"
            )
    for i, group in enumerate(cfg.emergency_groups):
        if group.strategy not in regions:
            problems.append(f"emergency_groups[{i}].strategy: unknown strategy {group.strategy!r}")
    _duplicates("triggers", [t.id for t in cfg.triggers], problems)
    _duplicates("emergency_groups", [g.id for g in cfg.emergency_groups], problems)
    followed = {r.strategy for r in cfg.rules} | {t.strategy for t in cfg.triggers}
    followed |= {g.strategy for g in cfg.emergency_groups}
    for i, strategy in enumerate(cfg.strategies):
        if strategy.kind == "virtual" and strategy.id not in followed:
            problems.append(
                f"strategies[{i}].kind: virtual strategy {strategy.id!r} has no follower "
                "(add a [[rules]], [[triggers]] or [[emergency_groups]] entry naming it)"
            )
