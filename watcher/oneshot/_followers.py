"""`trigger` and `emergency-group`: show, retarget, enable, disable (SPEC §6), validated locally and
written with the version read (conflicts re-read); `site`, `ivr` and `data-action` show (SPEC
§6.2.1; a data action's URL template without its query string, which may hold a secret); and the
realtime audit of the followed objects for `audit`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.config import WatcherConfig, redact_url
from watcher.genesys import GenesysClient, PermissionDenied
from watcher.genesys.platform import InvalidTriggerUpdate, PlatformCalls
from watcher.oneshot._run import EXIT_OK, InputError
from watcher.switch import WriteOutcome, WritePolicy, write_group_enabled, write_trigger_target

Command = Callable[[argparse.Namespace, WatcherConfig, GenesysClient], Awaitable[int]]
# The realtime audit query's service per followed object kind (its `serviceName`).
AUDIT_SERVICES = {
    "trigger": "ProcessAutomation",
    "emergency_group": "Architect",
    "site": "Telephony",
    "ivr": "Architect",
    "data_action": "Integrations",
}


def _said(name: str, outcome: WriteOutcome) -> str:
    verb = "written" if outcome.changed else "already so, nothing written"
    return (
        f"{name}: {verb}; version {outcome.version_before} -> {outcome.version_after}"
        f" ({outcome.conflicts} conflicts)"
    )


async def _trigger(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    platform = PlatformCalls(client)
    if args.action == "show":
        print(json.dumps((await platform.get_trigger(args.id)).model_dump(mode="json"), indent=2))
        return EXIT_OK
    if not args.workflow:
        raise InputError("set-target needs a WORKFLOW_ID")
    try:
        outcome = await write_trigger_target(
            platform, args.id, args.workflow, WritePolicy(attempts=cfg.executor.conflict_retries)
        )
    except InvalidTriggerUpdate as exc:
        raise InputError(f"{exc}; nothing written") from None
    print(_said(f"trigger {args.id}", outcome))
    print(f"  target: {args.workflow}")
    return EXIT_OK


async def _emergency_group(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    platform = PlatformCalls(client)
    if args.action == "show":
        print(json.dumps((await platform.get_emergency_group(args.id)).model_dump(mode="json"), indent=2))
        return EXIT_OK
    enabled = args.action == "enable"
    outcome = await write_group_enabled(
        platform, args.id, enabled, WritePolicy(attempts=cfg.executor.conflict_retries)
    )
    print(_said(f"emergency group {args.id}", outcome))
    print(f"  enabled: {str(enabled).lower()}")
    return EXIT_OK


async def _site(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    print(json.dumps((await PlatformCalls(client).get_site(args.id)).model_dump(mode="json"), indent=2))
    return EXIT_OK


async def _ivr(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    print(json.dumps((await PlatformCalls(client).get_ivr(args.id)).model_dump(mode="json"), indent=2))
    return EXIT_OK


async def _data_action(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    action = (await PlatformCalls(client).get_data_action(args.id)).model_dump(mode="json")
    request = (action.get("config") or {}).get("request") or {}
    if isinstance(request.get("requestUrlTemplate"), str):
        request["requestUrlTemplate"] = redact_url(request["requestUrlTemplate"])
    print(json.dumps(action, indent=2))
    return EXIT_OK


def add_follower_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    bind: Callable[[Command], Callable[[argparse.Namespace], int]],
) -> None:
    p = sub.add_parser("trigger", parents=[common], help="show or retarget a process automation trigger")
    p.add_argument("action", choices=["show", "set-target"])
    p.add_argument("id", help="trigger id")
    p.add_argument("workflow", nargs="?", help="set-target: the workflow id to point the trigger at")
    p.set_defaults(func=bind(_trigger))

    p = sub.add_parser("emergency-group", parents=[common], help="show, enable or disable an emergency group")
    p.add_argument("action", choices=["show", "enable", "disable"])
    p.add_argument("id", help="emergency group id")
    p.set_defaults(func=bind(_emergency_group))

    shows: list[tuple[str, str, Command]] = [
        ("site", "a telephony site (its mediaRegions)", _site),
        ("ivr", "an Architect IVR (its openHoursFlow)", _ivr),
        ("data-action", "a data action with its config (URL query strings redacted)", _data_action),
    ]
    for name, what, command in shows:
        p = sub.add_parser(name, parents=[common], help=f"show {what}")
        p.add_argument("action", choices=["show"])
        p.add_argument("id", help=f"{name} id")
        p.set_defaults(func=bind(command))


async def realtime_audit(cfg: WatcherConfig, client: GenesysClient, days: float) -> dict[str, Any]:
    """The realtime audit entries of every followed trigger and emergency group, per object.

    A missing permission is reported in the result (naming it), not raised: the local trail and
    the other objects are still worth showing."""
    platform = PlatformCalls(client)
    end = datetime.now(UTC)
    interval = f"{(end - timedelta(days=days)).isoformat()}/{end.isoformat()}"
    objects = [("trigger", t.id) for t in cfg.triggers] + [
        ("emergency_group", g.id) for g in cfg.emergency_groups
    ]
    objects += [("site", s.id) for s in cfg.sites] + [("ivr", i.id) for i in cfg.ivrs]
    objects += [("data_action", a.id) for a in cfg.data_actions]
    report: dict[str, Any] = {}
    for kind, object_id in objects:
        try:
            entries = [
                e.model_dump(mode="json")
                async for e in platform.realtime_audit(
                    interval,
                    service_name=AUDIT_SERVICES[kind],
                    filters=[{"property": "EntityId", "value": object_id}],
                )
            ]
        except PermissionDenied as exc:
            report[object_id] = {"kind": kind, "error": str(exc), "permission": exc.scope}
            continue
        ok = sum(1 for e in entries if str(e.get("status", "")).upper() == "SUCCESS")
        report[object_id] = {"kind": kind, "entries": len(entries), "succeeded": ok, "latest": entries[:5]}
    return report
