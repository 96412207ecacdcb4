"""Health sources of a region (SPEC §6.1): `[statuspage]` and `[[regions.health]]`, and their checks.

A region names one or more sources, each a table discriminated by `kind`; a region that names none
is watched by the region-health endpoint alone. `quorum` sources must say good for the region to be
good (default: a majority).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from watcher.config import WatcherConfig

PUBLIC_STATUS_PAGE = "https://status.mypurecloud.com/api/v2/components.json"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatusPageSettings(_Section):
    """The public status page, fetched once per interval for every region (outside the API budget)."""

    url: str = PUBLIC_STATUS_PAGE
    interval_seconds: float = Field(default=30.0, gt=0)
    timeout_seconds: float = Field(default=5.0, gt=0)
    degraded: Literal["good", "bad"] = "good"
    maintenance: Literal["good", "bad"] = "good"


class RegionHealthSourceSettings(_Section):
    kind: Literal["region-health"]
    name: str | None = Field(default=None, min_length=1)


class StatusPageSourceSettings(_Section):
    kind: Literal["statuspage"]
    name: str | None = Field(default=None, min_length=1)
    component: str = Field(min_length=1, description="the component's name or id on the status page")


class ProbeSourceSettings(_Section):
    kind: Literal["probe"]
    name: str | None = Field(default=None, min_length=1)
    url: str | None = Field(default=None, description="default: {api_base_url}{paths.date}")
    auth: Literal["token", "none"] = "token"
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(
        default_factory=lambda: [200], min_length=1
    )
    max_latency_ms: float | None = Field(default=None, gt=0)
    latency_window: int = Field(default=3, ge=1, le=100)
    timeout_seconds: float | None = Field(default=None, gt=0, description="default: health.timeout_seconds")


HealthSourceSettings = Annotated[
    RegionHealthSourceSettings | StatusPageSourceSettings | ProbeSourceSettings,
    Field(discriminator="kind"),
]
SOURCE_KINDS = ("region-health", "statuspage", "probe")


def source_names(sources: list[HealthSourceSettings]) -> list[str]:
    """Each source's name in `/status` and the metrics: its `name`, else its kind (`probe#2` when the
    kind repeats)."""
    names: list[str] = []
    for i, source in enumerate(sources):
        if source.name is not None:
            names.append(source.name)
            continue
        same = [s for s in sources[:i] if s.kind == source.kind and s.name is None]
        names.append(source.kind if not same else f"{source.kind}#{len(same) + 1}")
    return names


def probe_url(cfg: WatcherConfig, source: ProbeSourceSettings) -> str:
    return source.url or cfg.genesys.api_url + cfg.genesys.paths.date


def api_calls_per_cycle(cfg: WatcherConfig) -> int:
    """API requests one poll cycle makes (the budget check): region-health sources and probes of the
    API host count; the status page and probes of other hosts do not."""
    declared = {r.id: r for r in cfg.regions}
    calls = 0
    for region in cfg.region_ids():
        settings = declared.get(region)
        if settings is None or not settings.health:
            calls += 1
            continue
        api = origin(cfg.genesys.api_url)
        calls += sum(
            1
            for s in settings.health
            if s.kind == "region-health"
            or (isinstance(s, ProbeSourceSettings) and origin(probe_url(cfg, s)) == api)
        )
    return calls


def health_problems(cfg: WatcherConfig) -> list[str]:
    """Cross-checks of the health sources, one line each, naming the key."""
    problems: list[str] = []
    sp = cfg.statuspage
    if sp.timeout_seconds >= sp.interval_seconds:
        problems.append(
            f"statuspage.timeout_seconds: {sp.timeout_seconds:g} must be below "
            f"statuspage.interval_seconds ({sp.interval_seconds:g})"
        )
    api_host = origin(cfg.genesys.api_url)
    for i, region in enumerate(cfg.regions):
        key = f"regions[{i}]"
        count = len(region.health) or 1
        if region.quorum is not None and not 1 <= region.quorum <= count:
            problems.append(
                f"{key}.quorum: {region.quorum} must be between 1 and the number of health sources "
                f"of {region.id!r} ({count})"
            )
        names = source_names(region.health)
        for j, source in enumerate(region.health):
            skey = f"{key}.health[{j}]"
            if names.count(names[j]) > 1 and names.index(names[j]) < j:
                problems.append(f"{skey}.name: duplicate source name {names[j]!r} in region {region.id!r}")
            if isinstance(source, StatusPageSourceSettings):
                if not sp.url.strip():
                    problems.append(f"{skey}: a statuspage source needs [statuspage] url (it is empty)")
                elif not _is_http_url(sp.url):
                    problems.append(f"statuspage.url: {sp.url!r} is not an http(s) URL")
            elif isinstance(source, ProbeSourceSettings):
                problems += _probe_problems(cfg, skey, source, api_host)
    return list(dict.fromkeys(problems))


def _probe_problems(
    cfg: WatcherConfig, key: str, source: ProbeSourceSettings, api_host: tuple[str, str | None, int | None]
) -> list[str]:
    problems: list[str] = []
    url = probe_url(cfg, source)
    if not _is_http_url(url):
        problems.append(f"{key}.url: {url!r} is not an http(s) URL")
    elif source.auth == "token" and origin(url) != api_host:
        # The watcher's token is a credential for the API host only; never send it elsewhere.
        problems.append(
            f"{key}.auth: 'token' would send the watcher's token to {urlsplit(url).netloc}, not the "
            f'API host {urlsplit(cfg.genesys.api_url).netloc}; use auth = "none" for another host'
        )
    timeout = source.timeout_seconds or cfg.health.timeout_seconds
    if timeout >= cfg.health.interval_seconds:
        problems.append(
            f"{key}.timeout_seconds: {timeout:g} must be below health.interval_seconds "
            f"({cfg.health.interval_seconds:g}), or probes would overlap"
        )
    if source.max_latency_ms is not None and source.max_latency_ms >= timeout * 1000:
        # An answer slower than the timeout never arrives: the latency rule could never say bad,
        # only the timeout would, and the threshold would read as a promise it does not keep.
        where = f"{key}.timeout_seconds" if source.timeout_seconds else "health.timeout_seconds"
        problems.append(
            f"{key}.max_latency_ms: {source.max_latency_ms:g} must be below the probe's timeout "
            f"({timeout * 1000:g} ms, {where} = {timeout:g})"
        )
    return problems


def origin(url: str) -> tuple[str, str | None, int | None]:
    """Scheme, host and port of `url` (the default port filled in): what "the same host" means."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return parts.scheme, parts.hostname, port


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
