"""The receiver's HTTP surface: POST an event (any path), GET /metrics, GET /healthz.

A delivery is checked in the order that keeps an attacker from learning or changing anything: the
Standard Webhooks signature first (401, nothing read further), then the CloudEvents structure
(400), then the event itself (`DnsSync`). The sink URL the watcher is given can be the root or any
path under it.
"""

from __future__ import annotations

import json

import structlog
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from watcher.dnssync.metrics import DnsSyncMetrics
from watcher.dnssync.sync import DnsSync
from watcher.events import Verifier, structure_problems

_log = structlog.get_logger("watcher.dnssync")


def build_app(verifier: Verifier, sync: DnsSync, metrics: DnsSyncMetrics) -> Starlette:
    """The ASGI app of one receiver."""

    async def ingest(request: Request) -> Response:
        body = await request.body()
        if not verifier.verify(body, dict(request.headers)):
            metrics.rejected.labels(reason="bad_signature").inc()
            _log.warning(
                "delivery with a bad signature refused",
                webhook_id=request.headers.get("webhook-id"),
                client=request.client.host if request.client else None,
            )
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        problems = structure_problems(event)
        if problems or not isinstance(event, dict):
            metrics.rejected.labels(reason="bad_event").inc()
            _log.warning("delivery is not a CloudEvent", problems=problems)
            return JSONResponse({"error": "not a CloudEvent 1.0", "problems": problems}, status_code=400)
        verdict = await sync.handle(event)
        return JSONResponse(verdict.body, status_code=verdict.status)

    async def metrics_page(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        # Answering at all means the event loop turns; DNS trouble shows in the metrics instead,
        # so an orchestrator does not restart a healthy receiver because the primary is down.
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/metrics", metrics_page, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{path:path}", ingest, methods=["POST"]),
        ]
    )
