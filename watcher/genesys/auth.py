"""OAuth client credentials: one token, fetched once, refreshed ahead of expiry.

The token is shared by every request of the process. Fetching is single-flight: however many calls
find the token missing or expired at once, exactly one token request goes out and the others wait for
its answer. A background task refreshes the token before it expires, so requests rarely wait at all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import httpx
import structlog
from pydantic import SecretStr
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from watcher.aio import Backoff, sleep
from watcher.genesys.errors import (
    AuthenticationError,
    GenesysError,
    MalformedResponse,
    RateLimited,
    ServerError,
    TransportFailure,
    retry_after,
    server_message,
    transport_error,
)
from watcher.genesys.retry import wait_for_retry
from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.auth")

REFRESH_BACKOFF = Backoff(2.0, 60.0, "none")


class TokenThrottled(RateLimited):
    """The token endpoint said 400 `rate limit exceeded` (its way of throttling): back off, retry."""


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)  # a repr in a log or traceback must not carry the bearer token
    obtained_at: float
    expires_at: float

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.obtained_at


class TokenSource:
    """Client-credentials tokens for one OAuth client.

    >>> # tokens = TokenSource(http, token_url=..., client_id="id", client_secret=SecretStr("s"))
    >>> # bearer = await tokens.token()
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        metrics: WatcherMetrics | None = None,
        refresh_margin: float = 300.0,
        max_retries: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        timeout: float = 10.0,
    ) -> None:
        self._http = http
        self._timeout = timeout
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._metrics = metrics
        self._margin = refresh_margin
        self._max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._current: _Token | None = None
        self._lock = anyio.Lock()
        self.fetches = 0

    def __repr__(self) -> str:
        return f"TokenSource(client_id={self._client_id!r}, token_url={self._token_url!r})"

    @property
    def has_token(self) -> bool:
        return self._usable(self._current)

    def _usable(self, token: _Token | None) -> bool:
        if token is None:
            return False
        # A little skew so a token is not sent in its last instant.
        skew = min(5.0, token.lifetime * 0.05)
        return self._clock() < token.expires_at - skew

    def refresh_due_in(self) -> float:
        """Seconds until the background refresh should fetch a new token (0 = now)."""
        token = self._current
        if token is None:
            return 0.0
        margin = min(self._margin, token.lifetime * 0.25)
        return max(0.0, token.expires_at - margin - self._clock())

    async def token(self) -> str:
        """A valid bearer token, fetched if there is none."""
        current = self._current
        if self._usable(current):
            assert current is not None
            return current.value
        return await self._refresh(stale=current)

    def invalidate(self, value: str) -> None:
        """Forget `value` after a 401, unless a newer token already replaced it."""
        if self._current is not None and self._current.value == value:
            self._current = None

    async def refresh(self) -> None:
        """Fetch a new token now, even if the current one is still valid."""
        await self._refresh(stale=self._current, force=True)

    async def _refresh(self, *, stale: _Token | None, force: bool = False) -> str:
        async with self._lock:
            current = self._current
            # Someone else refreshed while we waited for the lock: use theirs.
            if current is not None and current is not stale and self._usable(current):
                return current.value
            if not force and self._usable(current):
                assert current is not None
                return current.value
            try:
                token = await self._fetch_with_retries()
            except GenesysError:
                self._count("failure")
                raise
            self._count("success")
            self._current = token
            return token.value

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.token_refreshes.labels(result=result).inc()

    def _malformed(self) -> None:
        if self._metrics is not None:
            self._metrics.malformed_responses.labels(endpoint="token").inc()

    async def _fetch_with_retries(self) -> _Token:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((RateLimited, ServerError, TransportFailure)),
            stop=stop_after_attempt(self._max_retries + 1),
            wait=wait_for_retry,
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._fetch_once()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fetch_once(self) -> _Token:
        endpoint = "token"
        self.fetches += 1
        try:
            # httpx timeouts bound each read, not the whole exchange (and a mock transport has
            # none): a token endpoint that trickles or hangs must not stall every request behind it.
            with anyio.fail_after(self._timeout):
                response = await self._http.post(
                    self._token_url,
                    auth=(self._client_id, self._secret.get_secret_value()),
                    data={"grant_type": "client_credentials"},
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                )
        except (TimeoutError, httpx.RequestError) as exc:
            error = transport_error(exc, endpoint, self._timeout, prefix="token request: ")
            if error is None:  # pragma: no cover - transport_error maps every RequestError
                raise
            if isinstance(error, MalformedResponse):
                self._malformed()
            raise error from None
        status = response.status_code
        if self._metrics is not None:
            self._metrics.api_requests.labels(endpoint=endpoint, code=str(status)).inc()
        message = server_message(response)
        if status == 200:
            return self._parse(response)
        if status == 400 and message and "rate limit exceeded" in message.lower():
            raise TokenThrottled(
                "token endpoint is throttling",
                status=400,
                endpoint=endpoint,
                server_message=message,
                retry_after=retry_after(response),
            )
        if status == 429:
            raise RateLimited(
                "token endpoint rate limit",
                status=429,
                endpoint=endpoint,
                retry_after=retry_after(response),
            )
        if status in (400, 401):
            raise AuthenticationError(
                "token refused: check the client credentials (genesys.client_id and the client secret)",
                status=status,
                endpoint=endpoint,
                server_message=message,
            )
        if status >= 500:
            raise ServerError("token endpoint failed", status=status, endpoint=endpoint)
        raise GenesysError(
            "unexpected answer from the token endpoint",
            status=status,
            endpoint=endpoint,
            server_message=message,
        )

    def _parse(self, response: httpx.Response) -> _Token:
        try:
            body = response.json()
            value = body["access_token"]
            lifetime = float(body.get("expires_in", 86399))
        except (ValueError, KeyError, TypeError):
            # Never echo the body: it may hold a token.
            self._malformed()
            raise MalformedResponse(
                "token answer is not JSON with access_token and expires_in", endpoint="token"
            ) from None
        # An infinite or NaN lifetime (Python's JSON accepts both) would mean "never refresh".
        if not isinstance(value, str) or not value or not math.isfinite(lifetime) or lifetime <= 0:
            self._malformed()
            raise MalformedResponse("token answer has an empty token or lifetime", endpoint="token")
        now = self._clock()
        log.debug("token obtained", expires_in=lifetime)
        return _Token(value=value, obtained_at=now, expires_at=now + lifetime)

    async def run_refresher(self, stop: anyio.Event | None = None) -> None:
        """Refresh the token ahead of its expiry until cancelled (or `stop` is set).

        A failed refresh is retried with backoff; the current token keeps serving until it expires.
        """
        failures = 0
        while stop is None or not stop.is_set():
            delay = self.refresh_due_in()
            if delay > 0:
                await self._pause(delay, stop)
                continue
            try:
                await self.refresh()
                failures = 0
            except GenesysError as exc:
                failures += 1
                backoff = REFRESH_BACKOFF.delay(failures)
                log.warning("token refresh failed", error=str(exc), retry_in=round(backoff, 2))
                await self._pause(backoff, stop)

    async def _pause(self, delay: float, stop: anyio.Event | None) -> None:
        # The injected `sleep`, so a fake clock drives the refresher; `stop` still wakes it.
        await sleep(delay, stop, sleeper=self._sleep)
