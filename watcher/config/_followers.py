"""The followers of a strategy on the public platform (SPEC §6.2, §6.2.1): process automation
triggers, Architect emergency groups, telephony sites, IVRs and data actions, and the cross-checks
that tie them (and virtual strategies) together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from watcher.config import WatcherConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerSettings(_Section):
    """A trigger whose `target.id` follows its strategy's active region (a workflow per region)."""

    id: str = Field(min_length=1)
    strategy: str
    targets: dict[str, str]


class EmergencyGroupSettings(_Section):
    """An emergency group enabled while its strategy is off its preferred region (`failed-over`) or
    while every region of it is down (`all-down`), disabled otherwise."""

    id: str = Field(min_length=1)
    strategy: str
    enabled_when: Literal["failed-over", "all-down"] = "failed-over"


class SiteSettings(_Section):
    """A telephony site whose `mediaRegions` puts the active region's AWS region first (SPEC §6.2.1).

    `regions` maps a region of the strategy to its AWS region; a region it does not name is its own
    AWS region (`us-east-1` is `us-east-1`)."""

    id: str = Field(min_length=1)
    strategy: str
    regions: dict[str, str] = Field(default_factory=dict)

    def aws_region(self, region: str) -> str:
        return self.regions.get(region, region)


class IvrSettings(_Section):
    """An Architect IVR whose `openHoursFlow` is the active region's flow, and (with
    `emergency_flow`) the emergency flow while every region of the strategy is down."""

    id: str = Field(min_length=1)
    strategy: str
    open_hours_flows: dict[str, str] = Field(default_factory=dict)
    emergency_flow: str | None = None


class DataActionSettings(_Section):
    """A data action whose `config.request.requestUrlTemplate` is the active region's URL: the
    customer's own backend follows the contact center."""

    id: str = Field(min_length=1)
    strategy: str
    request_url_templates: dict[str, str]


def redact_url(url: str) -> str:
    """`url` without its query string or credentials: a URL template may carry a secret
    (`?api_key=…`, `token=…`) and is never logged, audited or shown in full.

    >>> redact_url("https://b.example.com/c/${input.id}?api_key=s3cr3t&x=1")
    'https://b.example.com/c/${input.id}?[redacted]'
    """
    head, sep, _query = url.partition("?")
    head, hash_sep, _fragment = head.partition("#")
    scheme, slashes, rest = head.partition("://")
    if slashes and "@" in rest.split("/", 1)[0]:
        rest = "[redacted]@" + rest.split("@", 1)[1]
        head = f"{scheme}://{rest}"
    return f"{head}?[redacted]" if sep else head + ("#[redacted]" if hash_sep else "")


def _per_region(
    key: str,
    strategy: str,
    strategy_regions: Sequence[str],
    values: dict[str, str],
    what: str,
    problems: list[str],
    *,
    complete: bool = True,
) -> None:
    """A map keyed by region: every key a region of the strategy, no empty value, and (`complete`)
    a value for each region of the strategy."""
    for region, value in values.items():
        if region not in strategy_regions:
            problems.append(f"{key}.{region}: region {region!r} is not a region of strategy {strategy!r}")
        if not value:
            problems.append(f"{key}.{region}: empty {what}")
    missing = [r for r in strategy_regions if r not in values]
    if complete and missing:
        problems.append(f"{key}: no {what} for region(s) {', '.join(missing)} of strategy {strategy!r}")


