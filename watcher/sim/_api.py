"""The Genesys Cloud surface (SPEC §2): token, regions, strategies, rules, targets, webhooks,
audit logs. Auth and the request budget are checked before these handlers run (see
``_shell``); handlers translate HTTP to :class:`~watcher.sim._org.Org` calls and back.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, urlencode

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.sim._responses import TOKEN_PATH, json_object, oauth_error_response
from watcher.sim._shell import USER_SCOPE_KEY
from watcher.sim._state import SimulatorState
from watcher.sim._versioned import ApiError

AUDIT_PATH = "/api/v2/platform/auditlogs"
MAX_AUDIT_PAGE_SIZE = 500


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name}: must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name}: must be in {low}..{high}")
    return value


class GenesysEndpoints:
    """Route handlers bound to one :class:`SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.org = state.org

    def routes(self) -> list[BaseRoute]:
        regions = "/api/v2/architecture/regions"
        strategy = "/api/v2/routing/strategies/{entity_id}"
        rule = "/api/v2/eventbridge/routing/rules/{entity_id}"
        return [
            Route(TOKEN_PATH, self.issue_token, methods=["POST"]),
            Route(regions, self.list_regions, methods=["GET"]),
            Route(regions + "/{entity_id}/health", self.region_health, methods=["GET"]),
            Route(strategy, self.get_strategy, methods=["GET"]),
            Route(strategy, self.put_strategy, methods=["PUT"]),
            Route(rule, self.get_rule, methods=["GET"]),
            Route(rule, self.put_rule, methods=["PUT"]),
            Route("/api/v2/eventbridge/targets/{entity_id}", self.get_target, methods=["GET"]),
            Route("/api/v2/platform/webhooks", self.create_webhook, methods=["POST"]),
            Route("/api/v2/platform/webhooks", self.list_webhooks, methods=["GET"]),
            Route(AUDIT_PATH, self.audit_logs, methods=["GET"]),
        ]

    async def issue_token(self, request: Request) -> Response:
        """Client-credentials grant with HTTP Basic auth and a form body."""
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        grant = form.get("grant_type", [None])[0]
        if grant is None:
            return oauth_error_response(400, "invalid_request", "grant_type is required")
        if grant != "client_credentials":
            return oauth_error_response(
                400, "unsupported_grant_type", "only grant_type=client_credentials is supported"
            )
        credentials = _basic_credentials(request)
        if credentials is None or not self.state.credentials_match(*credentials):
            return oauth_error_response(
                401,
                "invalid_client",
                "client authentication failed",
                headers={"WWW-Authenticate": 'Basic realm="sim"'},
            )
        token = self.state.tokens.issue(credentials[0])
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.state.tokens.lifetime_seconds,
            }
        )

    async def list_regions(self, request: Request) -> Response:
        entities = [{"id": r.id, "name": r.name} for r in self.org.regions.values()]
        return JSONResponse(
            {
                "entities": entities,
                "pageSize": len(entities),
                "pageNumber": 1,
                "pageCount": 1,
                "total": len(entities),
            }
        )

    async def region_health(self, request: Request) -> Response:
        region = self.org.region(request.path_params["entity_id"])
        health = region.health()
        if region.latency_ms > 0:
            await anyio.sleep(region.latency_ms / 1000)
        return JSONResponse(health)

    async def get_strategy(self, request: Request) -> Response:
        return JSONResponse(self.org.strategy(request.path_params["entity_id"]))

    async def put_strategy(self, request: Request) -> Response:
        body = await json_object(request)
        user = request.scope[USER_SCOPE_KEY]
        return JSONResponse(self.org.put_strategy(request.path_params["entity_id"], body, user))

    async def get_rule(self, request: Request) -> Response:
        return JSONResponse(self.org.rule(request.path_params["entity_id"]))

    async def put_rule(self, request: Request) -> Response:
        body = await json_object(request)
        user = request.scope[USER_SCOPE_KEY]
        return JSONResponse(self.org.put_rule(request.path_params["entity_id"], body, user))

    async def get_target(self, request: Request) -> Response:
        return JSONResponse(self.org.target(request.path_params["entity_id"]))

    async def create_webhook(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.org.create_webhook(body, request.scope[USER_SCOPE_KEY]))

    async def list_webhooks(self, request: Request) -> Response:
        entities = list(self.org.webhooks.values())
        return JSONResponse({"entities": entities, "pageSize": len(entities), "total": len(entities)})

    async def audit_logs(self, request: Request) -> Response:
        """A page of audit entries, oldest first; ``nextPage`` is absent on the last page."""
        page_size = _int_param(
            request, "pageSize", self.state.audit_page_size_default, 1, MAX_AUDIT_PAGE_SIZE
        )
        cursor = _int_param(request, "cursor", 0, 0, 2**62)
        entity_id = request.query_params.get("filterEntityId") or None
        entities, next_cursor = self.state.audit.page(
            entity_id=entity_id, page_size=page_size, after_seq=cursor
        )
        body: dict[str, object] = {"entities": entities, "pageSize": page_size}
        if next_cursor is not None:
            query: list[tuple[str, str]] = [("pageSize", str(page_size))]
            if entity_id is not None:
                query.append(("filterEntityId", entity_id))
            query.append(("cursor", str(next_cursor)))
            body["nextPage"] = f"{AUDIT_PATH}?{urlencode(query)}"
        return JSONResponse(body)
