"""DNS sync (SPEC §7): a receiver of the watcher's events that keeps DNS records on the active
region of their strategy, by RFC 2136 dynamic updates signed with TSIG.

Where things happen, in the order of a delivery: `app` (signature, structure), `event_data` (what
the event claims), `sync` (order and staleness, one update per event), `records` (claims become
rrset replacements), `updater` (the one DNS seam), `state` (last sequence per strategy, on disk).
`config` and `checks` read and refuse the configuration (`loader`: both in one call); `service` and
`command` run it.
"""

from watcher.dnssync.command import add_dns_sync_parser
from watcher.dnssync.config import (
    DEFAULT_CONFIG_PATH,
    ENV_PREFIX,
    ConfigError,
    DnsSyncConfig,
    masked_config_json,
)
from watcher.dnssync.event_data import EventReading, MalformedEvent, RoutingClaim, read_event
from watcher.dnssync.loader import load_dns_sync_config
from watcher.dnssync.metrics import DnsSyncMetrics
from watcher.dnssync.records import RecordChange, RecordSpec, UnknownRegion, changes_for
from watcher.dnssync.service import DnsSyncService, RunningDnsSync, running_dns_sync, serve
from watcher.dnssync.state import Applied, AppliedSequences, StateError
from watcher.dnssync.sync import DnsSync, Verdict
from watcher.dnssync.tsigkey import TsigKey, TsigKeyError, parse_tsig_material
from watcher.dnssync.updater import DnsUpdateFailed, DnsUpdater

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "Applied",
    "AppliedSequences",
    "ConfigError",
    "DnsSync",
    "DnsSyncConfig",
    "DnsSyncMetrics",
    "DnsSyncService",
    "DnsUpdateFailed",
    "DnsUpdater",
    "EventReading",
    "MalformedEvent",
    "RecordChange",
    "RecordSpec",
    "RoutingClaim",
    "RunningDnsSync",
    "StateError",
    "TsigKey",
    "TsigKeyError",
    "UnknownRegion",
    "Verdict",
    "add_dns_sync_parser",
    "changes_for",
    "load_dns_sync_config",
    "masked_config_json",
    "parse_tsig_material",
    "read_event",
    "running_dns_sync",
    "serve",
]
