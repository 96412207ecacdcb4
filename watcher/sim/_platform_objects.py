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
from watcher.sim._org import ADMIN_USER, ApiError
from watcher.sim._platform_schema import (
    TRIGGER_FIELDS,
    TRIGGER_UPDATE_FIELDS,
    emergency_group_problem,
    trigger_problem,
    trigger_update_problem,
)
from watcher.sim._schema import is_int
from watcher.sim._seed import SimSeed

TRIGGER_PATH = "/api/v2/processautomation/triggers"
EMERGENCY_GROUP_PATH = "/api/v2/architect/emergencygroups"
TRIGGER_ENTITY = "processAutomationTrigger"
EMERGENCY_GROUP_ENTITY = "emergencyGroup"

# Set by the server on an emergency group, whatever a PUT says.
_GROUP_MANAGED = frozenset(
    {"id", "version", "selfUri", "dateModified", "modifiedBy", "dateCreated", "createdBy"}
)


def _seed_version(body: Mapping[str, Any]) -> int:
    version = body.get("version")
    return version if is_int(version) and version >= 1 else 1


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
        self.triggers: dict[str, dict[str, Any]] = {}
        self.emergency_groups: dict[str, dict[str, Any]] = {}
        if seed is not None:
            for body in seed.triggers:
                self.triggers[body["id"]] = _trigger(body, body["id"], _seed_version(body))
            for body in seed.emergencyGroups:
                group_id = body["id"]
                self.emergency_groups[group_id] = {
                    "state": "active",
                    **body,
                    "id": group_id,
                    "version": _seed_version(body),
                    "selfUri": f"{EMERGENCY_GROUP_PATH}/{group_id}",
                }

    # -- reads -------------------------------------------------------------------------

    def trigger(self, trigger_id: str) -> dict[str, Any]:
        body = self.triggers.get(trigger_id)
        if body is None:
            raise ApiError.not_found("trigger", trigger_id)
        return body

    def emergency_group(self, group_id: str) -> dict[str, Any]:
        body = self.emergency_groups.get(group_id)
        if body is None:
            raise ApiError.not_found("emergency group", group_id)
        return body

    # -- the public PUTs -------------------------------------------------------------------

    def _refuse(self, entity_type: str, current: dict[str, Any], user: str, error: ApiError) -> ApiError:
        self.audit.record(
            entity_id=current["id"],
            entity_type=entity_type,
            action="update",
            user=user,
            status="FAILURE",
            before=current,
            after=None,
            version=current["version"],
            message=error.message,
        )
        return error

    def _checked(
        self,
        entity_type: str,
        current: dict[str, Any],
        body: Mapping[str, Any],
        user: str,
        problem: str | None,
    ) -> None:
        """Raise (and audit) a 400 for ``problem``, else a 409 for a stale version."""
        if problem:
            raise self._refuse(entity_type, current, user, ApiError(400, problem, "bad.request"))
        if body["version"] != current["version"]:
            raise self._refuse(
                entity_type, current, user, ApiError.conflict(body["version"], current["version"])
            )

    def _store(
        self,
        store: dict[str, dict[str, Any]],
        entity_type: str,
        before: dict[str, Any] | None,
        new: dict[str, Any],
        user: str,
    ) -> dict[str, Any]:
        store[new["id"]] = new
        self.audit.record(
            entity_id=new["id"],
            entity_type=entity_type,
            action="create" if before is None else "update",
            user=user,
            status="SUCCESS",
            before=before,
            after=new,
            version=new["version"],
        )
        return new

    def put_trigger(self, trigger_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Apply an ``UpdateTriggerRequest``; answer the ``Trigger`` with the next version.

        Keys the request model does not have are ignored, as the platform does.
        """
        current = self.trigger(trigger_id)
        self._checked(TRIGGER_ENTITY, current, body, user, trigger_update_problem(body, current))
        update = {key: body.get(key) for key in TRIGGER_UPDATE_FIELDS}
        new = _trigger(update, trigger_id, current["version"] + 1)
        return self._store(self.triggers, TRIGGER_ENTITY, current, new, user)

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
        self._checked(EMERGENCY_GROUP_ENTITY, current, body, user, problem)
        new = self._group(group_id, body, current, user)
        return self._store(self.emergency_groups, EMERGENCY_GROUP_ENTITY, current, new, user)

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
        return self._store(self.triggers, TRIGGER_ENTITY, before, new, ADMIN_USER)

    def admin_put_emergency_group(self, group_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change an emergency group (version ignored and bumped, unknown fields kept)."""
        problem = emergency_group_problem(body, group_id, require_version=False)
        if problem:
            raise ApiError(400, problem)
        before = self.emergency_groups.get(group_id)
        new = self._group(group_id, body, before, ADMIN_USER)
        return self._store(self.emergency_groups, EMERGENCY_GROUP_ENTITY, before, new, ADMIN_USER)

    def snapshot(self) -> dict[str, Any]:
        return {
            "triggers": list(self.triggers.values()),
            "emergencyGroups": list(self.emergency_groups.values()),
        }
