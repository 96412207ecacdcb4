"""The ``/_sim`` admin API (SPEC §3): what tests and the demo drive. No token needed, never
faulted, never rate-limited, not in the request log.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from watcher.sim._faults import FaultSpec
from watcher.sim._responses import json_object
from watcher.sim._state import SimulatorState
from watcher.sim._versioned import ApiError


class RegionHealthSpec(BaseModel):
    """Body of ``PUT /_sim/regions/{id}``."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(min_length=1)
    syncIntervalSeconds: int | None = Field(default=None, ge=0)
    latencyMs: float | None = Field(default=None, ge=0, le=600_000)
    name: str | None = None


class StatusComponentSpec(BaseModel):
    """Body of ``PUT /_sim/status/components/{idOrName}``."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(min_length=1)
    group: str | None = Field(default=None, min_length=1)
    description: str | None = None
    onlyShowIfDegraded: bool | None = None


class RateLimitSpec(BaseModel):
    """Body of ``PUT /_sim/ratelimit``."""

    model_config = ConfigDict(extra="forbid")

    perMinute: int = Field(ge=1)


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "body"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ApiError(400, f"{location}: {message}") from None


class AdminEndpoints:
    """Handlers for ``/_sim``, bound to one :class:`SimulatorState`."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.org = state.org

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/_sim/regions/{entity_id}", self.put_region, methods=["PUT"]),
            Route("/_sim/faults", self.put_fault, methods=["PUT"]),
            Route("/_sim/faults", self.list_faults, methods=["GET"]),
            Route("/_sim/faults", self.clear_faults, methods=["DELETE"]),
            Route("/_sim/ratelimit", self.put_ratelimit, methods=["PUT"]),
            Route("/_sim/ratelimit", self.get_ratelimit, methods=["GET"]),
            Route("/_sim/tokens/expire", self.expire_tokens, methods=["POST"]),
            Route("/_sim/requests", self.list_requests, methods=["GET"]),
            Route("/_sim/requests", self.clear_requests, methods=["DELETE"]),
            Route("/_sim/strategies/{entity_id}", self.put_strategy, methods=["PUT"]),
            Route("/_sim/rules/{entity_id}", self.put_rule, methods=["PUT"]),
            Route("/_sim/targets/{entity_id}", self.put_target, methods=["PUT"]),
            Route("/_sim/targets/{entity_id}", self.delete_target, methods=["DELETE"]),
            Route("/_sim/triggers/{entity_id}", self.put_trigger, methods=["PUT"]),
            Route("/_sim/emergencygroups/{entity_id}", self.put_emergency_group, methods=["PUT"]),
            Route("/_sim/status/components/{key:path}", self.put_status_component, methods=["PUT"]),
            Route("/_sim/state", self.snapshot, methods=["GET"]),
        ]

    async def put_region(self, request: Request) -> Response:
        spec = _parse(RegionHealthSpec, await json_object(request))
        region = self.org.set_region(
            request.path_params["entity_id"],
            status=spec.status,
            sync_interval_seconds=spec.syncIntervalSeconds,
            latency_ms=spec.latencyMs,
            name=spec.name,
        )
        return JSONResponse(region.view())

    async def put_fault(self, request: Request) -> Response:
        fault = self.state.add_fault(_parse(FaultSpec, await json_object(request)))
        return JSONResponse(fault.view())

    async def list_faults(self, request: Request) -> Response:
        return JSONResponse({"faults": [fault.view() for fault in self.state.faults]})

    async def clear_faults(self, request: Request) -> Response:
        return JSONResponse({"cleared": self.state.clear_faults()})

    async def put_ratelimit(self, request: Request) -> Response:
        spec = _parse(RateLimitSpec, await json_object(request))
        self.state.budget.per_minute = spec.perMinute
        return JSONResponse({"perMinute": spec.perMinute})

    async def get_ratelimit(self, request: Request) -> Response:
        return JSONResponse({"perMinute": self.state.budget.per_minute})

    async def expire_tokens(self, request: Request) -> Response:
        return JSONResponse({"expired": self.state.tokens.expire_all()})

    async def list_requests(self, request: Request) -> Response:
        """The request log; ``time`` and ``now`` are the simulator clock (monotonic seconds)."""
        raw = request.query_params.get("since")
        try:
            since = float(raw) if raw is not None else None
        except ValueError:
            raise ApiError(400, "since: must be a number") from None
        records = self.state.requests_since(since)
        return JSONResponse({"requests": [r.view() for r in records], "now": self.state.clock()})

    async def clear_requests(self, request: Request) -> Response:
        cleared = len(self.state.requests)
        self.state.requests.clear()
        return JSONResponse({"cleared": cleared})

    async def put_strategy(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.org.admin_put_strategy(request.path_params["entity_id"], body))

    async def put_rule(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.org.admin_put_rule(request.path_params["entity_id"], body))

    async def put_target(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.org.admin_put_target(request.path_params["entity_id"], body))

    async def delete_target(self, request: Request) -> Response:
        self.org.admin_delete_target(request.path_params["entity_id"])
        return Response(status_code=204)

    async def put_trigger(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(self.state.platform.admin_put_trigger(request.path_params["entity_id"], body))

    async def put_emergency_group(self, request: Request) -> Response:
        body = await json_object(request)
        group_id = request.path_params["entity_id"]
        return JSONResponse(self.state.platform.admin_put_emergency_group(group_id, body))

    async def put_status_component(self, request: Request) -> Response:
        """Set a component's status (creating it, in ``group`` when given); answers its view."""
        spec = _parse(StatusComponentSpec, await json_object(request))
        page = self.state.status_page
        component = page.set(
            request.path_params["key"],
            spec.status,
            spec.group,
            description=spec.description,
            only_show_if_degraded=spec.onlyShowIfDegraded,
        )
        return JSONResponse(page.view(component))

    async def snapshot(self, request: Request) -> Response:
        return JSONResponse(
            {
                **self.org.snapshot(),
                **self.state.platform.snapshot(),
                **self.state.levers.snapshot(),
                "statusComponents": self.state.status_page.snapshot(),
                "faults": [fault.view() for fault in self.state.faults],
                "ratelimit": {"perMinute": self.state.budget.per_minute},
                "audit": self.state.audit.entries(),
            }
        )
