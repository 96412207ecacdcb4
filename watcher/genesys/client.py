"""The Genesys Cloud client: the one HTTP seam of the watcher.

Everything that talks to the platform goes through `GenesysClient`: it owns the `httpx.AsyncClient`, the
OAuth token, the request budget, the concurrency cap and the retry policy, builds every URL from the
configured path templates, and turns every status code into a typed error. Tests swap the transport
(`httpx.MockTransport`, respx) or point the base URLs at the simulator; nothing is monkeypatched.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

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
    NotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportFailure,
    error_for,
    transport_error,
)
from watcher.genesys.models import (
    AuditEntry,
    AuditPage,
    Region,
    RegionHealthReport,
    RegionList,
    RoutingRule,
    Strategy,
    Target,
    Webhook,
    WebhookRequest,
)
from watcher.genesys.reachability import Reachability
from watcher.genesys.retry import wait_for_retry
from watcher.genesys.transport import ClientState, CookielessClient, TransportKind, exchange, make_transport
from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.genesys")

M = TypeVar("M", bound=BaseModel)
_RETRYABLE = (RateLimited, ServerError, TransportFailure)


def _retryable(exc: BaseException) -> bool:
    """Whether a request attempt may be repeated.

    A failure of the token endpoint has already been retried by `TokenSource`; retrying it again here
    would multiply the attempts (and the load on a throttled token endpoint).
    """
    return isinstance(exc, _RETRYABLE) and exc.endpoint != "token"


class GenesysClient:
    """Async client for the calls of SPEC §2.

    >>> # async with GenesysClient(cfg.genesys, cfg.client_secret()) as client:
    >>> #     health = await client.region_health("us-east-1")
    """

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
        self._http = CookielessClient(
            transport=transport or make_transport(transport_kind, limits),
            timeout=httpx.Timeout(settings.request_timeout_seconds),
            headers={"Accept": "application/json", "User-Agent": "failover-watcher"},
        )
        # The headers `httpx.AsyncClient` would send (its defaults and ours), for `_send`.
        self._headers = dict(self._http.headers)
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
        self._urls: dict[str, httpx.URL] = {}
        self.state = ClientState.UNOPENED
        self.reachability = Reachability(clock)
        self._probing = False

    def __repr__(self) -> str:
        return f"GenesysClient(api={self.settings.api_url!r}, state={self.state.value})"

    async def __aenter__(self) -> GenesysClient:
        if self.state is ClientState.CLOSED:
            raise ClientClosed("client is closed; build a new one")
        self.state = ClientState.OPEN
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self.state is not ClientState.CLOSED:
            self.state = ClientState.CLOSED
            await self._http.aclose()

    # ----------------------------------------------------------------- the request pipeline

    def _parsed(self, url: str) -> httpx.URL:
        """Parsing a URL is a third of httpx's per-request cost; the same few URLs recur every cycle."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 4096:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    def url(self, endpoint: str, **params: str) -> str:
        template: str = getattr(self.settings.paths, endpoint)
        quoted = {k: quote(v, safe="") for k, v in params.items()}
        return self.settings.api_url + template.format(**quoted)

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
        if self.state is not ClientState.OPEN:
            raise ClientClosed(f"client is {self.state.value}", endpoint=endpoint)
        target = url or self.url(endpoint, **dict(path or {}))
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

    async def _authorized(
        self,
        method: str,
        endpoint: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        timeout: float | None,
    ) -> httpx.Response:
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
        token: str,
    ) -> httpx.Response:
        await self.budget.acquire()
        deadline = timeout or self.settings.request_timeout_seconds
        headers = {**self._headers, "Authorization": f"Bearer {token}"}
        try:
            async with self._limiter:
                with anyio.fail_after(deadline):
                    response = await exchange(
                        self._http, method, self._parsed(url), params, json, headers, deadline
                    )
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
            self.metrics.api_requests.labels(endpoint=endpoint, code=code).inc()

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

    # ----------------------------------------------------------------- the calls of SPEC §2

    async def list_regions(self) -> list[Region]:
        data = await self.request("GET", "regions")
        return self._parse(RegionList, data, "regions").entities

    async def region_health(
        self, region_id: str, *, timeout: float | None = None, retries: int = 0
    ) -> RegionHealthReport:
        """One health observation. No retries by default: a failed poll *is* the observation."""
        data = await self.request(
            "GET", "region_health", path={"regionId": region_id}, timeout=timeout, retries=retries
        )
        return self._parse(RegionHealthReport, data, "region_health")

    async def probe_reachable(self, timeout: float) -> None:
        """One cheap call to the API host (single-flight), so `reachability` learns whether it answers:
        any HTTP answer, even an error, proves the host is there."""
        if self._probing:
            return
        self._probing = True
        try:
            await self.request("GET", "date", timeout=timeout, retries=0)
        except GenesysError:
            pass  # what matters is whether an answer came back; `_send` has recorded that
        finally:
            self._probing = False

    async def get_strategy(self, strategy_id: str) -> Strategy:
        data = await self.request("GET", "strategy", path={"strategyId": strategy_id})
        return self._parse(Strategy, data, "strategy")

    async def put_strategy(self, strategy: Strategy, *, retries: int | None = None) -> Strategy:
        """Replace the whole strategy (atomic), sending back the `version` read (`retries=0`: the
        writer re-reads and re-checks before any second attempt)."""
        body = strategy.model_dump(mode="json", exclude_none=True)
        data = await self.request(
            "PUT", "strategy", path={"strategyId": strategy.id}, json=body, retries=retries
        )
        return self._parse(Strategy, data, "strategy") if data is not None else strategy

    async def get_rule(self, rule_id: str) -> RoutingRule:
        data = await self.request("GET", "rule", path={"ruleId": rule_id})
        rule = self._parse(RoutingRule, data, "rule")
        return rule if rule.id else rule.model_copy(update={"id": rule_id})

    async def put_rule(self, rule_id: str, rule: RoutingRule, *, retries: int | None = None) -> RoutingRule:
        if rule.version is None:
            raise GenesysError("a routing rule PUT needs the version read before it", endpoint="rule")
        body = rule.model_dump(mode="json", exclude_none=True)
        data = await self.request("PUT", "rule", path={"ruleId": rule_id}, json=body, retries=retries)
        return self._parse(RoutingRule, data, "rule") if data is not None else rule

    async def get_target(self, target_id: str) -> Target:
        data = await self.request("GET", "target", path={"targetId": target_id})
        return self._parse(Target, data, "target")

    async def target_exists(self, target_id: str) -> bool:
        try:
            await self.get_target(target_id)
        except NotFound:
            return False
        return True

    async def list_webhooks(self) -> list[Webhook]:
        data = await self.request("GET", "webhooks")
        entities = data.get("entities", []) if isinstance(data, dict) else data
        if not isinstance(entities, list):
            self._malformed("webhooks")
            raise MalformedResponse("webhook list is not a list", endpoint="webhooks")
        return [self._parse(Webhook, item, "webhooks") for item in entities]

    async def register_webhook(self, webhook: WebhookRequest) -> Webhook:
        data = await self.request("POST", "webhooks", json=webhook.wire())
        return self._parse(Webhook, data, "webhooks")

    async def register_webhook_once(self, webhook: WebhookRequest) -> tuple[str, bool]:
        """Register the webhook unless one with the same name and target URL exists; (id, created)."""
        for hook in await self.list_webhooks():
            if hook.targetUrl == webhook.targetUrl and hook.name == webhook.name:
                return hook.id, False
        created = await self.register_webhook(webhook)
        return created.id, True

    async def audit_logs(self, entity_id: str, *, page_size: int = 25) -> AsyncIterator[AuditEntry]:
        """Every audit entry of an entity, following `nextPage` until it is absent."""
        url: str | None = None
        params: dict[str, str | int] | None = {"pageSize": page_size, "filterEntityId": entity_id}
        seen: set[str] = set()
        while True:
            data = await self.request("GET", "audit_logs", url=url, params=params)
            page = self._parse(AuditPage, data, "audit_logs")
            for entry in page.entities:
                yield entry
            if not page.nextPage:
                return
            url = self._next_page_url(page.nextPage)
            if url in seen:
                self._malformed("audit_logs")
                raise MalformedResponse("nextPage repeats a page already read", endpoint="audit_logs")
            seen.add(url)
            params = None

    def _next_page_url(self, next_page: str) -> str:
        """Resolve `nextPage` against the API host; a link to another host is refused (token leak)."""
        parts = urlsplit(next_page)
        if parts.scheme or parts.netloc:
            api = urlsplit(self.settings.api_url)
            if (parts.scheme, parts.netloc) != (api.scheme, api.netloc):
                self._malformed("audit_logs")
                raise MalformedResponse(
                    "nextPage points to another host; not following it", endpoint="audit_logs"
                )
            return next_page
        if not next_page.startswith("/"):
            self._malformed("audit_logs")
            raise MalformedResponse("nextPage is not a path", endpoint="audit_logs")
        return self.settings.api_url + next_page


__all__ = ["ClientState", "GenesysClient", "GenesysError", "make_transport"]
