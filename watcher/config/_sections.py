"""The sections of the config, as typed models: defaults and per-field limits."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from watcher.config._health import HealthSourceSettings
from watcher.tomlconfig import Section

_Section = Section


class ApiPaths(_Section):
    """Path templates of the API calls. Defaults are the design documents' paths.

    Only the token URL is the public platform's; region health, strategies, EventBridge rules,
    webhooks and audit logs follow the seed documents and are not verified against a real
    organization, hence configurable.
    """

    token: str = "/oauth/token"  # noqa: S105 - a path, not a credential
    regions: str = "/api/v2/architecture/regions"
    region_health: str = "/api/v2/architecture/regions/{regionId}/health"
    strategy: str = "/api/v2/routing/strategies/{strategyId}"
    rule: str = "/api/v2/eventbridge/routing/rules/{ruleId}"
    target: str = "/api/v2/eventbridge/targets/{targetId}"
    webhooks: str = "/api/v2/platform/webhooks"
    audit_logs: str = "/api/v2/platform/auditlogs"
    date: str = "/api/v2/date"  # the public platform's server date: a cheap reachability probe
    # The public platform's objects that follow a strategy (SPEC §6, §6.2), and its audit query.
    trigger: str = "/api/v2/processautomation/triggers/{triggerId}"
    emergency_group: str = "/api/v2/architect/emergencygroups/{emergencyGroupId}"
    audit_query: str = "/api/v2/audits/query/realtime"
    # Architect flows (workflows, IVR flows): read to check a standby's readiness (SPEC §8).
    flow: str = "/api/v2/flows/{flowId}"
    # The real levers of an organization (SPEC §6.2.1): telephony sites, IVRs, data actions.
    site: str = "/api/v2/telephony/providers/edges/sites/{siteId}"
    ivr: str = "/api/v2/architect/ivrs/{ivrId}"
    data_action: str = "/api/v2/integrations/actions/{actionId}"


class GenesysSettings(_Section):
    environment: str = "mypurecloud.com"
    api_base_url: str | None = None
    login_base_url: str | None = None
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    requests_per_minute: int = Field(default=300, ge=1)
    max_concurrency: int = Field(default=64, ge=1, le=4096)
    request_timeout_seconds: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    token_refresh_margin_seconds: float = Field(default=300.0, ge=0)
    write_priority: bool = Field(
        default=True,
        description="writes and decisive polls go before other polls and read-backs in the budget",
    )
    paths: ApiPaths = ApiPaths()

    @property
    def api_url(self) -> str:
        return (self.api_base_url or f"https://api.{self.environment}").rstrip("/")

    @property
    def login_url(self) -> str:
        return (self.login_base_url or f"https://login.{self.environment}").rstrip("/")


class HealthSettings(_Section):
    interval_seconds: float = Field(default=5.0, gt=0)
    timeout_seconds: float = Field(default=2.0, gt=0)
    fall: int = 2
    rise: int = 3
    max_sync_interval_seconds: float = Field(default=300, gt=0)
    fast_interval_seconds: float | None = Field(
        default=None, gt=0, description="poll period while a region is between states"
    )
    jitter: float = Field(default=0.1, ge=0, le=0.5, description="fraction of the interval")
    concurrency: int = Field(default=256, ge=1)

    @property
    def settling_interval(self) -> float:
        return self.fast_interval_seconds or max(self.interval_seconds / 2.5, 0.05)


class FailbackSettings(_Section):
    mode: Literal["auto", "manual"] = "auto"
    hold_seconds: float = Field(default=60.0, ge=0)
    flap_window_seconds: float = Field(default=600.0, gt=0)
    max_hold_seconds: float = Field(default=3600.0, gt=0)


class RegionSettings(_Section):
    id: str = Field(min_length=1)
    name: str | None = None
    quorum: int | None = Field(default=None, description="sources that must say good; default a majority")
    health: list[HealthSourceSettings] = Field(
        default_factory=list, description="health sources (SPEC §6.1); none: the region-health endpoint"
    )


class StrategySettings(_Section):
    id: str = Field(min_length=1)
    # "virtual": no API object; the decision is kept under [state] dir and carried by followers.
    kind: Literal["routing-strategy", "virtual"] = "routing-strategy"
    regions: list[str] = Field(min_length=1)
    drift: Literal["report", "reconcile"] = "report"


class RuleSettings(_Section):
    id: str = Field(min_length=1)
    strategy: str
    targets: dict[str, str]


class SinkSettings(_Section):
    name: str = Field(min_length=1)
    url: str
    secret: SecretStr | None = None
    secret_file: Path | None = None
    previous_secrets: list[SecretStr] = Field(
        default_factory=list, description="still signed with, during a secret rotation"
    )
    timeout_seconds: float = Field(default=5.0, gt=0)


class WebhookRegistration(_Section):
    """The DNS-sync webhook registered on the platform at start-up (seed 000 step 3)."""

    name: str = "External-DNS-Failover-Sync"
    target_url: str
    secret: SecretStr | None = None
    secret_file: Path | None = None
    events: list[str] = Field(
        default_factory=lambda: ["routing:strategy:updated", "architecture:region:healthchanged"]
    )


class EventSettings(_Section):
    source: str = "urn:failover-watcher"
    resync_interval_seconds: float = Field(default=300.0, gt=0)
    max_age_seconds: float = Field(default=86400.0, gt=0)
    # A failed delivery is retried after a full-jitter backoff: uniform in [0, min(cap, base x 2^n)].
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_cap_seconds: float = Field(default=60.0, gt=0)


class ServerSettings(_Section):
    listen: str = "127.0.0.1:9464"
    admin_token: SecretStr | None = None
    admin_token_file: Path | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    @field_validator("listen")
    @classmethod
    def _listen_has_port(cls, value: str) -> str:
        _host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:9464")
        return value


class StateSettings(_Section):
    dir: Path = Path("var/")
    audit_max_bytes: int = Field(default=10 * 1024 * 1024, gt=1024)
    audit_backups: int = Field(default=5, ge=0)


class LeaderSettings(_Section):
    """Who may write when several watchers run for one organization (high availability).

    `none`: this instance always writes (run exactly one). `etcd`: instances campaign for a key
    held with a lease; only the holder writes, the others watch and take over when the lease lapses.
    """

    backend: Literal["none", "etcd"] = "none"
    endpoints: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:2379"], min_length=1)
    key: str = Field(default="/failover-watcher/leader", min_length=1)
    ttl_seconds: int = Field(default=15, ge=2, le=300)
    instance_id: str | None = Field(default=None, description="default: hostname and process id")


class ExecutorSettings(_Section):
    conflict_retries: int = Field(default=5, ge=1, le=50)
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)
    write_retry_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, gt=0)
    write_from_copies: bool = Field(
        default=True, description="plan a switch's first PUT from the last copy read or written (no GET)"
    )


class SafetySettings(_Section):
    """SPEC §8 safety rules: a budget of automatic switches (failovers and failbacks of all
    strategies; operator commands and drills do not count) per window, and a minimum time between
    two automatic switches of one strategy. The defaults are no limit and no wait."""

    max_switches: int | None = Field(
        default=None, ge=1, description="automatic switches allowed within window_seconds; unset: no limit"
    )
    window_seconds: float = Field(default=3600.0, gt=0, allow_inf_nan=False)
    min_seconds_between_switches: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class ReadinessSettings(_Section):
    """`[readiness]` (SPEC §8): how often every standby region is checked (deferrable requests)."""

    interval_seconds: float = Field(default=300.0, gt=0)
