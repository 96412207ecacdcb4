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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watcher.sim._lever_schema import SEED_KINDS, ShapeError, shape
from watcher.sim._lever_seed import default_levers
from watcher.sim._platform_schema import (
    TRIGGER_FIELDS,
    emergency_group_problem,
    status_problem,
    trigger_problem,
)
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


class SeedStatusComponent(BaseModel):
    """A status-page component; ``group`` (a name or id) puts it in a group, created if new."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    status: str = "operational"
    group: str | None = None
    id: str | None = Field(default=None, min_length=1)
    description: str | None = None
    onlyShowIfDegraded: bool = False

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        problem = status_problem(value)
        if problem:
            raise ValueError(problem.removeprefix("status: "))
        return value


# The status page's group for a region, as the public Genesys Cloud page names its regions;
# a region not listed here gets a group named after the region's own name.
STATUS_GROUP_NAMES = {
    "us-east-1": "Americas (US East)",
    "us-east-2": "Americas (US East 2)",
    "us-west-2": "Americas (US West)",
    "ca-central-1": "Americas (Canada)",
    "sa-east-1": "Americas (São Paulo)",
    "eu-west-1": "EMEA (Dublin)",
    "eu-west-2": "EMEA (London)",
    "eu-central-1": "EMEA (Frankfurt)",
    "eu-central-2": "EMEA (Zurich)",
    "me-central-1": "EMEA (UAE)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
}
# Every region group has these children, named "<group> - <service>" so names stay unique.
STATUS_SERVICES = ("Platform API", "Voice", "Digital Messaging")


def default_status_components(regions: list[SeedRegion]) -> list[SeedStatusComponent]:
    """A status page with one group per region and :data:`STATUS_SERVICES` in each."""
    components: list[SeedStatusComponent] = []
    for region in regions:
        group = STATUS_GROUP_NAMES.get(region.id, region.name or region.id)
        components.extend(
            SeedStatusComponent(name=f"{group} - {service}", group=group) for service in STATUS_SERVICES
        )
    return components


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
    triggers: list[dict[str, Any]] = Field(default_factory=list)
    emergencyGroups: list[dict[str, Any]] = Field(default_factory=list)
    # The real levers (SPEC §6.2.1): whole SDK models (``Site``, ``IVR``, ``Action``, ``Flow``).
    sites: list[dict[str, Any]] = Field(default_factory=list)
    ivrs: list[dict[str, Any]] = Field(default_factory=list)
    dataActions: list[dict[str, Any]] = Field(default_factory=list)
    flows: list[dict[str, Any]] = Field(default_factory=list)
    # None: the default page of :func:`default_status_components` for the seed's regions.
    statusComponents: list[SeedStatusComponent] | None = None

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
        self._platform_objects_valid()
        return self

    def _platform_objects_valid(self) -> None:
        for index, (trigger_id, body) in enumerate(
            zip(_ids(self.triggers, "triggers"), self.triggers, strict=True)
        ):
            unknown = sorted(set(body) - set(TRIGGER_FIELDS))
            problem = (
                f"{unknown[0]}: not a field of Trigger" if unknown else trigger_problem(body, trigger_id)
            )
            if problem:
                raise ValueError(f"triggers[{index}] ({trigger_id}): {problem}")
        for index, (group_id, body) in enumerate(
            zip(_ids(self.emergencyGroups, "emergencyGroups"), self.emergencyGroups, strict=True)
        ):
            problem = emergency_group_problem(body, group_id, require_version=False)
            if problem:
                raise ValueError(f"emergencyGroups[{index}] ({group_id}): {problem}")
        for key, model, kind in SEED_KINDS:
            bodies: list[dict[str, Any]] = getattr(self, key)
            for index, (entity_id, body) in enumerate(zip(_ids(bodies, key), bodies, strict=True)):
                try:
                    shape(body, model, entity_id, kind, strict=True)
                except ShapeError as exc:
                    raise ValueError(f"{key}[{index}] ({entity_id}): {exc}") from None

    def status_components(self) -> list[SeedStatusComponent]:
        """The status page to start with: as given, or the default for the seed's regions."""
        if self.statusComponents is not None:
            return self.statusComponents
        return default_status_components(self.regions)


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
    """The two-region org of the example config (``config/watcher.toml``), for ``simulate``,
    plus ``trigger-1`` (targets ``workflow-use1``) and ``emergency-group-1`` (disabled), the
    levers of :func:`~watcher.sim._lever_seed.default_levers` and the default status page
    (:func:`default_status_components`)."""
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
            "triggers": [
                {
                    "id": "trigger-1",
                    "name": "Customer end to the active region's workflow",
                    "topicName": "v2.detail.events.conversation.{id}.customer.end",
                    "target": {
                        "type": "Workflow",
                        "id": "workflow-use1",
                        "workflowTargetSettings": {"dataFormat": "Json"},
                    },
                    "enabled": True,
                    "matchCriteria": [
                        {"jsonPath": "mediaType", "operator": "Equal", "value": "VOICE"},
                    ],
                    "eventTTLSeconds": 60,
                    "description": "Follows strategy-1",
                }
            ],
            "emergencyGroups": [
                {
                    "id": "emergency-group-1",
                    "name": "Region failover",
                    "description": "Enabled while strategy-1 is off its preferred region",
                    "state": "active",
                    "enabled": False,
                    "emergencyCallFlows": [
                        {
                            "emergencyFlow": {"id": "flow-emergency", "name": "Emergency message"},
                            "ivrs": [{"id": "ivr-main", "name": "Main line"}],
                        }
                    ],
                }
            ],
            **default_levers(),
        }
    )
