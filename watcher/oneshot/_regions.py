"""`regions`: the health matrix of every region, judged as the daemon judges it.

A region without `[[regions.health]]` is judged by its region-health endpoint (retried like every
one-shot call: a check is no poll loop). A region with configured sources is judged by them and
their quorum, each source's verdict, reason and latency shown beside the region's. A source that
cannot judge its region as configured (a status-page component the page does not hold) is named on
stderr and fails the check (exit 1): the daemon would get no evidence from it (SPEC §4.2).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table

from watcher.config import WatcherConfig
from watcher.core import health_verdict
from watcher.genesys import GenesysClient, GenesysError
from watcher.health import HealthSources, NoEvidence, public_http
from watcher.oneshot._run import EXIT_API, EXIT_OK

Row = dict[str, Any]


async def _regions(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    listed = {r.id: r.name for r in await client.list_regions()}
    ids = list(dict.fromkeys([*cfg.region_ids(), *listed]))
    configured = {r.id for r in cfg.regions if r.health}
    rows: dict[str, Row] = {}
    async with public_http() as http:
        health = HealthSources(client, http, metrics=client.metrics)
        sources = health.build(cfg)

        async def judge(region: str) -> None:
            quorum = sources.of(region)
            row: Row = {"id": region, "name": listed.get(region), "quorum": quorum.quorum}
            try:
                obs = await quorum.observe(region)
                row |= {"healthy": obs.ok, "reason": obs.reason, "latencyMs": obs.latency_ms}
            except NoEvidence as exc:
                # A check that cannot confirm a region's health does not pass it.
                row |= {"healthy": False, "reason": f"no evidence: {exc}"}
            row["sources"] = [r.to_dict() for r in health.board.readings(region)]
            row["misconfigured"] = [s["source"] for s in row["sources"] if s["misconfigured"]]
            rows[region] = row

        async def region_health(region: str) -> None:
            rows[region] = await _region_health_row(cfg, client, region, listed.get(region))

        async with anyio.create_task_group() as tg:
            for region in ids:
                tg.start_soon(judge if region in configured else region_health, region)
    ordered = [rows[r] for r in ids]
    for region, reading in health.board.misconfigured():
        print(
            f"failover-watcher: region {region}, source {reading.source}: misconfigured: "
            f"{reading.reason.removeprefix('no evidence: ')}",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps({"regions": ordered}, indent=2))
    else:
        Console().print(_table(ordered))
    return EXIT_OK if all(r["healthy"] for r in ordered) else EXIT_API


async def _region_health_row(cfg: WatcherConfig, client: GenesysClient, region: str, name: str | None) -> Row:
    try:
        # Retried like every call (a 429 waits for Retry-After): a one-shot check is no poll loop.
        report = await client.region_health(
            region, timeout=cfg.health.timeout_seconds, retries=cfg.genesys.max_retries
        )
    except GenesysError as exc:
        reason = str(exc)
        failed = {"source": "region-health", "kind": "region-health", "verdict": "bad", "reason": reason}
        return {"id": region, "healthy": False, "reason": reason, "sources": [failed]}
    ok, reason = health_verdict(
        report.status, report.syncIntervalSeconds, cfg.health.max_sync_interval_seconds
    )
    source: Row = {
        "source": "region-health",
        "kind": "region-health",
        "verdict": "good" if ok else "bad",
        "reason": reason,
        "latencyMs": report.latencyMs,
    }
    return {
        "id": region,
        "name": name,
        "status": report.status,
        "syncIntervalSeconds": report.syncIntervalSeconds,
        "latencyMs": report.latencyMs,
        "healthy": ok,
        "reason": reason,
        "sources": [source],
    }


def _table(rows: list[Row]) -> Table:
    table = Table(title="Region health")
    for col in ("region", "status", "sync s", "latency ms", "sources", "verdict"):
        table.add_column(col)
    for row in rows:
        verdict = "[green]healthy[/]" if row["healthy"] else f"[red]unhealthy[/] ({row['reason']})"
        if row.get("misconfigured"):
            verdict = f"[red]misconfigured[/] ({', '.join(row['misconfigured'])}): {row['reason']}"
        table.add_row(
            row["id"],
            str(row.get("status", "-")),
            _fmt(row.get("syncIntervalSeconds")),
            _fmt(row.get("latencyMs")),
            "\n".join(_source_line(s) for s in row.get("sources", [])),
            verdict,
        )
    return table


def _source_line(source: Row) -> str:
    latency = source.get("latencyMs")
    timing = f" {latency:.0f}ms" if isinstance(latency, int | float) else ""
    verdict = "misconfigured" if source.get("misconfigured") else source["verdict"]
    return f"{source['source']}: {verdict}{timing}"


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
