"""The levers' calls (SPEC §6.2.1) and their ``/_sim`` admin calls.

Public, behind the shell's token, budget (``inin-ratelimit-*`` headers), faults and request
log like every ``/api/`` call:

* ``GET``/``PUT /api/v2/telephony/providers/edges/sites/{siteId}`` (``Site``);
* ``GET``/``PUT /api/v2/architect/ivrs/{ivrId}`` (``IVR``);
* ``GET /api/v2/integrations/actions/{actionId}`` (``includeConfig=true`` adds ``config``,
  ``expand=contract`` adds ``contract``) and ``PATCH`` it with an ``UpdateActionInput``;
* ``GET /api/v2/flows/{flowId}`` (``Flow``; ``deleted`` is accepted and changes nothing: a
  deleted flow is answered with ``deleted: true``).

Admin (no token, never faulted, not logged): ``PUT /_sim/sites/{id}``, ``PUT /_sim/ivrs/{id}``,
``PUT /_sim/dataactions/{id}``, ``PUT /_sim/flows/{id}``: seed an object (version 1) or change
it behind the watcher's back (version bumped; flows have none). The body is the whole SDK model;
fields the model does not have are refused.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.sim._levers import ACTION_PATH, FLOW_PATH, IVR_PATH, SITE_PATH, LeverObjects
from watcher.sim._responses import json_object
from watcher.sim._shell import USER_SCOPE_KEY
from watcher.sim._state import SimulatorState

_ONE = "/{entity_id}"

# What the platform requires of a token, per (method, path template); see
# :data:`watcher.sim._platform_api.PERMISSIONS` (not checked yet: tokens carry no scopes).
PERMISSIONS: dict[tuple[str, str], str] = {
    ("GET", SITE_PATH + _ONE): "telephony:plugin:all",
    ("PUT", SITE_PATH + _ONE): "telephony:plugin:all",
    ("GET", IVR_PATH + _ONE): "routing:callRoute:view",
    ("PUT", IVR_PATH + _ONE): "routing:callRoute:edit",
    ("GET", ACTION_PATH + _ONE): "integrations:action:view",
    ("PATCH", ACTION_PATH + _ONE): "integrations:action:edit",
    ("GET", FLOW_PATH + _ONE): "architect:flow:view",
}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() == "true"


def _expands(request: Request, field: str) -> bool:
    return field in (part.strip() for part in request.query_params.get("expand", "").split(","))


class LeverEndpoints:
    """Route handlers for the levers, bound to one :class:`SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        self.levers: LeverObjects = state.levers

    def routes(self) -> list[BaseRoute]:
        return [
            Route(SITE_PATH + _ONE, self.get_site, methods=["GET"]),
            Route(SITE_PATH + _ONE, self.put_site, methods=["PUT"]),
            Route(IVR_PATH + _ONE, self.get_ivr, methods=["GET"]),
            Route(IVR_PATH + _ONE, self.put_ivr, methods=["PUT"]),
            Route(ACTION_PATH + _ONE, self.get_action, methods=["GET"]),
            Route(ACTION_PATH + _ONE, self.patch_action, methods=["PATCH"]),
            Route(FLOW_PATH + _ONE, self.get_flow, methods=["GET"]),
            Route("/_sim/sites" + _ONE, self.admin_put_site, methods=["PUT"]),
            Route("/_sim/ivrs" + _ONE, self.admin_put_ivr, methods=["PUT"]),
            Route("/_sim/dataactions" + _ONE, self.admin_put_action, methods=["PUT"]),
            Route("/_sim/flows" + _ONE, self.admin_put_flow, methods=["PUT"]),
        ]

    async def get_site(self, request: Request) -> Response:
        return JSONResponse(self.levers.site(request.path_params["entity_id"]))

    async def put_site(self, request: Request) -> Response:
        body = await json_object(request)
        user = request.scope[USER_SCOPE_KEY]
        return JSONResponse(self.levers.put_site(request.path_params["entity_id"], body, user))

    async def get_ivr(self, request: Request) -> Response:
        return JSONResponse(self.levers.ivr(request.path_params["entity_id"]))

    async def put_ivr(self, request: Request) -> Response:
        body = await json_object(request)
        user = request.scope[USER_SCOPE_KEY]
        return JSONResponse(self.levers.put_ivr(request.path_params["entity_id"], body, user))

    async def get_action(self, request: Request) -> Response:
        action = self.levers.action(
            request.path_params["entity_id"],
            include_config=_flag(request, "includeConfig"),
            include_contract=_expands(request, "contract"),
        )
        return JSONResponse(action)

    async def patch_action(self, request: Request) -> Response:
        body = await json_object(request)
        user = request.scope[USER_SCOPE_KEY]
        return JSONResponse(self.levers.patch_action(request.path_params["entity_id"], body, user))

    async def get_flow(self, request: Request) -> Response:
        return JSONResponse(self.levers.flow(request.path_params["entity_id"]))

    async def admin_put_site(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.levers.admin_put_site(request.path_params["entity_id"], body))

    async def admin_put_ivr(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.levers.admin_put_ivr(request.path_params["entity_id"], body))

    async def admin_put_action(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.levers.admin_put_action(request.path_params["entity_id"], body))

    async def admin_put_flow(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.levers.admin_put_flow(request.path_params["entity_id"], body))
