"""The records that follow strategies, and what one active region makes of them: pure data.

A `RecordSpec` is one configured rrset; `changes_for` turns "strategy S now routes to region R"
into the rrset replacements that make DNS say so. Kept apart from the I/O so the mapping is tested
as data, and so an event that names a region a record has no values for is found before anything
is sent (the update is all or nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.name


@dataclass(frozen=True)
class RecordSpec:
    """One `[[records]]` table: `name`/`rdtype` takes `values[region]` when `strategy` routes there."""

    name: dns.name.Name
    rdtype: str
    strategy: str
    values: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class RecordChange:
    """Replace the rrset `name`/`rdtype` with `values` (delete the rrset, add these)."""

    name: dns.name.Name
    rdtype: str
    values: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.name.to_text()} {self.rdtype} {' '.join(self.values)}"


class UnknownRegion(LookupError):
    """A record has no values for the region an event names: the configs of the watcher and the
    receiver disagree. Nothing is sent; the event is answered 422 so the watcher keeps it."""

    def __init__(self, strategy: str, region: str, records: Sequence[RecordSpec]) -> None:
        self.strategy = strategy
        self.region = region
        names = ", ".join(f"{r.name.to_text()} {r.rdtype}" for r in records)
        super().__init__(f"strategy {strategy!r} routes to {region!r}, which has no values in: {names}")


def strategies_of(records: Iterable[RecordSpec]) -> list[str]:
    """The strategies some record follows, in first-seen order."""
    return list(dict.fromkeys(r.strategy for r in records))


def changes_for(records: Sequence[RecordSpec], strategy: str, region: str) -> list[RecordChange]:
    """The replacements for every record of `strategy` when it routes to `region`.

    >>> rec = RecordSpec(dns.name.from_text("voice.example.com."), "A", "s1",
    ...                  {"us-east-1": ("192.0.2.10",), "eu-west-1": ("198.51.100.10",)})
    >>> [c.describe() for c in changes_for([rec], "s1", "eu-west-1")]
    ['voice.example.com. A 198.51.100.10']
    """
    mine = [r for r in records if r.strategy == strategy]
    lacking = [r for r in mine if region not in r.values]
    if lacking:
        raise UnknownRegion(strategy, region, lacking)
    return [RecordChange(r.name, r.rdtype, r.values[region]) for r in mine]
