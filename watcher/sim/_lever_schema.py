"""The shapes of the real platform's levers (SPEC §6.2.1): telephony sites, Architect IVRs, data
actions and flows, as the official SDK (PureCloudPlatformClientV2 269.0.0) models them.

:data:`MODELS` is each model's fields (JSON names) and their types, copied from the SDK's
``swagger_types``/``attribute_map``; nested models the simulator does not look into (an
``Edge``, a ``LocationDefinition``, a ``User``) are ``object`` (any JSON object), and the SDK's
own ``object`` (any JSON value) is ``any``. :func:`conform` checks a body
against a model the way the SDK would deserialize it and answers the body the simulator keeps:

* ``strict=False`` (the public PUT/PATCH): fields the model does not have are dropped, as the
  SDK's own models drop them;
* ``strict=True`` (the ``/_sim`` admin calls and seed files): they are refused, so a typo in a
  test or a seed is caught instead of silently lost.

A wrong type, a value outside the SDK's enums or a missing required field is a
:class:`ShapeError` naming the field path (``config.request.requestType: ...``). Messages name
types, never values, except for enum values: a URL template may carry a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from watcher.sim._schema import is_int

_REF = {"id": "str", "name": "str", "selfUri": "str"}
_ENTITY = {
    # The bookkeeping every Site and IVR carries (the SDK's common entity fields).
    **{"version": "int", "dateCreated": "datetime", "dateModified": "datetime"},
    **{"modifiedBy": "str", "createdBy": "str", "state": "str"},
    **{"modifiedByApp": "str", "createdByApp": "str"},
}
_FLOW_VERSION_RUNS = {"dateCreated": "int", "dateCheckedIn": "int", "dateSaved": "int"}

MODELS: dict[str, dict[str, str]] = {
    "DomainEntityRef": _REF,
    "Division": _REF,
    "WritableDivision": _REF,
    "Site": {
        **{"id": "str", "name": "str", "division": "Division", "description": "str", **_ENTITY},
        "primarySites": "list[DomainEntityRef]",
        "secondarySites": "list[DomainEntityRef]",
        **{"primaryEdges": "list[object]", "secondaryEdges": "list[object]"},
        **{"addresses": "list[object]", "edges": "list[object]", "edgeAutoUpdateConfig": "object"},
        **{"mediaRegionsUseLatencyBased": "bool", "location": "object", "managed": "bool"},
        **{"ntpSettings": "object", "mediaModel": "str", "coreSite": "bool"},
        **{"siteConnections": "list[object]", "mediaRegions": "list[str]"},
        **{"callerId": "str", "callerName": "str", "cloudProxyForceTurn": "bool", "selfUri": "str"},
    },
    "IVR": {
        **{"id": "str", "name": "str", "division": "WritableDivision", "description": "str", **_ENTITY},
        "dnis": "list[str]",
        "openHoursFlow": "DomainEntityRef",
        "closedHoursFlow": "DomainEntityRef",
        "holidayHoursFlow": "DomainEntityRef",
        "scheduleGroup": "DomainEntityRef",
        "selfUri": "str",
    },
    "Action": {
        **{"id": "str", "name": "str", "integrationId": "str", "category": "str"},
        **{"contract": "ActionContract", "version": "int", "secure": "bool"},
        **{"config": "ActionConfig", "selfUri": "str"},
    },
    "UpdateActionInput": {"category": "str", "name": "str", "config": "ActionConfig", "version": "int"},
    "ActionContract": {"output": "ActionOutput", "input": "ActionInput"},
    "ActionInput": {
        **{"inputSchema": "JsonSchemaDocument", "inputSchemaFlattened": "JsonSchemaDocument"},
        "inputSchemaUri": "str",
    },
    "ActionOutput": {
        **{"successSchema": "JsonSchemaDocument", "successSchemaUri": "str"},
        **{"errorSchema": "JsonSchemaDocument", "errorSchemaUri": "str"},
        **{"successSchemaFlattened": "object", "errorSchemaFlattened": "object"},
    },
    "JsonSchemaDocument": {
        **{"id": "str", "$schema": "str", "title": "str", "description": "str", "type": "str"},
        **{"required": "list[str]", "properties": "object", "additionalProperties": "any"},
    },
    "ActionConfig": {"timeoutSeconds": "int", "request": "RequestConfig", "response": "ResponseConfig"},
    "RequestConfig": {
        **{"requestUrlTemplate": "str", "requestTemplate": "str", "requestTemplateUri": "str"},
        **{"requestType": "str", "headers": "dict[str]"},
    },
    "ResponseConfig": {
        **{"translationMap": "dict[str]", "translationMapDefaults": "dict[str]"},
        **{"successTemplate": "str", "successTemplateUri": "str"},
    },
    "Flow": {
        **{"id": "str", "name": "str", "division": "WritableDivision", "description": "str"},
        **{"type": "str", "lockedUser": "object", "lockedClient": "DomainEntityRef"},
        **{"active": "bool", "system": "bool", "deleted": "bool"},
        **{"publishedVersion": "FlowVersion", "savedVersion": "FlowVersion"},
        **{"inputSchema": "any", "outputSchema": "any"},
        **{"checkedInVersion": "FlowVersion", "debugVersion": "FlowVersion"},
        **{"publishedBy": "object", "currentOperation": "object", "nluInfo": "object"},
        **{"supportedLanguages": "list[object]", "compatibleFlowTypes": "list[str]"},
        **{"worktypeId": "str", "virtualAgentEnabled": "bool", "selfUri": "str"},
    },
    "FlowVersion": {
        **{"id": "str", "name": "str", "commitVersion": "str", "configurationVersion": "str"},
        **{"type": "str", "secure": "bool", "debug": "bool", "createdBy": "object"},
        **{"createdByClient": "DomainEntityRef", "configurationUri": "str", **_FLOW_VERSION_RUNS},
        **{"generationId": "str", "publishResultUri": "str"},
        **{
            "inputSchema": "JsonSchemaDocument",
            "outputSchema": "JsonSchemaDocument",
            "virtualAgentEnabled": "bool",
        },
        **{"datePublished": "datetime", "datePublishedEnd": "datetime", "nluInfo": "object"},
        **{"supportedLanguages": "list[object]", "compatibleFlowTypes": "list[str]", "selfUri": "str"},
    },
}

ENTITY_STATES = ("active", "inactive", "deleted")
FLOW_TYPES = (
    *("BOT", "BUSINESSPROCESS", "COMMONMODULE", "DIGITALBOT", "EMAILSEND", "INBOUNDCALL"),
    *("INBOUNDCHAT", "INBOUNDEMAIL", "INBOUNDSHORTMESSAGE", "INQUEUECALL", "INQUEUEEMAIL"),
    *("INQUEUESHORTMESSAGE", "OUTBOUNDCALL", "SECURECALL", "SPEECH", "SURVEYINVITE", "VOICE"),
    *("VOICEMAIL", "VOICESURVEY", "WORKFLOW", "WORKITEM"),
)
REQUEST_TYPES = ("GET", "PUT", "POST", "PATCH", "DELETE")
MAX_ACTION_TIMEOUT_SECONDS = 60

# The SDK's enums (``allowed_values``); the platform's for ``requestType``.
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Site", "state"): ENTITY_STATES,
    ("Site", "mediaModel"): ("Premises", "Cloud"),
    ("IVR", "state"): ENTITY_STATES,
    ("Flow", "type"): FLOW_TYPES,
    ("FlowVersion", "type"): ("PUBLISH", "CHECKIN", "SAVE"),
    ("RequestConfig", "requestType"): REQUEST_TYPES,
}

# What the platform refuses a body without; required strings must not be empty.
REQUIRED: dict[str, tuple[str, ...]] = {
    "DomainEntityRef": ("id",),
    "Site": ("name",),
    "IVR": ("name",),
    "Action": ("name", "integrationId", "config"),
    "UpdateActionInput": ("version",),
    "ActionConfig": ("request", "response"),
    "RequestConfig": ("requestUrlTemplate", "requestType"),
    "Flow": ("name", "type"),
    "FlowVersion": ("id",),
}

_PRIMITIVES = {"str": str, "bool": bool}


class ShapeError(ValueError):
    """A body that does not fit its model; the message starts with the field path."""


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _is_utc_datetime(value: object) -> bool:
    if not isinstance(value, str) or not value.endswith("Z"):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _scalar(value: object, type_name: str, where: str) -> Any:
    kind = type(value).__name__
    if type_name in _PRIMITIVES and not isinstance(value, _PRIMITIVES[type_name]):
        raise ShapeError(f"{where}: must be a {'string' if type_name == 'str' else 'boolean'}, got {kind}")
    if type_name == "int" and not is_int(value):
        raise ShapeError(f"{where}: must be an integer, got {kind}")
    if type_name == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ShapeError(f"{where}: must be a number, got {kind}")
    if type_name == "datetime" and not _is_utc_datetime(value):
        raise ShapeError(f"{where}: must be an ISO-8601 UTC date-time ending in Z")
    return value


def conform(value: object, type_name: str, where: str = "", *, strict: bool) -> Any:
    """``value`` checked as ``type_name`` (a :data:`MODELS` name, ``list[...]``, ``dict[str]``,
    ``object``, ``any`` or a scalar); answers what the simulator keeps (nulls and, unless ``strict``,
    unknown fields left out). Raises :class:`ShapeError`."""
    if type_name.startswith("list["):
        if not isinstance(value, list):
            raise ShapeError(f"{where}: must be a list, got {type(value).__name__}")
        inner = type_name[5:-1]
        return [conform(item, inner, f"{where}[{index}]", strict=strict) for index, item in enumerate(value)]
    if type_name == "dict[str]":
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ShapeError(f"{where}: must be an object of strings")
        return dict(value)
    if type_name == "any":
        return value
    if type_name == "object":
        if not isinstance(value, Mapping):
            raise ShapeError(f"{where}: must be an object, got {type(value).__name__}")
        return dict(value)
    fields = MODELS.get(type_name)
    if fields is None:
        return _scalar(value, type_name, where)
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where or 'body'}: must be an object, got {type(value).__name__}")
    unknown = sorted(set(value) - set(fields))
    if strict and unknown:
        raise ShapeError(f"{_at(where, unknown[0])}: not a field of {type_name}")
    kept: dict[str, Any] = {}
    for key, field_type in fields.items():
        item = value.get(key)
        if item is None:
            continue
        kept[key] = conform(item, field_type, _at(where, key), strict=strict)
        allowed = ENUMS.get((type_name, key))
        if allowed is not None and item not in allowed:
            raise ShapeError(f"{_at(where, key)}: must be one of {', '.join(allowed)}, got {item!r}")
    for key in REQUIRED.get(type_name, ()):
        if kept.get(key) is None or kept[key] == "":
            raise ShapeError(f"{_at(where, key)}: required")
    return kept


def _unique_strings(values: list[str], where: str) -> None:
    for index, value in enumerate(values):
        if not value:
            raise ShapeError(f"{where}[{index}]: must not be empty")
        if value in values[:index]:
            raise ShapeError(f"{where}[{index}]: duplicate {value!r}")


def site_rules(site: Mapping[str, Any]) -> None:
    """A site's own limits: ``mediaRegions`` are distinct, non-empty region names."""
    _unique_strings(site.get("mediaRegions", []), "mediaRegions")


