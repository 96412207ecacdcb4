"""One-shot admin commands on the client: the seed scripts done properly.

Exit codes: 0 done, 1 the API refused or failed, 2 bad input (config, arguments, a payload that fails
local validation). `regions` also exits 1 when a region is unhealthy, so it can serve as a check.
Every command prints what it did on stdout; errors and log lines go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import structlog
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.table import Table

from watcher.config import ConfigError, WatcherConfig, load_config
from watcher.genesys import (
    HEALTHY,
    GenesysClient,
    GenesysError,
    RegionHealthReport,
    RoutingRule,
    Strategy,
    WebhookRequest,
)
from watcher.logs import redact
from watcher.reweight import PlanError
from watcher.writer import write_rule_target, write_strategy_order, write_with_retries

EXIT_OK, EXIT_API, EXIT_INPUT = 0, 1, 2


class InputError(Exception):
    """Bad input from the command line or a file: exit code 2."""


def _err(message: str) -> None:
    print(f"failover-watcher: {message}", file=sys.stderr)


@contextlib.contextmanager
def diagnostics_on_stderr() -> Iterator[None]:
    """Send log lines to stderr, warnings and up, for the life of one command.

    stdout belongs to the command's answer (`regions --json | jq` must parse); unconfigured
    structlog would print every debug line there. The previous configuration is put back after,
    so a command run inside another program (the tests) leaves its logging as it was.
    """
    was_configured = structlog.is_configured()
    previous = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            redact,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**previous)
        else:
            structlog.reset_defaults()


def run_command(
    args: argparse.Namespace, body: Callable[[WatcherConfig, GenesysClient], Awaitable[int]]
) -> int:
    """Load the config, open a client, run `body`; map errors to exit codes."""
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            _err(problem)
        return EXIT_INPUT

    async def main() -> int:
        async with GenesysClient(cfg.genesys, cfg.client_secret()) as client:
            return await body(cfg, client)

    try:
        with diagnostics_on_stderr():
            return anyio.run(main)
    except InputError as exc:
        _err(str(exc))
        return EXIT_INPUT
    except (PlanError, ValidationError) as exc:
        _err(f"invalid input: {exc}")
        return EXIT_INPUT
    except GenesysError as exc:
        _err(str(exc))
        return EXIT_API


# ------------------------------------------------------------------------------------- regions


def health_verdict(report: RegionHealthReport, max_sync: float) -> tuple[bool, str]:
    """Healthy only for HEALTHY with a sync interval within the max TTL; the reason otherwise."""
    if report.status != HEALTHY:
        return False, f"status={report.status}"
    if report.syncIntervalSeconds is not None and report.syncIntervalSeconds > max_sync:
        return False, f"syncIntervalSeconds={report.syncIntervalSeconds:g} > {max_sync:g}"
    return True, "status=HEALTHY"


async def _regions(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    listed = {r.id: r.name for r in await client.list_regions()}
    ids = list(dict.fromkeys([*cfg.region_ids(), *listed]))
    rows: dict[str, dict[str, Any]] = {}

    async def probe(region: str) -> None:
        try:
            report = await client.region_health(region, timeout=cfg.health.timeout_seconds)
        except GenesysError as exc:
            rows[region] = {"id": region, "healthy": False, "reason": str(exc)}
            return
        ok, reason = health_verdict(report, cfg.health.max_sync_interval_seconds)
        rows[region] = {
            "id": region,
            "name": listed.get(region),
            "status": report.status,
            "syncIntervalSeconds": report.syncIntervalSeconds,
            "latencyMs": report.latencyMs,
            "healthy": ok,
            "reason": reason,
        }

    async with anyio.create_task_group() as tg:
        for region in ids:
            tg.start_soon(probe, region)
    ordered = [rows[r] for r in ids]
    if args.json:
        print(json.dumps({"regions": ordered}, indent=2))
    else:
        table = Table(title="Region health")
        for col in ("region", "status", "sync s", "latency ms", "verdict"):
            table.add_column(col)
        for row in ordered:
            verdict = "[green]healthy[/]" if row["healthy"] else f"[red]unhealthy[/] ({row['reason']})"
            table.add_row(
                row["id"],
                str(row.get("status", "-")),
                _fmt(row.get("syncIntervalSeconds")),
                _fmt(row.get("latencyMs")),
                verdict,
            )
        Console().print(table)
    return EXIT_OK if all(r["healthy"] for r in ordered) else EXIT_API


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


# ------------------------------------------------------------------------------ apply-strategy


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None


async def _apply_strategy(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    if args.file:
        try:
            wanted = Strategy.model_validate(_read_json(args.file))
        except ValidationError as exc:
            raise InputError(f"{args.file}: {_first_errors(exc)}") from None
        outcome = await write_with_retries(
            "strategy",
            wanted.id,
            lambda: client.get_strategy(wanted.id),
            lambda current: False,  # the file is the whole strategy: always written
            lambda current: client.put_strategy(wanted.model_copy(update={"version": current.version})),
            attempts=cfg.executor.conflict_retries,
            clock=time.monotonic,
        )
        print(
            f"strategy {wanted.id}: version {outcome.version_before} -> {outcome.version_after}"
            f" ({outcome.conflicts} conflicts)"
        )
        print(f"  order: {' > '.join(wanted.region_order())}")
        return EXIT_OK
    if not args.strategy or not args.primary:
        raise InputError("give --file F, or --strategy ID --primary R [--secondary R ...]")
    order = [args.primary, *(args.secondary or [])]
    if len(set(order)) != len(order):
        raise InputError("a region is named twice in --primary/--secondary")
    outcome = await write_strategy_order(client, args.strategy, order, attempts=cfg.executor.conflict_retries)
    verb = "written" if outcome.changed else "already so, nothing written"
    print(
        f"strategy {args.strategy}: {verb}; version {outcome.version_before} -> {outcome.version_after}"
        f" in {outcome.latency_seconds * 1000:.0f} ms ({outcome.conflicts} conflicts)"
    )
    print(f"  order: {' > '.join(order)}")
    return EXIT_OK


def _first_errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5])


# --------------------------------------------------------------------------------- update-rule


async def _update_rule(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    if args.region:
        rules = {r.id: r for r in cfg.rules}
        if args.rule not in rules:
            raise InputError(f"--region needs rule {args.rule!r} under [[rules]] in the config")
        outcome = await write_rule_target(
            client, args.rule, rules[args.rule].targets, args.region, attempts=cfg.executor.conflict_retries
        )
        verb = "written" if outcome.changed else "already so, nothing written"
        print(f"rule {args.rule}: {verb}; version {outcome.version_before} -> {outcome.version_after}")
        return EXIT_OK
    if not args.file:
        raise InputError("give --file F (fields to set) or --region R (retarget from the config)")
    changes = _read_json(args.file)
    if not isinstance(changes, dict):
        raise InputError(f"{args.file}: expected a JSON object")
    changes.pop("version", None)
    written: list[RoutingRule] = []

    async def write(current: RoutingRule) -> RoutingRule:
        merged = {**current.model_dump(mode="json", exclude_none=True), **changes, "version": current.version}
        try:
            rule = RoutingRule.model_validate(merged)
        except ValidationError as exc:
            raise InputError(f"rule {args.rule} would break the limits: {_first_errors(exc)}") from None
        missing = [t.id for t in rule.targets if not await client.target_exists(t.id)]
        if missing:
            raise InputError(f"target(s) {', '.join(missing)} do not exist")
        written[:] = [await client.put_rule(args.rule, rule)]
        return written[0]

    outcome = await write_with_retries(
        "rule",
        args.rule,
        lambda: client.get_rule(args.rule),
        lambda current: False,  # fields from the file are always written
        write,
        attempts=cfg.executor.conflict_retries,
        clock=time.monotonic,
    )
    print(
        f"rule {args.rule}: version {outcome.version_before} -> {outcome.version_after}"
        f" ({outcome.conflicts} conflicts)"
    )
    print(f"  targets: {', '.join(t.id for t in written[0].targets)}; priority {written[0].priority}")
    return EXIT_OK


# ---------------------------------------------------------------------------- register-webhook


async def register_webhook_once(client: GenesysClient, request: WebhookRequest) -> tuple[str, bool]:
    """Register the webhook unless one with the same name and target URL exists; (id, created)."""
    for hook in await client.list_webhooks():
        if hook.targetUrl == request.targetUrl and hook.name == request.name:
            return hook.id, False
    created = await client.register_webhook(request)
    return created.id, True


async def _register_webhook(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    secret: SecretStr | None = None
    if args.secret_file:
        secret = SecretStr((await anyio.Path(args.secret_file).read_text(encoding="utf-8")).strip())
    elif args.secret:
        secret = SecretStr(args.secret)
    else:
        secret = cfg.webhook_secret()
    url = args.url or (cfg.webhook.target_url if cfg.webhook else None)
    if not url:
        raise InputError("give --url, or [webhook] target_url in the config")
    name = args.name or (cfg.webhook.name if cfg.webhook else "External-DNS-Failover-Sync")
    events = cfg.webhook.events if cfg.webhook else ["routing:strategy:updated"]
    request = WebhookRequest(name=name, targetUrl=url, secret=secret, events=events)
    hook_id, created = await register_webhook_once(client, request)
    print(f"webhook {hook_id}: {'registered' if created else 'already registered, reused'} -> {url}")
    return EXIT_OK


# ------------------------------------------------------------------------------------- audit


def switch_success(entries: list[dict[str, Any]]) -> tuple[int, int]:
    """(successes, attempts) among write entries (strategy and rule updates) of the platform log."""
    writes = [e for e in entries if str(e.get("action", "")).lower() in {"update", "put", "updated"}]
    ok = sum(1 for e in writes if str(e.get("status", "SUCCESS")).upper() == "SUCCESS")
    return ok, len(writes)


async def _audit(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    entities = args.entity or [s.id for s in cfg.strategies] + [r.id for r in cfg.rules]
    report: dict[str, dict[str, Any]] = {}
    for entity in entities:
        entries = [
            e.model_dump(mode="json") async for e in client.audit_logs(entity, page_size=args.page_size)
        ]
        ok, total = switch_success(entries)
        report[entity] = {
            "entries": len(entries),
            "writes": total,
            "succeeded": ok,
            "success_rate": (ok / total) if total else None,
        }
    local = _local_trail_summary(cfg)
    if args.json:
        print(json.dumps({"platform": report, "local": local}, indent=2))
        return EXIT_OK
    table = Table(title="Platform audit log: switch success rate")
    for col in ("entity", "entries", "writes", "succeeded", "success rate"):
        table.add_column(col)
    for entity, row in report.items():
        rate = "-" if row["success_rate"] is None else f"{row['success_rate']:.1%}"
        table.add_row(entity, str(row["entries"]), str(row["writes"]), str(row["succeeded"]), rate)
    console = Console()
    console.print(table)
    if local is not None:
        console.print(local_table(local))
    return EXIT_OK


def _local_trail_summary(cfg: WatcherConfig) -> dict[str, Any] | None:
    """The local audit trail summary per strategy, when the trail exists."""
    from watcher.events.audit_trail import read_trail, summarize

    if not any(cfg.state.dir.glob("audit.jsonl*")):
        return None
    return {name: dataclasses.asdict(row) for name, row in summarize(read_trail(cfg.state.dir)).items()}


def local_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Local audit trail: writes (strategy and rule), success rate, latency")
    for col in ("strategy", "writes", "success rate", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(col)
    for strategy, row in summary.items():
        rate = row.get("success_rate")
        table.add_row(
            strategy,
            str(row.get("switches", 0)),
            "-" if rate is None else f"{rate:.1%}",
            *(_ms(row.get(k)) for k in ("latency_p50", "latency_p95", "latency_p99")),
        )
    return table


def _ms(seconds: object) -> str:
    return "-" if not isinstance(seconds, int | float) else f"{seconds * 1000:.1f}"


# -------------------------------------------------------------------------------- registration


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
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bind(_audit))
