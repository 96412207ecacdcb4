"""The public status page as a health source (SPEC §6.1).

One `StatusPageFeed` fetches the Statuspage document (`components.json`) at most once per
`[statuspage] interval_seconds`, for every region at once, with its own HTTP client: another host,
no token, outside the API budget. Each region's `StatusPageSource` judges its own component in the
cached document. A failed fetch or a malformed document is no evidence until the next fetch: the
status page being down says nothing about the regions. A document counts once per region: polls
between two fetches reuse its verdict (`Reused`) and move no hysteresis counter, so `fall = 3` means
three fetches (SPEC §4.2). A component the page does not hold is `Misconfigured`: no evidence,
loudly. The cache is never older than one interval (it is refetched on demand when it is), and a
document that could not be refreshed is never judged again: an old "major_outage" would otherwise
be counted as fresh bad observations.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import httpx
import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from watcher.config import StatusPageSettings
from watcher.core import Observation
from watcher.health._evidence import Misconfigured, NoEvidence, Reused
from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.health")

BAD_STATUSES = ("partial_outage", "major_outage")


class StatusComponent(BaseModel):
    """One component of the document; fields the watcher does not read are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    status: str
    group_id: str | None = None
    group: bool = False
    components: list[str] | None = None


class StatusDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    components: list[StatusComponent]


@dataclass(frozen=True)
class Judgement:
    ok: bool
    reason: str
    status: str


def judge_component(
    document: StatusDocument, key: str, *, degraded: str = "good", maintenance: str = "good"
) -> Judgement:
    """Pure: the verdict of the component named or identified by `key` in `document`.

    A group stands for its children (bad when any child is bad); `degraded_performance` and
    `under_maintenance` are good or bad as configured. A component the page does not hold (a typo, a
    rename) or an ambiguous name raises `Misconfigured`, and an unknown status `NoEvidence`: a config
    or format matter, not the region's health (SPEC §4.2).
    """
    by_id = {c.id: c for c in document.components}
    component = by_id.get(key)
    if component is None:
        named = [c for c in document.components if c.name == key]
        if len(named) > 1:
            raise Misconfigured(
                f"component {key!r}: {len(named)} components have that name on the status page; "
                "configure its id"
            )
        if not named:
            raise Misconfigured(missing_component(document, key))
        component = named[0]
    children = [c for c in document.components if c.group_id == component.id]
    children += [by_id[i] for i in component.components or () if i in by_id and by_id[i] not in children]
    policy = {"degraded_performance": degraded, "under_maintenance": maintenance}

    def good(status: str) -> bool:
        if status == "operational":
            return True
        if status in BAD_STATUSES:
            return False
        if status in policy:
            return policy[status] == "good"
        raise NoEvidence(f"component {component.name!r}: unknown status {status!r}")

    if not children:
        ok = good(component.status)
        return Judgement(ok, f"component {component.name!r} {component.status}", component.status)
    failing = [c for c in children if not good(c.status)]
    if not failing:
        statuses = sorted({c.status for c in children})
        return Judgement(
            True,
            f"component {component.name!r} ({len(children)} components) {', '.join(statuses)}",
            component.status,
        )
    listed = ", ".join(f"{c.name!r} {c.status}" for c in failing[:3])
    if len(failing) > 3:
        listed += f" and {len(failing) - 3} more"
    return Judgement(False, f"component {component.name!r}: {listed}", component.status)


def missing_component(document: StatusDocument, key: str) -> str:
    """Why `key` names no component of `document`, with the closest names (a typo, a rename)."""
    names = sorted({c.name for c in document.components})
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"component {key!r} is not on the status page{hint}: check the component name or id "
        "in the config, or whether the page renamed it"
    )


