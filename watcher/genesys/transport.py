"""The client's transport and lifecycle state: the one place that picks how bytes travel.

A `Wire` carries one request and reads its answer whole. Two exist:

- `AiohttpWire` (the daemon's: `transport_kind="aiohttp"`, no transport given) speaks to aiohttp
  directly. At a hundred polls a second the wrapping of every aiohttp request and answer in httpx's
  `Request`/`Response`/`Headers` (httpx-aiohttp) cost as much CPU as aiohttp itself (BENCHMARKS.md,
  5b); the API needs nothing of httpx's client on the request path.
- `HttpxWire` sends through an `httpx.AsyncClient`'s transport for the URL (its mounts, a
  `transport=` given by a test, respx's mocks): what users and tests mock.

Both answer an `Answer` and fail with httpx's exception types (aiohttp's are mapped by
httpx-aiohttp's own table), so the pipeline's one error mapping (`errors.transport_error`) serves
both, and the token endpoint keeps its `httpx.AsyncClient` (on the same aiohttp session).
"""

from __future__ import annotations

import enum
import functools
import json as jsonlib
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import aiohttp
import anyio
import httpx

TransportKind = Literal["aiohttp", "httpx"]


class ClientState(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class Answer:
    """One HTTP answer, read whole: its status, headers (case-insensitive), body and the time the
    exchange took (never the wait for the budget, the token or the concurrency cap)."""

    __slots__ = ("content", "elapsed", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes, elapsed: float) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.elapsed = elapsed

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        """The body as JSON (`ValueError` if it is not); UTF-8, -16 or -32 as JSON allows."""
        return jsonlib.loads(self.content)


class Wire(Protocol):
    """How one request reaches the API host (see the module's text)."""

    async def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Answer: ...

    async def aclose(self) -> None: ...


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing: the API is stateless (a bearer token on every request)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class CookielessClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` without cookie handling. The API and the login host set no cookie the
    watcher needs, and httpx would otherwise wrap every answer to scan it for `Set-Cookie`."""

    _none = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._none

    @cookies.setter
    def cookies(self, value: object) -> None:
        return None


def make_transport(kind: TransportKind, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """An httpx transport of either kind (for tests and tools that wrap one, e.g. to spy on it)."""
    if kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)


@functools.cache
def _timeouts(seconds: float) -> dict[str, float | None]:
    """The transport's timeout extension for one deadline (connect, read, write and pool)."""
    return httpx.Timeout(seconds).as_dict()


class HttpxWire:
    """Through the transport an `httpx.AsyncClient` picks for the URL.

    What `client.request` does, less its auth flow, redirects, cookies, event hooks and header
    merging: the API needs none of them. `headers` are sent as given (the caller includes the
    client's own). The transport is the client's choice for the URL (`_transport_for_url`, as in
    `send`), so mounts, and respx's mocks of it, still apply. The deadline bounds the whole exchange,
    the body's read included.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._urls: dict[str, httpx.URL] = {}

    def _parsed(self, url: str) -> httpx.URL:
        """Parsing a URL is a third of httpx's per-request cost; the same few URLs recur every cycle."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 4096:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Answer:
        parsed = self._parsed(url)
        request = httpx.Request(
            method,
            parsed,
            params=dict(params) if params else None,
            json=json,
            headers=dict(headers),
            extensions={"timeout": _timeouts(timeout)},
        )
        transport = self._client._transport_for_url(parsed)
        with anyio.fail_after(timeout):
            started = time.perf_counter()
            response = await transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
                elapsed = time.perf_counter() - started
        return Answer(response.status_code, response.headers, response.content, elapsed)

    async def aclose(self) -> None:
        return None  # the client is closed by its owner


def _dumps(body: Any) -> bytes:
    """A JSON body as httpx encodes one (compact, UTF-8, no NaN)."""
    return jsonlib.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@functools.cache
def _aiohttp_timeout(seconds: float) -> aiohttp.ClientTimeout:
    # `total` bounds the whole exchange: the wait for a pooled connection, connect, send, and the
    # answer's body read whole (aiohttp's timer runs until the body is read).
    return aiohttp.ClientTimeout(total=seconds)


class AiohttpWire:
    """Straight to aiohttp: one `ClientSession` (its pool capped at `max_connections`), no cookies,
    no redirects; aiohttp offers and decodes the compressions it supports."""

    def __init__(self, max_connections: int, keepalive_expiry: float | None = 5.0) -> None:
        self._max_connections = max_connections
        self._keepalive = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The session, made on first use (aiohttp makes one only inside a running loop).

        It trusts what httpx's client trusted: the same TLS context (certifi's CAs, or
        SSL_CERT_FILE / SSL_CERT_DIR) and the proxy of the environment (HTTPS_PROXY, NO_PROXY)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive,
                ssl=httpx.create_ssl_context(),
            )
            # aiohttp looks the proxy up in the environment at every request when it trusts it:
            # only worth it where one is set (the environment does not change under a process).
            proxied = bool(urllib.request.getproxies_environment())
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=proxied
            )
        return self._session

    async def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Answer:
        session = self.session()
        data = None
        if json is not None:
            data = _dumps(json)
            headers = {**headers, "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            async with session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=_aiohttp_timeout(timeout),
            ) as response:
                content = await response.read()
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc) from exc
        return Answer(response.status, response.headers, content, time.perf_counter() - started)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _as_httpx(exc: aiohttp.ClientError) -> httpx.RequestError:
    """aiohttp's failure as the httpx exception that says the same, for the one error mapping
    (`errors.transport_error`). Not httpx-aiohttp's table: it calls every connection error, a
    refused connection or a server hanging up included, a connect *timeout*."""
    message = type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)  # refused, unreachable, DNS: `exc` (an OSError) says which
    if isinstance(exc, aiohttp.ClientPayloadError):
        undecodable = isinstance(exc.__cause__, aiohttp.http_exceptions.ContentEncodingError)
        return httpx.DecodingError(message) if undecodable else httpx.ReadError(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx.NetworkError(message)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message)
    return httpx.TransportError(message)


def make_client(
    kind: TransportKind,
    limits: httpx.Limits,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
    headers: Mapping[str, str],
) -> tuple[Wire, httpx.AsyncClient, dict[str, str]]:
    """The wire for API calls, the `httpx.AsyncClient` for the token endpoint, and the headers every
    API call sends (the wire's caller adds the token).

    With a `transport` (tests, users' mocks) or `kind="httpx"` everything goes through the httpx
    client, whose own headers (`Accept-Encoding` among them) are sent as httpx would. Otherwise API
    calls take the `AiohttpWire` and the token client shares its session (one connection pool).
    """
    wire: AiohttpWire | None = None
    if transport is None and kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        wire = AiohttpWire(limits.max_connections or 100, limits.keepalive_expiry)
        session: Callable[[], aiohttp.ClientSession] = wire.session
        transport = AiohttpTransport(limits=limits, client=session)
    http = CookielessClient(
        transport=transport or make_transport("httpx", limits),
        timeout=httpx.Timeout(timeout),
        headers=dict(headers),
    )
    if wire is not None:
        return wire, http, dict(headers)
    return HttpxWire(http), http, dict(http.headers)
