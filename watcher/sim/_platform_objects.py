"""Process automation triggers and emergency groups: the real platform's objects (SPEC §6).

They follow a strategy's decision (SPEC §6.2), so the simulator keeps them with the same
rules as strategies and rules: a version that moves on every change, 409 on a stale one,
schema limits as 400s naming the field, an audit entry for every attempt. As in
:mod:`watcher.sim._org`, stored bodies are replaced, never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watcher.sim._audit import AuditLog, iso_utc
from watcher.sim._platform_schema import (
    TRIGGER_FIELDS,
    TRIGGER_UPDATE_FIELDS,
    emergency_group_problem,
    trigger_problem,
    trigger_update_problem,
)
from watcher.sim._seed import SimSeed
from watcher.sim._versioned import ADMIN_USER, ApiError, Versioned, seed_version

TRIGGER_PATH = "/api/v2/processautomation/triggers"
EMERGENCY_GROUP_PATH = "/api/v2/architect/emergencygroups"
TRIGGER_ENTITY = "processAutomationTrigger"
EMERGENCY_GROUP_ENTITY = "emergencyGroup"

# Set by the server on an emergency group, whatever a PUT says.
_GROUP_MANAGED = frozenset(
    {"id", "version", "selfUri", "dateModified", "modifiedBy", "dateCreated", "createdBy"}
)


def _trigger(body: Mapping[str, Any], trigger_id: str, version: int) -> dict[str, Any]:
    """The stored trigger: the SDK's ``Trigger`` fields only, in its order, nulls left out."""
    values = {**body, "id": trigger_id, "version": version, "selfUri": f"{TRIGGER_PATH}/{trigger_id}"}
    return {key: values[key] for key in TRIGGER_FIELDS if values.get(key) is not None}


class PlatformObjects:
    """Triggers and emergency groups of one organization, audited in the org's audit log.

    Example::

        objects = PlatformObjects(AuditLog(), default_seed())
        objects.put_trigger("trigger-1", {...UpdateTriggerRequest...}, user="sim-client")
    """

    def __init__(self, audit: AuditLog, seed: SimSeed | None = None) -> None:
        self.audit = audit
        self._triggers = Versioned(audit, TRIGGER_ENTITY, "trigger")
        self._groups = Versioned(audit, EMERGENCY_GROUP_ENTITY, "emergency group")
        self.triggers: dict[str, dict[str, Any]] = self._triggers.items
        self.emergency_groups: dict[str, dict[str, Any]] = self._groups.items
        if seed is not None:
            for body in seed.triggers:
                self.triggers[body["id"]] = _trigger(body, body["id"], seed_version(body))
            for body in seed.emergencyGroups:
                group_id = body["id"]
                self.emergency_groups[group_id] = {
                    "state": "active",
                    **body,
                    "id": group_id,
                    "version": seed_version(body),
                    "selfUri": f"{EMERGENCY_GROUP_PATH}/{group_id}",
                }

    # -- reads -------------------------------------------------------------------------

    def trigger(self, trigger_id: str) -> dict[str, Any]:
        return self._triggers.get(trigger_id)

    def emergency_group(self, group_id: str) -> dict[str, Any]:
        return self._groups.get(group_id)

    # -- the public PUTs: the version is required and must be the current one -------------

    def put_trigger(self, trigger_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Apply an ``UpdateTriggerRequest``; answer the ``Trigger`` with the next version.

        Keys the request model does not have are ignored, as the platform does.
        """
        current = self.trigger(trigger_id)
        self._triggers.check(current, body.get("version"), user, trigger_update_problem(body, current))
        update = {key: body.get(key) for key in TRIGGER_UPDATE_FIELDS}
        new = _trigger(update, trigger_id, current["version"] + 1)
        return self._triggers.store(current, new, user)

    def _group(
        self, group_id: str, body: Mapping[str, Any], before: dict[str, Any] | None, user: str
    ) -> dict[str, Any]:
        """The stored group: the body's fields (unknown ones kept), the server's bookkeeping."""
        now = iso_utc(self.audit.now())
        new = {key: value for key, value in body.items() if key not in _GROUP_MANAGED}
        new.setdefault("state", before["state"] if before is not None else "active")
        new.update(
            id=group_id,
            version=1 if before is None else before["version"] + 1,
            dateModified=now,
            modifiedBy=user,
            selfUri=f"{EMERGENCY_GROUP_PATH}/{group_id}",
        )
        created = {"dateCreated": now, "createdBy": user} if before is None else before
        for key in ("dateCreated", "createdBy"):
            if key in created:
                new[key] = created[key]
        return new

    def put_emergency_group(self, group_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Replace a whole emergency group; ``version`` is required and must be the current one."""
        current = self.emergency_group(group_id)
        problem = emergency_group_problem(body, group_id, require_version=True)
        self._groups.check(current, body.get("version"), user, problem)
        new = self._group(group_id, body, current, user)
        return self._groups.store(current, new, user)

    # -- admin changes behind the watcher's back ----------------------------------------

    def admin_put_trigger(self, trigger_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change a trigger (a whole ``Trigger``; version ignored and bumped).

        Unlike the public PUT, keys the ``Trigger`` model does not have are refused, so a
        typo in a test or a seed is caught instead of silently dropped.
        """
        unknown = sorted(set(body) - set(TRIGGER_FIELDS))
        if unknown:
            raise ApiError(400, f"{unknown[0]}: not a field of Trigger")
        problem = trigger_problem(body, trigger_id)
        if problem:
            raise ApiError(400, problem)
        before = self.triggers.get(trigger_id)
        new = _trigger(body, trigger_id, 1 if before is None else before["version"] + 1)
        return self._triggers.store(before, new, ADMIN_USER)

    def admin_put_emergency_group(self, group_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change an emergency group (version ignored and bumped, unknown fields kept)."""
        problem = emergency_group_problem(body, group_id, require_version=False)
        if problem:
            raise ApiError(400, problem)
        before = self.emergency_groups.get(group_id)
        new = self._group(group_id, body, before, ADMIN_USER)
        return self._groups.store(before, new, ADMIN_USER)

    def snapshot(self) -> dict[str, Any]:
        return {
            "triggers": list(self.triggers.values()),
            "emergencyGroups": list(self.emergency_groups.values()),
        }
