"""The shapes of the simulator's answers: JSON errors and JSON request bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from watcher.sim._faults import default_message
from watcher.sim._versioned import ApiError, error_code

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret

_OAUTH_ERRORS = {400: "invalid_request", 401: "invalid_client", 503: "temporarily_unavailable"}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A Genesys-style error: ``{"message", "code", "status"}``."""
    body = {"message": message, "code": code or error_code(status), "status": status}
    return JSONResponse(body, status_code=status, headers=headers)


def oauth_error_response(
    status: int, error: str, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An RFC 6749 error that also carries the platform's ``message``/``code``/``status``."""
    body = {
        "error": error,
        "error_description": message,
        "message": message,
        "code": error,
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def fault_response(path: str, status: int, message: str | None, retry_after: int | None) -> JSONResponse:
    """The answer of an injected error; 429 (and throttling 400s) carry ``Retry-After``."""
    on_token = path == TOKEN_PATH
    text = message or default_message(status, token_endpoint=on_token)
    headers = None
    if status == 429 or retry_after is not None:
        headers = {"Retry-After": str(retry_after if retry_after is not None else 1)}
    if on_token:
        return oauth_error_response(status, _OAUTH_ERRORS.get(status, "server_error"), text, headers=headers)
    return error_response(status, text, headers=headers)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 naming what is wrong."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "body: invalid JSON", "bad.request") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body: must be a JSON object", "bad.request")
    return body
