"""`failover-watcher dns-sync [--config F] [--check]`: the command line of the receiver.

Exit codes: 0 after a clean stop (or a config that passed `--check`), 2 for a refused config or an
unusable state file (one line per problem on stderr, naming the key), 1 when it cannot listen.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from watcher.dnssync.config import DEFAULT_CONFIG_PATH, ConfigError, masked_config_json
from watcher.dnssync.loader import load_dns_sync_config

DESCRIPTION = """Receive the watcher's events (a [[sinks]] URL) and keep DNS records on the active region
of their strategy, by RFC 2136 updates signed with TSIG. The config is a TOML file overlaid by
WATCHER_DNS_SYNC_* variables, tables nested with __ (e.g. WATCHER_DNS_SYNC_DNS__TSIG_SECRET_FILE)."""


def _dns_sync(args: argparse.Namespace) -> int:
    import anyio

    from watcher.dnssync.checks import tsig_identity
    from watcher.dnssync.service import serve
    from watcher.dnssync.state import StateError
    from watcher.dnssync.tsigkey import parse_tsig_material
    from watcher.logs import configure_logging

    try:
        cfg = load_dns_sync_config(args.config)
    except ConfigError as exc:
        print(exc.report(args.config), file=sys.stderr)
        return 2
    if args.check:
        name, algorithm = tsig_identity(cfg, parse_tsig_material(cfg.tsig_text()))
        print(masked_config_json(cfg, key_name=name, algorithm=algorithm))
        print(f"{args.config}: OK", file=sys.stderr)
        return 0
    configure_logging(level=args.log_level, json=True if args.log_json else None)
    try:
        anyio.run(serve, cfg)
    except StateError as exc:
        print(f"{args.config}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"dns-sync: cannot listen on {cfg.receiver.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def add_dns_sync_parser(sub: Any) -> None:
    """Register `dns-sync` on the CLI's subparsers (`func=` returns the exit code)."""
    p = sub.add_parser(
        "dns-sync",
        help="receive the watcher's events and keep DNS records on the active region (RFC 2136)",
        description=DESCRIPTION,
    )
    p.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG_PATH,
        help=f"TOML config file (default {DEFAULT_CONFIG_PATH}); WATCHER_DNS_SYNC_* env vars override it",
    )
    p.add_argument(
        "--check", action="store_true", help="validate the config, print it with secrets masked, and exit"
    )
    p.add_argument("--log-level", default=os.environ.get("WATCHER_LOG_LEVEL", "INFO"))
    p.add_argument("--log-json", action="store_true", help="JSON log lines even on a terminal")
    p.set_defaults(func=_dns_sync)
