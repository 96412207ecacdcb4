"""The real platform's rules for process automation triggers, emergency groups and status-page
components (SPEC §6).

Pure checks in the style of :mod:`watcher.sim._schema`: each returns the first problem as
``"<field path>: <what is wrong>"`` or ``None``. The facts come from the official SDK
(PureCloudPlatformClientV2 269.0.0): its ``UpdateTriggerRequest``, ``Trigger``,
``MatchCriteria`` and ``EmergencyGroup`` models and their documented limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watcher.sim._schema import is_int

TRIGGER_TARGET_TYPES = ("Workflow",)
WORKFLOW_DATA_FORMATS = ("Json", "TopLevelPrimitives")
MATCH_OPERATORS = (
    *("GreaterThanOrEqual", "LessThanOrEqual", "Equal", "NotEqual", "LessThan", "GreaterThan"),
    *("NotIn", "In", "Contains", "All", "Exists", "Size"),
)
MIN_EVENT_TTL_SECONDS = 10
MIN_DELAY_BY_SECONDS = 60
MAX_DELAY_BY_SECONDS = 900
MAX_TRIGGER_DESCRIPTION = 512
EMERGENCY_GROUP_STATES = ("active", "inactive", "deleted")
# Status-page component statuses, in order of severity (a group shows its worst child's).
COMPONENT_STATUSES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)

# The fields of the SDK's ``Trigger``, in its order; a trigger never carries anything else.
TRIGGER_FIELDS = (
    *("id", "name", "topicName", "target", "version", "enabled", "matchCriteria"),
    *("eventTTLSeconds", "delayBySeconds", "description", "selfUri"),
)
# What ``UpdateTriggerRequest`` may carry; other keys of a PUT are ignored.
TRIGGER_UPDATE_FIELDS = (
    *("version", "enabled", "target", "matchCriteria", "name", "topicName"),
    *("eventTTLSeconds", "delayBySeconds", "description"),
)


def _non_empty_string(body: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        return f"{where}{key}: required non-empty string"
    return None


def _version_problem(body: Mapping[str, Any], *, required: bool) -> str | None:
    version = body.get("version")
    if version is None:
        return "version: required for optimistic locking" if required else None
    if not is_int(version):
        return f"version: must be an integer, got {version!r}"
    return None


def _id_problem(body: Mapping[str, Any], path_id: str, kind: str) -> str | None:
    if body.get("id") is not None and body["id"] != path_id:
        return f"id: {body['id']!r} does not match the {kind} id {path_id!r} in the path"
    return None


def _target_problem(target: object) -> str | None:
    if not isinstance(target, Mapping):
        return "target: required object"
    if target.get("type") not in TRIGGER_TARGET_TYPES:
        return f"target.type: must be one of {', '.join(TRIGGER_TARGET_TYPES)}, got {target.get('type')!r}"
    problem = _non_empty_string(target, "id", "target.")
    if problem:
        return problem
    settings = target.get("workflowTargetSettings")
    if settings is None:
        return None
    if not isinstance(settings, Mapping):
        return "target.workflowTargetSettings: must be an object"
    data_format = settings.get("dataFormat")
    if data_format is not None and data_format not in WORKFLOW_DATA_FORMATS:
        return (
            "target.workflowTargetSettings.dataFormat: must be one of "
            f"{', '.join(WORKFLOW_DATA_FORMATS)}, got {data_format!r}"
        )
    return None


def _match_criteria_problem(criteria: object) -> str | None:
    if not isinstance(criteria, list):
        return "matchCriteria: required list"
    for index, criterion in enumerate(criteria):
        where = f"matchCriteria[{index}]"
        if not isinstance(criterion, Mapping):
            return f"{where}: must be an object"
        problem = _non_empty_string(criterion, "jsonPath", f"{where}.")
        if problem:
            return problem
        if criterion.get("operator") not in MATCH_OPERATORS:
            return f"{where}.operator: must be one of {', '.join(MATCH_OPERATORS)}"
        if criterion.get("value") is not None and criterion.get("values") is not None:
            return f"{where}: only one of value and values can be included"
        if criterion.get("values") is not None and not isinstance(criterion["values"], list):
            return f"{where}.values: must be a list"
    return None


def _timing_problem(body: Mapping[str, Any]) -> str | None:
    ttl, delay = body.get("eventTTLSeconds"), body.get("delayBySeconds")
    if ttl is not None and (not is_int(ttl) or ttl < MIN_EVENT_TTL_SECONDS):
        return f"eventTTLSeconds: must be an integer of at least {MIN_EVENT_TTL_SECONDS}, got {ttl!r}"
    in_range = is_int(delay) and MIN_DELAY_BY_SECONDS <= delay <= MAX_DELAY_BY_SECONDS
    if delay is not None and not in_range:
        return (
            f"delayBySeconds: must be an integer in {MIN_DELAY_BY_SECONDS}..{MAX_DELAY_BY_SECONDS}, "
            f"got {delay!r}"
        )
    if ttl is not None and delay is not None:
        return "eventTTLSeconds, delayBySeconds: only one of eventTTLSeconds or delayBySeconds can be set"
    return None


def trigger_problem(body: Mapping[str, Any], path_id: str) -> str | None:
    """First problem of a whole ``Trigger`` (as seeded or set by the admin API), or ``None``.

    ``name``, ``topicName``, ``enabled``, ``target`` (type ``Workflow``) and ``matchCriteria``
    are required; ``eventTTLSeconds`` >= 10 or ``delayBySeconds`` in 60..900, never both;
    ``description`` at most 512 characters.
    """
    problem = (
        _id_problem(body, path_id, "trigger")
        or _version_problem(body, required=False)
        or _non_empty_string(body, "name")
        or _non_empty_string(body, "topicName")
    )
    if problem:
        return problem
    if not isinstance(body.get("enabled"), bool):
        return "enabled: required boolean"
    problem = (
        _target_problem(body.get("target"))
        or _match_criteria_problem(body.get("matchCriteria"))
        or _timing_problem(body)
    )
    if problem:
        return problem
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        return "description: must be a string"
    if description is not None and len(description) > MAX_TRIGGER_DESCRIPTION:
        return f"description: {len(description)} characters, at most {MAX_TRIGGER_DESCRIPTION} allowed"
    return None


def trigger_update_problem(body: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """First problem of an ``UpdateTriggerRequest`` against the stored trigger, or ``None``.

    ``version`` is required (whether it is the current one is a 409, decided elsewhere), and
    ``topicName`` cannot be updated: it must equal the current one.
    """
    problem = _version_problem(body, required=True)
    if problem:
        return problem
    topic, current_topic = body.get("topicName"), current["topicName"]
    if topic != current_topic:
        return f"topicName: cannot be updated, must equal the current topic {current_topic!r}, got {topic!r}"
    return trigger_problem({key: body.get(key) for key in TRIGGER_UPDATE_FIELDS}, current["id"])


def _entity_ref_problem(ref: object, where: str) -> str | None:
    if not isinstance(ref, Mapping):
        return f"{where}: must be an object"
    problem = _non_empty_string(ref, "id", f"{where}.")
    if problem:
        return problem
    if ref.get("name") is not None and not isinstance(ref["name"], str):
        return f"{where}.name: must be a string"
    return None


def _call_flows_problem(flows: object) -> str | None:
    if flows is None:
        return None
    if not isinstance(flows, list):
        return "emergencyCallFlows: must be a list"
    for index, flow in enumerate(flows):
        where = f"emergencyCallFlows[{index}]"
        if not isinstance(flow, Mapping):
            return f"{where}: must be an object"
        problem = _entity_ref_problem(flow.get("emergencyFlow"), f"{where}.emergencyFlow")
        if problem:
            return problem
        ivrs = flow.get("ivrs", [])
        if not isinstance(ivrs, list):
            return f"{where}.ivrs: must be a list"
        for ivr_index, ivr in enumerate(ivrs):
            problem = _entity_ref_problem(ivr, f"{where}.ivrs[{ivr_index}]")
            if problem:
                return problem
    return None


def emergency_group_problem(body: Mapping[str, Any], path_id: str, *, require_version: bool) -> str | None:
    """First problem of an ``EmergencyGroup`` body, or ``None``.

    ``name`` and ``enabled`` are required; ``state`` (when given) is active, inactive or
    deleted; ``emergencyCallFlows`` entries name their flow and IVRs by id. Fields this
    check does not know are allowed (and kept by the simulator).
    """
    problem = (
        _id_problem(body, path_id, "emergency group")
        or _version_problem(body, required=require_version)
        or _non_empty_string(body, "name")
    )
    if problem:
        return problem
    if not isinstance(body.get("enabled"), bool):
        return "enabled: required boolean"
    state = body.get("state")
    if state is not None and state not in EMERGENCY_GROUP_STATES:
        return f"state: must be one of {', '.join(EMERGENCY_GROUP_STATES)}, got {state!r}"
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        return "description: must be a string"
    return _call_flows_problem(body.get("emergencyCallFlows"))


def status_problem(status: object) -> str | None:
    """Whether ``status`` is one a status-page component can have."""
    if status not in COMPONENT_STATUSES:
        return f"status: must be one of {', '.join(COMPONENT_STATUSES)}, got {status!r}"
    return None
