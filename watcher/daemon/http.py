"""The daemon's HTTP surface: /metrics, /healthz, /readyz, /status and the bearer-guarded admin API.

It is served from the daemon's own event loop on purpose: if the loop is stuck, these stop answering,
and the liveness probe fails as it should.
"""

from __future__ import annotations

import hmac
import math
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class Probe(Protocol):
    """What the HTTP layer asks of the daemon's probes."""

    def status(self) -> dict[str, Any]: ...
    def liveness(self) -> tuple[bool, str]: ...
    def readiness(self) -> tuple[bool, str]: ...
    def metrics_text(self) -> bytes: ...


class Admin(Protocol):
    """What the admin API asks of the daemon."""

    async def hold(
        self, strategy: str, seconds: float, region: str | None, reason: str
    ) -> dict[str, Any]: ...
    async def release(self, strategy: str, *, override: bool = False, reason: str = "") -> dict[str, Any]: ...
    async def set_dry_run(self, enabled: bool) -> dict[str, Any]: ...
    async def move(
        self, strategy: str, region: str, *, force: bool = False, reason: str = ""
    ) -> tuple[int, dict[str, Any]]: ...
    async def failback(self, strategy: str, *, reason: str = "") -> tuple[int, dict[str, Any]]: ...


class HoldRequest(BaseModel):
    strategy: str = Field(min_length=1)
    seconds: float = Field(gt=0, le=7 * 86400, description="bounded: a hold always expires")
    region: str | None = Field(default=None, description="pin to this region; freeze when absent")
    reason: str = ""


class ReleaseRequest(BaseModel):
    strategy: str = Field(min_length=1)
    # `release --override`: also let go the automatic switch a safety rule holds back (SPEC §8).
    override: bool = False
    reason: str = ""


class DryRunRequest(BaseModel):
    enabled: bool


class MoveRequest(BaseModel):
    to: str = Field(min_length=1, description="a region of the strategy")
    force: bool = Field(default=False, description="also to a region not confirmed healthy")
    reason: str = ""


class FailbackRequest(BaseModel):
    reason: str = ""


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(_finite(data), status_code=status)


def _finite(value: Any) -> Any:
    """JSON has no Infinity/NaN; make them null rather than fail the whole answer."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def create_app(probe: Probe, admin: Admin, admin_token: SecretStr | None) -> Starlette:
    async def metrics(_: Request) -> Response:
        return Response(probe.metrics_text(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        ok, reason = probe.liveness()
        return _json({"status": "ok" if ok else "stalled", "detail": reason}, 200 if ok else 503)

    async def readyz(_: Request) -> Response:
        ok, reason = probe.readiness()
        return _json({"status": "ready" if ok else "not ready", "detail": reason}, 200 if ok else 503)

    async def status(_: Request) -> Response:
        return _json(probe.status())

    def authorized(request: Request) -> Response | None:
        if admin_token is None:
            return _json({"message": "admin API disabled: set server.admin_token"}, 403)
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        expected = admin_token.get_secret_value().strip().encode()
        # An empty expected token never matches (the config refuses one; this is the second lock).
        if scheme.lower() != "bearer" or not expected or not hmac.compare_digest(given.encode(), expected):
            return _json({"message": "missing or wrong bearer token"}, 401)
        return None

    async def parse(request: Request, model: type[BaseModel]) -> BaseModel | Response:
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return _json({"message": problems}, 400)

    async def hold(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, HoldRequest)
        if isinstance(body, Response):
            return body
        assert isinstance(body, HoldRequest)
        try:
            result = await admin.hold(body.strategy, body.seconds, body.region, body.reason)
        except KeyError as exc:
            return _json({"message": str(exc.args[0])}, 404)
        return _json(result)

    async def release(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, ReleaseRequest)
        if isinstance(body, Response):
            return body
        assert isinstance(body, ReleaseRequest)
        try:
            result = await admin.release(body.strategy, override=body.override, reason=body.reason)
        except KeyError as exc:
            return _json({"message": str(exc.args[0])}, 404)
        return _json(result)

    async def dry_run(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, DryRunRequest)
        if isinstance(body, Response):
            return body
        assert isinstance(body, DryRunRequest)
        return _json(await admin.set_dry_run(body.enabled))

    async def move(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, MoveRequest)
        if isinstance(body, Response):
            return body
        assert isinstance(body, MoveRequest)
        try:
            code, result = await admin.move(
                request.path_params["strategy"], body.to, force=body.force, reason=body.reason
            )
        except KeyError as exc:
            return _json({"message": str(exc.args[0])}, 404)
        return _json(result, code)

    async def failback(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        # An empty body is a failback without a reason.
        body = await parse(request, FailbackRequest) if await request.body() else FailbackRequest()
        if isinstance(body, Response):
            return body
        assert isinstance(body, FailbackRequest)
        try:
            code, result = await admin.failback(request.path_params["strategy"], reason=body.reason)
        except KeyError as exc:
            return _json({"message": str(exc.args[0])}, 404)
        return _json(result, code)

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/status", status),
            Route("/admin/hold", hold, methods=["POST"]),
            Route("/admin/release", release, methods=["POST"]),
            Route("/admin/dry-run", dry_run, methods=["PUT", "POST"]),
            Route("/admin/strategies/{strategy}/move", move, methods=["POST"]),
            Route("/admin/strategies/{strategy}/failback", failback, methods=["POST"]),
        ]
    )
