"""failover-watcher: keeps a Genesys Cloud organization routing to a healthy region."""

from pathlib import Path

__version__ = "0.1.0"

# Here, not in watcher.config, so the command line can name it without importing pydantic.
DEFAULT_CONFIG_PATH = Path("config/watcher.toml")
