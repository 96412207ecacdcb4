"""``POST /api/v2/audits/query/realtime`` (SPEC §6) over the simulator's one audit log.

Every change the simulator audits (strategies, rules, targets, webhooks, regions, triggers,
emergency groups, sites, IVRs, data actions, flows) is visible here too, as the SDK's
``AuditLogMessage``. Each internal entity type maps to a platform service and entity type:

=======================  ===================  ====================
internal                 ``serviceName``      ``entityType``
=======================  ===================  ====================
routingStrategy          Routing              RoutingStrategy
routingRule              Integrations         EventBridgeRule
eventbridgeTarget        Integrations         EventBridgeTarget
webhook                  Webhooks             Webhook
region                   Architecture         Region
processAutomationTrigger ProcessAutomation    Trigger
emergencyGroup           Architect            EmergencyGroup
telephonySite            Telephony            Site
architectIvr             Architect            IVR
integrationAction        Integrations         Action
architectFlow            Architect            Flow
=======================  ===================  ====================

Changes made through the API carry ``client: {id}`` (the OAuth client); changes made through
``/_sim`` carry ``user: {id: "sim-admin"}``. Filters are ANDed; ``serviceName``, ``EntityType``
and ``Action`` compare case-insensitively, ids exactly. Results are newest first unless
``sort`` says ``ascending``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from watcher.sim._schema import is_int
from watcher.sim._versioned import ADMIN_USER, ApiError

MAX_PAGE_SIZE = 500
FILTER_PROPERTIES = ("EntityId", "EntityType", "Action", "ClientId", "UserId", "TrusteeOrganizationId")
ENTITY_KINDS: dict[str, tuple[str, str]] = {
    "routingStrategy": ("Routing", "RoutingStrategy"),
    "routingRule": ("Integrations", "EventBridgeRule"),
    "eventbridgeTarget": ("Integrations", "EventBridgeTarget"),
    "webhook": ("Webhooks", "Webhook"),
    "region": ("Architecture", "Region"),
    "processAutomationTrigger": ("ProcessAutomation", "Trigger"),
    "emergencyGroup": ("Architect", "EmergencyGroup"),
    "telephonySite": ("Telephony", "Site"),
    "architectIvr": ("Architect", "IVR"),
    "integrationAction": ("Integrations", "Action"),
    "architectFlow": ("Architect", "Flow"),
}
# Bookkeeping that moves on every write; not a property anyone changed.
_UNCHANGING = frozenset({"version", "dateModified", "modifiedBy", "selfUri"})


def _flatten(body: Mapping[str, Any] | None, prefix: str = "") -> dict[str, str]:
    """Dotted paths to string values: nested objects are walked, lists kept whole as JSON."""
    flat: dict[str, str] = {}
    for key, value in (body or {}).items():
        path = f"{prefix}{key}"
        if not prefix and key in _UNCHANGING:
            continue
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{path}."))
        elif value is not None:
            flat[path] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return flat


def property_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The SDK's ``PropertyChange`` list between two bodies, in a stable (sorted) order."""
    old, new = _flatten(before), _flatten(after)
    return [
        {
            "property": path,
            "oldValues": [old[path]] if path in old else [],
            "newValues": [new[path]] if path in new else [],
        }
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]


