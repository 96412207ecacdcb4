"""The real platform's calls (SPEC §6, §6.3): server date, process automation triggers,
emergency groups, the realtime audit query, and the public status page.

Like :mod:`watcher.sim._api`, handlers only translate HTTP to the state's objects; auth, the
budget and its ``inin-ratelimit-*`` headers, faults and the request log are the shell's.

No endpoint here checks a permission yet: the simulator's tokens carry no scopes (see
:class:`~watcher.sim._access.TokenBook`). Each route names the permission the platform asks
for (:data:`PERMISSIONS`), so a scope check can be added in one place when tokens get scopes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.sim._audit import iso_utc
from watcher.sim._audit_query import RealtimeQuery
from watcher.sim._platform_objects import EMERGENCY_GROUP_PATH, TRIGGER_PATH
from watcher.sim._responses import json_object
from watcher.sim._shell import USER_SCOPE_KEY
from watcher.sim._state import SimulatorState

DATE_PATH = "/api/v2/date"
REALTIME_AUDIT_PATH = "/api/v2/audits/query/realtime"
COMPONENTS_PATH = "/api/v2/components.json"
SUMMARY_PATH = "/api/v2/summary.json"

# What the platform requires of a token, per (method, path template); None: any valid token.
PERMISSIONS: dict[tuple[str, str], str | None] = {
    ("GET", DATE_PATH): None,
    ("GET", TRIGGER_PATH + "/{entity_id}"): "processautomation:trigger:view",
    ("PUT", TRIGGER_PATH + "/{entity_id}"): "processautomation:trigger:edit",
    ("GET", EMERGENCY_GROUP_PATH + "/{entity_id}"): "architect:emergencyGroup:view",
    ("PUT", EMERGENCY_GROUP_PATH + "/{entity_id}"): "architect:emergencyGroup:edit",
    ("POST", REALTIME_AUDIT_PATH): "audits:audit:view",
}


def _page_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class PlatformEndpoints:
    """Route handlers for SPEC §6's calls, bound to one :class:`SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.platform = state.platform

    def routes(self) -> list[BaseRoute]:
        trigger = TRIGGER_PATH + "/{entity_id}"
        group = EMERGENCY_GROUP_PATH + "/{entity_id}"
        return [
            Route(DATE_PATH, self.server_date, methods=["GET"]),
            Route(trigger, self.get_trigger, methods=["GET"]),
            Route(trigger, self.put_trigger, methods=["PUT"]),
            Route(group, self.get_emergency_group, methods=["GET"]),
            Route(group, self.put_emergency_group, methods=["PUT"]),
            Route(REALTIME_AUDIT_PATH, self.realtime_audit, methods=["POST"]),
            Route(COMPONENTS_PATH, self.status_components, methods=["GET"]),
            Route(SUMMARY_PATH, self.status_summary, methods=["GET"]),
        ]

    async def server_date(self, request: Request) -> Response:
        """``ServerDate``: the authenticated latency probe of SPEC §6.1."""
        return JSONResponse({"currentDate": iso_utc(self.state.audit.now())})

    async def get_trigger(self, request: Request) -> Response:
        return JSONResponse(self.platform.trigger(request.path_params["entity_id"]))

    async def put_trigger(self, request: Request) -> Response:
        body = await json_object(request)
        user = request.scope[USER_SCOPE_KEY]
        return JSONResponse(self.platform.put_trigger(request.path_params["entity_id"], body, user))

    async def get_emergency_group(self, request: Request) -> Response:
        return JSONResponse(self.platform.emergency_group(request.path_params["entity_id"]))

    async def put_emergency_group(self, request: Request) -> Response:
        body = await json_object(request)
        user = request.scope[USER_SCOPE_KEY]
        return JSONResponse(self.platform.put_emergency_group(request.path_params["entity_id"], body, user))

    async def realtime_audit(self, request: Request) -> Response:
        query = RealtimeQuery.parse(await json_object(request), self.state.audit_page_size_default)
        return JSONResponse(query.run(self.state.audit.entries()))

    async def status_components(self, request: Request) -> Response:
        return JSONResponse(self.state.status_page.components_document(_page_url(request)))

    async def status_summary(self, request: Request) -> Response:
        return JSONResponse(self.state.status_page.summary_document(_page_url(request)))
