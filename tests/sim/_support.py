"""Helpers shared by the simulator tests: a token fetcher, valid bodies."""

from __future__ import annotations

from typing import Any

import httpx


async def fetch_token(
    client: httpx.AsyncClient,
    client_id: str = "sim-client",
    secret: str = "sim-secret",  # noqa: S107
) -> httpx.Response:
    return await client.post(
        "/oauth/token", auth=(client_id, secret), data={"grant_type": "client_credentials"}
    )


def strategy_body(**changes: Any) -> dict[str, Any]:
    """A valid strategy-1 body (seed 000 shape), with top-level changes applied."""
    body: dict[str, Any] = {
        "id": "strategy-1",
        "name": "Architecture-Failover-Policy",
        "type": "custom",
        "enabled": True,
        "routingConfig": {
            "evaluationTimeoutMs": 5000,
            "regions": [
                {
                    "regionId": "eu-west-1",
                    "priority": 1,
                    "weight": 100,
                    "failoverTrigger": "health_degraded",
                },
                {
                    "regionId": "us-east-1",
                    "priority": 2,
                    "weight": 0,
                    "failoverTrigger": "health_degraded",
                },
            ],
        },
    }
    body.update(changes)
    return body


def rule_body(version: int | None = 1, **changes: Any) -> dict[str, Any]:
    """A valid rule-1 body (seed 001 shape) pointing at target-euw1."""
    body: dict[str, Any] = {
        "name": "Call events",
        "description": "Answered calls",
        "status": "enabled",
        "priority": 50,
        "conditions": [{"field": "eventType", "operator": "equals", "value": "x"}],
        "targets": [{"id": "target-euw1"}],
    }
    if version is not None:
        body["version"] = version
    body.update(changes)
    return body


TRIGGER_TOPIC = "v2.detail.events.conversation.{id}.customer.end"


def trigger_update(version: int | None = 1, **changes: Any) -> dict[str, Any]:
    """A valid ``UpdateTriggerRequest`` for the default seed's trigger-1, retargeted to EU."""
    body: dict[str, Any] = {
        "enabled": True,
        "target": {"type": "Workflow", "id": "workflow-euw1"},
        "matchCriteria": [{"jsonPath": "mediaType", "operator": "Equal", "value": "VOICE"}],
        "name": "Customer end to the active region's workflow",
        "topicName": TRIGGER_TOPIC,
        "eventTTLSeconds": 60,
    }
    if version is not None:
        body["version"] = version
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def emergency_group_body(version: int | None = 1, **changes: Any) -> dict[str, Any]:
    """The default seed's emergency-group-1 as a whole-group PUT body, enabled."""
    body: dict[str, Any] = {
        "id": "emergency-group-1",
        "name": "Region failover",
        "description": "Enabled while strategy-1 is off its preferred region",
        "state": "active",
        "enabled": True,
        "emergencyCallFlows": [
            {
                "emergencyFlow": {"id": "flow-emergency", "name": "Emergency message"},
                "ivrs": [{"id": "ivr-main", "name": "Main line"}],
            }
        ],
    }
    if version is not None:
        body["version"] = version
    body.update(changes)
    return body
