"""The levers the default org starts with (SPEC §6.2.1): one telephony site, one IVR, one data
action and the flows they point at, following ``us-east-1`` as :func:`default_seed`'s
``strategy-1`` prefers.

* ``site-1``: ``mediaRegions`` ``["us-east-1", "eu-west-1"]``, latency-based ordering on;
* ``ivr-main`` (the IVR ``emergency-group-1`` names): ``openHoursFlow`` ``flow-use1``;
* ``action-1``: ``config.request.requestUrlTemplate``
  ``https://use1.backend.example.com/customers/${input.customerId}``;
* inbound-call flows ``flow-use1``, ``flow-euw1``, ``flow-closed`` and ``flow-emergency``, and the
  workflows ``workflow-use1`` and ``workflow-euw1`` (the default trigger's), all published.
"""

from __future__ import annotations

from typing import Any

SEED_TIME = "2026-11-02T09:00:00.000Z"


def flow_seed(
    flow_id: str, name: str, *, published: bool = True, deleted: bool = False, kind: str = "INBOUNDCALL"
) -> dict[str, Any]:
    """A whole ``Flow`` body: an inbound-call flow (or `kind`), published (version 1.0) unless told not."""
    body: dict[str, Any] = {
        "id": flow_id,
        "name": name,
        "division": {"id": "division-home", "name": "Home"},
        "type": kind,
        "active": published,
        "system": False,
        "deleted": deleted,
    }
    if published:
        body["publishedVersion"] = {
            "id": "1.0",
            "name": "1.0",
            "type": "PUBLISH",
            "secure": False,
            "debug": False,
            "datePublished": SEED_TIME,
        }
    return body


def default_levers() -> dict[str, list[dict[str, Any]]]:
    """The seed keys ``sites``, ``ivrs``, ``dataActions`` and ``flows`` of the default org."""
    return {
        "sites": [
            {
                "id": "site-1",
                "name": "Contact center",
                "division": {"id": "division-home", "name": "Home"},
                "description": "Media follows strategy-1",
                "state": "active",
                "primarySites": [],
                "secondarySites": [],
                "edges": [],
                "mediaRegionsUseLatencyBased": True,
                "location": {"id": "location-1", "name": "Headquarters"},
                "managed": False,
                "mediaModel": "Cloud",
                "coreSite": False,
                "mediaRegions": ["us-east-1", "eu-west-1"],
                "callerId": "+13175550100",
                "callerName": "Contact center",
                "cloudProxyForceTurn": False,
            }
        ],
        "ivrs": [
            {
                "id": "ivr-main",
                "name": "Main line",
                "division": {"id": "division-home", "name": "Home"},
                "description": "Open hours follow strategy-1",
                "state": "active",
                "dnis": ["+13175550100"],
                "openHoursFlow": {"id": "flow-use1", "name": "Main line (us-east-1)"},
                "closedHoursFlow": {"id": "flow-closed", "name": "Closed"},
                "scheduleGroup": {"id": "schedule-group-1", "name": "Business hours"},
            }
        ],
        "dataActions": [
            {
                "id": "action-1",
                "name": "Customer lookup",
                "integrationId": "integration-1",
                "category": "Customer backend",
                "contract": {
                    "input": {
                        "inputSchema": {
                            "type": "object",
                            "required": ["customerId"],
                            "properties": {"customerId": {"type": "string"}},
                        }
                    },
                    "output": {
                        "successSchema": {
                            "type": "object",
                            "properties": {"tier": {"type": "string"}},
                            "additionalProperties": True,
                        }
                    },
                },
                "secure": False,
                "config": {
                    "timeoutSeconds": 20,
                    "request": {
                        "requestUrlTemplate": "https://use1.backend.example.com/customers/${input.customerId}",
                        "requestType": "GET",
                        "headers": {"Accept": "application/json"},
                        "requestTemplate": "${input.rawRequest}",
                    },
                    "response": {
                        "translationMap": {"tier": "$.tier"},
                        "translationMapDefaults": {"tier": '"standard"'},
                        "successTemplate": '{"tier": ${tier}}',
                    },
                },
            }
        ],
        "flows": [
            flow_seed("flow-use1", "Main line (us-east-1)"),
            flow_seed("flow-euw1", "Main line (eu-west-1)"),
            flow_seed("flow-closed", "Closed"),
            flow_seed("flow-emergency", "Emergency message"),
            # The workflows the default trigger targets (a trigger's readiness reads them, SPEC §8).
            flow_seed("workflow-use1", "Contact workflow (us-east-1)", kind="WORKFLOW"),
            flow_seed("workflow-euw1", "Contact workflow (eu-west-1)", kind="WORKFLOW"),
        ],
    }
