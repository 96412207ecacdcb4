"""The real levers of an organization that follow a strategy (SPEC §6.2.1): one small class per kind.

- a telephony site's `mediaRegions` puts the active region's AWS region first, the strategy's
  other regions after it in preference order, and the regions the strategy does not name at the
  end in the order they had; while failed over, `mediaRegionsUseLatencyBased` is forced off, and
  restored to what it was (kept in `FollowerMemory`) when the strategy is back on its preferred
  region;
- an IVR's `openHoursFlow` is the active region's flow, or the emergency flow while every region
  of the strategy is down;
- a data action's `config.request.requestUrlTemplate` is the active region's URL (read with its
  config; patched with `{version, config}` only; never without a config read).

Every other field is written back as read, by the one write loop (`writes.py`). A URL template
may carry a secret in its query string: it is only ever named redacted (`redact_url`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from watcher.config import DataActionSettings, IvrSettings, SiteSettings, redact_url
from watcher.genesys import GenesysError, NotFound
from watcher.genesys.platform import DataAction, FlowRef, Ivr, NoActionConfig, PlatformCalls, Site
from watcher.switch.errors import NotFollowable, PlanError
from watcher.switch.follower import Decision
from watcher.switch.memory import FollowerMemory
from watcher.switch.policy import WritePolicy
from watcher.switch.readiness import ReadinessCheck
from watcher.switch.writes import WriteKind, WriteOutcome, rewrite_unchanged, write_with_retries

Preference = Callable[[str], Sequence[str]]


def media_order(current: Sequence[str], first: Sequence[str]) -> list[str]:
    """`first` in its order, then the regions of `current` it does not name, in their order.

    >>> media_order(["us-east-1", "ap-south-1", "eu-west-1"], ["eu-west-1", "us-east-1"])
    ['eu-west-1', 'us-east-1', 'ap-south-1']
    """
    return [*first, *(r for r in current if r not in first)]


class SiteFollower:
    """A telephony site: its media streams through the active region first (Global Media Fabric)."""

    kind: WriteKind = "site"
    platform = True
    verb = "follow"

    def __init__(
        self, platform: PlatformCalls, settings: SiteSettings, memory: FollowerMemory, preference: Preference
    ) -> None:
        self._platform = platform
        self._memory = memory
        self._preference = preference
        self.settings = settings
        self.id = settings.id
        self.strategy = settings.strategy
        self._latency_key = f"site:{settings.id}:mediaRegionsUseLatencyBased"

    def first(self, region: str) -> list[str]:
        """The AWS regions of the strategy, the active one first, then in preference order."""
        others = [r for r in self._preference(self.strategy) if r != region]
        return [self.settings.aws_region(r) for r in (region, *others)]

    def wanted(self, decision: Decision) -> str:
        latency = " (latency-based off)" if decision.failed_over else ""
        return f"mediaRegions first {self.settings.aws_region(decision.region)}{latency}"

    async def prepare(self) -> None:
        return None

    def check(self, current: Site, region: str) -> None:
        """Refuse a site whose `mediaRegions` lacks an AWS region the strategy needs (the watcher
        never adds a media region the organization has not set up)."""
        missing = [aws for aws in self.first(region) if aws not in current.mediaRegions]
        if missing:
            raise PlanError(
                f"site {self.id}: mediaRegions {current.mediaRegions} do not hold {', '.join(missing)} "
                f"(regions of strategy {self.strategy}); not written"
            )

    async def write(self, decision: Decision, policy: WritePolicy) -> WriteOutcome:
        remembered = await self._memory.recall(self.strategy, self._latency_key)
        if decision.failed_over:
            latency: bool | None = False
        else:
            latency = remembered if isinstance(remembered, bool) else None
        first = self.first(decision.region)

        def already(current: Site) -> bool:
            flag_ok = latency is None or current.mediaRegionsUseLatencyBased is latency
            return flag_ok and current.mediaRegions == media_order(current.mediaRegions, first)

        async def put(current: Site) -> Site:
            nonlocal remembered
            self.check(current, decision.region)
            update: dict[str, object] = {"mediaRegions": media_order(current.mediaRegions, first)}
            if latency is not None:
                update["mediaRegionsUseLatencyBased"] = latency
            flag = current.mediaRegionsUseLatencyBased
            if decision.failed_over and remembered is None and flag is not None:
                # Kept before the write that changes it: a restart or a new leader restores it. Once
                # per write: a retry re-reads what an attempt that landed in transit wrote (false).
                await self._memory.remember(self.strategy, self._latency_key, flag)
                remembered = flag
            return await self._platform.put_site(current.model_copy(update=update), retries=0)

        async def read() -> Site:
            current = await self._platform.get_site(self.id)
            self.check(current, decision.region)  # refused by the read-back too, with the reason
            return current

        outcome = await write_with_retries("site", self.id, read, already, put, policy)
        if not decision.failed_over and remembered is not None:
            await self._memory.forget(self.strategy, self._latency_key)
        return outcome

    async def fence(self, policy: WritePolicy) -> None:
        await rewrite_unchanged(
            lambda: self._platform.get_site(self.id),
            lambda current: self._platform.put_site(current, retries=0),
            policy,
        )

    async def region_said(self) -> set[str | None]:
        media = (await self._platform.get_site(self.id)).mediaRegions
        if not media:
            return {None}
        regions = self._preference(self.strategy) or list(self.settings.regions)
        return {next((r for r in regions if self.settings.aws_region(r) == media[0]), None)}

    async def readiness(self, region: str) -> tuple[ReadinessCheck, ...]:
        """The site's media regions hold the region's AWS region."""
        aws = self.settings.aws_region(region)
        check = f"site {self.id} media region {aws}"
        try:
            media = (await self._platform.get_site(self.id)).mediaRegions
        except GenesysError as exc:
            return (ReadinessCheck(check, False, f"site {self.id} cannot be read: {exc}"),)
        if aws not in media:
            return (ReadinessCheck(check, False, f"site {self.id} mediaRegions {media} do not hold {aws}"),)
        return (ReadinessCheck(check, True),)


async def flow_check(platform: PlatformCalls, check: str, flow_id: str) -> ReadinessCheck:
    """A flow is usable when it exists, is not deleted and has a published version."""
    try:
        flow = await platform.get_flow(flow_id)
    except NotFound:
        return ReadinessCheck(check, False, f"flow {flow_id} does not exist")
    except GenesysError as exc:
        return ReadinessCheck(check, False, f"flow {flow_id} cannot be read: {exc}")
    if flow.deleted:
        return ReadinessCheck(check, False, f"flow {flow_id} is deleted")
    if flow.publishedVersion is None:
        return ReadinessCheck(check, False, f"flow {flow_id} is not published")
    return ReadinessCheck(check, True)


class IvrFollower:
    """An Architect IVR: open hours answered by the active region's flow (or the emergency flow
    while every region is down)."""

    kind: WriteKind = "ivr"
    platform = True
    verb = "follow"

    def __init__(self, platform: PlatformCalls, settings: IvrSettings, memory: FollowerMemory) -> None:
        self._platform = platform
        self._memory = memory
        self.settings = settings
        self.id = settings.id
        self.strategy = settings.strategy
        self._flow_key = f"ivr:{settings.id}:openHoursFlow"

    def emergency(self, decision: Decision) -> bool:
        return self.settings.emergency_flow is not None and decision.all_down

    def flow(self, decision: Decision) -> str | None:
        if self.emergency(decision):
            return self.settings.emergency_flow
        return self.settings.open_hours_flows.get(decision.region)

    def wanted(self, decision: Decision) -> str:
        flow = self.flow(decision)
        if flow is None and not self.settings.open_hours_flows:
            return "open hours flow as before the emergency"
        return f"openHoursFlow {flow}{' (emergency)' if self.emergency(decision) else ''}"

    async def prepare(self) -> None:
        return None

    async def write(self, decision: Decision, policy: WritePolicy) -> WriteOutcome:
        flow = self.flow(decision)
        remembered: object = None
        if not self.settings.open_hours_flows:  # emergency only: the flow before it is restored
            remembered = await self._memory.recall(self.strategy, self._flow_key)
            if flow is None and isinstance(remembered, str):
                flow = remembered
        elif flow is None:
            raise NotFollowable(f"no open hours flow configured for region {decision.region}")

        def already(current: Ivr) -> bool:
            return flow is None or (current.openHoursFlow is not None and current.openHoursFlow.id == flow)

        async def put(current: Ivr) -> Ivr:
            nonlocal remembered
            before = None if current.openHoursFlow is None else current.openHoursFlow.id
            keep = self.emergency(decision) and not self.settings.open_hours_flows
            if keep and remembered is None and before:
                await self._memory.remember(self.strategy, self._flow_key, before)  # once per write
                remembered = before
            return await self._platform.put_ivr(
                current.model_copy(update={"openHoursFlow": FlowRef(id=flow)}), retries=0
            )

        outcome = await write_with_retries(
            "ivr", self.id, lambda: self._platform.get_ivr(self.id), already, put, policy
        )
        if not self.emergency(decision) and remembered is not None:
            await self._memory.forget(self.strategy, self._flow_key)
        return outcome

    async def fence(self, policy: WritePolicy) -> None:
        await rewrite_unchanged(
            lambda: self._platform.get_ivr(self.id),
            lambda current: self._platform.put_ivr(current, retries=0),
            policy,
        )

    async def region_said(self) -> set[str | None]:
        if not self.settings.open_hours_flows:
            return set()  # an emergency-only IVR names no region
        current = (await self._platform.get_ivr(self.id)).openHoursFlow
        flow = None if current is None else current.id
        if flow is not None and flow == self.settings.emergency_flow:
            return set()  # in an emergency: says nothing of where to route
        return {next((r for r, f in self.settings.open_hours_flows.items() if f == flow), None)}

    async def readiness(self, region: str) -> tuple[ReadinessCheck, ...]:
        """The region's flow (and the emergency flow) exist, are not deleted and are published."""
        checks: list[ReadinessCheck] = []
        if self.settings.open_hours_flows:
            check = f"ivr {self.id} open hours flow"
            flow = self.settings.open_hours_flows.get(region)
            if flow is None:
                checks.append(ReadinessCheck(check, False, f"no open hours flow configured for {region}"))
            else:
                checks.append(await flow_check(self._platform, check, flow))
        if self.settings.emergency_flow is not None:
            checks.append(
                await flow_check(
                    self._platform, f"ivr {self.id} emergency flow", self.settings.emergency_flow
                )
            )
        return tuple(checks)


