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

# A resync of a thousand strategies is well under this; anything larger is not from the watcher,
# and is refused before it is read whole (the listener may face more than the watcher).
MAX_BODY_BYTES = 1024 * 1024


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None once it exceeds MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(verifier: Verifier, sync: DnsSync, metrics: DnsSyncMetrics) -> Starlette:
    """The ASGI app of one receiver."""

    async def ingest(request: Request) -> Response:
        body = await _bounded_body(request)
        if body is None:
            metrics.rejected.labels(reason="bad_event").inc()
            return JSONResponse({"error": f"body over {MAX_BODY_BYTES} bytes"}, status_code=413)
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
