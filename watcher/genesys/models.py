"""Pydantic models of the API payloads, with the platform's limits.

Unknown fields are kept (`extra="allow"`) because a strategy or rule PUT replaces the whole object:
dropping a field we do not know would delete it on the server.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MAX_CONDITIONS = 15
MAX_CONDITION_CHARS = 1000
MAX_EVALUATION_TIMEOUT_MS = 30000
HEALTHY = "HEALTHY"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Region(_Payload):
    id: str
    name: str | None = None


class RegionList(_Payload):
    entities: list[Region]


class RegionHealthReport(_Payload):
    """What the region-health endpoint says. Unknown status strings are kept, and count as unhealthy."""

    status: str
    syncIntervalSeconds: float | None = None
    latencyMs: float | None = None


class StrategyRegion(_Payload):
    regionId: str = Field(min_length=1)
    priority: int = Field(ge=1)
    weight: int = Field(ge=0, le=100)
    failoverTrigger: str = "health_degraded"


class RoutingConfig(_Payload):
    evaluationTimeoutMs: int = Field(default=5000, ge=1, le=MAX_EVALUATION_TIMEOUT_MS)
    regions: list[StrategyRegion] = Field(min_length=1)

    @field_validator("regions")
    @classmethod
    def _unique(cls, regions: list[StrategyRegion]) -> list[StrategyRegion]:
        priorities = [r.priority for r in regions]
        if len(set(priorities)) != len(priorities):
            raise ValueError("priorities must be unique")
        ids = [r.regionId for r in regions]
        if len(set(ids)) != len(ids):
            raise ValueError("a region is listed twice")
        return regions


class Strategy(_Payload):
    """A routing strategy (seed 000). `version` is sent back on PUT when the server gave one."""

    id: str
    name: str | None = None
    description: str | None = None
    type: str | None = None
    enabled: bool | None = None
    routingConfig: RoutingConfig
    version: int | str | None = None

    def active_region(self) -> str:
        """The region with the best (lowest) priority."""
        return min(self.routingConfig.regions, key=lambda r: r.priority).regionId

    def region_order(self) -> list[str]:
        return [r.regionId for r in sorted(self.routingConfig.regions, key=lambda r: r.priority)]


def condition_chars(conditions: list[Any]) -> int:
    """The condition text length the limit counts: `sum(len(json.dumps(c)))`, as the simulator does.

    The local check must refuse exactly what the server refuses: a laxer measure here (the earlier
    compact JSON, bare strings unquoted) let a rule through that the PUT then bounced with a 400.
    """
    return sum(len(json.dumps(c)) for c in conditions)


class RuleTarget(_Payload):
    id: str = Field(min_length=1)


class RoutingRule(_Payload):
    """An EventBridge routing rule (seed 001), with the platform limits checked locally."""

    id: str | None = None
    name: str | None = None
    description: str | None = None
    status: str | None = None
    priority: int = Field(ge=1, le=1000)
    conditions: list[Any] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    targets: list[RuleTarget] = Field(min_length=1)
    version: int | str | None = None

    @field_validator("conditions")
    @classmethod
    def _condition_text(cls, conditions: list[Any]) -> list[Any]:
        # A field validator, so the error's location names `conditions`.
        chars = condition_chars(conditions)
        if chars > MAX_CONDITION_CHARS:
            raise ValueError(f"{chars} characters, more than the limit of {MAX_CONDITION_CHARS}")
        return conditions


class Target(_Payload):
    id: str


class WebhookRequest(BaseModel):
    """The DNS-sync webhook registration body (seed 000 step 3)."""

    name: str
    enabled: bool = True
    targetUrl: str
    secret: SecretStr | None = None
    events: list[str]
    format: str = "application/json"
    headers: dict[str, str] = Field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        """The JSON body, with the secret revealed: only ever passed to the HTTP layer."""
        body = self.model_dump(exclude={"secret"})
        if self.secret is not None:
            body["secret"] = self.secret.get_secret_value()
        return body


class Webhook(_Payload):
    id: str
    name: str | None = None
    targetUrl: str | None = None
    events: list[str] = Field(default_factory=list)
    enabled: bool | None = None


class AuditEntry(_Payload):
    id: str | None = None
    timestamp: str | None = None
    entityId: str | None = None
    entityType: str | None = None
    action: str | None = None
    status: str | None = None
    user: str | None = None


class AuditPage(_Payload):
    entities: list[AuditEntry]
    nextPage: str | None = None
