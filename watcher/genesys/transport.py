"""The client's transport and lifecycle state: the one place that picks how bytes travel."""

from __future__ import annotations

import datetime
import enum
import functools
import time
from collections.abc import Mapping
from typing import Any, Literal

import httpx

TransportKind = Literal["aiohttp", "httpx"]


class ClientState(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


def make_transport(kind: TransportKind, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The transport the benchmark chose (aiohttp: ~3x less CPU per request), or httpx's own."""
    if kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing: the API is stateless (a bearer token on every request)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class CookielessClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` without cookie handling. The API and the login host set no cookie the
    watcher needs, and httpx would otherwise wrap every answer to scan it for `Set-Cookie`: at a
    steady 20 polls a second that is a measurable share of the daemon's CPU."""

    _none = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._none

    @cookies.setter
    def cookies(self, value: object) -> None:
        return None


@functools.cache
def _timeouts(seconds: float) -> dict[str, float | None]:
    """The transport's timeout extension for one deadline (connect, read, write and pool)."""
    return httpx.Timeout(seconds).as_dict()


async def exchange(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    params: Mapping[str, str | int] | None,
    json: Any,
    headers: dict[str, str],
    timeout: float,
) -> httpx.Response:
    """One request, its answer read whole, through the transport `client` picks for the URL.

    What `client.request` does, less its auth flow, redirects, cookies, event hooks and header
    merging: the API needs none of them, and at twenty polls a second they cost as much CPU as the
    transport itself (BENCHMARKS.md, 5). `headers` are sent as given (the caller includes the
    client's own). The transport is the client's choice for the URL (`_transport_for_url`, as in
    `send`), so mounts, and respx's mocks of it, still apply; `elapsed` is set as `send` sets it.
    """
    request = httpx.Request(
        method,
        url,
        params=dict(params) if params else None,
        json=json,
        headers=headers,
        extensions={"timeout": _timeouts(timeout)},
    )
    transport = client._transport_for_url(url)
    started = time.perf_counter()
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
        response.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
    return response
