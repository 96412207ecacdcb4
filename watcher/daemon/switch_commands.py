"""The operator's switches of a running daemon: `move`, `failback` and `drill start|abort|status`
(SPEC §5, §8). Each prints one line saying what was done (`--json`: the daemon's whole answer) and
exits 0 only when it was done; a refusal prints the daemon's reason and exits 1 (2: bad input).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import Any

from watcher.daemon.commands import admin_request, admin_target, parse_duration, unreachable


def _switch_call(args: argparse.Namespace, command: str, body: dict[str, Any]) -> int:
    """`move` and `failback`: one line saying what was done (the whole answer with `--json`); exit 0
    only when it was done (or nothing needed doing), 1 when refused or not written, 2 on bad input."""
    target = admin_target(args, need_token=True)
    if isinstance(target, int):
        return target
    url, token = target
    path = f"/admin/strategies/{urllib.parse.quote(args.strategy, safe='')}/{command}"
    try:
        # The daemon answers once the write has landed (or after its own 30 s wait).
        code, answer = admin_request(url, "POST", path, token, body, timeout=45)
    except OSError as exc:
        return unreachable(url, exc)
    message = str(answer.get("message") or answer)
    if args.json:
        print(json.dumps(answer, indent=2))
    elif code == 200:
        print(message)
    if code != 200:
        outcome = "refused" if code in (400, 404, 409) else "not done"
        print(f"failover-watcher: {command} {outcome} (HTTP {code}): {message}", file=sys.stderr)
        return 2 if code in (400, 404) else 1
    return 0


def add_switch_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """`move` and `failback`: an operator-chosen switch through the daemon's gated write path."""
    admin = argparse.ArgumentParser(add_help=False, parents=[common])
    admin.add_argument("--url", help="daemon base URL (default: from [server] listen)")
    admin.add_argument("--strategy", required=True)
    admin.add_argument("--reason", default="", help="kept in the audit trail and the event")
    admin.add_argument("--json", action="store_true", help="print the whole answer")
    p = sub.add_parser(
        "failback",
        parents=[admin],
        help='return a strategy to its preferred region now (the way back under [failback] mode = "manual")',
    )
    p.set_defaults(func=lambda a: _switch_call(a, "failback", {"reason": a.reason}))
    p = sub.add_parser(
        "move", parents=[admin], help="switch a strategy to one of its regions now (an operator's choice)"
    )
    p.add_argument("--to", required=True, metavar="REGION", help="a region of the strategy")
    p.add_argument(
        "--force",
        action="store_true",
        help="also to a region not confirmed healthy (an unhealthy one only while the strategy is held)",
    )
    p.set_defaults(func=lambda a: _switch_call(a, "move", {"to": a.to, "force": a.force, "reason": a.reason}))


def _drill_call(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None) -> int:
    """`drill start|abort|status`: one line (the table for `status`; `--json` the whole answer);
    exit 0 only when done, 1 when refused or not reachable, 2 on bad input."""
    from watcher.drills.report import status_text

    target = admin_target(args, need_token=True)
    if isinstance(target, int):
        return target
    url, token = target
    try:
        code, answer = admin_request(url, method, path, token, body)
    except OSError as exc:
        return unreachable(url, exc)
    if args.json:
        print(json.dumps(answer, indent=2))
    elif code == 200 and args.drill_command == "status":
        print(status_text(answer))
    elif code == 200:
        print(answer.get("message", answer))
    if code != 200:
        message = answer.get("message", answer)
        print(f"failover-watcher: drill {args.drill_command}: (HTTP {code}) {message}", file=sys.stderr)
        return 2 if code in (400, 404, 422) else 1
    return 0


def add_drill_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """`drill start|abort|status` (SPEC §8): practise a failover of a strategy and back."""
    admin = argparse.ArgumentParser(add_help=False, parents=[common])
    admin.add_argument("--url", help="daemon base URL (default: from [server] listen)")
    admin.add_argument("--json", action="store_true", help="print the whole answer")
    drill = sub.add_parser("drill", help="practise a failover: move a strategy to a standby and back")
    verbs = drill.add_subparsers(dest="drill_command", metavar="VERB", required=True)
    p = verbs.add_parser("start", parents=[admin], help="start a drill now (refused with the reason)")
    p.add_argument("--strategy", required=True)
    p.add_argument("--to", metavar="REGION", help="the drill region (default: its next ready region)")
    p.add_argument("--for", dest="duration", type=parse_duration, required=True, help="e.g. 15m")
    p.set_defaults(
        func=lambda a: _drill_call(
            a, "POST", "/admin/drills", {"strategy": a.strategy, "to": a.to, "seconds": a.duration}
        )
    )
    p = verbs.add_parser("abort", parents=[admin], help="end the running drill now, moving the strategy back")
    p.add_argument("--reason", default="", help="kept in the drill's report")
    p.set_defaults(func=lambda a: _drill_call(a, "POST", "/admin/drills/abort", {"reason": a.reason}))
    p = verbs.add_parser("status", parents=[admin], help="the running drill and the last ten reports")
    p.set_defaults(func=lambda a: _drill_call(a, "GET", "/admin/drills", None))


__all__ = ["add_drill_parsers", "add_switch_parsers"]
