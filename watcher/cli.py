"""`failover-watcher`: the command line. Each command lives in the module that owns its behaviour;
this file only assembles the parser."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from watcher import DEFAULT_CONFIG_PATH, __version__


def _check_config(args: argparse.Namespace) -> int:
    from watcher.config import ConfigError, load_config, masked_dump

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc.report(args.config), file=sys.stderr)
        return 2
    from watcher.daemon.statedir import describe_writable

    # The daemon refuses to start on a state dir it cannot write: say so now, not at 3 a.m.
    if (problem := describe_writable(cfg.state.dir)) is not None:
        print(f"{args.config}: configuration refused (1 problem)\n  state.dir: {problem}", file=sys.stderr)
        return 2
    print(json.dumps(masked_dump(cfg), indent=2, default=str))
    if getattr(args, "online", False):
        import anyio

        from watcher.health import online_problems

        online = anyio.run(online_problems, cfg)
        if online:
            count = len(online)
            lines = [f"{args.config}: valid, but {count} problem{'' if count == 1 else 's'} online"]
            print("\n".join([*lines, *(f"  {p}" for p in online)]), file=sys.stderr)
            return 1
    print(f"{args.config}: OK", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from watcher.demo import run_demo  # the terminal UI and the simulator: only when asked for

    return run_demo(forever=args.forever, port=args.port, speed=args.speed, platform=args.platform)


def _add_demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="simulator + daemon in one process: a scripted degrade and recovery")
    p.add_argument("--forever", action="store_true", help="keep running after the scenario")
    p.add_argument("--port", type=int, default=9464, help="daemon HTTP port (0 = any free port)")
    p.add_argument("--speed", type=float, default=1.0, help="scenario speed factor (2 = twice as fast)")
    p.add_argument(
        "--platform",
        action="store_true",
        help="the real-organization profile (config/platform.toml): status page, probe, trigger, "
        "emergency group",
    )
    p.set_defaults(func=_demo)


def build_parser() -> argparse.ArgumentParser:
    from watcher.daemon.commands import add_admin_parsers, add_run_parser
    from watcher.daemon.switch_commands import add_drill_parsers, add_switch_parsers
    from watcher.dnssync import add_dns_sync_parser
    from watcher.events.receiver import add_receive_parser
    from watcher.liveness import add_healthcheck_parser
    from watcher.oneshot import add_oneshot_parsers
    from watcher.sim import add_simulate_parser

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG_PATH,
        help=f"TOML config file (default {DEFAULT_CONFIG_PATH}); WATCHER_* env vars override it",
    )
    parser = argparse.ArgumentParser(
        prog="failover-watcher",
        description="Keeps a Genesys Cloud organization routing to a healthy region.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_run_parser(sub, common)
    _add_demo_parser(sub)
    add_admin_parsers(sub, common)
    add_switch_parsers(sub, common)
    add_drill_parsers(sub, common)
    add_simulate_parser(sub)
    p = sub.add_parser(
        "check-config", parents=[common], help="validate the config and print it, secrets masked"
    )
    p.add_argument(
        "--online",
        action="store_true",
        help="also fetch the status page once and check every configured component is on it",
    )
    p.set_defaults(func=_check_config)
    add_oneshot_parsers(sub, common)
    add_receive_parser(sub)
    add_dns_sync_parser(sub)
    add_healthcheck_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["healthcheck"]:
        # The container HEALTHCHECK runs this every few seconds: skip importing the web stack.
        from watcher.liveness import add_healthcheck_parser

        light = argparse.ArgumentParser(prog="failover-watcher")
        add_healthcheck_parser(light.add_subparsers(dest="command", required=True))
        args = light.parse_args(argv)
    else:
        args = build_parser().parse_args(argv)
        if args.command not in ("run", "demo", "dns-sync"):
            # One-shot commands print their results on stdout; diagnostics go to stderr.
            from watcher.logs import configure_logging

            configure_logging(level=os.environ.get("WATCHER_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
