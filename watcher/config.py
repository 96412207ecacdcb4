"""Configuration: one TOML file overlaid by `WATCHER_…` environment variables.

Precedence, highest first: environment (`WATCHER_GENESYS__CLIENT_SECRET`, nested with `__`), then the TOML
file, then defaults. Secrets are `SecretStr` and may instead come from files (`*_file` keys; environment
variables such as `${CREDENTIALS_DIRECTORY}` in those paths are expanded, which is how systemd credentials
and Kubernetes secret volumes are read).

A bad config is refused as a whole with one line per problem, each naming the key: types first, then the
cross-checks that types cannot express (unknown regions, missing rule targets, a request budget too small
for the poll rate, plain-HTTP token transport to a non-loopback host).
"""

from __future__ import annotations

import ipaddress
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from watcher import DEFAULT_CONFIG_PATH

# Share of the request budget the health polls may use; the rest is kept for writes, read-backs
# and retries so a failover is never starved by polling.
POLL_BUDGET_SHARE = 0.8


class ConfigError(Exception):
    """The configuration was refused; `problems` holds one line per problem, each naming its key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))

    def report(self, path: object) -> str:
        """What a command prints before refusing to start: a headline, then one line per problem."""
        lines = [f"{path}: configuration refused ({len(self.problems)} problems)"]
        return "\n".join([*lines, *(f"  {p}" for p in self.problems)])


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class GenesysSettings(_Section):
    environment: str = "mypurecloud.com"
    api_base_url: str | None = None
    login_base_url: str | None = None
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    requests_per_minute: int = Field(default=300, ge=1)
    max_concurrency: int = Field(default=64, ge=1, le=4096)
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    token_refresh_margin_seconds: float = Field(default=300.0, ge=0)
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


class StrategySettings(_Section):
    id: str = Field(min_length=1)
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
    ttl_seconds: int = Field(default=10, ge=2, le=300)
    instance_id: str | None = Field(default=None, description="default: hostname and process id")


class ExecutorSettings(_Section):
    conflict_retries: int = Field(default=5, ge=1, le=50)
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)
    write_retry_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, gt=0)


class WatcherConfig(BaseSettings):
    """The whole configuration. Build it with `load_config`, which adds the cross-checks."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    genesys: GenesysSettings
    health: HealthSettings = HealthSettings()
    failback: FailbackSettings = FailbackSettings()
    regions: list[RegionSettings] = Field(default_factory=list)
    strategies: list[StrategySettings] = Field(default_factory=list)
    rules: list[RuleSettings] = Field(default_factory=list)
    sinks: list[SinkSettings] = Field(default_factory=list)
    webhook: WebhookRegistration | None = None
    events: EventSettings = EventSettings()
    server: ServerSettings = ServerSettings()
    state: StateSettings = StateSettings()
    executor: ExecutorSettings = ExecutorSettings()
    leader: LeaderSettings = LeaderSettings()
    dry_run: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment overrides it.
        return (env_settings, init_settings)

    # Resolved secrets (file or inline). Access goes through these so files are honoured.
    def client_secret(self) -> SecretStr:
        return _resolve_secret(self.genesys.client_secret, self.genesys.client_secret_file)

    def admin_token(self) -> SecretStr | None:
        s = self.server
        if s.admin_token is None and s.admin_token_file is None:
            return None
        return _resolve_secret(s.admin_token, s.admin_token_file)

    def webhook_secret(self) -> SecretStr | None:
        """The DNS-sync webhook's secret, inline or from its file (`${VAR}` expanded); None if unset."""
        w = self.webhook
        if w is None or (w.secret is None and w.secret_file is None):
            return None
        return _resolve_secret(w.secret, w.secret_file)

    def sink_secrets(self, sink: SinkSettings) -> tuple[SecretStr, ...]:
        current = _resolve_secret(sink.secret, sink.secret_file)
        return (current, *sink.previous_secrets)

    def region_ids(self) -> list[str]:
        """Every region to poll: the declared ones, then any a strategy names, in first-seen order."""
        seen: dict[str, None] = {r.id: None for r in self.regions}
        for strategy in self.strategies:
            for region in strategy.regions:
                seen.setdefault(region, None)
        return list(seen)


def _expand(path: Path) -> Path:
    return Path(os.path.expandvars(str(path))).expanduser()


def _resolve_secret(inline: SecretStr | None, file: Path | None) -> SecretStr:
    if inline is not None:
        return inline
    if file is None:
        raise ValueError("no secret given")
    return SecretStr(_expand(file).read_text(encoding="utf-8").strip())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(key: str, url: str | None, problems: list[str]) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{key}: {url!r} is not an http(s) URL")
    elif parts.scheme == "http" and not _is_loopback(parts.hostname):
        problems.append(
            f"{key}: plain http to {parts.hostname} refused (tokens and secrets travel there); "
            "use https, or a loopback address for the simulator"
        )


def _check_secret(key: str, inline: SecretStr | None, file: Path | None, problems: list[str]) -> None:
    if inline is not None and file is not None:
        problems.append(f"{key}: give {key.rsplit('.', 1)[-1]} or {key.rsplit('.', 1)[-1]}_file, not both")
    elif inline is None and file is None:
        problems.append(f"{key}: missing (set it, or {key.rsplit('.', 1)[-1]}_file)")
    elif file is not None:
        path = _expand(file)
        try:
            empty = path.is_file() and not path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            # Permission denied or not text: one line naming the key, not a traceback.
            problems.append(f"{key}_file: {path} is not readable ({type(exc).__name__})")
            return
        if not path.is_file():
            problems.append(f"{key}_file: {path} is not a readable file")
        elif empty:
            problems.append(f"{key}_file: {path} is empty")


