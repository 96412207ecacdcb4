"""The ASGI application: login host and API host on one port, plus ``/_sim``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from watcher.sim._admin import AdminEndpoints
from watcher.sim._api import GenesysEndpoints
from watcher.sim._lever_api import LeverEndpoints
from watcher.sim._platform_api import PlatformEndpoints
from watcher.sim._responses import error_response
from watcher.sim._shell import SimulatorShell, silence_dropped_connections
from watcher.sim._state import SimulatorState
from watcher.sim._versioned import ApiError


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.code)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods answer JSON like every other error.
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail, headers=exc.headers)


def create_app(state: SimulatorState) -> Starlette:
    """A Starlette app serving ``state``; run it with uvicorn or :func:`running_simulator`.

    Example::

        app = create_app(SimulatorState(default_seed()))
    """
    silence_dropped_connections()
    routes = (
        GenesysEndpoints(state).routes()
        + PlatformEndpoints(state).routes()
        + LeverEndpoints(state).routes()
        + AdminEndpoints(state).routes()
    )
    return Starlette(
        routes=routes,
        middleware=[Middleware(SimulatorShell, state=state)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
