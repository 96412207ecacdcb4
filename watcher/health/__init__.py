"""Where a poll becomes an observation: the health sources of a region (SPEC §6.1).

A `HealthSource` answers one question, "how is this region now?", as a core `Observation`, or
raises `NoEvidence` when its answer says nothing about the region (SPEC §4.1). The sources are the
contract's region-health endpoint, the public status page and an HTTP latency probe; a region's
sources are combined by `QuorumSource`, without the failover core knowing how many there are.
"""

from watcher.health._evidence import (
    HealthSource,
    Misconfigured,
    NoEvidence,
    Reused,
    SourceBoard,
    SourceReading,
    Throttled,
    Unreachable,
)
from watcher.health._online import online_problems
from watcher.health._probe import ProbeSource
from watcher.health._quorum import QuorumSource
from watcher.health._region_health import RegionHealthEndpoint, api_answered_after, describe
from watcher.health._sources import HealthSources, RegionSources, public_http
from watcher.health._statuspage import StatusDocument, StatusPageFeed, StatusPageSource, judge_component

__all__ = [
    "HealthSource",
    "HealthSources",
    "Misconfigured",
    "NoEvidence",
    "ProbeSource",
    "QuorumSource",
    "RegionHealthEndpoint",
    "RegionSources",
    "Reused",
    "SourceBoard",
    "SourceReading",
    "StatusDocument",
    "StatusPageFeed",
    "StatusPageSource",
    "Throttled",
    "Unreachable",
    "api_answered_after",
    "describe",
    "judge_component",
    "online_problems",
    "public_http",
]