def realtime_message(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One audit entry as an ``AuditLogMessage`` (JSON names)."""
    service, entity_type = ENTITY_KINDS.get(entry["entityType"], ("Platform", entry["entityType"]))
    body = entry["after"] or entry["before"] or {}
    entity: dict[str, Any] = {"id": entry["entityId"]}
    if isinstance(body.get("name"), str):
        entity["name"] = body["name"]
    message: dict[str, Any] = {
        "id": entry["id"],
        "serviceName": service,
        "level": "USER",
        "eventDate": entry["timestamp"],
        "action": entry["action"].capitalize(),
        "entity": entity,
        "entityType": entity_type,
        "status": entry["status"],
    }
    if entry["user"] == ADMIN_USER:
        message["user"] = {"id": ADMIN_USER}
    else:
        message["client"] = {"id": entry["user"]}
    if entry["status"] == "SUCCESS":
        message["propertyChanges"] = property_changes(entry["before"], entry["after"])
    elif entry.get("message"):
        message["message"] = {"message": entry["message"]}
    return message


def _moment(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"{where}: {text!r} is not an ISO-8601 date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RealtimeQuery:
    """A parsed ``AuditRealtimeQueryRequest``."""

    start: datetime
    end: datetime
    service_name: str
    filters: tuple[tuple[str, str], ...]
    page_number: int
    page_size: int
    descending: bool

    @classmethod
    def parse(cls, body: Mapping[str, Any], default_page_size: int) -> RealtimeQuery:
        """Read the request; a 400 names the field that is wrong."""
        interval = body.get("interval")
        if not isinstance(interval, str) or interval.count("/") != 1:
            raise ApiError(400, "interval: required, as 'start/end' ISO-8601 date-times")
        first, last = interval.split("/")
        start, end = _moment(first, "interval start"), _moment(last, "interval end")
        if start >= end:
            raise ApiError(400, "interval: start must be before end")
        service = body.get("serviceName")
        if not isinstance(service, str) or not service:
            raise ApiError(400, "serviceName: required string")
        return cls(
            start,
            end,
            service,
            _filters(body.get("filters")),
            _positive(body, "pageNumber", 1, 2**31),
            _positive(body, "pageSize", default_page_size, MAX_PAGE_SIZE),
            _descending(body.get("sort")),
        )

    def _matches(self, message: Mapping[str, Any]) -> bool:
        values = {
            "EntityId": message["entity"]["id"],
            "EntityType": message["entityType"].lower(),
            "Action": message["action"].lower(),
            "ClientId": message.get("client", {}).get("id"),
            "UserId": message.get("user", {}).get("id"),
            "TrusteeOrganizationId": None,  # the simulator has no trustee organizations
        }
        wanted = {"EntityType", "Action"}
        return message["serviceName"].lower() == self.service_name.lower() and all(
            values[prop] == (value.lower() if prop in wanted else value) for prop, value in self.filters
        )

    def run(self, entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """The ``AuditRealtimeQueryResultsResponse`` for ``entries`` (the log, oldest first)."""
        in_interval = (
            realtime_message(entry)
            for entry in entries
            if self.start <= _moment(entry["timestamp"], "timestamp") < self.end
        )
        selected = [message for message in in_interval if self._matches(message)]
        if self.descending:
            selected.reverse()
        offset = (self.page_number - 1) * self.page_size
        return {
            "entities": selected[offset : offset + self.page_size],
            "pageSize": self.page_size,
            "pageNumber": self.page_number,
            "total": len(selected),
            "pageCount": math.ceil(len(selected) / self.page_size),
        }


def _positive(body: Mapping[str, Any], key: str, default: int, high: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if not is_int(value) or not 1 <= value <= high:
        raise ApiError(400, f"{key}: must be an integer in 1..{high}, got {value!r}")
    return value


def _filters(raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ApiError(400, "filters: must be a list")
    filters: list[tuple[str, str]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or item.get("property") not in FILTER_PROPERTIES:
            raise ApiError(400, f"filters[{index}].property: must be one of {', '.join(FILTER_PROPERTIES)}")
        if not isinstance(item.get("value"), str):
            raise ApiError(400, f"filters[{index}].value: required string")
        filters.append((item["property"], item["value"]))
    return tuple(filters)


def _descending(raw: object) -> bool:
    if raw is None:
        return True
    if not isinstance(raw, list):
        raise ApiError(400, "sort: must be a list")
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or item.get("name") != "Timestamp":
            raise ApiError(400, f"sort[{index}].name: only Timestamp is supported")
        if item.get("sortOrder") not in (None, "ascending", "descending"):
            raise ApiError(400, f"sort[{index}].sortOrder: must be ascending or descending")
    return not raw or raw[0].get("sortOrder", "descending") == "descending"
