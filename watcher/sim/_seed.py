"""Seed files: the organization the simulator starts with.

A seed is validated with the same schema limits the simulator enforces on PUT, so a seed that
loads is one the watcher can work against; a bad one is refused with one message naming the
file and the field.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from watcher.sim._schema import rule_problem, strategy_problem


class SeedError(ValueError):
    """A seed file that cannot be used; the message names the file and the problem."""


class SeedRegion(BaseModel):
    """A region and the health its endpoint answers with."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str | None = None
    status: str = "HEALTHY"
    syncIntervalSeconds: int = Field(default=30, ge=0)
    latencyMs: float = Field(default=0, ge=0)


class SeedTarget(BaseModel):
    """An EventBridge target; extra keys (headers, ...) are kept as given."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    type: str | None = None
    url: str | None = None


def _ids(bodies: list[dict[str, Any]], kind: str) -> list[str]:
    ids: list[str] = []
    for index, body in enumerate(bodies):
        body_id = body.get("id")
        if not isinstance(body_id, str) or not body_id:
            raise ValueError(f"{kind}[{index}].id: required string")
        if body_id in ids:
            raise ValueError(f"{kind}[{index}].id: duplicate {body_id!r}")
        ids.append(body_id)
    return ids


class SimSeed(BaseModel):
    """Regions, strategies, rules and targets, as full API bodies (see the seed documents).

    Example::

        seed = SimSeed(regions=[{"id": "us-east-1"}], targets=[{"id": "t1"}])
    """

    model_config = ConfigDict(extra="forbid")

    regions: list[SeedRegion] = Field(default_factory=list)
    strategies: list[dict[str, Any]] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    targets: list[SeedTarget] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        region_ids = {region.id for region in self.regions}
        if len(region_ids) != len(self.regions):
            raise ValueError("regions: duplicate region id")
        target_ids = {target.id for target in self.targets}
        if len(target_ids) != len(self.targets):
            raise ValueError("targets: duplicate target id")
        for index, (strategy_id, body) in enumerate(
            zip(_ids(self.strategies, "strategies"), self.strategies, strict=True)
        ):
            problem = strategy_problem(body, strategy_id, region_ids)
            if problem:
                raise ValueError(f"strategies[{index}] ({strategy_id}): {problem}")
        for index, (rule_id, body) in enumerate(zip(_ids(self.rules, "rules"), self.rules, strict=True)):
            problem = rule_problem(body, rule_id, target_ids, require_version=False)
            if problem:
                raise ValueError(f"rules[{index}] ({rule_id}): {problem}")
        return self


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def load_seed(path: Path) -> SimSeed:
    """Read a seed from ``.toml`` or ``.json``; raise :class:`SeedError` naming the problem."""
    suffix = path.suffix.lower()
    if suffix not in {".toml", ".json"}:
        raise SeedError(f"seed file {path}: unknown extension {suffix!r}, use .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"seed file {path}: cannot read: {exc.strerror}") from None
    data: Any
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SeedError(f"seed file {path}: invalid {suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise SeedError(f"seed file {path}: top level must be a table/object")
    try:
        return SimSeed.model_validate(data)
    except ValidationError as exc:
        raise SeedError(f"seed file {path}: {_describe(exc)}") from None


def strategy_seed(strategy_id: str, order: list[str]) -> dict[str, Any]:
    """A strategy body routing to `order[0]` (priority 1, full weight), the rest following."""
    return {
        "id": strategy_id,
        "name": strategy_id,
        "type": "custom",
        "enabled": True,
        "routingConfig": {
            "evaluationTimeoutMs": 5000,
            "regions": [
                {
                    "regionId": region,
                    "priority": priority,
                    "weight": 100 if priority == 1 else 0,
                    "failoverTrigger": "health_degraded",
                }
                for priority, region in enumerate(order, start=1)
            ],
        },
    }


def rule_seed(rule_id: str, target: str) -> dict[str, Any]:
    """A routing rule body with one condition, pointing at `target`."""
    return {
        "id": rule_id,
        "name": rule_id,
        "status": "enabled",
        "priority": 10,
        "conditions": [{"field": "eventType", "operator": "equals", "value": "conversation.end"}],
        "targets": [{"id": target}],
    }


def default_seed() -> SimSeed:
    """The two-region org of the example config (``config/watcher.toml``), for ``simulate``."""
    return SimSeed.model_validate(
        {
            "regions": [
                {"id": "us-east-1", "name": "US East"},
                {"id": "eu-west-1", "name": "EU West"},
            ],
            "targets": [
                {"id": "target-use1", "type": "webhook", "url": "https://use1.example.com/in"},
                {"id": "target-euw1", "type": "webhook", "url": "https://euw1.example.com/in"},
            ],
            "strategies": [
                {
                    "id": "strategy-1",
                    "name": "Architecture-Failover-Policy",
                    "type": "custom",
                    "enabled": True,
                    "routingConfig": {
                        "evaluationTimeoutMs": 5000,
                        "regions": [
                            {
                                "regionId": "us-east-1",
                                "priority": 1,
                                "weight": 100,
                                "failoverTrigger": "health_degraded",
                            },
                            {
                                "regionId": "eu-west-1",
                                "priority": 2,
                                "weight": 0,
                                "failoverTrigger": "health_degraded",
                            },
                        ],
                    },
                }
            ],
            "rules": [
                {
                    "id": "rule-1",
                    "name": "Call events",
                    "description": "Answered calls to the active region",
                    "status": "enabled",
                    "priority": 50,
                    "conditions": [
                        {
                            "field": "eventType",
                            "operator": "equals",
                            "value": "com.genesys.cloud.telephony.call.answered",
                        }
                    ],
                    "targets": [{"id": "target-use1"}],
                }
            ],
        }
    )
