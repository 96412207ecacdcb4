"""The ``simulate`` subcommand: serve a simulated org until interrupted."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from watcher.sim._seed import SeedError, default_seed, load_seed
from watcher.sim._state import SimulatorState

SECRET_ENV = "WATCHER_SIM_CLIENT_SECRET"  # noqa: S105 - a variable name


def add_simulate_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``simulate`` on the CLI's subparsers; ``args.func(args)`` runs it."""
    parser = subparsers.add_parser(
        "simulate",
        help="serve a simulated Genesys Cloud org (login and API host) on loopback",
        description=(
            "Serve the Genesys Cloud API surface from memory, with the /_sim admin API for "
            "faults, region health and behind-the-back changes, and the public status page "
            "at /api/v2/components.json. Without --seed-file, a two-region org (us-east-1, "
            "eu-west-1, strategy-1, rule-1, trigger-1, emergency-group-1, site-1, ivr-main, "
            "action-1 and their flows) is served."
        ),
    )
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--client-id", default="sim-client", help="OAuth client id")
    parser.add_argument(
        "--client-secret",
        default=os.environ.get(SECRET_ENV, "sim-secret"),
        help=f"OAuth client secret (default ${SECRET_ENV} or sim-secret)",
    )
    parser.add_argument("--seed-file", type=Path, help="org to start with (.toml or .json)")
    parser.add_argument("--token-lifetime", type=int, default=86399, help="token lifetime, seconds")
    parser.add_argument("--per-minute", type=int, default=300, help="request budget per token per minute")
    parser.set_defaults(func=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    """Load the seed, then serve; 2 on a bad seed or bad arguments."""
    if args.token_lifetime < 1 or args.per_minute < 1:
        print("simulate: --token-lifetime and --per-minute must be >= 1", file=sys.stderr)
        return 2
    try:
        seed = load_seed(args.seed_file) if args.seed_file else default_seed()
    except SeedError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    state = SimulatorState(
        seed,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_lifetime_seconds=args.token_lifetime,
        per_minute=args.per_minute,
    )

    def announce(base_url: str) -> None:
        print(f"simulator listening on {base_url} (client id: {args.client_id})", flush=True)

    from watcher.sim._server import serve_forever

    try:
        serve_forever(state, host=args.host, port=args.port, on_listening=announce)
    except OSError as exc:
        print(f"simulate: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
