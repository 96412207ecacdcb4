"""Where a poll becomes an observation. The health sources live in `watcher.health` (the one-shot
`regions` command judges with them too, below the daemon); the daemon's names are kept here."""

from watcher.health import (
    HealthSource,
    NoEvidence,
    QuorumSource,
    RegionHealthEndpoint,
    Throttled,
    Unreachable,
)

__all__ = ["HealthSource", "NoEvidence", "QuorumSource", "RegionHealthEndpoint", "Throttled", "Unreachable"]
