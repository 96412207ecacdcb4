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

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from watcher import DEFAULT_CONFIG_PATH
from watcher.config._checks import POLL_BUDGET_SHARE, _expand, cross_check
from watcher.config._health import (
    SOURCE_KINDS,
    HealthSourceSettings,
    ProbeSourceSettings,
    RegionHealthSourceSettings,
    StatusPageSettings,
    StatusPageSourceSettings,
    origin,
    probe_url,
    source_names,
)
from watcher.config._sections import (
    ApiPaths,
    ConfigError,
    EventSettings,
    ExecutorSettings,
    FailbackSettings,
    GenesysSettings,
    HealthSettings,
    LeaderSettings,
    RegionSettings,
    RuleSettings,
    ServerSettings,
    SinkSettings,
    StateSettings,
    StrategySettings,
    WebhookRegistration,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "POLL_BUDGET_SHARE",
    "SOURCE_KINDS",
    "ApiPaths",
    "ConfigError",
    "EventSettings",
    "ExecutorSettings",
    "FailbackSettings",
    "GenesysSettings",
    "HealthSettings",
    "HealthSourceSettings",
    "LeaderSettings",
    "ProbeSourceSettings",
    "RegionHealthSourceSettings",
    "RegionSettings",
    "RuleSettings",
    "ServerSettings",
    "SinkSettings",
    "StateSettings",
    "StatusPageSettings",
    "StatusPageSourceSettings",
    "StrategySettings",
    "WatcherConfig",
    "WebhookRegistration",
    "cross_check",
    "load_config",
    "masked_dump",
    "origin",
    "probe_url",
    "source_names",
]


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
    statuspage: StatusPageSettings = StatusPageSettings()
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


def _resolve_secret(inline: SecretStr | None, file: Path | None) -> SecretStr:
    if inline is not None:
        return inline
    if file is None:
        raise ValueError("no secret given")
    return SecretStr(_expand(file).read_text(encoding="utf-8").strip())


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "(top level)"
    # Compact "regions.0.id" into "regions[0].id" to match the TOML the user wrote.
    parts: list[str] = []
    previous: object = None
    for p in error["loc"]:
        tag, previous = previous is not None and isinstance(previous, int) and p in SOURCE_KINDS, p
        if tag:
            continue  # the union's tag pydantic adds: "health[0].probe.url" is "health[0].url" in TOML
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
    elif error["type"] == "union_tag_invalid":
        loc, msg = (
            f"{loc}.kind",
            f"unknown source kind {error['ctx']['tag']!r} (one of {', '.join(SOURCE_KINDS)})",
        )
    elif error["type"] == "union_tag_not_found":
        loc, msg = f"{loc}.kind", f"missing (one of {', '.join(SOURCE_KINDS)})"
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
