"""failover-watcher: keeps a Genesys Cloud organization routing to a healthy region."""

__version__ = "0.1.0"