def _check_levers(cfg: WatcherConfig, regions: dict[str, list[str]], problems: list[str]) -> None:
    """Sites, IVRs and data actions (SPEC §6.2.1)."""
    for i, site in enumerate(cfg.sites):
        if site.strategy not in regions:
            problems.append(f"sites[{i}].strategy: unknown strategy {site.strategy!r}")
            continue
        own = regions[site.strategy]
        _per_region(
            f"sites[{i}].regions", site.strategy, own, site.regions, "AWS region", problems, complete=False
        )
        seen: dict[str, str] = {}
        for region in own:
            aws = site.aws_region(region)
            if aws in seen:
                problems.append(
                    f"sites[{i}].regions: regions {seen[aws]!r} and {region!r} are both AWS region {aws!r}"
                )
            seen.setdefault(aws, region)
    for i, ivr in enumerate(cfg.ivrs):
        if ivr.strategy not in regions:
            problems.append(f"ivrs[{i}].strategy: unknown strategy {ivr.strategy!r}")
            continue
        if not ivr.open_hours_flows and ivr.emergency_flow is None:
            problems.append(f"ivrs[{i}]: give open_hours_flows, emergency_flow, or both")
        if ivr.open_hours_flows:
            own = regions[ivr.strategy]
            _per_region(
                f"ivrs[{i}].open_hours_flows", ivr.strategy, own, ivr.open_hours_flows, "flow id", problems
            )
        if ivr.emergency_flow == "":
            problems.append(f"ivrs[{i}].emergency_flow: empty flow id")
    for i, action in enumerate(cfg.data_actions):
        if action.strategy not in regions:
            problems.append(f"data_actions[{i}].strategy: unknown strategy {action.strategy!r}")
            continue
        key = f"data_actions[{i}].request_url_templates"
        own = regions[action.strategy]
        _per_region(key, action.strategy, own, action.request_url_templates, "URL template", problems)
        for region, url in action.request_url_templates.items():
            parts = urlsplit(url)
            if url and (parts.scheme not in ("http", "https") or not parts.netloc):
                problems.append(f"{key}.{region}: {redact_url(url)!r} is not an http(s) URL")
    _duplicates("sites", [s.id for s in cfg.sites], problems)
    _duplicates("ivrs", [v.id for v in cfg.ivrs], problems)
    _duplicates("data_actions", [a.id for a in cfg.data_actions], problems)


def _duplicates(key: str, ids: Sequence[str], problems: list[str]) -> None:
    seen: set[str] = set()
    for i, object_id in enumerate(ids):
        if object_id in seen:
            problems.append(f"{key}[{i}].id: duplicate id {object_id!r}")
        seen.add(object_id)


def check_followers(cfg: WatcherConfig, problems: list[str]) -> None:
    """Followers naming an unknown strategy, trigger targets that do not match their strategy's
    regions, and virtual strategies nothing follows (their decision would reach no one)."""
    regions = {s.id: s.regions for s in cfg.strategies}
    for i, trigger in enumerate(cfg.triggers):
        if trigger.strategy not in regions:
            problems.append(f"triggers[{i}].strategy: unknown strategy {trigger.strategy!r}")
            continue
        strategy_regions = regions[trigger.strategy]
        for region, workflow in trigger.targets.items():
            if region not in strategy_regions:
                problems.append(
                    f"triggers[{i}].targets.{region}: region {region!r} is not a region of "
                    f"strategy {trigger.strategy!r}"
                )
            if not workflow:
                problems.append(f"triggers[{i}].targets.{region}: empty workflow id")
        missing = [r for r in strategy_regions if r not in trigger.targets]
        if missing:
            problems.append(
                f"triggers[{i}].targets: no workflow for region(s) {', '.join(missing)} "
                f"of strategy {trigger.strategy!r}"
            )
    for i, group in enumerate(cfg.emergency_groups):
        if group.strategy not in regions:
            problems.append(f"emergency_groups[{i}].strategy: unknown strategy {group.strategy!r}")
    _duplicates("triggers", [t.id for t in cfg.triggers], problems)
    _duplicates("emergency_groups", [g.id for g in cfg.emergency_groups], problems)
    _check_levers(cfg, regions, problems)
    followed = {r.strategy for r in cfg.rules} | {t.strategy for t in cfg.triggers}
    followed |= {g.strategy for g in cfg.emergency_groups}
    followed |= {s.strategy for s in cfg.sites} | {v.strategy for v in cfg.ivrs}
    followed |= {a.strategy for a in cfg.data_actions}
    for i, strategy in enumerate(cfg.strategies):
        if strategy.kind == "virtual" and strategy.id not in followed:
            problems.append(
                f"strategies[{i}].kind: virtual strategy {strategy.id!r} has no follower "
                "(add a [[rules]], [[triggers]] or [[emergency_groups]] entry naming it)"
            )
