"""One-shot admin commands on the client: the seed scripts done properly.

Exit codes: 0 done, 1 the API refused or failed, 2 bad input (config, arguments, a payload that fails
local validation). `regions` also exits 1 when a region is unhealthy, so it can serve as a check.
Every command prints what it did on stdout; errors and log lines go to stderr.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path

from watcher.config import WatcherConfig
from watcher.genesys import GenesysClient
from watcher.oneshot._audit import _audit, local_table, switch_success
from watcher.oneshot._followers import add_follower_parsers
from watcher.oneshot._regions import _regions
from watcher.oneshot._run import EXIT_API, EXIT_INPUT, EXIT_OK, InputError, diagnostics_on_stderr, run_command
from watcher.oneshot._webhook import _register_webhook
from watcher.oneshot._writes import _apply_strategy, _update_rule

__all__ = [
    "EXIT_API",
    "EXIT_INPUT",
    "EXIT_OK",
    "InputError",
    "add_oneshot_parsers",
    "diagnostics_on_stderr",
    "local_table",
    "run_command",
    "switch_success",
]


def add_oneshot_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register the one-shot commands; `common` carries --config."""

    def bind(
        fn: Callable[[argparse.Namespace, WatcherConfig, GenesysClient], Awaitable[int]],
    ) -> Callable[[argparse.Namespace], int]:
        return lambda args: run_command(args, lambda cfg, client: fn(args, cfg, client))

    p = sub.add_parser("regions", parents=[common], help="health matrix of every region")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=bind(_regions))

    p = sub.add_parser("apply-strategy", parents=[common], help="write a routing strategy (one atomic PUT)")
    p.add_argument("--file", type=Path, help="a whole strategy body (JSON)")
    p.add_argument("--strategy", help="strategy id, with --primary/--secondary")
    p.add_argument("--primary", help="region to route to (priority 1, full weight)")
    p.add_argument("--secondary", action="append", help="next region(s) in order; repeatable")
    p.set_defaults(func=bind(_apply_strategy))

    p = sub.add_parser("update-rule", parents=[common], help="update an EventBridge routing rule")
    p.add_argument("--rule", required=True, help="rule id")
    p.add_argument("--file", type=Path, help="JSON object of fields to set (validated locally)")
    p.add_argument("--region", help="retarget the rule to this region's target from the config")
    p.set_defaults(func=bind(_update_rule))

    p = sub.add_parser(
        "register-webhook", parents=[common], help="register the DNS-sync webhook (idempotent)"
    )
    p.add_argument("--url", help="receiver URL (default: [webhook] target_url)")
    p.add_argument("--name", help="webhook name")
    p.add_argument("--secret", help="webhook secret (prefer --secret-file)")
    p.add_argument("--secret-file", help="file holding the webhook secret")
    p.set_defaults(func=bind(_register_webhook))

    p = sub.add_parser("audit", parents=[common], help="platform audit log and switch success rate")
    p.add_argument("--entity", action="append", help="entity id (default: configured strategies and rules)")
    p.add_argument("--page-size", type=int, default=25)
    p.add_argument("--days", type=float, default=7.0, help="realtime audit of followed objects: days back")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bind(_audit))

    add_follower_parsers(sub, common, bind)
