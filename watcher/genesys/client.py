"""The Genesys Cloud client: the one HTTP seam of the watcher.

Everything that talks to the platform goes through `GenesysClient`: it owns the `httpx.AsyncClient`, the
OAuth token, the request budget, the concurrency cap and the retry policy, builds every URL from the
configured path templates, and turns every status code into a typed error (the pipeline is in
`_pipeline.py`; this module holds the calls of SPEC §2). Tests swap the transport
(`httpx.MockTransport`, respx) or point the base URLs at the simulator; nothing is monkeypatched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from watcher.genesys._pipeline import ProbeAnswer, RequestPipeline
from watcher.genesys.errors import ClientClosed, GenesysError, MalformedResponse, NotFound
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
from watcher.genesys.transport import ClientState, make_transport


class GenesysClient(RequestPipeline):
    """Async client for the calls of SPEC §2.

    Its public surface beyond those calls is what other callers of the platform need:
    `request_model` (one call, its answer checked against a pydantic model), `probe` (one GET of the
    API host for a latency probe), `url`, and the `budget`, `tokens` and `reachability` it owns.

    >>> # async with GenesysClient(cfg.genesys, cfg.client_secret()) as client:
    >>> #     health = await client.region_health("us-east-1")
    """

    _probing = False

    def __repr__(self) -> str:
        return f"GenesysClient(api={self.settings.api_url!r}, state={self.state.value})"

    async def __aenter__(self) -> GenesysClient:
        if self.state is ClientState.CLOSED:
            raise ClientClosed("client is closed; build a new one")
        self.state = ClientState.OPEN
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

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


__all__ = ["ClientState", "GenesysClient", "GenesysError", "ProbeAnswer", "make_transport"]