def cross_check(cfg: WatcherConfig) -> list[str]:
    """Problems that types cannot express, one line each, naming the key."""
    problems: list[str] = []
    g, h = cfg.genesys, cfg.health
    _check_base_url("genesys.api_base_url", g.api_base_url, problems)
    _check_base_url("genesys.login_base_url", g.login_base_url, problems)
    _check_secret("genesys.client_secret", g.client_secret, g.client_secret_file, problems)
    if h.fall < 1:
        problems.append(f"health.fall: must be at least 1 (got {h.fall})")
    if h.rise < 1:
        problems.append(f"health.rise: must be at least 1 (got {h.rise})")
    if h.timeout_seconds >= h.interval_seconds:
        problems.append(
            f"health.timeout_seconds: {h.timeout_seconds} must be below health.interval_seconds "
            f"({h.interval_seconds}), or polls would overlap"
        )
    if cfg.failback.max_hold_seconds < cfg.failback.hold_seconds:
        problems.append("failback.max_hold_seconds: must be at least failback.hold_seconds")

    region_ids = cfg.region_ids()
    declared = {r.id for r in cfg.regions}
    if len(declared) != len(cfg.regions):
        problems.append("regions: duplicate region id")
    if not cfg.strategies:
        problems.append("strategies: at least one strategy is needed")
    strategy_regions: dict[str, list[str]] = {}
    for i, s in enumerate(cfg.strategies):
        if s.id in strategy_regions:
            problems.append(f"strategies[{i}].id: duplicate strategy id {s.id!r}")
        strategy_regions[s.id] = s.regions
        if len(set(s.regions)) != len(s.regions):
            problems.append(f"strategies[{i}].regions: a region is listed twice")
        for region in s.regions:
            if declared and region not in declared:
                problems.append(
                    f"strategies[{i}].regions: unknown region {region!r} (declare it under [[regions]])"
                )
    for i, rule in enumerate(cfg.rules):
        if rule.strategy not in strategy_regions:
            problems.append(f"rules[{i}].strategy: unknown strategy {rule.strategy!r}")
            continue
        missing = [r for r in strategy_regions[rule.strategy] if r not in rule.targets]
        if missing:
            problems.append(
                f"rules[{i}].targets: no target for region(s) {', '.join(missing)} "
                f"of strategy {rule.strategy!r}"
            )
    names = [s.name for s in cfg.sinks]
    for i, sink in enumerate(cfg.sinks):
        if names.count(sink.name) > 1:
            problems.append(f"sinks[{i}].name: duplicate sink name {sink.name!r}")
        _check_base_url(f"sinks[{i}].url", sink.url, problems)
        _check_secret(f"sinks[{i}].secret", sink.secret, sink.secret_file, problems)
    if cfg.webhook is not None:
        _check_base_url("webhook.target_url", cfg.webhook.target_url, problems)
    if cfg.server.admin_token is not None and cfg.server.admin_token_file is not None:
        problems.append("server.admin_token: give admin_token or admin_token_file, not both")

    # Budget: every region is polled once per interval; keep a share for writes and retries.
    if region_ids and h.interval_seconds > 0:
        per_minute = len(region_ids) * 60.0 / h.interval_seconds
        allowed = g.requests_per_minute * POLL_BUDGET_SHARE
        if per_minute > allowed:
            smallest = math.ceil(len(region_ids) * 60.0 / allowed * 100) / 100
            problems.append(
                f"health.interval_seconds: {len(region_ids)} regions every {h.interval_seconds}s "
                f"need {per_minute:.0f} requests/min, more than {POLL_BUDGET_SHARE:.0%} of "
                f"genesys.requests_per_minute={g.requests_per_minute}; the smallest interval "
                f"that fits is {smallest}s"
            )
    return problems


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "(top level)"
    # Compact "regions.0.id" into "regions[0].id" to match the TOML the user wrote.
    parts: list[str] = []
    for p in error["loc"]:
        if isinstance(p, int) and parts:
            parts[-1] = f"{parts[-1]}[{p}]"
        else:
            parts.append(str(p))
    loc = ".".join(parts) or loc
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        msg = "unknown key"
    elif error["type"] == "missing":
        msg = "missing"
    return f"{loc}: {msg}"


_SECRET_SOURCES = (("genesys", "client_secret"), ("server", "admin_token"))


def _let_environment_pick_secret_source(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """An environment variable naming a secret, or its file, overrides the file's choice of source.

    Without this, `WATCHER_GENESYS__CLIENT_SECRET` next to a `client_secret_file` in the TOML would be
    refused as "both given", though the environment is meant to override the file.
    """
    names = {k.upper() for k in environ}
    for section, key in _SECRET_SOURCES:
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        env = f"WATCHER_{section}__{key}".upper()
        if env in names:
            table.pop(f"{key}_file", None)
        if f"{env}_FILE" in names:
            table.pop(key, None)


def load_config(path: Path | str | None = None) -> WatcherConfig:
    """Read, overlay and check the configuration; raise `ConfigError` listing every problem."""
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"--config: {path} does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"--config: {path} is not readable ({type(exc).__name__})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"--config: {path} is not valid TOML: {exc}"]) from None
    _let_environment_pick_secret_source(data, os.environ)
    try:
        cfg = WatcherConfig(**data)
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors()]) from None
    except SettingsError as exc:
        # A WATCHER_* variable holding a list/table that is not valid JSON. The message names the
        # field and the source, never the value (it may be a secret).
        raise ConfigError([f"environment: {exc}"]) from None
    problems = cross_check(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def masked_dump(cfg: WatcherConfig) -> dict[str, Any]:
    """The effective configuration as plain data, secrets shown as '**********'."""
    return cfg.model_dump(mode="json")