def ivr_rules(ivr: Mapping[str, Any]) -> None:
    """An IVR's own limits: its ``dnis`` numbers are distinct and non-empty."""
    _unique_strings(ivr.get("dnis", []), "dnis")


def action_rules(action: Mapping[str, Any]) -> None:
    """A data action's ``config.timeoutSeconds`` is 1..60, as the platform allows."""
    timeout = action.get("config", {}).get("timeoutSeconds")
    if timeout is not None and not 1 <= timeout <= MAX_ACTION_TIMEOUT_SECONDS:
        raise ShapeError(f"config.timeoutSeconds: must be in 1..{MAX_ACTION_TIMEOUT_SECONDS}, got {timeout}")


def _no_rules(body: Mapping[str, Any]) -> None:
    return None


RULES: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "Site": site_rules,
    "IVR": ivr_rules,
    "Action": action_rules,
    "Flow": _no_rules,
}
# What the server sets, whatever a body says (when the model has the field at all).
SERVER_FIELDS = frozenset(
    {"id", "version", "selfUri", "dateCreated", "dateModified", "createdBy", "modifiedBy"}
    | {"createdByApp", "modifiedByApp"}
)
# Seed-file keys: (key, model, kind as errors name it).
SEED_KINDS = (
    ("sites", "Site", "site"),
    ("ivrs", "IVR", "IVR"),
    ("dataActions", "Action", "data action"),
    ("flows", "Flow", "flow"),
)


def shape(body: Mapping[str, Any], model: str, path_id: str, kind: str, *, strict: bool) -> dict[str, Any]:
    """A whole ``model`` body for the object ``path_id``, without the server's fields, checked
    field by field and by the model's own rules; raises :class:`ShapeError`."""
    if body.get("id") is not None and body["id"] != path_id:
        raise ShapeError(f"id: {body['id']!r} does not match the {kind} id {path_id!r} in the path")
    fields = MODELS[model]
    given = {key: value for key, value in body.items() if key not in SERVER_FIELDS or key not in fields}
    kept: dict[str, Any] = conform(given, model, strict=strict)
    RULES[model](kept)
    return kept
