"""The plan: what a strategy or a rule must look like for a given region order. Pure.

The watcher never edits a field it does not own: the planned object is the one read from the API with
only the region priorities and weights (strategy) or the target list (rule) changed, so unknown fields
and the server's `version` travel back untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from watcher.genesys.models import RoutingRule, RuleTarget, Strategy, StrategyRegion
from watcher.switch.errors import PlanError

FULL_WEIGHT = 100


def plan_strategy(current: Strategy, order: Sequence[str]) -> Strategy:
    """`current` with `order[0]` at priority 1 and the full weight, the others following, weight 0.

    Regions of the strategy that `order` does not name keep their relative order after the named ones,
    so a strategy with more regions than the watcher manages is never truncated.
    """
    by_id = {r.regionId: r for r in current.routingConfig.regions}
    unknown = [r for r in order if r not in by_id]
    if unknown:
        raise PlanError(f"strategy {current.id} has no region(s) {', '.join(unknown)}")
    if not order:
        raise PlanError("empty region order")
    rest = [r.regionId for r in sorted(by_id.values(), key=lambda r: r.priority) if r.regionId not in order]
    regions = [
        by_id[region_id].model_copy(
            update={"priority": priority, "weight": FULL_WEIGHT if priority == 1 else 0}
        )
        for priority, region_id in enumerate([*order, *rest], start=1)
    ]
    config = current.routingConfig.model_copy(update={"regions": regions})
    return current.model_copy(update={"routingConfig": config})


def strategy_matches(current: Strategy, order: Sequence[str]) -> bool:
    """True when `current` already routes as `plan_strategy(current, order)` would."""
    planned = plan_strategy(current, order)
    return _shape(planned.routingConfig.regions) == _shape(current.routingConfig.regions)


def _shape(regions: list[StrategyRegion]) -> list[tuple[str, int, int]]:
    return sorted((r.regionId, r.priority, r.weight) for r in regions)


def plan_rule(current: RoutingRule, region_targets: Mapping[str, str], region: str) -> RoutingRule:
    """`current` retargeted to `region`'s target: targets of the strategy's other regions are
    replaced by it; targets the watcher does not manage are kept, after it."""
    try:
        wanted = region_targets[region]
    except KeyError:
        raise PlanError(f"no target configured for region {region}") from None
    managed = set(region_targets.values())
    existing = next((t for t in current.targets if t.id == wanted), None)
    first = existing if existing is not None else RuleTarget(id=wanted)
    others = [t for t in current.targets if t.id not in managed]
    return current.model_copy(update={"targets": [first, *others]})


def rule_matches(current: RoutingRule, region_targets: Mapping[str, str], region: str) -> bool:
    planned = plan_rule(current, region_targets, region)
    return [t.id for t in planned.targets] == [t.id for t in current.targets]
