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

import difflib
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from watcher import DEFAULT_CONFIG_PATH
from watcher.config._checks import POLL_BUDGET_SHARE, cross_check
from watcher.config._followers import (
    DataActionSettings,
    EmergencyGroupSettings,
    IvrSettings,
    SiteSettings,
    TriggerSettings,
    redact_url,
)
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
    EventSettings,
    ExecutorSettings,
    FailbackSettings,
    GenesysSettings,
    HealthSettings,
    LeaderSettings,
    ReadinessSettings,
    RegionSettings,
    RuleSettings,
    SafetySettings,
    ServerSettings,
    SinkSettings,
    StateSettings,
    StrategySettings,
    WebhookRegistration,
)
from watcher.drills.settings import DrillsSettings
from watcher.tomlconfig import ConfigError, Section, describe_error, expand_path, load_toml_settings

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "POLL_BUDGET_SHARE",
    "SOURCE_KINDS",
    "ApiPaths",
    "ConfigError",
    "DataActionSettings",
    "DrillsSettings",
    "EmergencyGroupSettings",
    "EventSettings",
    "ExecutorSettings",
    "FailbackSettings",
    "GenesysSettings",
    "HealthSettings",
    "HealthSourceSettings",
    "IvrSettings",
    "LeaderSettings",
    "ProbeSourceSettings",
    "ReadinessSettings",
    "RegionHealthSourceSettings",
    "RegionSettings",
    "RuleSettings",
    "SafetySettings",
    "Section",
    "ServerSettings",
    "SinkSettings",
    "SiteSettings",
    "StateSettings",
    "StatusPageSettings",
    "StatusPageSourceSettings",
    "StrategySettings",
    "TriggerSettings",
    "WatcherConfig",
    "WebhookRegistration",
    "cross_check",
    "describe_error",
    "expand_path",
    "load_config",
    "load_toml_settings",
    "masked_dump",
    "origin",
    "probe_url",
    "redact_url",
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
    triggers: list[TriggerSettings] = Field(default_factory=list)
    emergency_groups: list[EmergencyGroupSettings] = Field(default_factory=list)
    sites: list[SiteSettings] = Field(default_factory=list)
    ivrs: list[IvrSettings] = Field(default_factory=list)
    data_actions: list[DataActionSettings] = Field(default_factory=list)
    sinks: list[SinkSettings] = Field(default_factory=list)
    webhook: WebhookRegistration | None = None
    events: EventSettings = EventSettings()
    server: ServerSettings = ServerSettings()
    state: StateSettings = StateSettings()
    executor: ExecutorSettings = ExecutorSettings()
    leader: LeaderSettings = LeaderSettings()
    dry_run: bool = False
    safety: SafetySettings = SafetySettings()
    readiness: ReadinessSettings = ReadinessSettings()
    drills: DrillsSettings = DrillsSettings()

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
    return SecretStr(expand_path(file).read_text(encoding="utf-8").strip())


_SECRET_SOURCES = (("genesys", "client_secret"), ("server", "admin_token"))


# `WATCHER_…` names read by other programs or by the command line, not by this config.
_FOREIGN_ENV = ("WATCHER_DNS_SYNC_", "WATCHER_SIM_")
# WATCHER_ADMIN_TOKEN: the admin clients' former name for the token (still read by them only).
_COMMAND_LINE_ENV = {"WATCHER_LOG_LEVEL", "WATCHER_ADMIN_TOKEN"}


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The table model of a field (`X`, `X | None`), or None for a scalar or a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for a in typing.get_args(annotation) if (m := _section_model(a)) is not None]
        return models[0] if len(models) == 1 else None
    return None


def _unknown(name: str, word: str, known: list[str], where: str) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"environment: {name}: {where} {word!r} is not known{hint}"


def environment_problems(environ: Mapping[str, str] | None = None) -> list[str]:
    """`WATCHER_…` variables that name no key: refused like an unknown key of the file, so a typo
    (`WATCHER_HEALT__FALL`) is not silently ignored."""
    environ = os.environ if environ is None else environ
    problems = []
    sections = WatcherConfig.model_fields
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("WATCHER_") or upper.startswith(_FOREIGN_ENV) or upper in _COMMAND_LINE_ENV:
            continue
        if upper == "WATCHER_ADMIN_TOKEN":
            problems.append(
                f"environment: {name} is not read: the admin token is WATCHER_SERVER__ADMIN_TOKEN"
            )
            continue
        path = upper[len("WATCHER_") :].lower().split("__")
        head = path[0]
        if head not in sections:
            problems.append(_unknown(name, head, list(sections), "section"))
            continue
        model = _section_model(sections[head].annotation)
        if len(path) > 1 and model is not None and path[1] not in model.model_fields:
            problems.append(_unknown(name, path[1], list(model.model_fields), f"key of [{head}]"))
    return problems


def load_config(path: Path | str | None = None) -> WatcherConfig:
    """Read, overlay and check the configuration; raise `ConfigError` listing every problem."""
    unknown = environment_problems()
    try:
        cfg = load_toml_settings(
            WatcherConfig,
            Path(path) if path is not None else DEFAULT_CONFIG_PATH,
            env_prefix="WATCHER_",
            secret_sources=_SECRET_SOURCES,
            cross_check=cross_check,
            union=("source kind", SOURCE_KINDS),
        )
    except ConfigError as exc:
        raise ConfigError([*unknown, *exc.problems]) from None
    if unknown:
        raise ConfigError(unknown)
    return cfg


def masked_dump(cfg: WatcherConfig) -> dict[str, Any]:
    """The effective configuration as plain data, secrets shown as '**********'."""
    return cfg.model_dump(mode="json")
