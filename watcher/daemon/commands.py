"""Command-line entry points of the daemon: `run`, and the clients of a running daemon:
`status`, `hold`, `release`, `dry-run`, `move`, `failback`.

Each client prints one line saying what was done (`--json`: the daemon's whole answer) and exits 0
only when it was done; a refusal prints the daemon's reason and exits 1 (2: an unknown strategy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import anyio

from watcher.config import ConfigError, load_config
from watcher.logs import configure_logging


def _run(args: argparse.Namespace) -> int:
    from watcher.daemon.service import Watcher
    from watcher.daemon.statedir import StateDirError

    configure_logging(level=args.log_level, json=None if not args.log_json else True)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc.report(args.config), file=sys.stderr)
        return 2
    watcher = Watcher(cfg, config_path=str(args.config), dry_run=True if args.dry_run else None)
    try:
        anyio.run(lambda: watcher.serve(install_signals=True))
    except StateDirError as exc:
        print(f"failover-watcher: refusing to start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"failover-watcher: {exc}", file=sys.stderr)
        return 1
    return 0


TOKEN_ENV = "WATCHER_SERVER__ADMIN_TOKEN"  # noqa: S105 - a name; what the daemon reads (the [server] admin_token key)
_LEGACY_TOKEN_ENV = "WATCHER_ADMIN_TOKEN"  # noqa: S105 - a name


def admin_target(args: argparse.Namespace, *, need_token: bool) -> tuple[str, str | None] | int:
    """The daemon's base URL and the admin token (None when not needed), or an exit code."""
    token = os.environ.get(TOKEN_ENV) or os.environ.get(_LEGACY_TOKEN_ENV)
    if args.url and (token or not need_token):
        return args.url, token
    try:
        cfg = load_config(args.config)
        secret = cfg.admin_token() if need_token and not token else None
    except (ConfigError, OSError, ValueError) as exc:
        print(f"failover-watcher: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    if need_token and not token:
        if secret is None:
            print(
                f"failover-watcher: no admin token: set [server] admin_token (or admin_token_file) "
                f"in {args.config}, or {TOKEN_ENV}",
                file=sys.stderr,
            )
            return 2
        token = secret.get_secret_value()
    return args.url or f"http://{cfg.server.listen}", token


def admin_request(
    url: str, method: str, path: str, token: str | None, body: dict[str, Any] | None, *, timeout: float = 10
) -> tuple[int, dict[str, Any]]:
    """One call: (HTTP status, JSON answer); OSError when the daemon cannot be reached."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the operator gives the URL
        url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {"message": text.strip() or exc.reason}
        return exc.code, answer if isinstance(answer, dict) else {"message": str(answer)}


def connection_problem(exc: OSError) -> str:
    """Why a connection failed, in words (`connection refused`), not `<urlopen error [Errno 111] …>`."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, OSError) and reason.strerror:
        return f"{reason.strerror.lower()} (is it running, on this address?)"
    return str(reason)


def unreachable(url: str, exc: OSError) -> int:
    """Say the daemon could not be reached, and why; the exit code."""
    print(f"failover-watcher: cannot reach the daemon at {url}: {connection_problem(exc)}", file=sys.stderr)
    return 1


def _until(doc: dict[str, Any] | None) -> str:
    from watcher.daemon.status_table import to_second

    return to_second((doc or {}).get("until") or "?")


def summarize(command: str, answer: dict[str, Any]) -> str:
    """The one line a command prints when it was done."""
    if command == "dry-run":
        if answer.get("dryRun"):
            return "dry run on: the watcher decides and reports, and writes nothing"
        return "dry run off: the watcher writes again"
    strategy = answer.get("id", "?")
    active = answer.get("activeRegion") or "unknown"
    if command == "release":
        return f"{strategy} released: no hold or pin in force; routes to {active}"
    pin, hold = answer.get("pin"), answer.get("hold")
    if pin:
        reason = f" ({pin['reason']})" if pin.get("reason") else ""
        return f"{strategy} pinned to {pin.get('region')} until {_until(pin)}{reason}; routes to {active} now"
    reason = f" ({hold['reason']})" if hold and hold.get("reason") else ""
    return f"{strategy} held until {_until(hold)}{reason}: no switch until then; routes to {active}"


def _admin_call(args: argparse.Namespace, method: str, path: str, body: dict[str, Any]) -> int:
    command = args.command
    attempted = "pin" if getattr(args, "pin", None) else command
    target = admin_target(args, need_token=True)
    if isinstance(target, int):
        return target
    url, token = target
    try:
        code, answer = admin_request(url, method, path, token, body)
    except OSError as exc:
        return unreachable(url, exc)
    if code >= 400:
        message = answer.get("message", answer)
        print(f"failover-watcher: {attempted} refused (HTTP {code}): {message}", file=sys.stderr)
        if getattr(args, "json", False):
            print(json.dumps(answer, indent=2))
        # An unknown strategy is a usage error (2); anything else the daemon would not do is 1.
        return 2 if answer.get("unknown") == "strategy" else 1
    print(json.dumps(answer, indent=2) if args.json else summarize(command, answer))
    return 0


def _fetch_status(args: argparse.Namespace, command: str) -> dict[str, Any] | int:
    """The daemon's `/status` (no token needed), or the exit code after saying why there is none."""
    target = admin_target(args, need_token=False)
    if isinstance(target, int):
        return target
    url, _ = target
    try:
        code, answer = admin_request(url, "GET", "/status", None, None)
    except OSError as exc:
        return unreachable(url, exc)
    if code >= 400:
        print(f"failover-watcher: {command}: HTTP {code}: {answer.get('message', answer)}", file=sys.stderr)
        return 1
    return answer


def _status(args: argparse.Namespace) -> int:
    from watcher.daemon.status_table import render_table

    answer = _fetch_status(args, "status")
    if isinstance(answer, int):
        return answer
    print(json.dumps(answer, indent=2) if args.json else render_table(answer))
    return 0


def readiness_table(rows: list[dict[str, Any]]) -> str:
    """The `readiness` table: one line per strategy and standby region, its failed checks."""
    lines = [("STRATEGY", "REGION", "READY", "FAILED CHECKS")]
    for row in rows:
        failed = [f"{c['check']}: {c['reason']}" for c in row["checks"] if not c["ok"]]
        lines.append(
            (row["strategy"], row["region"], "yes" if row["ready"] else "NO", "; ".join(failed) or "-")
        )
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(line, widths, strict=False)), line[3]]) for line in lines
    )