class DataActionFollower:
    """A data action: its request goes to the active region's backend."""

    kind: WriteKind = "data_action"
    platform = True
    verb = "follow"

    def __init__(self, platform: PlatformCalls, settings: DataActionSettings) -> None:
        self._platform = platform
        self.settings = settings
        self.id = settings.id
        self.strategy = settings.strategy

    def wanted(self, decision: Decision) -> str:
        url = self.settings.request_url_templates.get(decision.region)
        return f"requestUrlTemplate {None if url is None else redact_url(url)}"

    async def prepare(self) -> None:
        return None

    def _configured(self, current: DataAction) -> DataAction:
        if current.config is None:
            raise PlanError(str(NoActionConfig(self.id)))
        return current

    def _scrubbed(self, exc: GenesysError) -> GenesysError:
        """`exc` with every configured URL's query string masked: a server that echoes the URL it
        refused must not put a secret in the log, the audit trail or `/status`."""
        queries = {url.partition("?")[2] for url in self.settings.request_url_templates.values()} - {""}
        # The whole query first, then each value on its own (a server may echo one parameter).
        values = {pair.partition("=")[2] for query in queries for pair in query.split("&")}
        masked = [*sorted(queries, key=len, reverse=True), *(v for v in values if len(v) >= 4)]
        text, message, said = str(exc), exc.message, exc.server_message
        for query in masked:
            text, message = text.replace(query, "[redacted]"), message.replace(query, "[redacted]")
            said = None if said is None else said.replace(query, "[redacted]")
        exc.args, exc.message, exc.server_message = (text,), message, said
        return exc

    async def _read(self) -> DataAction:
        try:
            return await self._platform.get_data_action(self.id)
        except GenesysError as exc:
            raise self._scrubbed(exc) from None

    async def _patch(self, planned: DataAction) -> DataAction:
        try:
            return await self._platform.patch_data_action(planned, retries=0)
        except NoActionConfig as exc:
            raise PlanError(str(exc)) from None
        except GenesysError as exc:
            raise self._scrubbed(exc) from None

    async def write(self, decision: Decision, policy: WritePolicy) -> WriteOutcome:
        url = self.settings.request_url_templates.get(decision.region)
        if url is None:
            raise NotFollowable(f"no request URL template configured for region {decision.region}")

        def plan(current: DataAction) -> DataAction:
            config = self._configured(current).config
            assert config is not None
            request = config.request.model_copy(update={"requestUrlTemplate": url})
            return current.model_copy(update={"config": config.model_copy(update={"request": request})})

        return await write_with_retries(
            "data_action",
            self.id,
            self._read,
            lambda current: current.request_url() == url,
            lambda current: self._patch(plan(current)),
            policy,
        )

    async def fence(self, policy: WritePolicy) -> None:
        await rewrite_unchanged(
            self._read,
            lambda current: self._patch(self._configured(current)),
            policy,
        )

    async def region_said(self) -> set[str | None]:
        url = (await self._read()).request_url()
        return {next((r for r, u in self.settings.request_url_templates.items() if u == url), None)}

    async def readiness(self, region: str) -> tuple[ReadinessCheck, ...]:
        """A URL template is configured for the region, and the action is readable with its config."""
        check = f"data_action {self.id} request URL"
        if region not in self.settings.request_url_templates:
            return (ReadinessCheck(check, False, f"no request URL template configured for {region}"),)
        try:
            current = await self._read()
        except GenesysError as exc:
            return (ReadinessCheck(check, False, f"data action {self.id} cannot be read: {exc}"),)
        if current.config is None:
            return (ReadinessCheck(check, False, str(NoActionConfig(self.id))),)
        return (ReadinessCheck(check, True),)
