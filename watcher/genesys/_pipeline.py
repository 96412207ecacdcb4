"""The request pipeline of `GenesysClient`: the one way a request reaches the API host.

Budget, token (one refresh on a 401), concurrency cap, deadline, the one error mapping, the
request metrics and the reachability record, in that order, for every call. `GenesysClient` adds
the calls of SPEC §2 on top; `PlatformCalls` and the probes use the public surface here
(`request_model`, `probe`) and never build a URL, read a status code or take budget themselves.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import httpx
import structlog
from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from watcher.config import GenesysSettings
from watcher.genesys.auth import TokenSource
from watcher.genesys.budget import RequestBudget
from watcher.genesys.errors import (
    AuthenticationError,
    ClientClosed,
    GenesysError,
    MalformedResponse,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportFailure,
    error_for,
    transport_error,
)
from watcher.genesys.reachability import Reachability
from watcher.genesys.retry import wait_for_retry
from watcher.genesys.transport import Answer, ClientState, TransportKind, make_client
from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.genesys")

M = TypeVar("M", bound=BaseModel)
_RETRYABLE = (RateLimited, ServerError, TransportFailure)
PROBE_ENDPOINT = "probe"  # the `endpoint` label of failover_watcher_api_requests_total


def _retryable(exc: BaseException) -> bool:
    """Whether a request attempt may be repeated.

    A failure of the token endpoint has already been retried by `TokenSource`; retrying it again here
    would multiply the attempts (and the load on a throttled token endpoint).
    """
    return isinstance(exc, _RETRYABLE) and exc.endpoint != "token"


@dataclass(frozen=True)
class ProbeAnswer:
    """What the API host answered a probe: its HTTP status, and how long the exchange took when known."""

    status: int
    latency_ms: float | None


class RequestPipeline:
    """Lifecycle and request pipeline of the client; see `GenesysClient` for the calls."""

    def __init__(
        self,
        settings: GenesysSettings,
        client_secret: SecretStr,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        transport_kind: TransportKind = "aiohttp",
        metrics: WatcherMetrics | None = None,
        budget: RequestBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._sleep = sleep
        limits = httpx.Limits(
            max_connections=settings.max_concurrency,
            max_keepalive_connections=settings.max_concurrency,
        )
        # API calls take the wire; the token endpoint the httpx client (the same pool when aiohttp).
        self._wire, self._http, self._headers = make_client(
            transport_kind,
            limits,
            transport,
            settings.request_timeout_seconds,
            {"Accept": "application/json", "User-Agent": "failover-watcher"},
        )
        self.budget = budget or RequestBudget(settings.requests_per_minute, clock=clock, sleep=sleep)
        self.tokens = TokenSource(
            self._http,
            token_url=settings.login_url + settings.paths.token,
            client_id=settings.client_id,
            client_secret=client_secret,
            metrics=metrics,
            refresh_margin=settings.token_refresh_margin_seconds,
            max_retries=settings.max_retries,
            clock=clock,
            sleep=sleep,
            timeout=settings.request_timeout_seconds,
        )
        self._limiter = anyio.Semaphore(settings.max_concurrency, fast_acquire=True)
        self._urls: dict[tuple[str, ...], str] = {}
        self.state = ClientState.UNOPENED
        self.reachability = Reachability(clock)

    async def aclose(self) -> None:
        if self.state is not ClientState.CLOSED:
            self.state = ClientState.CLOSED
            try:
                await self._wire.aclose()
            finally:
                await self._http.aclose()

    def url(self, endpoint: str, **params: str) -> str:
        """The full URL of a path template of `genesys.paths`, its parameters quoted."""
        template: str = getattr(self.settings.paths, endpoint)
        quoted = {k: quote(v, safe="") for k, v in params.items()}
        return self.settings.api_url + template.format(**quoted)

    def _url_of(self, endpoint: str, path: Mapping[str, str] | None) -> str:
        """`url`, remembered: the same few URLs (a region's health, a strategy) recur every cycle."""
        key = (endpoint, *path.keys(), *path.values()) if path else (endpoint,)
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) > 4096:
                self._urls.clear()
            url = self._urls[key] = self.url(endpoint, **dict(path or {}))
        return url

    # ----------------------------------------------------------------- the public surface

    async def request(
        self,
        method: str,
        endpoint: str,
        *,
        url: str | None = None,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> Any:
        """Send one API call with budget, token, retries; return the parsed JSON body.

        `endpoint` is the path template key (also the metric label). Retries cover 429 (honouring
        `Retry-After`), 5xx and transport errors; every other 4xx is raised at once as a typed error.
        """
        self._check_open(endpoint)
        target = url or self._url_of(endpoint, path)
        attempts = (self.settings.max_retries if retries is None else retries) + 1
        if attempts == 1:
            # Health polls are not retried (a failed poll is the observation): skip the retry machinery.
            response = await self._authorized(method, endpoint, target, params, json, timeout)
        else:
            retrying = AsyncRetrying(
                retry=retry_if_exception(_retryable),
                stop=stop_after_attempt(attempts),
                wait=wait_for_retry,
                sleep=self._sleep,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    response = await self._authorized(method, endpoint, target, params, json, timeout)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            self._malformed(endpoint)
            raise MalformedResponse("answer is not JSON", endpoint=endpoint) from None

    async def request_model(
        self,
        method: str,
        endpoint: str,
        model: type[M],
        *,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> M:
        """`request`, its answer checked against `model` (`MalformedResponse` naming the fields).

        >>> # trigger = await client.request_model("GET", "trigger", Trigger, path={"triggerId": tid})
        """
        data = await self.request(
            method, endpoint, path=path, params=params, json=json, timeout=timeout, retries=retries
        )
        return self._parse(model, data, endpoint)

    async def probe(self, url: str, *, timeout: float, token: bool = True) -> ProbeAnswer:
        """One GET of `url` on the API host, in the budget, never retried (a failed probe *is* the
        observation); any HTTP answer is returned, with the exchange's own time (`Answer.elapsed`:
        never the wait for the budget or the token, so a throttled watcher does not mistake its own
        queue for a slow region).

        With `token` (SPEC §6.1's authenticated probe) a 401 refreshes the token once. Raises
        `RateLimited` (our budget or a 429), token and credential errors, and the transport errors
        (`RequestTimeout`, `TransportFailure`): those say nothing about the answer's status.

        >>> # answer = await client.probe(client.url("date"), timeout=2.0)
        """
        self._check_open(PROBE_ENDPOINT)
        try:
            if token:
                response = await self._authorized("GET", PROBE_ENDPOINT, url, None, None, timeout)
            else:
                response = await self._send("GET", PROBE_ENDPOINT, url, None, None, timeout, None)
        except (RateLimited, AuthenticationError):
            raise
        except GenesysError as exc:
            if exc.endpoint == "token" or exc.status is None:
                raise
            return ProbeAnswer(exc.status, None)
        return ProbeAnswer(response.status_code, response.elapsed * 1000)

    # ----------------------------------------------------------------- one attempt

    def _check_open(self, endpoint: str) -> None:
        if self.state is not ClientState.OPEN:
            raise ClientClosed(f"client is {self.state.value}", endpoint=endpoint)

    async def _authorized(
        self,
        method: str,
        endpoint: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        timeout: float | None,
    ) -> Answer:
        """One attempt; a 401 invalidates the token and is retried once with a fresh one."""
        for fresh in (False, True):
            token = await self.tokens.token()
            response = await self._send(method, endpoint, url, params, json, timeout, token)
            if response.status_code == 401 and not fresh:
                log.info("token refused; fetching a new one", endpoint=endpoint)
                self.tokens.invalidate(token)
                continue
            break
        if response.status_code == 401:
            raise AuthenticationError(
                "unauthorized even with a fresh token: check the client credentials (genesys.client_id "
                "and the client secret) and that the OAuth client is active",
                status=401,
                endpoint=endpoint,
            )
        if response.is_success:
            return response
        raise error_for(response, method, endpoint)

    async def _send(
        self,
        method: str,
        endpoint: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        timeout: float | None,
        token: str | None,
    ) -> Answer:
        await self.budget.acquire()
        deadline = timeout or self.settings.request_timeout_seconds
        headers = self._headers if token is None else {**self._headers, "Authorization": f"Bearer {token}"}
        try:
            async with self._limiter:
                response = await self._wire.exchange(method, url, params, json, headers, deadline)
        except (TimeoutError, httpx.RequestError) as exc:
            error = transport_error(exc, endpoint, deadline)
            if error is None:  # pragma: no cover - transport_error maps every RequestError
                raise
            self._count(endpoint, "timeout" if isinstance(error, RequestTimeout) else "error")
            if isinstance(error, MalformedResponse):
                self._malformed(endpoint)
            raise error from None
        self._count(endpoint, str(response.status_code))
        self.reachability.answered()
        self.budget.follow_headers(response.headers)  # SPEC §6: the platform's own count, when sent
        return response

    def _count(self, endpoint: str, code: str) -> None:
        if self.metrics is not None:
            self.metrics.child(self.metrics.api_requests, endpoint, code).inc()

    def _malformed(self, endpoint: str) -> None:
        log.warning("malformed answer from the API", endpoint=endpoint)
        if self.metrics is not None:
            self.metrics.malformed_responses.labels(endpoint=endpoint).inc()

    def _parse(self, model: type[M], data: Any, endpoint: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self._malformed(endpoint)
            fields = ", ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise MalformedResponse(f"unexpected answer shape ({fields})", endpoint=endpoint) from None
