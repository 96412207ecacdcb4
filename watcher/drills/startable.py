"""Why a drill may not start now (SPEC §8): every reason at once, so the operator fixes them in one go.

A drill is refused while a region of the strategy is unhealthy, the strategy is held or pinned or
not on its preferred region, another drill runs, dry run is on, a blocking alarm fires or Prometheus
cannot be read (when an alarm is named at all), or there is no standby to drill to.
"""

from __future__ import annotations

from watcher.drills.inputs import DrillPolicy, StrategyFacts
from watcher.drills.readings import AlarmReading, AlarmsUnreadable
from watcher.drills.record import Drill


def refusals(
    facts: StrategyFacts,
    to: str | None,
    explicit: bool,
    alarms: AlarmReading,
    policy: DrillPolicy,
    running: Drill | None,
) -> str | None:
    """The reasons, joined by "; ", or None when the drill may start.

    >>> facts = StrategyFacts("cc", ("a", "b"), frozenset({"a"}), "a", held=True)
    >>> from watcher.drills.readings import AlarmsFiring
    >>> refusals(facts, "b", True, AlarmsFiring(), DrillPolicy(), None)
    'cc is held; unhealthy region of cc: b'
    """
    s = facts.strategy
    why: list[str] = []
    if running is not None:
        why.append(f"another drill runs ({running.id} of {running.strategy})")
    if facts.dry_run:
        why.append("dry run is on")
    if facts.held:
        why.append(f"{s} is held")
    if facts.pinned:
        why.append(f"{s} is pinned")
    if not facts.regions:
        return "; ".join([*why, f"{s} has no regions"])
    unhealthy = [r for r in facts.regions if r not in facts.healthy]
    if unhealthy:
        why.append(f"unhealthy region{'s' if len(unhealthy) > 1 else ''} of {s}: {', '.join(unhealthy)}")
    preferred = facts.regions[0]
    if facts.active_region != preferred:
        where = facts.active_region or "an unknown region"
        why.append(f"{s} is not on its preferred region {preferred} (it routes to {where})")
    why.extend(_target(facts, to, explicit))
    why.extend(_alarms(alarms, policy))
    return "; ".join(why) or None


def _target(facts: StrategyFacts, to: str | None, explicit: bool) -> list[str]:
    s, preferred = facts.strategy, facts.regions[0]
    if to is None:
        if len(facts.regions) < 2:
            return [f"{s} has no standby region"]
        return [f"no standby region of {s} is ready ({', '.join(facts.regions[1:])} not ready)"]
    if to == preferred:
        return [f"{to} is the preferred region of {s}, not a standby"]
    if explicit and to not in facts.regions:
        return [f"{to} is not a region of {s} ({', '.join(facts.regions)})"]
    return []


def _alarms(alarms: AlarmReading, policy: DrillPolicy) -> list[str]:
    if not policy.reads_alarms:
        return []
    if isinstance(alarms, AlarmsUnreadable):
        return [f"Prometheus cannot be read: {alarms.reason}"]
    firing = alarms.fires(policy.blocking_alarms)
    if firing:
        return [f"blocking alarm firing: {', '.join(firing)}"]
    return []
