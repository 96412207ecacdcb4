"""`regions`: the health matrix of every region, judged as the daemon judges it."""

from __future__ import annotations

import argparse
import json
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table

from watcher.config import WatcherConfig
from watcher.core import health_verdict
from watcher.genesys import GenesysClient, GenesysError
from watcher.oneshot._run import EXIT_API, EXIT_OK


async def _regions(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    listed = {r.id: r.name for r in await client.list_regions()}
    ids = list(dict.fromkeys([*cfg.region_ids(), *listed]))
    rows: dict[str, dict[str, Any]] = {}

    async def probe(region: str) -> None:
        try:
            # Retried like every call (a 429 waits for Retry-After): a one-shot check is no poll loop.
            report = await client.region_health(
                region, timeout=cfg.health.timeout_seconds, retries=cfg.genesys.max_retries
            )
        except GenesysError as exc:
            rows[region] = {"id": region, "healthy": False, "reason": str(exc)}
            return
        ok, reason = health_verdict(
            report.status, report.syncIntervalSeconds, cfg.health.max_sync_interval_seconds
        )
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
