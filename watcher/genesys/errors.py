"""Typed errors of the Genesys Cloud client.

Each carries the HTTP status, the endpoint template (never a URL with ids or query strings that could
carry data) and the server's `message`, so a log line or a CLI error says what failed and what to do.
No error text ever holds a credential: the client never puts request headers or token bodies in them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from watcher.logs import mask_credentials

# Scopes named by the design documents for each endpoint template key; a 403 names the missing one.
SCOPES: dict[tuple[str, str], str] = {
    ("GET", "regions"): "architecture:region:read",
    ("GET", "region_health"): "architecture:region:read",
    ("GET", "strategy"): "routing:strategy:read",
    ("PUT", "strategy"): "routing:strategy:write",
    ("GET", "rule"): "eventbridge:read",
    ("PUT", "rule"): "eventbridge:write",
    ("GET", "target"): "eventbridge:read",
    ("GET", "webhooks"): "webhook:read",
    ("POST", "webhooks"): "webhook:write",
    ("GET", "audit_logs"): "platform:auditlog:read",
    # The public platform's permissions (SPEC §6), for the objects that follow a strategy.
    ("GET", "trigger"): "processautomation:trigger:view",
    ("PUT", "trigger"): "processautomation:trigger:edit",
    ("GET", "emergency_group"): "architect:emergencyGroup:view",
    ("PUT", "emergency_group"): "architect:emergencyGroup:edit",
    ("POST", "audit_query"): "audits:audit:view",
    # The real levers of an organization (SPEC §6.2.1).
    ("GET", "site"): "telephony:plugin:all",
    ("PUT", "site"): "telephony:plugin:all",
    ("GET", "ivr"): "routing:callRoute:view",
    ("PUT", "ivr"): "routing:callRoute:edit",
    ("GET", "data_action"): "integrations:action:view",
    ("PATCH", "data_action"): "integrations:action:edit",
}


class GenesysError(Exception):
    """Base of every client error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        server_message: str | None = None,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.server_message = server_message
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.endpoint}: " if self.endpoint else ""
        code = f"HTTP {self.status}: " if self.status is not None else ""
        detail = f" (server said: {self.server_message})" if self.server_message else ""
        return f"{where}{code}{self.message}{detail}"


class AuthenticationError(GenesysError):
    """401 on the token endpoint, or 401 again right after a fresh token."""


class PermissionDenied(GenesysError):
    """403: the OAuth client lacks a scope; `scope` names it when known."""

    def __init__(
        self,
        message: str,
        *,
        scope: str | None = None,
        status: int | None = None,
        endpoint: str | None = None,
        server_message: str | None = None,
    ) -> None:
        self.scope = scope
        super().__init__(message, status=status, endpoint=endpoint, server_message=server_message)


class NotFound(GenesysError):
    """404."""


class BadRequest(GenesysError):
    """400 other than a version conflict: the payload broke the server's schema."""


class VersionConflict(GenesysError):
    """409, or 400 saying the version `does not match the current version`: re-read, re-plan, retry."""


class RateLimited(GenesysError):
    """429 that outlived the retries; `retry_after` in seconds when the server gave one."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        endpoint: str | None = None,
        server_message: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, endpoint=endpoint, server_message=server_message)


class ServerError(GenesysError):
    """5xx that outlived the retries."""


class TransportFailure(GenesysError):
    """Connection refused/reset, DNS, TLS or timeout, after the retries."""


class RequestTimeout(TransportFailure):
    """The request did not complete within its deadline."""


class MalformedResponse(GenesysError):
    """The server answered 2xx with a body that is not the expected JSON shape."""


class ClientClosed(GenesysError):
    """The client was used before `open()` or after `aclose()`."""


def refused_not_timed_out(exc: httpx.ConnectTimeout | httpx.ConnectError) -> str | None:
    """The real failure behind a failed connection (refused, unreachable, DNS), or None.

    httpx-aiohttp maps every aiohttp connection error, a refused connection included, to
    `ConnectTimeout`; an explanation saying "timeout" for a port nobody listens on would send an
    operator the wrong way. The aiohttp exception is kept as the cause: look at it.
    """
    cause = exc.__cause__
    if (
        isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError)
        and isinstance(cause, OSError)
        and not isinstance(cause, TimeoutError)
    ):
        reason = getattr(cause, "os_error", None) or cause
        return f"connection failed: {type(reason).__name__}: {getattr(reason, 'strerror', None) or reason}"
    return None


def transport_error(exc: Exception, endpoint: str, deadline: float, prefix: str = "") -> GenesysError | None:
    """The typed error for what went wrong while sending one request, or None if `exc` is not a
    transport matter: a timeout (ours or httpx's), a refused connection that httpx-aiohttp calls a
    timeout, an undecodable body, any other transport failure. The one mapping every call uses.
    """
    if (
        isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError)
        and (refused := refused_not_timed_out(exc)) is not None
    ):
        return TransportFailure(prefix + refused, endpoint=endpoint)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return RequestTimeout(f"{prefix}no answer within {deadline:g}s", endpoint=endpoint)
    if isinstance(exc, httpx.DecodingError):
        return MalformedResponse(f"{prefix}answer body could not be decoded", endpoint=endpoint)
    if isinstance(exc, httpx.RemoteProtocolError):
        return TransportFailure(
            f"{prefix}the connection was closed or broken before a whole answer came", endpoint=endpoint
        )
    if isinstance(exc, httpx.RequestError):
        return TransportFailure(f"{prefix}transport error: {type(exc).__name__}", endpoint=endpoint)
    return None


class HttpAnswer(Protocol):
    """What the error mapping reads of an answer (an `httpx.Response`, or the wire's `Answer`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def server_message(response: HttpAnswer) -> str | None:
    """The `message` of an error body (or OAuth's error fields), cut to a sane length."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                # A server (or gateway) that echoes the Authorization header must not put the
                # credential into our exception text and from there into the logs.
                return mask_credentials(value[:500])
    return None


def retry_after(response: HttpAnswer) -> float | None:
    """`Retry-After` in seconds (the platform sends seconds), or None."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


VERSION_MISMATCH = "does not match the current version"


def error_for(response: HttpAnswer, method: str, endpoint: str) -> GenesysError:
    """The typed error for a non-2xx answer of an API call."""
    status = response.status_code
    msg = server_message(response)
    if status == 409 or (status == 400 and msg and VERSION_MISMATCH in msg.lower()):
        return VersionConflict(
            "version conflict: re-read and re-plan",
            status=status,
            endpoint=endpoint,
            server_message=msg,
        )
    if status == 400:
        return BadRequest(
            "request refused by schema validation",
            status=status,
            endpoint=endpoint,
            server_message=msg,
        )
    if status == 401:
        return AuthenticationError(
            "unauthorized even with a fresh token: check the client credentials "
            "(genesys.client_id and the client secret)",
            status=status,
            endpoint=endpoint,
            server_message=msg,
        )
    if status == 403:
        scope = SCOPES.get((method, endpoint))
        hint = f"the OAuth client lacks the scope {scope}" if scope else "forbidden (missing scope)"
        return PermissionDenied(hint, scope=scope, status=status, endpoint=endpoint, server_message=msg)
    if status == 404:
        return NotFound("not found", status=status, endpoint=endpoint, server_message=msg)
    if status == 429:
        return RateLimited(
            "rate limited",
            retry_after=retry_after(response),
            status=status,
            endpoint=endpoint,
            server_message=msg,
        )
    if status >= 500:
        return ServerError("server error", status=status, endpoint=endpoint, server_message=msg)
    return GenesysError("unexpected answer", status=status, endpoint=endpoint, server_message=msg)