def _readiness(args: argparse.Namespace) -> int:
    """`readiness`: the table of every standby region; exit 1 when one is not ready (or unknown)."""
    answer = _fetch_status(args, "readiness")
    if isinstance(answer, int):
        return answer
    rows: list[dict[str, Any]] = list(answer.get("readiness") or [])
    print(json.dumps(rows, indent=2) if args.json else readiness_table(rows))
    if not rows:
        print("failover-watcher: readiness: not checked yet (no round since the start)", file=sys.stderr)
        return 1
    not_ready = [f"{r['strategy']}/{r['region']}" for r in rows if not r["ready"]]
    if not_ready:
        print(f"failover-watcher: not ready: {', '.join(not_ready)}", file=sys.stderr)
        return 1
    return 0


def parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m, 2h") from None


def add_run_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help="run the daemon")
    p.add_argument("--dry-run", action="store_true", help="decide, log, count and emit events; write nothing")
    p.add_argument("--log-level", default=os.environ.get("WATCHER_LOG_LEVEL", "INFO"))
    p.add_argument("--log-json", action="store_true", help="JSON log lines even on a terminal")
    p.set_defaults(func=_run)


def add_admin_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """The clients of a running daemon's admin API: hold, release, dry-run."""
    admin = argparse.ArgumentParser(add_help=False, parents=[common])
    admin.add_argument("--url", help="daemon base URL (default: from [server] listen)")
    admin.add_argument("--json", action="store_true", help="print the daemon's whole answer")
    p = sub.add_parser(
        "status",
        parents=[common],
        help="what a running daemon believes: leader, regions, strategies, holds, last switch",
    )
    p.add_argument("--url", help="daemon base URL (default: from [server] listen)")
    p.add_argument("--json", action="store_true", help="print /status as JSON")
    p.set_defaults(func=_status)
    p = sub.add_parser(
        "readiness",
        parents=[common],
        help="whether a switch to each standby region would succeed; exit 1 when one is not ready",
    )
    p.add_argument("--url", help="daemon base URL (default: from [server] listen)")
    p.add_argument("--json", action="store_true", help="print the readiness part of /status as JSON")
    p.set_defaults(func=_readiness)
    p = sub.add_parser(
        "hold", parents=[admin], help="freeze a strategy, or pin it to a region, for a bounded time"
    )
    p.add_argument("--strategy", required=True)
    p.add_argument("--for", dest="duration", type=parse_duration, required=True, help="e.g. 15m, 2h")
    p.add_argument("--pin", metavar="REGION", help="route to this region while held")
    p.add_argument("--reason", default="", help="why (kept with the hold; at most 1024 characters)")
    p.set_defaults(
        func=lambda a: _admin_call(
            a,
            "POST",
            "/admin/hold",
            {"strategy": a.strategy, "seconds": a.duration, "region": a.pin, "reason": a.reason},
        )
    )
    p = sub.add_parser("release", parents=[admin], help="end a hold or pin")
    p.add_argument("--strategy", required=True)
    p.add_argument(
        "--override",
        action="store_true",
        help="also let the automatic switch a safety rule ([safety]) holds back go now (audited)",
    )
    p.add_argument("--reason", default="", help="kept in the audit trail and the event")
    p.set_defaults(
        func=lambda a: _admin_call(
            a,
            "POST",
            "/admin/release",
            {"strategy": a.strategy, "override": a.override, "reason": a.reason}
            if a.override or a.reason
            else {"strategy": a.strategy},
        )
    )
    p = sub.add_parser("dry-run", parents=[admin], help="switch dry-run mode of a running daemon on or off")
    p.add_argument("mode", choices=["on", "off"])
    p.set_defaults(func=lambda a: _admin_call(a, "PUT", "/admin/dry-run", {"enabled": a.mode == "on"}))


__all__ = [
    "add_admin_parsers",
    "add_run_parser",
    "admin_request",
    "admin_target",
    "connection_problem",
    "parse_duration",
]
