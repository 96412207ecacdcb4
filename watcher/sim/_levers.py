"""The real levers of an organization (SPEC §6.2.1): telephony sites, Architect IVRs, data
actions, and the flows IVRs point at.

The same rules as triggers and emergency groups (:mod:`watcher.sim._platform_objects`): a
version that moves on every change, 409 on a stale one (the message says the version ``does not
match the current version``), 400 naming the field, an audit entry for every attempt, stored
bodies replaced and never mutated. Shapes are the SDK's models (:mod:`watcher.sim._lever_schema`).

* A site or IVR ``PUT`` replaces the whole object: a field the body leaves out is gone. The
  server's fields (``id``, ``version``, ``dateCreated``/``dateModified``, ``createdBy``/
  ``modifiedBy``, ``selfUri``) are its own, whatever the body says.
* An IVR ``PUT`` that points a flow reference (``openHoursFlow``, ``closedHoursFlow``,
  ``holidayHoursFlow``) somewhere new needs that flow to exist and not be deleted.
* A data action is read without its ``config`` unless asked (``includeConfig=true``) and
  without its ``contract`` unless expanded (``expand=contract``), as the platform answers; it is
  changed by ``PATCH`` with an ``UpdateActionInput`` (``version`` required; ``config``, ``name``,
  ``category`` replace theirs when given); the answer carries the config.
* Flows have no version: they are only seeded (``PUT /_sim/flows/{id}``) and read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watcher.sim._audit import AuditLog, iso_utc
from watcher.sim._lever_schema import MODELS, ShapeError, action_rules, conform, shape
from watcher.sim._schema import is_int
from watcher.sim._seed import SimSeed
from watcher.sim._versioned import ADMIN_USER, ApiError, Versioned, seed_version

SITE_PATH = "/api/v2/telephony/providers/edges/sites"
IVR_PATH = "/api/v2/architect/ivrs"
ACTION_PATH = "/api/v2/integrations/actions"
FLOW_PATH = "/api/v2/flows"
SITE_ENTITY = "telephonySite"
IVR_ENTITY = "architectIvr"
ACTION_ENTITY = "integrationAction"
FLOW_ENTITY = "architectFlow"
IVR_FLOW_REFS = ("openHoursFlow", "closedHoursFlow", "holidayHoursFlow")


def _ordered(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """``body``'s fields in the SDK model's order, nulls left out."""
    return {key: body[key] for key in MODELS[model] if body.get(key) is not None}


def _version_problem(sent: object) -> str | None:
    if sent is None:
        return "version: required for optimistic locking"
    if not is_int(sent):
        return f"version: must be an integer, got {type(sent).__name__}"
    return None


class _Entities:
    """Sites or IVRs: whole objects with the server's bookkeeping fields."""

    def __init__(self, audit: AuditLog, entity_type: str, kind: str, model: str, path: str) -> None:
        self.store = Versioned(audit, entity_type, kind)
        self.audit, self.kind, self.model, self.path = audit, kind, model, path

    def build(
        self,
        entity_id: str,
        body: Mapping[str, Any],
        before: dict[str, Any] | None,
        user: str,
        *,
        strict: bool,
        version: int,
    ) -> dict[str, Any]:
        """The stored object for ``body`` at ``version``, written by ``user``; raises ShapeError."""
        new = shape(body, self.model, entity_id, self.kind, strict=strict)
        now = iso_utc(self.audit.now())
        new.setdefault("state", before["state"] if before is not None else "active")
        new.update(id=entity_id, version=version, dateModified=now, modifiedBy=user)
        new.update(selfUri=f"{self.path}/{entity_id}")
        created = before if before is not None else {"dateCreated": now, "createdBy": user}
        new.update({key: created[key] for key in ("dateCreated", "createdBy") if key in created})
        return _ordered(new, self.model)

    def admin_put(self, entity_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        before = self.store.items.get(entity_id)
        version = 1 if before is None else before["version"] + 1
        try:
            new = self.build(entity_id, body, before, ADMIN_USER, strict=True, version=version)
        except ShapeError as exc:
            raise ApiError(400, str(exc), "bad.request") from None
        return self.store.store(before, new, ADMIN_USER)

    def seed(self, body: dict[str, Any]) -> None:
        entity_id, version = body["id"], seed_version(body)
        new = self.build(entity_id, body, None, ADMIN_USER, strict=True, version=version)
        self.store.items[entity_id] = new


class LeverObjects:
    """Sites, IVRs, data actions and flows of one organization, audited in the org's log.

    Example::

        levers = LeverObjects(AuditLog(), default_seed())
        site = levers.site("site-1")
        levers.put_site("site-1", {**site, "mediaRegions": ["eu-west-1", "us-east-1"]}, "sim-client")
    """

    def __init__(self, audit: AuditLog, seed: SimSeed | None = None) -> None:
        self.audit = audit
        self._sites = _Entities(audit, SITE_ENTITY, "site", "Site", SITE_PATH)
        self._ivrs = _Entities(audit, IVR_ENTITY, "IVR", "IVR", IVR_PATH)
        self._actions = Versioned(audit, ACTION_ENTITY, "data action")
        self._flows = Versioned(audit, FLOW_ENTITY, "flow")
        self.sites = self._sites.store.items
        self.ivrs = self._ivrs.store.items
        self.actions = self._actions.items
        self.flows = self._flows.items
        if seed is not None:
            for body in seed.sites:
                self._sites.seed(body)
            for body in seed.ivrs:
                self._ivrs.seed(body)
            for body in seed.dataActions:
                self.actions[body["id"]] = self._action(body["id"], body, seed_version(body))
            for body in seed.flows:
                self.flows[body["id"]] = self._flow(body["id"], body)

    # -- sites and IVRs: GET, and PUT of the whole object with its version ---------------

    def site(self, site_id: str) -> dict[str, Any]:
        return self._sites.store.get(site_id)

    def ivr(self, ivr_id: str) -> dict[str, Any]:
        return self._ivrs.store.get(ivr_id)

    def _put(self, kind: _Entities, entity_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        current = kind.store.get(entity_id)
        new: dict[str, Any] | None = None
        problem = _version_problem(body.get("version"))
        if problem is None:
            try:
                new = kind.build(entity_id, body, current, user, strict=False, version=current["version"] + 1)
                if kind is self._ivrs:
                    self._flow_refs_usable(new, current)
            except ShapeError as exc:
                problem = str(exc)
        kind.store.check(current, body.get("version"), user, problem)
        assert new is not None
        return kind.store.store(current, new, user)

    def put_site(self, site_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Replace a whole ``Site``; ``version`` is required and must be the current one."""
        return self._put(self._sites, site_id, body, user)

    def put_ivr(self, ivr_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Replace a whole ``IVR``; ``version`` is required and must be the current one."""
        return self._put(self._ivrs, ivr_id, body, user)

    def _flow_refs_usable(self, new: Mapping[str, Any], current: Mapping[str, Any]) -> None:
        for key in IVR_FLOW_REFS:
            flow_id = new.get(key, {}).get("id")
            if flow_id is None or flow_id == current.get(key, {}).get("id"):
                continue
            flow = self.flows.get(flow_id)
            if flow is None:
                raise ShapeError(f"{key}.id: flow {flow_id!r} does not exist")
            if flow.get("deleted"):
                raise ShapeError(f"{key}.id: flow {flow_id!r} is deleted")

    def admin_put_site(self, site_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change a site (a whole ``Site``; version bumped, unknown fields refused)."""
        return self._sites.admin_put(site_id, body)

    def admin_put_ivr(self, ivr_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change an IVR (a whole ``IVR``; version bumped, unknown fields refused)."""
        return self._ivrs.admin_put(ivr_id, body)

    # -- data actions: GET (config on request), PATCH with an UpdateActionInput -----------

    @staticmethod
    def _action(action_id: str, body: Mapping[str, Any], version: int) -> dict[str, Any]:
        new = shape(body, "Action", action_id, "data action", strict=True)
        new.setdefault("secure", False)
        new.update(id=action_id, version=version, selfUri=f"{ACTION_PATH}/{action_id}")
        return _ordered(new, "Action")

    def action(self, action_id: str, *, include_config: bool, include_contract: bool) -> dict[str, Any]:
        """The ``Action`` as ``GET`` answers it: ``config``/``contract`` only when asked."""
        body = self._actions.get(action_id)
        hidden = {"config"} if not include_config else set()
        hidden |= {"contract"} if not include_contract else set()
        return {key: value for key, value in body.items() if key not in hidden}

    def patch_action(self, action_id: str, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """Apply an ``UpdateActionInput``; answer the ``Action`` (with config, without contract)
        at the next version. Keys the input model does not have are ignored."""
        current = self._actions.get(action_id)
        new: dict[str, Any] | None = None
        problem = _version_problem(body.get("version"))
        if problem is None:
            try:
                update = conform(body, "UpdateActionInput", strict=False)
                changes = {key: update[key] for key in ("name", "category", "config") if key in update}
                new = {**current, **changes, "version": current["version"] + 1}
                action_rules(new)
            except ShapeError as exc:
                problem = str(exc)
        self._actions.check(current, body.get("version"), user, problem)
        assert new is not None
        self._actions.store(current, _ordered(new, "Action"), user)
        return self.action(action_id, include_config=True, include_contract=False)

    def admin_put_action(self, action_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change a data action (a whole ``Action`` with its config; version bumped)."""
        before = self.actions.get(action_id)
        try:
            new = self._action(action_id, body, 1 if before is None else before["version"] + 1)
        except ShapeError as exc:
            raise ApiError(400, str(exc), "bad.request") from None
        return self._actions.store(before, new, ADMIN_USER)

    # -- flows: seeded and read; no version ---------------------------------------------

    def flow(self, flow_id: str) -> dict[str, Any]:
        return self._flows.get(flow_id)

    @staticmethod
    def _flow(flow_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        new = shape(body, "Flow", flow_id, "flow", strict=True)
        new.setdefault("active", "publishedVersion" in new)
        new.setdefault("system", False)
        new.setdefault("deleted", False)
        new.update(id=flow_id, selfUri=f"{FLOW_PATH}/{flow_id}")
        return _ordered(new, "Flow")

    def admin_put_flow(self, flow_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Seed or change a flow (a whole ``Flow``; unknown fields refused)."""
        before = self.flows.get(flow_id)
        try:
            new = self._flow(flow_id, body)
        except ShapeError as exc:
            raise ApiError(400, str(exc), "bad.request") from None
        self.flows[flow_id] = new
        self.audit.record(
            entity_id=flow_id,
            entity_type=FLOW_ENTITY,
            action="create" if before is None else "update",
            user=ADMIN_USER,
            status="SUCCESS",
            before=before,
            after=new,
            version=None,
        )
        return new

    def snapshot(self) -> dict[str, Any]:
        return {
            "sites": list(self.sites.values()),
            "ivrs": list(self.ivrs.values()),
            "dataActions": list(self.actions.values()),
            "flows": list(self.flows.values()),
        }
