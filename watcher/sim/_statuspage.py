"""The public status page (SPEC §6, §6.3): components and groups in the Statuspage format.

The real one lives on another host (``status.mypurecloud.com``) without auth; the simulator
serves ``/api/v2/components.json`` and ``/api/v2/summary.json`` on its own port so a
``[statuspage] url`` can point at it. Groups are one level deep. As on Statuspage, a group's
status is the worst of its children's; setting a group's status sets all its children.

Component ids are derived from the group and name (12 hex characters), so a seed or a test
that creates the same component twice gets the same id and a config may name it by id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.sim._audit import iso_utc, utc_now
from watcher.sim._platform_schema import COMPONENT_STATUSES, status_problem
from watcher.sim._versioned import ApiError

_PAGE_STATUS = {
    "operational": ("none", "All Systems Operational"),
    "under_maintenance": ("maintenance", "Service Under Maintenance"),
    "degraded_performance": ("minor", "Partially Degraded Service"),
    "partial_outage": ("minor", "Partial System Outage"),
    "major_outage": ("major", "Major System Outage"),
}
PAGE_ID = "simstatuspg1"


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=COMPONENT_STATUSES.index, default="operational")


@dataclass
class Component:
    """One component; ``group_id`` is its group's id, ``None`` at the top level."""

    id: str
    name: str
    status: str
    group_id: str | None
    description: str | None
    only_show_if_degraded: bool
    created_at: datetime
    updated_at: datetime


class StatusPage:
    """The components, in page order, and the two documents built from them.

    Example::

        page = StatusPage()
        page.set("Americas (US East) - Voice", "major_outage", group="Americas (US East)")
        page.components_document("http://127.0.0.1:8080")
    """

    def __init__(self, now: Callable[[], datetime] = utc_now, name: str = "Genesys Cloud") -> None:
        self.now = now
        self.name = name
        self.created_at = now()
        self.components: dict[str, Component] = {}

    # -- lookups -----------------------------------------------------------------------------

    def children(self, group_id: str) -> list[Component]:
        return [c for c in self.components.values() if c.group_id == group_id]

    def _by_id_or_name(self, key: str, group: Component | None) -> Component | None:
        if key in self.components:
            return self.components[key]
        named = [
            c for c in self.components.values() if c.name == key and (group is None or c.group_id == group.id)
        ]
        if len(named) > 1:
            raise ApiError(
                400, f"component {key!r}: {len(named)} components have that name; give the id or the group"
            )
        return named[0] if named else None

    def _group_for(self, key: str, exclude: str | None) -> Component:
        """The top-level component named or identified by ``key``, created when missing."""
        group = self._by_id_or_name(key, None)
        if group is not None and group.group_id is not None:
            raise ApiError(400, f"group: {key!r} is itself in a group; groups are one level deep")
        if group is not None and group.id == exclude:
            raise ApiError(400, f"group: a component cannot be its own group ({key!r})")
        return group or self._create(key, "operational", None)

    def _create(
        self,
        name: str,
        status: str,
        group: Component | None,
        *,
        component_id: str | None = None,
        description: str | None = None,
        only_show_if_degraded: bool = False,
    ) -> Component:
        if component_id is None:
            digest = hashlib.sha256(f"{group.name if group else ''}/{name}".encode()).hexdigest()[:12]
            component_id = digest if digest not in self.components else uuid.uuid4().hex[:12]
        now = self.now()
        component = Component(
            component_id,
            name,
            status,
            group.id if group else None,
            description,
            only_show_if_degraded,
            now,
            now,
        )
        self.components[component_id] = component
        return component

    # -- changes -------------------------------------------------------------------------

    def set(
        self,
        key: str,
        status: str,
        group: str | None = None,
        *,
        component_id: str | None = None,
        description: str | None = None,
        only_show_if_degraded: bool | None = None,
    ) -> Component:
        """Set the status of the component named or identified by ``key``; create it if
        missing (in ``group`` when given, creating the group too). On a group that has
        children, the status goes to every child. A 400 names what is wrong.
        """
        problem = status_problem(status)
        if problem:
            raise ApiError(400, problem)
        found = self._existing(key, group, component_id)
        if group is not None and found is not None and self.children(found.id):
            raise ApiError(400, f"group: {found.name!r} is a group; groups are one level deep")
        parent = None if group is None else self._group_for(group, found.id if found else None)
        if found is None:
            return self._create(
                key,
                status,
                parent,
                component_id=component_id,
                description=description,
                only_show_if_degraded=bool(only_show_if_degraded),
            )
        if parent is not None:
            found.group_id = parent.id  # found by id in another group: moved
        now = self.now()
        for component in [found, *self.children(found.id)]:
            component.status = status
            component.updated_at = now
        if description is not None:
            found.description = description
        if only_show_if_degraded is not None:
            found.only_show_if_degraded = only_show_if_degraded
        return found

    def _existing(self, key: str, group: str | None, component_id: str | None) -> Component | None:
        """The component a ``set`` is about: by id, else by name (within ``group`` when given)."""
        if component_id is not None:
            return self.components.get(component_id)
        if group is None:
            return self._by_id_or_name(key, None)
        parent = self._by_id_or_name(group, None)
        if parent is None or parent.group_id is not None:
            return self.components.get(key)  # no such group yet: nothing in it has a name
        return self._by_id_or_name(key, parent)

    # -- documents -----------------------------------------------------------------------

    def view(self, component: Component) -> dict[str, Any]:
        """One component as Statuspage shows it; a group lists its children's ids."""
        children = self.children(component.id)
        siblings = [c.id for c in self.components.values() if c.group_id == component.group_id]
        updated = max([component.updated_at, *(c.updated_at for c in children)])
        body: dict[str, Any] = {
            "id": component.id,
            "name": component.name,
            "status": _worst([c.status for c in children]) if children else component.status,
            "created_at": iso_utc(component.created_at),
            "updated_at": iso_utc(updated),
            "position": siblings.index(component.id) + 1,
            "description": component.description,
            "showcase": False,
            "start_date": None,
            "group_id": component.group_id,
            "page_id": PAGE_ID,
            "group": bool(children),
            "only_show_if_degraded": component.only_show_if_degraded,
        }
        if children:
            body["components"] = [c.id for c in children]
        return body

    def _page(self, url: str) -> dict[str, Any]:
        moments = [self.created_at, *(c.updated_at for c in self.components.values())]
        return {
            "id": PAGE_ID,
            "name": self.name,
            "url": url,
            "time_zone": "Etc/UTC",
            "updated_at": iso_utc(max(moments)),
        }

    def components_document(self, url: str) -> dict[str, Any]:
        """``/api/v2/components.json``: the page and every component, groups and children."""
        return {"page": self._page(url), "components": [self.view(c) for c in self.components.values()]}

    def summary_document(self, url: str) -> dict[str, Any]:
        """``/api/v2/summary.json``: the components, no incidents, and the page's indicator."""
        worst = _worst([c.status for c in self.components.values()])
        indicator, description = _PAGE_STATUS[worst]
        return {
            **self.components_document(url),
            "incidents": [],
            "scheduled_maintenances": [],
            "status": {"indicator": indicator, "description": description},
        }

    def snapshot(self) -> list[dict[str, Any]]:
        return [self.view(c) for c in self.components.values()]
