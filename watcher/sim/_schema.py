"""The platform's schema limits for strategies and routing rules, as pure checks.

Each check returns the first problem as ``"<field path>: <what is wrong>"`` (the shape of a
Genesys 400 ``message``) or ``None``. Keeping them pure lets the simulator's HTTP layer, the
seed loader and tests share one definition of "valid".
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeGuard

MAX_EVALUATION_TIMEOUT_MS = 30_000
MAX_CONDITIONS = 15
MAX_CONDITION_TEXT = 1000
MIN_RULE_PRIORITY = 1
MAX_RULE_PRIORITY = 1000


def is_int(value: object) -> TypeGuard[int]:
    """True for a JSON integer (``bool`` is an ``int`` in Python, but not in JSON)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _version_problem(body: Mapping[str, Any], *, required: bool) -> str | None:
    if "version" not in body or body["version"] is None:
        return "version: required for optimistic locking" if required else None
    if not is_int(body["version"]):
        return "version: must be an integer"
    return None


def _id_problem(body: Mapping[str, Any], path_id: str, kind: str) -> str | None:
    if "id" in body and body["id"] != path_id:
        return f"id: {body['id']!r} does not match the {kind} id {path_id!r} in the path"
    return None


def strategy_problem(body: Mapping[str, Any], path_id: str, known_regions: Collection[str]) -> str | None:
    """First schema problem of a routing strategy body, or ``None``.

    ``routingConfig.regions`` must be non-empty; each ``regionId`` a known, distinct region;
    priorities unique positive integers; weights 0..100; ``evaluationTimeoutMs`` (when given)
    1..30000. ``version`` is optional for strategies but must be an integer when present.
    """
    problem = _id_problem(body, path_id, "strategy") or _version_problem(body, required=False)
    if problem:
        return problem
    config = body.get("routingConfig")
    if not isinstance(config, Mapping):
        return "routingConfig: required object"
    timeout = config.get("evaluationTimeoutMs")
    if timeout is not None and not (is_int(timeout) and 1 <= timeout <= MAX_EVALUATION_TIMEOUT_MS):
        return (
            "routingConfig.evaluationTimeoutMs: must be an integer in "
            f"1..{MAX_EVALUATION_TIMEOUT_MS}, got {timeout!r}"
        )
    regions = config.get("regions")
    if not isinstance(regions, list) or not regions:
        return "routingConfig.regions: must be a non-empty list"
    seen_regions: set[str] = set()
    seen_priorities: set[int] = set()
    for index, entry in enumerate(regions):
        where = f"routingConfig.regions[{index}]"
        if not isinstance(entry, Mapping):
            return f"{where}: must be an object"
        region_id = entry.get("regionId")
        if not isinstance(region_id, str) or not region_id:
            return f"{where}.regionId: required string"
        if region_id not in known_regions:
            return f"{where}.regionId: unknown region {region_id!r}"
        if region_id in seen_regions:
            return f"{where}.regionId: duplicate region {region_id!r}"
        seen_regions.add(region_id)
        priority = entry.get("priority")
        if not is_int(priority) or priority < 1:
            return f"{where}.priority: must be a positive integer, got {priority!r}"
        if priority in seen_priorities:
            return f"{where}.priority: duplicate priority {priority}"
        seen_priorities.add(priority)
        weight = entry.get("weight")
        if not _is_number(weight) or not 0 <= weight <= 100:
            return f"{where}.weight: must be a number in 0..100, got {weight!r}"
        trigger = entry.get("failoverTrigger")
        if trigger is not None and not isinstance(trigger, str):
            return f"{where}.failoverTrigger: must be a string"
    return None


def condition_text_length(conditions: Sequence[Any]) -> int:
    """The platform's "condition text": ``sum(len(json.dumps(c)) for c in conditions)``.

    ``json.dumps`` with its default separators (``", "`` and ``": "``) measures what a client
    would naturally send; the seed's ``str(c)`` is Python-specific and not a wire measure.
    """
    return sum(len(json.dumps(condition)) for condition in conditions)


def rule_problem(
    body: Mapping[str, Any],
    path_id: str,
    known_targets: Collection[str],
    *,
    require_version: bool,
) -> str | None:
    """First schema problem of an EventBridge routing rule body, or ``None``.

    Limits: at most 15 conditions, at most 1000 characters of condition text (see
    :func:`condition_text_length`), priority 1..1000, every target an object whose ``id``
    names an existing target. ``version`` is required on the public PUT.
    """
    problem = _id_problem(body, path_id, "rule") or _version_problem(body, required=require_version)
    if problem:
        return problem
    priority = body.get("priority")
    if not is_int(priority) or not MIN_RULE_PRIORITY <= priority <= MAX_RULE_PRIORITY:
        return f"priority: must be an integer in {MIN_RULE_PRIORITY}..{MAX_RULE_PRIORITY}, got {priority!r}"
    conditions = body.get("conditions", [])
    if not isinstance(conditions, list):
        return "conditions: must be a list"
    if len(conditions) > MAX_CONDITIONS:
        return f"conditions: {len(conditions)} conditions, at most {MAX_CONDITIONS} allowed"
    text = condition_text_length(conditions)
    if text > MAX_CONDITION_TEXT:
        return f"conditions: {text} characters of condition text, at most {MAX_CONDITION_TEXT} allowed"
    targets = body.get("targets", [])
    if not isinstance(targets, list):
        return "targets: must be a list"
    for index, target in enumerate(targets):
        if not isinstance(target, Mapping):
            return f"targets[{index}]: must be an object"
        target_id = target.get("id")
        if not isinstance(target_id, str) or not target_id:
            return f"targets[{index}].id: required string"
        if target_id not in known_targets:
            return f"targets[{index}].id: target {target_id!r} does not exist"
    return None
