"""The public platform's objects that follow a strategy (SPEC §6, §6.2.1): process automation
triggers, Architect emergency groups, telephony sites, IVRs, data actions, and the realtime audit
query.

`PlatformCalls` composes a `GenesysClient` (its request pipeline: budget, token, retries, typed
errors) rather than growing it. The models keep every field they do not name (`extra="allow"`):
a PUT replaces the whole object, so what the watcher does not own is written back as read.
A trigger update is checked locally against the platform's rules before any PUT, and refused
with the field named (`InvalidTriggerUpdate`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from watcher.genesys.client import GenesysClient
from watcher.genesys.errors import GenesysError, MalformedResponse

MIN_EVENT_TTL_SECONDS = 10
MIN_DELAY_BY_SECONDS, MAX_DELAY_BY_SECONDS = 60, 900
MAX_TRIGGER_DESCRIPTION = 512
# What an `UpdateTriggerRequest` carries (the SDK's model); other fields of a `Trigger` are not sent.
TRIGGER_UPDATE_FIELDS = (
    *("version", "enabled", "target", "matchCriteria", "name", "topicName"),
    *("eventTTLSeconds", "delayBySeconds", "description"),
)
AUDIT_MAX_PAGES = 100


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TriggerTarget(_Payload):
    type: str = "Workflow"
    id: str = Field(min_length=1)


class Trigger(_Payload):
    """A process automation trigger (SDK `Trigger`)."""

    id: str
    name: str | None = None
    topicName: str
    target: TriggerTarget
    version: int
    enabled: bool | None = None
    matchCriteria: list[Any] | None = None
    eventTTLSeconds: int | None = None
    delayBySeconds: int | None = None
    description: str | None = None


class EmergencyGroup(_Payload):
    """An Architect emergency group (SDK `EmergencyGroup`); `enabled` means an emergency is on."""

    id: str
    name: str | None = None
    version: int
    enabled: bool
    state: str | None = None


class FlowVersionRef(_Payload):
    id: str | None = None
    name: str | None = None


class Flow(_Payload):
    """An Architect flow (SDK `Flow`): a trigger's workflow, an IVR's call flow. Usable when it
    exists, is not deleted and has a published version (SPEC §6.2.1)."""

    id: str
    name: str | None = None
    type: str | None = None
    active: bool | None = None
    deleted: bool | None = None
    publishedVersion: FlowVersionRef | None = None

    @property
    def usable(self) -> bool:
        return not self.deleted and self.publishedVersion is not None


class Site(_Payload):
    """A telephony site (SDK `Site`): `mediaRegions` is the ordered list of AWS regions media may
    stream through (Global Media Fabric). A PUT replaces the whole site: every field is kept."""

    id: str
    name: str | None = None
    version: int
    state: str | None = None
    mediaRegions: list[str] = Field(default_factory=list)
    mediaRegionsUseLatencyBased: bool | None = None


class FlowRef(_Payload):
    id: str | None = None
    name: str | None = None


class Ivr(_Payload):
    """An Architect IVR configuration (SDK `IVR`): its DNIS answered by `openHoursFlow` (in the
    schedule's open hours). A PUT replaces the whole IVR: every field is kept."""

    id: str
    name: str | None = None
    version: int
    state: str | None = None
    openHoursFlow: FlowRef | None = None


class ActionRequest(_Payload):
    requestUrlTemplate: str
    requestType: str | None = None


class ActionConfig(_Payload):
    request: ActionRequest


class DataAction(_Payload):
    """A data action (SDK `Action`), read with its `config` (`includeConfig=true`). Without one (a
    read that did not ask, or an answer that left it out) there is nothing to send back: it is
    never patched (`NoActionConfig`)."""

    id: str
    name: str | None = None
    version: int
    config: ActionConfig | None = None

    def request_url(self) -> str | None:
        return None if self.config is None else self.config.request.requestUrlTemplate


class NoActionConfig(ValueError):
    """A data action read without its `config`: patching it would send a config made up, not read."""

    def __init__(self, action_id: str) -> None:
        super().__init__(
            f"data action {action_id}: the answer has no config (read without includeConfig=true?); "
            "not patched"
        )


class AuditMessage(_Payload):
    """One entry of the realtime audit query (SDK `AuditLogMessage`)."""

    id: str | None = None
    serviceName: str | None = None
    eventDate: str | None = None
    action: str | None = None
    entityType: str | None = None
    status: str | None = None
    entity: dict[str, Any] | None = None


class AuditQueryPage(_Payload):
    entities: list[AuditMessage] = Field(default_factory=list)
    pageNumber: int = 1
    pageCount: int = 1
    total: int | None = None


class InvalidTriggerUpdate(ValueError):
    """A trigger update the platform would refuse, refused locally before any PUT; `field` names it."""

    def __init__(self, trigger_id: str, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"trigger {trigger_id}: {field}: {problem}")


def trigger_update_body(planned: Trigger, current: Trigger) -> dict[str, Any]:
    """The `UpdateTriggerRequest` for `planned`, checked against the platform's rules; raises
    `InvalidTriggerUpdate` naming the field (topicName changed, TTL and delay together, TTL below
    10 s, delay outside 60..900 s, description over 512 characters)."""
    tid = current.id
    if planned.topicName != current.topicName:
        raise InvalidTriggerUpdate(
            tid, "topicName", f"cannot be changed (is {current.topicName!r}, asked {planned.topicName!r})"
        )
    ttl, delay = planned.eventTTLSeconds, planned.delayBySeconds
    if ttl is not None and delay is not None:
        raise InvalidTriggerUpdate(tid, "eventTTLSeconds", "give eventTTLSeconds or delayBySeconds, not both")
    if ttl is not None and ttl < MIN_EVENT_TTL_SECONDS:
        raise InvalidTriggerUpdate(tid, "eventTTLSeconds", f"{ttl} is below {MIN_EVENT_TTL_SECONDS}")
    if delay is not None and not MIN_DELAY_BY_SECONDS <= delay <= MAX_DELAY_BY_SECONDS:
        raise InvalidTriggerUpdate(
            tid, "delayBySeconds", f"{delay} is outside {MIN_DELAY_BY_SECONDS}..{MAX_DELAY_BY_SECONDS}"
        )
    if planned.description is not None and len(planned.description) > MAX_TRIGGER_DESCRIPTION:
        raise InvalidTriggerUpdate(
            tid,
            "description",
            f"{len(planned.description)} characters, more than {MAX_TRIGGER_DESCRIPTION}",
        )
    body = planned.model_dump(mode="json", exclude_none=True)
    update = {key: body[key] for key in TRIGGER_UPDATE_FIELDS if key in body}
    update["version"] = current.version
    return update


class PlatformCalls:
    """SPEC §6's trigger, emergency group and realtime audit calls, over one `GenesysClient`.

    >>> # platform = PlatformCalls(client)
    >>> # trigger = await platform.get_trigger("6b0c...")
    """

    def __init__(self, client: GenesysClient) -> None:
        self.client = client

    async def get_trigger(self, trigger_id: str) -> Trigger:
        return await self.client.request_model("GET", "trigger", Trigger, path={"triggerId": trigger_id})

    async def put_trigger(self, planned: Trigger, current: Trigger, *, retries: int | None = None) -> Trigger:
        """Send `planned` as an `UpdateTriggerRequest` with `current`'s version, checked locally first."""
        body = trigger_update_body(planned, current)
        return await self.client.request_model(
            "PUT", "trigger", Trigger, path={"triggerId": current.id}, json=body, retries=retries
        )

    async def get_flow(self, flow_id: str) -> Flow:
        """A flow (404 `NotFound` when it does not exist)."""
        return await self.client.request_model("GET", "flow", Flow, path={"flowId": flow_id})

    async def get_site(self, site_id: str) -> Site:
        return await self.client.request_model("GET", "site", Site, path={"siteId": site_id})

    async def put_site(self, site: Site, *, retries: int | None = None) -> Site:
        """Replace the whole site, with the version it was read with (every field as read)."""
        body = site.model_dump(mode="json", exclude_none=True)
        return await self.client.request_model(
            "PUT", "site", Site, path={"siteId": site.id}, json=body, retries=retries
        )

    async def get_ivr(self, ivr_id: str) -> Ivr:
        return await self.client.request_model("GET", "ivr", Ivr, path={"ivrId": ivr_id})

    async def put_ivr(self, ivr: Ivr, *, retries: int | None = None) -> Ivr:
        """Replace the whole IVR, with the version it was read with (every field as read)."""
        body = ivr.model_dump(mode="json", exclude_none=True)
        return await self.client.request_model(
            "PUT", "ivr", Ivr, path={"ivrId": ivr.id}, json=body, retries=retries
        )

    async def get_data_action(self, action_id: str) -> DataAction:
        """The action with its config (`includeConfig=true`)."""
        return await self.client.request_model(
            "GET", "data_action", DataAction, path={"actionId": action_id}, params={"includeConfig": "true"}
        )

    async def patch_data_action(self, action: DataAction, *, retries: int | None = None) -> DataAction:
        """PATCH an `UpdateActionInput` of `{version, config}` only (the config as planned from a
        read, every other field of it as read). An action without a config is refused
        (`NoActionConfig`): never patched blind."""
        if action.config is None:
            raise NoActionConfig(action.id)
        body = {"version": action.version, "config": action.config.model_dump(mode="json", exclude_none=True)}
        return await self.client.request_model(
            "PATCH", "data_action", DataAction, path={"actionId": action.id}, json=body, retries=retries
        )

    async def get_emergency_group(self, group_id: str) -> EmergencyGroup:
        return await self.client.request_model(
            "GET", "emergency_group", EmergencyGroup, path={"emergencyGroupId": group_id}
        )

    async def put_emergency_group(
        self, group: EmergencyGroup, *, retries: int | None = None
    ) -> EmergencyGroup:
        """Replace the whole group, with the version it was read with."""
        body = group.model_dump(mode="json", exclude_none=True)
        return await self.client.request_model(
            "PUT",
            "emergency_group",
            EmergencyGroup,
            path={"emergencyGroupId": group.id},
            json=body,
            retries=retries,
        )

    async def realtime_audit(
        self,
        interval: str,
        *,
        service_name: str | None = None,
        filters: Sequence[Mapping[str, str]] = (),
        page_size: int = 100,
    ) -> AsyncIterator[AuditMessage]:
        """Every entry of a realtime audit query, page after page (`pageNumber` up to `pageCount`)."""
        number = 1
        while True:
            query: dict[str, Any] = {
                "interval": interval,
                "filters": [dict(f) for f in filters],
                "pageNumber": number,
                "pageSize": page_size,
            }
            if service_name is not None:
                query["serviceName"] = service_name
            page = await self.client.request_model("POST", "audit_query", AuditQueryPage, json=query)
            for entry in page.entities:
                yield entry
            if number >= page.pageCount or not page.entities:
                return
            number += 1
            if number > AUDIT_MAX_PAGES:
                raise MalformedResponse(
                    f"more than {AUDIT_MAX_PAGES} pages; narrow the interval", endpoint="audit_query"
                )


__all__ = [
    "ActionConfig",
    "ActionRequest",
    "AuditMessage",
    "DataAction",
    "EmergencyGroup",
    "FlowRef",
    "GenesysError",
    "InvalidTriggerUpdate",
    "Ivr",
    "NoActionConfig",
    "PlatformCalls",
    "Site",
    "Trigger",
    "TriggerTarget",
    "trigger_update_body",
]
