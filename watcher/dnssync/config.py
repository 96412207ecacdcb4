"""Configuration of `failover-watcher dns-sync`: one TOML file overlaid by `WATCHER_DNS_SYNC_…` variables.

Precedence, highest first: environment, then the TOML file, then defaults. The environment prefix
is `WATCHER_DNS_SYNC_` and tables nest with `__`, as the daemon's `WATCHER_` overlay does
(`WATCHER_DNS_SYNC_DNS__TSIG_SECRET_FILE`, `WATCHER_DNS_SYNC_STATE__DIR`): a prefix of its own,
so a host or a pod that runs both the daemon and the receiver can tell `WATCHER_STATE__DIR` from
`WATCHER_DNS_SYNC_STATE__DIR`. Secrets are `SecretStr`, inline or from a file (`*_file`, with
`${VAR}` expanded: systemd credentials, Kubernetes secret volumes).

A bad config is refused as a whole with one line per problem naming the key (`checks.py`); `loader.py`
reads, overlays and checks it in one call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from watcher.tomlconfig import ConfigError, expand_path
from watcher.tomlconfig import Section as _Section

__all__ = [  # the loader's names are the receiver's too
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "SECRET_SOURCES",
    "ConfigError",
    "DnsSyncConfig",
    "expand_path",
    "masked_config_json",
    "read_secret_file",
]

DEFAULT_CONFIG_PATH = Path("config/dns-sync.toml")
ENV_PREFIX = "WATCHER_DNS_SYNC_"


def _split_host_port(value: str) -> tuple[str, int] | None:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    return host.strip("[]"), int(port)


class ReceiverSettings(_Section):
    """Where the watcher's events arrive, and the Standard Webhooks secret(s) they are signed with.

    A `secret_file` may hold several secrets, one per line, during a rotation.
    """

    listen: str = "127.0.0.1:9465"
    secret: SecretStr | None = None
    secret_file: Path | None = None

    @field_validator("listen")
    @classmethod
    def _listen_has_port(cls, value: str) -> str:
        if _split_host_port(value) is None:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:9465")
        return value

    @property
    def host_port(self) -> tuple[str, int]:
        parts = _split_host_port(self.listen)
        assert parts is not None  # validated
        return parts[0] or "127.0.0.1", parts[1]


class DnsSettings(_Section):
    """The authoritative primary that takes RFC 2136 updates, and the TSIG key it knows us by."""

    server: str = Field(description="IP[:port] of the primary; port 53 when left out")
    zone: str
    tsig_key_name: str | None = Field(default=None, description="default: the name in the key file")
    tsig_algorithm: str | None = Field(default=None, description="default: the key file's, or hmac-sha256")
    tsig_secret: SecretStr | None = None
    tsig_secret_file: Path | None = None
    ttl: int = Field(default=30, ge=0, le=2_147_483_647)
    timeout: float = Field(default=5.0, gt=0, le=120, description="seconds per update, connect included")
    transport: Literal["tcp", "udp"] = "tcp"


class RecordSettings(_Section):
    """One rrset that follows a strategy: its values are those of the strategy's active region."""

    name: str = Field(min_length=1)
    type: Literal["A", "AAAA", "CNAME"]
    strategy: str = Field(min_length=1)
    values: dict[str, list[str]]
    regions: list[str] | None = Field(
        default=None, description="regions the strategy may route to; values must cover them"
    )


class StrategyRegions(_Section):
    """The regions a strategy of the watcher may route to: every record of it must cover them."""

    id: str = Field(min_length=1)
    regions: list[str] = Field(min_length=1)


class StateSettings(_Section):
    dir: Path = Path("var/dns-sync/")


class DnsSyncConfig(BaseSettings):
    """The whole configuration. Build it with `loader.load_dns_sync_config`, which adds the checks."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    receiver: ReceiverSettings = ReceiverSettings()
    dns: DnsSettings
    records: list[RecordSettings] = Field(default_factory=list)
    strategies: list[StrategyRegions] = Field(default_factory=list)
    state: StateSettings = StateSettings()

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

    def webhook_secrets(self) -> list[SecretStr]:
        """The receiver's Standard Webhooks secrets: the inline one, or every line of the file."""
        r = self.receiver
        if r.secret is not None:
            return [r.secret]
        if r.secret_file is None:
            return []
        lines = read_secret_file(r.secret_file).splitlines()
        return [SecretStr(s.strip()) for s in lines if s.strip() and not s.lstrip().startswith("#")]

    def tsig_text(self) -> str:
        """The TSIG material as given (base64 or a key block); parsed by `tsigkey`."""
        d = self.dns
        if d.tsig_secret is not None:
            return d.tsig_secret.get_secret_value()
        if d.tsig_secret_file is None:
            return ""
        return read_secret_file(d.tsig_secret_file)


def read_secret_file(path: Path) -> str:
    return expand_path(path).read_text(encoding="utf-8")


SECRET_SOURCES = (("receiver", "secret"), ("dns", "tsig_secret"))
"""The secret fields (section, key) that may be given inline or as a `*_file`."""


def masked_config_json(cfg: DnsSyncConfig, *, key_name: str | None, algorithm: str | None) -> str:
    """The effective configuration as JSON, secrets shown as '**********', the TSIG key's name and
    algorithm as resolved (from the key file when the config leaves them out)."""
    data = cfg.model_dump(mode="json")
    data["dns"]["tsig_key_name"] = key_name
    data["dns"]["tsig_algorithm"] = algorithm
    return json.dumps(data, indent=2)
