"""The simulated organization: regions, strategies, rules, targets and webhooks.

Operations here are plain methods that either return the new body or raise :class:`ApiError`;
the HTTP layer only translates. Stored bodies are never mutated in place (a change replaces
the dict), so audit entries can hold references to them instead of copies.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from watcher.sim._audit import AuditLog
from watcher.sim._schema import rule_problem, strategy_problem
from watcher.sim._seed import SimSeed
from watcher.sim._versioned import ADMIN_USER, ApiError, Versioned, seed_version


@dataclass
class Region:
    """A region and what its health endpoint answers."""

    id: str
    name: str
    status: str = "HEALTHY"
    sync_interval_seconds: int = 30
    latency_ms: float = 0.0

    def health(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "syncIntervalSeconds": self.sync_interval_seconds,
            "latencyMs": self.latency_ms,
        }

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, **self.health()}


class Org:
    """Resources of one organization, with versions and an audit trail."""

    def __init__(self, audit: AuditLog, seed: SimSeed | None = None) -> None:
        self.audit = audit
        self.regions: dict[str, Region] = {}
        self._strategies = Versioned(audit, "routingStrategy", "strategy")
        self._rules = Versioned(audit, "routingRule", "routing rule")
        self.strategies: dict[str, dict[str, Any]] = self._strategies.items
        self.rules: dict[str, dict[str, Any]] = self._rules.items
        self.targets: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        # Webhook secrets live apart from the webhook bodies so no view can leak them.
        self._webhook_secrets: dict[str, str] = {}
        if seed is not None:
            self._load(seed)

    def _load(self, seed: SimSeed) -> None:
        for r in seed.regions:
            self.regions[r.id] = Region(r.id, r.name or r.id, r.status, r.syncIntervalSeconds, r.latencyMs)
        for target in seed.targets:
            self.targets[target.id] = target.model_dump(exclude_none=True)
        for body in seed.strategies:
            self.strategies[body["id"]] = {**body, "version": seed_version(body)}
        for body in seed.rules:
            self.rules[body["id"]] = {**body, "version": seed_version(body)}

    # -- reads -------------------------------------------------------------------------

    def region(self, region_id: str) -> Region:
        region = self.regions.get(region_id)
        if region is None:
            raise ApiError.not_found("region", region_id)
        return region

    def strategy(self, strategy_id: str) -> dict[str, Any]:
        return self._strategies.get(strategy_id)

    def rule(self, rule_id: str) -> dict[str, Any]:
        return self._rules.get(rule_id)

    def target(self, target_id: str) -> dict[str, Any]:
        body = self.targets.get(target_id)
        if body is None:
            raise ApiError.not_found("target", target_id)
        return body

    # -- versioned writes ----------------------------------------------------------------

    def put_strategy(self, strategy_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Replace a whole strategy; a ``version`` in the body must match (else 409)."""
        self.strategy(strategy_id)
        problem = strategy_problem(body, strategy_id, self.regions)
        current = self.strategy(strategy_id)
        self._strategies.check(current, body.get("version"), user, problem)
        return self._strategies.store(
            current, {**body, "id": strategy_id, "version": current["version"] + 1}, user
        )

    def put_rule(self, rule_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Replace a routing rule; ``version`` is required and must match."""
        self.rule(rule_id)
        problem = rule_problem(body, rule_id, self.targets, require_version=True)
        current = self.rule(rule_id)
        self._rules.check(current, body.get("version"), user, problem)
        return self._rules.store(current, {**body, "id": rule_id, "version": current["version"] + 1}, user)

    # -- webhooks ------------------------------------------------------------------------

    def create_webhook(self, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Register a webhook; its ``secret`` is kept aside and never shown again."""
        name, url, events = body.get("name"), body.get("targetUrl"), body.get("events", [])
        if not isinstance(name, str) or not name:
            raise ApiError(400, "name: required string")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ApiError(400, "targetUrl: required http(s) URL")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise ApiError(400, "events: must be a list of strings")
        secret = body.get("secret")
        if secret is not None and not isinstance(secret, str):
            raise ApiError(400, "secret: must be a string")
        webhook_id = str(uuid.uuid4())
        public = {key: value for key, value in body.items() if key != "secret"}
        public.update(
            id=webhook_id,
            enabled=bool(body.get("enabled", True)),
            events=events,
            selfUri=f"/api/v2/platform/webhooks/{webhook_id}",
        )
        self.webhooks[webhook_id] = public
        if secret is not None:
            self._webhook_secrets[webhook_id] = secret
        self.audit.record(
            entity_id=webhook_id,
            entity_type="webhook",
            action="create",
            user=user,
            status="SUCCESS",
            before=None,
            after=public,
            version=1,
        )
        return public

    def webhook_secret(self, webhook_id: str) -> str | None:
        """For tests that verify signatures; never part of any HTTP answer."""
        return self._webhook_secrets.get(webhook_id)

    # -- admin changes behind the watcher's back ----------------------------------------

    def set_region(
        self,
        region_id: str,
        *,
        status: str,
        sync_interval_seconds: int | None = None,
        latency_ms: float | None = None,
        name: str | None = None,
    ) -> Region:
        """Set what a region's health answers; creates the region if it is new."""
        region = self.regions.get(region_id)
        before = region.view() if region else None
        if region is None:
            region = self.regions[region_id] = Region(region_id, name or region_id)
        region.status = status
        if sync_interval_seconds is not None:
            region.sync_interval_seconds = sync_interval_seconds
        if latency_ms is not None:
            region.latency_ms = latency_ms
        if name is not None:
            region.name = name
        self.audit.record(
            entity_id=region_id,
            entity_type="region",
            action="create" if before is None else "update",
            user=ADMIN_USER,
            status="SUCCESS",
            before=before,
            after=region.view(),
            version=None,
        )
        return region

    @staticmethod
    def _admin_put(store: Versioned, entity_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        current = store.items.get(entity_id)
        version = 1 if current is None else current["version"] + 1
        return store.store(current, {**body, "id": entity_id, "version": version}, ADMIN_USER)

    def admin_put_strategy(self, strategy_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change a strategy (schema-checked, version ignored and bumped)."""
        problem = strategy_problem(
            {k: v for k, v in body.items() if k != "version"}, strategy_id, self.regions
        )
        if problem:
            raise ApiError(400, problem)
        return self._admin_put(self._strategies, strategy_id, body)

    def admin_put_rule(self, rule_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change a rule (schema-checked, version ignored and bumped)."""
        problem = rule_problem(body, rule_id, self.targets, require_version=False)
        if problem:
            raise ApiError(400, problem)
        return self._admin_put(self._rules, rule_id, body)

    def admin_put_target(self, target_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace a target (targets carry no version on the platform)."""
        before = self.targets.get(target_id)
        new = {**body, "id": target_id}
        self.targets[target_id] = new
        self.audit.record(
            entity_id=target_id,
            entity_type="eventbridgeTarget",
            action="create" if before is None else "update",
            user=ADMIN_USER,
            status="SUCCESS",
            before=before,
            after=new,
            version=None,
        )
        return new

    def admin_delete_target(self, target_id: str) -> None:
        """Remove a target, so rules pointing at it fail validation from now on."""
        before = self.target(target_id)
        del self.targets[target_id]
        self.audit.record(
            entity_id=target_id,
            entity_type="eventbridgeTarget",
            action="delete",
            user=ADMIN_USER,
            status="SUCCESS",
            before=before,
            after=None,
            version=None,
        )

    def snapshot(self) -> dict[str, Any]:
        """Everything, for ``GET /_sim/state`` (webhook secrets excluded by construction)."""
        return {
            "regions": [region.view() for region in self.regions.values()],
            "strategies": list(self.strategies.values()),
            "rules": list(self.rules.values()),
            "targets": list(self.targets.values()),
            "webhooks": list(self.webhooks.values()),
        }
