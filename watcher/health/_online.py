"""`check-config --online`: the status page fetched once, every configured component looked up in it
(SPEC §4.2). A component the page does not hold (a typo, a rename) would be no evidence for as long
as it runs: better said before the daemon starts than by an alert after."""

from __future__ import annotations

from watcher.config import StatusPageSourceSettings, WatcherConfig
from watcher.health._evidence import Misconfigured, NoEvidence
from watcher.health._sources import public_http
from watcher.health._statuspage import StatusPageFeed, judge_component


async def online_problems(cfg: WatcherConfig) -> list[str]:
    """One line per configured status-page component the page does not hold, naming its key; or one
    line saying the page could not be read. Empty when no region has a status-page source."""
    components = [
        (f"regions[{i}].health[{j}].component", region.id, source.component)
        for i, region in enumerate(cfg.regions)
        for j, source in enumerate(region.health)
        if isinstance(source, StatusPageSourceSettings)
    ]
    if not components:
        return []
    sp = cfg.statuspage
    async with public_http() as http:
        try:
            document = await StatusPageFeed(sp, http).document()
        except NoEvidence as exc:
            return [f"statuspage.url: {sp.url} could not be read: {exc}"]
    problems = []
    for key, region, component in components:
        try:
            judge_component(document, component, degraded=sp.degraded, maintenance=sp.maintenance)
        except Misconfigured as exc:
            problems.append(f"{key} (region {region}): {exc}")
        except NoEvidence:
            pass  # an unknown status is the page's matter, not the config's
    return problems
