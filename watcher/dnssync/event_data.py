"""What a verified CloudEvent says about where strategies route: pure, no I/O.

The contract (SPEC §7, the daemon's events): an event about one strategy carries `data.strategy`,
`data.activeRegion` (the region it routes to after the event, or null) and `data.sequence` (an
int, monotonic per strategy across restarts and leaders). A resync (`com.genesys.failover.resync`)
carries `data.strategies`, a list of objects with `id`, `activeRegion` and `sequence`, other
fields ignored. An event with no strategy (a region changed) or no active region says nothing
about DNS: it is ignored. One that claims a strategy and a region but gives no usable sequence is
malformed: without the sequence it could move DNS backwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from watcher.events import RESYNC

IgnoreReason = Literal["no_strategy", "no_active_region", "no_records"]


@dataclass(frozen=True)
class RoutingClaim:
    """`strategy` routes to `region` as of `sequence`."""

    strategy: str
    region: str
    sequence: int


@dataclass(frozen=True)
class EventReading:
    """The claims an event makes, and what it mentions without a claim (ignored, with why)."""

    claims: tuple[RoutingClaim, ...]
    ignored: tuple[tuple[str | None, IgnoreReason], ...] = ()
    resync: bool = False


class MalformedEvent(ValueError):
    """A verified event that breaks the contract; the message names the field (answered 400)."""


def _claim(item: Mapping[str, Any], where: str, strategy_key: str) -> RoutingClaim | IgnoreReason:
    strategy = item.get(strategy_key)
    if strategy is None:
        return "no_strategy"
    if not isinstance(strategy, str) or not strategy:
        raise MalformedEvent(f"{where}{strategy_key}: not a non-empty string")
    region = item.get("activeRegion")
    if region is None:
        return "no_active_region"
    if not isinstance(region, str) or not region:
        raise MalformedEvent(f"{where}activeRegion: not a non-empty string or null")
    if "sequence" not in item:
        raise MalformedEvent(f"{where}sequence: missing")
    sequence = item["sequence"]
    # bool is an int in Python, and JSON's 3.0 is a float: neither is a sequence number.
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise MalformedEvent(f"{where}sequence: not an integer")
    if sequence < 0:
        raise MalformedEvent(f"{where}sequence: negative")
    return RoutingClaim(strategy, region, sequence)


def read_event(event: Mapping[str, Any]) -> EventReading:
    """The routing claims of one CloudEvent (structure already checked); `MalformedEvent` if it
    breaks the contract.

    >>> read_event({"type": "com.genesys.failover.switched",
    ...             "data": {"strategy": "s1", "activeRegion": "eu-west-1", "sequence": 7}}).claims
    (RoutingClaim(strategy='s1', region='eu-west-1', sequence=7),)
    >>> read_event({"type": "com.genesys.failover.region_changed", "data": {"region": "r"}}).ignored
    ((None, 'no_strategy'),)
    """
    data = event.get("data")
    if data is None:
        return EventReading((), ((None, "no_strategy"),))
    if not isinstance(data, dict):
        raise MalformedEvent("data: not a JSON object")
    if event.get("type") != RESYNC:
        found = _claim(data, "data.", "strategy")
        if isinstance(found, RoutingClaim):
            return EventReading((found,))
        strategy = data.get("strategy")
        return EventReading((), ((strategy if isinstance(strategy, str) else None, found),))
    items = data.get("strategies")
    if not isinstance(items, list):
        raise MalformedEvent("data.strategies: not a list")
    claims: list[RoutingClaim] = []
    ignored: list[tuple[str | None, IgnoreReason]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"data.strategies[{i}]."
        if not isinstance(item, dict):
            raise MalformedEvent(f"data.strategies[{i}]: not a JSON object")
        found = _claim(item, where, "id")
        strategy = item.get("id")
        if isinstance(strategy, str):
            if strategy in seen:
                raise MalformedEvent(f"{where}id: strategy {strategy!r} listed twice")
            seen.add(strategy)
        if isinstance(found, RoutingClaim):
            claims.append(found)
        else:
            ignored.append((strategy if isinstance(strategy, str) else None, found))
    return EventReading(tuple(claims), tuple(ignored), resync=True)
