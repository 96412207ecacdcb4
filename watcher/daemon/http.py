"""The daemon's HTTP surface: /metrics, /healthz, /readyz, /status and the bearer-guarded admin API.

It is served from the daemon's own event loop on purpose: if the loop is stuck, these stop answering,
and the liveness probe fails as it should.

An admin request body is bounded (`MAX_BODY_BYTES`, refused with 413 before it is read: a 10 MiB
`reason` must not cost the daemon a hundred MiB), and so are its text fields. A command the daemon
does not carry out is answered with its `Refusal`'s status and reason, never 200.
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


MAX_BODY_BYTES = 64 * 1024
MAX_REASON_CHARS = 1024
MAX_ID_CHARS = 256


class Refusal(Exception):
    """An operator command not carried out: the HTTP status and the reason the operator reads.

    409: a conflict with the world (a region not healthy); 400/404: an unknown or unfit strategy or
    region; 503: it cannot be made durable (the state dir refuses writes).
    """

    def __init__(self, status: int, message: str, *, unknown: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.unknown = unknown  # "strategy" or "region" when the command named one that is not known

    def answer(self, command: str) -> dict[str, Any]:
        doc: dict[str, Any] = {"message": self.message, "refused": True, "command": command}
        if self.unknown is not None:
            doc["unknown"] = self.unknown
        return doc


class Admin(Protocol):
    """What the admin API asks of the daemon."""

    async def refused(
        self, command: str, strategy: str | None, data: dict[str, Any], refusal: Refusal
    ) -> None: ...

    async def hold(
        self, strategy: str, seconds: float, region: str | None, reason: str
    ) -> dict[str, Any]: ...
    async def release(self, strategy: str, *, override: bool = False, reason: str = "") -> dict[str, Any]: ...
    async def set_dry_run(self, enabled: bool) -> dict[str, Any]: ...
    async def move(
        self, strategy: str, region: str, *, force: bool = False, reason: str = ""
    ) -> tuple[int, dict[str, Any]]: ...
    async def failback(self, strategy: str, *, reason: str = "") -> tuple[int, dict[str, Any]]: ...
    async def drill_start(
        self, strategy: str, to: str | None, seconds: float
    ) -> tuple[int, dict[str, Any]]: ...
    async def drill_abort(self, reason: str) -> tuple[int, dict[str, Any]]: ...
    def drills(self) -> dict[str, Any]: ...


class HoldRequest(BaseModel):
    strategy: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    seconds: float = Field(gt=0, le=7 * 86400, description="bounded: a hold always expires")
    region: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="pin to this region; freeze when absent",
    )
    reason: str = Field(default="", max_length=MAX_REASON_CHARS)


class ReleaseRequest(BaseModel):
    strategy: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    # `release --override`: also let go the automatic switch a safety rule holds back (SPEC §8).
    override: bool = False
    reason: str = Field(default="", max_length=MAX_REASON_CHARS)


class DryRunRequest(BaseModel):
    enabled: bool


class MoveRequest(BaseModel):
    to: str = Field(min_length=1, description="a region of the strategy")
    force: bool = Field(default=False, description="also to a region not confirmed healthy")
    reason: str = ""


class FailbackRequest(BaseModel):
    reason: str = ""


class DrillRequest(BaseModel):
    strategy: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    to: str | None = Field(default=None, min_length=1, max_length=MAX_ID_CHARS)
    seconds: float = Field(gt=0, le=86400, description="how long the strategy stays on the drill region")


class DrillAbortRequest(BaseModel):
    reason: str = Field(default="", max_length=MAX_REASON_CHARS)


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

    async def bounded_body(request: Request) -> bytes | None:
        """The body, or None when it exceeds `MAX_BODY_BYTES` (a declared length is refused
        before a byte is read; an undeclared one is read up to the bound only)."""
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > MAX_BODY_BYTES:
                    return None
            except ValueError:
                return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return None
        return body

    async def refuse(command: str, strategy: str | None, data: dict[str, Any], refusal: Refusal) -> Response:
        await admin.refused(command, strategy, data, refusal)
        return _json(refusal.answer(command), refusal.status)

    async def parse(
        request: Request, model: type[BaseModel], command: str, *, empty: BaseModel | None = None
    ) -> BaseModel | Response:
        """The body as `model` (bounded: 413 before an oversized one is read); `empty`, if given,
        stands for a request without a body."""
        body = await bounded_body(request)
        if body is None:
            refusal = Refusal(413, f"request body over {MAX_BODY_BYTES // 1024} KiB refused")
            return await refuse(command, None, {}, refusal)
        if empty is not None and not body.strip():
            return empty
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return await refuse(command, None, {}, Refusal(400, problems))

    async def hold(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, HoldRequest, "hold")
        if isinstance(body, Response):
            return body
        assert isinstance(body, HoldRequest)
        try:
            result = await admin.hold(body.strategy, body.seconds, body.region, body.reason)
        except Refusal as refusal:
            return _json(refusal.answer("pin" if body.region else "hold"), refusal.status)
        return _json(result)

    async def release(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, ReleaseRequest, "release")
        if isinstance(body, Response):
            return body
        assert isinstance(body, ReleaseRequest)
        try:
            result = await admin.release(body.strategy, override=body.override, reason=body.reason)
        except Refusal as refusal:
            return _json(refusal.answer("release"), refusal.status)
        return _json(result)

    async def dry_run(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, DryRunRequest, "dry-run")
        if isinstance(body, Response):
            return body
        assert isinstance(body, DryRunRequest)
        try:
            return _json(await admin.set_dry_run(body.enabled))
        except Refusal as refusal:
            return _json(refusal.answer("dry-run"), refusal.status)

    async def move(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, MoveRequest, "move")
        if isinstance(body, Response):
            return body
        assert isinstance(body, MoveRequest)
        try:
            code, result = await admin.move(
                request.path_params["strategy"], body.to, force=body.force, reason=body.reason
            )
        except Refusal as refusal:  # an unknown strategy
            return await refuse("move", request.path_params["strategy"], {"to": body.to}, refusal)
        return _json(result, code)

    async def failback(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        # An empty body is a failback without a reason.
        body = await parse(request, FailbackRequest, "failback", empty=FailbackRequest())
        if isinstance(body, Response):
            return body
        assert isinstance(body, FailbackRequest)
        try:
            code, result = await admin.failback(request.path_params["strategy"], reason=body.reason)
        except Refusal as refusal:  # an unknown strategy
            return await refuse("failback", request.path_params["strategy"], {}, refusal)
        return _json(result, code)

    async def drill_start(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, DrillRequest, "drill start")
        if isinstance(body, Response):
            return body
        assert isinstance(body, DrillRequest)
        try:
            code, result = await admin.drill_start(body.strategy, body.to, body.seconds)
        except Refusal as refusal:
            return _json(refusal.answer("drill start"), refusal.status)
        except KeyError as exc:
            return _json({"message": f"unknown strategy {exc.args[0]!r}", "unknown": "strategy"}, 404)
        return _json(result, code)

    async def drill_abort(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await parse(request, DrillAbortRequest, "drill abort", empty=DrillAbortRequest())
        if isinstance(body, Response):
            return body
        assert isinstance(body, DrillAbortRequest)
        code, result = await admin.drill_abort(body.reason)
        return _json(result, code)

    async def drills(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        return _json(admin.drills())

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
            Route("/admin/drills", drill_start, methods=["POST"]),
            Route("/admin/drills", drills, methods=["GET"]),
            Route("/admin/drills/abort", drill_abort, methods=["POST"]),
        ]
    )
