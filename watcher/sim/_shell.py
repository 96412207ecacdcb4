"""What happens to every request before a handler sees it.

In order: the request log, injected faults (API, token and status-page paths, never
``/_sim``), then for ``/api/`` paths the bearer token and the per-token budget, whose state
every answer reports in the ``inin-ratelimit-count`` / ``-allowed`` / ``-reset`` headers as the
platform's do. The status page (``/api/v2/components.json``, ``/api/v2/summary.json``) is
public: no token, no budget, no rate-limit headers. It is plain ASGI, not
``BaseHTTPMiddleware``, because the health benchmark sends a thousand concurrent requests and
the per-request cost has to stay small.

A ``reset`` fault drops the connection: the shell sends response headers and then raises
:class:`ConnectionDropped`, on which uvicorn closes the transport; the client sees a
transport error (``httpx.RemoteProtocolError``: incomplete chunked read). Raising before any
headers would make uvicorn answer a 500 instead. uvicorn logs the exception, so a filter on the
``uvicorn.error`` logger drops exactly those records.
"""

from __future__ import annotations

import logging

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watcher.sim._responses import error_response, fault_response
from watcher.sim._state import SimulatorState

ADMIN_PREFIX = "/_sim"
API_PREFIX = "/api/"
USER_SCOPE_KEY = "watcher.sim.user"
STATUS_PAGE_PATHS = frozenset({"/api/v2/components.json", "/api/v2/summary.json"})


class ConnectionDropped(Exception):
    """Raised after the response has started, so the server closes the socket."""


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


def silence_dropped_connections() -> None:
    """Keep simulated resets out of uvicorn's error log (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropNoise) for f in logger.filters):
        logger.addFilter(_DropNoise())


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class SimulatorShell:
    """ASGI middleware: request log, faults, auth and rate limit around the routes."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, recording_send)
        except ConnectionDropped:
            status = 0
            raise
        finally:
            self.state.log_request(scope["method"], scope["path"], status)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        outcome = self.state.plan_faults(path, scope["method"])
        if outcome is not None:
            if outcome.delay_seconds > 0:
                await anyio.sleep(outcome.delay_seconds)
            if outcome.reset:
                await send({"type": "http.response.start", "status": 200, "headers": []})
                raise ConnectionDropped(path)
            if outcome.status is not None:
                response = fault_response(path, outcome.status, outcome.message, outcome.retry_after)
                await response(scope, receive, send)
                return
        if path.startswith(API_PREFIX) and path not in STATUS_PAGE_PATHS:
            await self._authorized(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _authorized(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _bearer(scope)
        user, why = self.state.tokens.holder(token)
        if user is None or token is None:
            response = error_response(
                401, why, "authentication.required", headers={"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        budget = self.state.budget
        retry_after = budget.admit(token)

        async def send_with_budget(message: Message) -> None:
            if message["type"] == "http.response.start":
                count, reset = budget.usage(token)
                headers = [
                    (b"inin-ratelimit-count", str(count).encode()),
                    (b"inin-ratelimit-allowed", str(budget.per_minute).encode()),
                    (b"inin-ratelimit-reset", str(retry_after or reset).encode()),
                ]
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        if retry_after is not None:
            response = error_response(
                429,
                f"rate limit exceeded: {budget.per_minute} requests per minute",
                "too.many.requests",
                headers={"Retry-After": str(retry_after)},
            )
            await response(scope, receive, send_with_budget)
            return
        scope[USER_SCOPE_KEY] = user
        await self.app(scope, receive, send_with_budget)
