"""The poll scheduler: every region on its own loop, concurrently, with jitter.

One loop per region means a region whose health endpoint hangs only delays itself (each poll is
bounded by the health timeout); the others keep their rhythm. While a region is between states it is
polled at the faster settling interval, so hysteresis completes sooner in both directions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Sequence

import anyio
import structlog

from watcher.config import HealthSettings
from watcher.core import Observation
from watcher.genesys import Priority, request_priority
from watcher.health import HealthSource, NoEvidence, Reused
from watcher.logs import Repeated
from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.scheduler")
_SLOT = 0.05  # seconds: the widest slot of the poll grid (see `_next_delay`)


def check_result(obs: Observation) -> str:
    """The `result` label of failover_watcher_health_checks_total for an observation."""
    if obs.ok:
        return "healthy"
    return obs.failure or "unhealthy"


class PollScheduler:
    """Polls `regions` through `source` and hands every observation to `deliver`.

    `is_settling(region)` tells whether to use the faster interval (the core knows; the scheduler asks).
    `decisive(region)` whether a poll of it can change a decision now: the polls of the others
    wait behind writes in the request budget while a switch drains it.
    """

    def __init__(
        self,
        regions: Sequence[str],
        source: HealthSource,
        settings: HealthSettings,
        deliver: Callable[[Observation], Awaitable[None]],
        is_settling: Callable[[str], bool],
        *,
        stop: anyio.Event,
        metrics: WatcherMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        decisive: Callable[[str], bool] = lambda region: True,
        sleeper: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.regions = list(regions)
        self._decisive = decisive
        self._source = source
        self._settings = settings
        self._deliver = deliver
        self._is_settling = is_settling
        self._stop = stop
        self._metrics = metrics
        self._clock = clock
        # Every poll of a region repeats it while the API is away: its start, its end, a minute between.
        self._no_evidence = Repeated(log, "health poll gave no evidence; not counted", clock=clock)
        self._rng = rng or random.Random()
        self._limiter = anyio.Semaphore(settings.concurrency, fast_acquire=True)
        # When a poll last produced an observation (readiness: is the health data fresh?) and when
        # a poll attempt last finished at all (liveness: is the loop turning?). They differ while the
        # platform throttles us: the data goes stale, but restarting the process would not help.
        self.last_poll_at: float | None = None
        self.last_attempt_at: float | None = None
        self.first_poll = anyio.Event()
        self.polls = 0
        self._scope: anyio.CancelScope | None = None
        self._napping: set[anyio.CancelScope] = set()
        self._sleeper = sleeper  # a fake clock's, in tests

    def _next_delay(self, region: str, started: float) -> float:
        s = self._settings
        base = s.settling_interval if self._is_settling(region) else s.interval_seconds
        at = started + base * (1 + self._rng.uniform(-s.jitter, s.jitter))
        # On a grid of the clock (a twentieth of the interval, at most 50 ms) when the jitter allows:
        # the polls due in one slot then go out in one turn of the event loop instead of one wake-up
        # each, which is most of a poll's CPU at a hundred polls a second. The gap stays within the
        # jitter, and the draw still spreads the regions over the slots. A settling region's polls
        # take the same grid when their (narrower) window holds a slot: a few regions settling after
        # stray errors then share the others' wake-ups instead of adding their own.
        centre, spread = started + base, base * s.jitter
        slot = min(_SLOT, s.interval_seconds / 20)
        if slot > 2 * spread:
            slot = min(_SLOT, base / 20)
        gridded = round(at / slot) * slot
        # The nearest grid point on or past an edge of the window (the edges are grid points too
        # once the polls are on the grid, give or take a rounding error): the next one inwards.
        if gridded - centre >= spread - 1e-9:
            gridded -= slot
        elif centre - gridded >= spread - 1e-9:
            gridded += slot
        if abs(gridded - centre) <= spread:
            at = gridded
        return max(0.0, at - self._clock())

    async def run(self) -> None:
        """Poll until the stop event; each region starts at a random offset so polls spread out."""
        while not self._stop.is_set():
            with anyio.CancelScope() as self._scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._wake_on_stop, name="poll:stop")
                    for region in self.regions:
                        tg.start_soon(self._loop, region, name=f"poll:{region}")

    def reconfigure(
        self, regions: Sequence[str], settings: HealthSettings, source: HealthSource | None = None
    ) -> None:
        """A reload: restart the loops with the new regions and intervals (health state is the core's,
        and is kept)."""
        self.regions = list(regions)
        self._settings = settings
        self._source = source or self._source
        self._limiter = anyio.Semaphore(settings.concurrency, fast_acquire=True)
        if self._scope is not None:
            self._scope.cancel()

    async def _wake_on_stop(self) -> None:
        await self._stop.wait()
        for scope in list(self._napping):
            scope.cancel()

    async def _nap(self, delay: float) -> bool:
        """Sleep `delay` between polls; True if the daemon is stopping. A plain timer, ended early
        only by the stop (`_wake_on_stop`): a sleep under a deadline that must cancel itself at
        every expiry costs a poll's worth of CPU again at a hundred polls a second (BENCHMARKS.md,
        5b). A poll under way is never cut by the stop; it ends within its own timeout."""
        with anyio.CancelScope() as scope:
            self._napping.add(scope)
            try:
                if not self._stop.is_set():
                    await self._sleeper(delay)
            finally:
                self._napping.discard(scope)
        return self._stop.is_set()

    async def _loop(self, region: str) -> None:
        # Spread the first polls over a fraction of the interval instead of a thundering herd.
        if await self._nap(self._rng.uniform(0, self._settings.interval_seconds * self._settings.jitter)):
            return
        while not self._stop.is_set():
            started = self._clock()
            await self.poll_once(region)
            if await self._nap(self._next_delay(region, started)):
                return

    async def poll_once(self, region: str) -> Observation | None:
        started = self._clock()
        try:
            priority = Priority.DECISIVE if self._decisive(region) else Priority.DEFERRABLE
            async with self._limiter:
                with request_priority(priority):
                    obs = await self._source.observe(region)
        except Reused as exc:  # SPEC §4.2: the verdict stands (already counted); a poll, no evidence
            self.polls += 1
            self.last_poll_at = self.last_attempt_at = self._clock()
            log.debug("health verdict unchanged since it was counted", region=region, reason=str(exc))
            if self._metrics is not None:
                self._metrics.child(self._metrics.health_checks, region, exc.result).inc()
            return None
        except NoEvidence as exc:
            self.last_attempt_at = self._clock()
            self._no_evidence.seen(region, region=region, error=str(exc))
            if self._metrics is not None:
                self._metrics.child(self._metrics.health_checks, region, exc.result).inc()
            return None
        if self._no_evidence.active(region):
            self._no_evidence.ended(region, region=region)
        self.polls += 1
        self.last_poll_at = self.last_attempt_at = self._clock()
        self.first_poll.set()
        m = self._metrics
        if m is not None:
            m.child(m.health_checks, region, check_result(obs)).inc()
            m.poll_cycle_seconds.observe(self.last_poll_at - started)
            m.last_poll_timestamp.set(time.time())
        await self._deliver(obs)
        return obs
