"""The simulated organization: regions, strategies, rules, targets and webhooks.

Operations here are plain methods that either return the new body or raise :class:`ApiError`;
the HTTP layer only translates. Stored bodies are never mutated in place (a change replaces
the dict), so audit entries can hold references to them instead of copies.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from watcher.sim._audit import AuditLog
from watcher.sim._schema import is_int, rule_problem, strategy_problem
from watcher.sim._seed import SimSeed

ADMIN_USER = "sim-admin"


def error_code(status: int) -> str:
    """Genesys-style error code from a status: 400 -> ``bad.request``, 409 -> ``conflict``."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", ".")
    except ValueError:
        return "error"


class ApiError(Exception):
    """An API answer other than success: status, ``message`` and ``code``.

    The message is shown to clients, so it never carries a secret.
    """

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or error_code(status)

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code, "status": self.status}

    @classmethod
    def not_found(cls, kind: str, entity_id: str) -> ApiError:
        return cls(404, f"{kind} {entity_id!r} not found", "not.found")

    @classmethod
    def conflict(cls, sent: int, current: int) -> ApiError:
        return cls(409, f"Version {sent} does not match the current version {current}", "conflict")


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


def _without_version(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "version"}


def _seed_version(body: Mapping[str, Any]) -> int:
    version = body.get("version")
    if is_int(version) and version >= 1:
        return version
    return 1


class Org:
    """Resources of one organization, with versions and an audit trail."""

    def __init__(self, audit: AuditLog, seed: SimSeed | None = None) -> None:
        self.audit = audit
        self.regions: dict[str, Region] = {}
        self.strategies: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
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
            self.strategies[body["id"]] = {**body, "version": _seed_version(body)}
        for body in seed.rules:
            self.rules[body["id"]] = {**body, "version": _seed_version(body)}

    # -- reads -------------------------------------------------------------------------

    def region(self, region_id: str) -> Region:
        region = self.regions.get(region_id)
        if region is None:
            raise ApiError.not_found("region", region_id)
        return region

    def strategy(self, strategy_id: str) -> dict[str, Any]:
        body = self.strategies.get(strategy_id)
        if body is None:
            raise ApiError.not_found("strategy", strategy_id)
        return body

    def rule(self, rule_id: str) -> dict[str, Any]:
        body = self.rules.get(rule_id)
        if body is None:
            raise ApiError.not_found("routing rule", rule_id)
        return body

    def target(self, target_id: str) -> dict[str, Any]:
        body = self.targets.get(target_id)
        if body is None:
            raise ApiError.not_found("target", target_id)
        return body

    # -- versioned writes ----------------------------------------------------------------

    def _replace(
        self,
        store: dict[str, dict[str, Any]],
        entity_type: str,
        entity_id: str,
        body: Mapping[str, Any],
        user: str,
        problem: str | None,
    ) -> dict[str, Any]:
        """Optimistic-locking replace shared by strategies and rules; audits both outcomes."""
        current = store[entity_id]
        sent = body.get("version")
        error: ApiError | None = None
        if problem:
            error = ApiError(400, problem, "bad.request")
        elif sent is not None and sent != current["version"]:
            error = ApiError.conflict(sent, current["version"])
        if error is not None:
            self.audit.record(
                entity_id=entity_id,
                entity_type=entity_type,
                action="update",
                user=user,
                status="FAILURE",
                before=current,
                after=None,
                version=current["version"],
                message=error.message,
            )
            raise error
        new = {**_without_version(body), "id": entity_id, "version": current["version"] + 1}
        store[entity_id] = new
        self.audit.record(
            entity_id=entity_id,
            entity_type=entity_type,
            action="update",
            user=user,
            status="SUCCESS",
            before=current,
            after=new,
            version=new["version"],
        )
        return new

    def put_strategy(self, strategy_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Replace a whole strategy; a ``version`` in the body must match (else 409)."""
        self.strategy(strategy_id)
        problem = strategy_problem(body, strategy_id, self.regions)
        return self._replace(self.strategies, "routingStrategy", strategy_id, body, user, problem)

    def put_rule(self, rule_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Replace a routing rule; ``version`` is required and must match."""
        self.rule(rule_id)
        problem = rule_problem(body, rule_id, self.targets, require_version=True)
        return self._replace(self.rules, "routingRule", rule_id, body, user, problem)

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

    def _admin_put(
        self,
        store: dict[str, dict[str, Any]],
        entity_type: str,
        entity_id: str,
        body: Mapping[str, Any],
    ) -> dict[str, Any]:
        current = store.get(entity_id)
        version = 1 if current is None else current["version"] + 1
        new = {**_without_version(body), "id": entity_id, "version": version}
        store[entity_id] = new
        self.audit.record(
            entity_id=entity_id,
            entity_type=entity_type,
            action="create" if current is None else "update",
            user=ADMIN_USER,
            status="SUCCESS",
            before=current,
            after=new,
            version=version,
        )
        return new

    def admin_put_strategy(self, strategy_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change a strategy (schema-checked, version ignored and bumped)."""
        problem = strategy_problem(_without_version(body), strategy_id, self.regions)
        if problem:
            raise ApiError(400, problem)
        return self._admin_put(self.strategies, "routingStrategy", strategy_id, body)

    def admin_put_rule(self, rule_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change a rule (schema-checked, version ignored and bumped)."""
        problem = rule_problem(body, rule_id, self.targets, require_version=False)
        if problem:
            raise ApiError(400, problem)
        return self._admin_put(self.rules, "routingRule", rule_id, body)

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
