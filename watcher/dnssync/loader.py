"""The one entry point to a dns-sync config: read the TOML file, overlay the environment, check.

It sits above both `config` (the types) and `checks` (what types cannot say), so neither of them
needs the other's back: `checks` reads `config`, this module reads both.
"""

from __future__ import annotations

from pathlib import Path

from watcher.dnssync.checks import config_problems
from watcher.dnssync.config import DEFAULT_CONFIG_PATH, ENV_PREFIX, SECRET_SOURCES, DnsSyncConfig
from watcher.tomlconfig import load_toml_settings


def load_dns_sync_config(path: Path | str | None = None) -> DnsSyncConfig:
    """Read, overlay and check the configuration; raise `ConfigError` listing every problem.

    >>> # cfg = load_dns_sync_config("config/dns-sync.toml")
    """
    return load_toml_settings(
        DnsSyncConfig,
        Path(path) if path is not None else DEFAULT_CONFIG_PATH,
        env_prefix=ENV_PREFIX,
        secret_sources=SECRET_SOURCES,
        cross_check=config_problems,
    )


__all__ = ["load_dns_sync_config"]
