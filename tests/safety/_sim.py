"""The simulator as tests drive and read it: only through its admin API (`/_sim`) over HTTP.

What the watcher did is read from the simulator, never from the watcher: the request log (every call,
its status and time) and the state (the objects, and the audit entry of every change with the bodies
before and after, who made it and when).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from watcher.sim import ADMIN_USER

STRATEGY_PATH = "/api/v2/routing/strategies/"
RULE_PATH = "/api/v2/eventbridge/routing/rules/"


def first_region(strategy_body: dict[str, Any] | None) -> str | None:
    """The region a strategy body routes to: its priority-1 region."""
    if not strategy_body:
        return None
    regions = strategy_body.get("routingConfig", {}).get("regions", [])
    if not regions:
        return None
    return str(min(regions, key=lambda r: r["priority"])["regionId"])


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Write:
    """One accepted write by the watcher (not by the simulator's admin), from the audit log."""

    at: datetime
    entity: str
    kind: str  # routingStrategy | routingRule
    before: dict[str, Any] | None
    after: dict[str, Any]

    @property
    def region_before(self) -> str | None:
        return first_region(self.before)

    @property
    def region_after(self) -> str | None:
        return first_region(self.after)

    @property
    def switches(self) -> bool:
        """A strategy write that changed where it routes (a fencing write-back does not)."""
        return self.kind == "routingStrategy" and self.region_before != self.region_after


class SimAdmin:
    """`/_sim` calls (SPEC §3) and readings of what the simulator saw."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json() if response.content else None

    async def set_region(self, region: str, status: str) -> None:
        await self._ok(await self.http.put(f"/_sim/regions/{region}", json={"status": status}))

    async def fault(self, **spec: Any) -> int:
        return int((await self._ok(await self.http.put("/_sim/faults", json=spec)))["id"])

    async def faults(self) -> list[dict[str, Any]]:
        return list((await self._ok(await self.http.get("/_sim/faults")))["faults"])

    async def fault_hits(self, fault_id: int) -> int:
        return next((f["hits"] for f in await self.faults() if f["id"] == fault_id), 0)

    async def clear_faults(self) -> None:
        await self._ok(await self.http.delete("/_sim/faults"))

    async def expire_tokens(self) -> None:
        await self._ok(await self.http.post("/_sim/tokens/expire"))

    async def put_strategy(self, strategy_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self._ok(await self.http.put(f"/_sim/strategies/{strategy_id}", json=body)))

    async def put_target(self, target_id: str, body: dict[str, Any]) -> None:
        await self._ok(await self.http.put(f"/_sim/targets/{target_id}", json=body))

    async def delete_target(self, target_id: str) -> None:
        (await self.http.delete(f"/_sim/targets/{target_id}")).raise_for_status()

    async def requests(self, since: float | None = None) -> tuple[list[dict[str, Any]], float]:
        """The request log (since a simulator-clock instant) and the simulator's clock now."""
        params = {"since": str(since)} if since is not None else None
        doc = await self._ok(await self.http.get("/_sim/requests", params=params))
        return list(doc["requests"]), float(doc["now"])

    async def now(self) -> float:
        return (await self.requests(since=1e18))[1]

    async def puts(self, fragment: str, since: float | None = None) -> list[dict[str, Any]]:
        """PUT requests whose path contains `fragment` (any status, 0 = dropped connection)."""
        log, _ = await self.requests(since)
        return [r for r in log if r["method"] == "PUT" and fragment in r["path"]]

    async def state(self) -> dict[str, Any]:
        return dict(await self._ok(await self.http.get("/_sim/state")))

    async def strategy(self, strategy_id: str) -> dict[str, Any]:
        return next(s for s in (await self.state())["strategies"] if s["id"] == strategy_id)

    async def routes_to(self, strategy_id: str) -> str | None:
        return first_region(await self.strategy(strategy_id))

    async def rule_target(self, rule_id: str) -> str:
        rule = next(r for r in (await self.state())["rules"] if r["id"] == rule_id)
        return str(rule["targets"][0]["id"])

    async def watcher_writes(self) -> list[Write]:
        """Accepted strategy and rule updates made through the API (not `/_sim`), oldest first."""
        writes = []
        for e in (await self.state())["audit"]:
            if (
                e["entityType"] in ("routingStrategy", "routingRule")
                and e["action"] == "update"
                and e["status"] == "SUCCESS"
                and e["user"] != ADMIN_USER
            ):
                writes.append(
                    Write(parse_time(e["timestamp"]), e["entityId"], e["entityType"], e["before"], e["after"])
                )
        return writes

    async def region_timeline(self) -> list[tuple[datetime, str, str]]:
        """(when, region, status) of every region change made through `/_sim`, oldest first."""
        return [
            (parse_time(e["timestamp"]), e["entityId"], e["after"]["status"])
            for e in (await self.state())["audit"]
            if e["entityType"] == "region" and e["after"] is not None
        ]


def status_at(timeline: list[tuple[datetime, str, str]], region: str, at: datetime) -> str:
    """What a region's health answered at `at` (seeded regions start HEALTHY)."""
    status = "HEALTHY"
    for when, r, s in timeline:
        if r == region and when <= at:
            status = s
    return status