class StatusPageFeed:
    """The status page document, fetched once per interval however many regions ask for it.

    >>> # feed = StatusPageFeed(cfg.statuspage, httpx.AsyncClient())
    >>> # document = await feed.document()   # NoEvidence when it could not be had
    """

    def __init__(
        self,
        settings: StatusPageSettings,
        http: httpx.AsyncClient,
        *,
        metrics: WatcherMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._http = http
        self._metrics = metrics
        self._clock = clock
        self._lock = anyio.Lock()
        self._attempted_at: float | None = None
        self._document: StatusDocument | None = None
        self._error: str | None = None
        self.fetches = 0
        self.latency_ms: float | None = None
        # Successful fetches so far: each brings a new document, which counts once per region.
        self.generation = 0
        self.fetched_at: float | None = None
        # (region, source, component) -> the generation last counted and its verdict. Kept here, not
        # in the sources, so a reload that rebuilds the sources does not count a document twice.
        self.counted: dict[tuple[str, str, str], tuple[int, Observation]] = {}

    async def document(self) -> StatusDocument:
        """The latest document; raises `NoEvidence` when the last fetch failed."""
        s = self.settings
        async with self._lock:  # single flight: the regions asking at once share one fetch
            if self._attempted_at is None or self._clock() - self._attempted_at >= s.interval_seconds:
                await self._fetch()
        if self._error is not None or self._document is None:
            raise NoEvidence(f"status page: {self._error or 'not fetched'}")
        return self._document

    async def _fetch(self) -> None:
        s = self.settings
        self._attempted_at = self._clock()
        self.fetches += 1
        try:
            with anyio.fail_after(s.timeout_seconds):
                response = await self._http.get(s.url, timeout=s.timeout_seconds)
        except (TimeoutError, httpx.TimeoutException):
            self._failed("timeout", f"no answer within {s.timeout_seconds:g}s")
            return
        except httpx.HTTPError as exc:
            self._failed("error", f"fetch failed ({type(exc).__name__})")
            return
        if response.status_code != 200:
            self._failed("error", f"http {response.status_code}")
            return
        try:
            document = StatusDocument.model_validate_json(response.content)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            self._failed("malformed", f"malformed document ({where}: {first['msg']})")
            if self._metrics is not None:
                self._metrics.malformed_responses.labels(endpoint="statuspage").inc()
            return
        self._document, self._error = document, None
        self.generation += 1
        self.fetched_at = self._attempted_at
        self.latency_ms = response.elapsed.total_seconds() * 1000
        if self._metrics is not None:
            self._metrics.statuspage_fetches.labels(result="success").inc()

    def _failed(self, result: str, error: str) -> None:
        self._error, self._document = error, None
        log.warning("status page fetch failed; no evidence from it", url=self.settings.url, error=error)
        if self._metrics is not None:
            self._metrics.statuspage_fetches.labels(result=result).inc()


class StatusPageSource:
    """One region's component on the status page."""

    kind = "statuspage"

    def __init__(
        self,
        feed: StatusPageFeed,
        component: str,
        *,
        name: str = "statuspage",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._feed = feed
        self.component = component
        self.name = name
        self._clock = clock

    async def observe(self, region: str) -> Observation:
        """The component's verdict in the latest document: an observation the first time this region
        sees that document, `Reused` (no new evidence, the same verdict) until the next fetch."""
        feed = self._feed
        document = await feed.document()
        generation, key = feed.generation, (region, self.name, self.component)
        counted = feed.counted.get(key)
        if counted is not None and counted[0] == generation:
            age = self._clock() - (feed.fetched_at if feed.fetched_at is not None else self._clock())
            raise Reused(
                counted[1],
                f"status page verdict already counted (document fetched {age:.1f}s ago; the next "
                f"fetch is due {feed.settings.interval_seconds:g}s after it)",
            )
        s = feed.settings
        verdict = judge_component(document, self.component, degraded=s.degraded, maintenance=s.maintenance)
        obs = Observation(
            region=region,
            ok=verdict.ok,
            at=self._clock(),
            reason=verdict.reason,
            status=verdict.status,
            latency_ms=feed.latency_ms,
        )
        feed.counted[key] = (generation, obs)
        return obs
