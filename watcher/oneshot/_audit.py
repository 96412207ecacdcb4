"""`audit`: the platform's audit log and the local trail, with the switch success rate."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from watcher.config import WatcherConfig
from watcher.genesys import GenesysClient
from watcher.oneshot._followers import realtime_audit
from watcher.oneshot._run import EXIT_OK


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
    followed = (
        await realtime_audit(cfg, client, args.days)
        if cfg.triggers or cfg.emergency_groups or cfg.sites or cfg.ivrs or cfg.data_actions
        else {}
    )
    for object_id, row in followed.items():
        if "error" in row:
            print(f"failover-watcher: realtime audit of {object_id}: {row['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps({"platform": report, "realtime": followed, "local": local}, indent=2))
        return EXIT_OK
    table = Table(title="Platform audit log: switch success rate")
    for col in ("entity", "entries", "writes", "succeeded", "success rate"):
        table.add_column(col)
    for entity, row in report.items():
        rate = "-" if row["success_rate"] is None else f"{row['success_rate']:.1%}"
        table.add_row(entity, str(row["entries"]), str(row["writes"]), str(row["succeeded"]), rate)
    console = Console()
    console.print(table)
    if followed:
        console.print(_realtime_table(followed))
    if local is not None:
        console.print(local_table(local))
    return EXIT_OK


def _realtime_table(followed: dict[str, Any]) -> Table:
    table = Table(title="Realtime audit: followed triggers and emergency groups")
    for col in ("object", "kind", "entries", "succeeded"):
        table.add_column(col)
    table.add_column("note", overflow="fold")
    for object_id, row in followed.items():
        if "error" in row:
            note = f"missing permission {row['permission']}" if row.get("permission") else row["error"]
            table.add_row(object_id, row["kind"], "-", "-", note)
        else:
            table.add_row(object_id, row["kind"], str(row["entries"]), str(row["succeeded"]), "")
    return table


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
