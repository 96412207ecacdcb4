"""systemd: READY=1 after the first poll, WATCHDOG=1 only while polls keep completing, STATUS=."""

from __future__ import annotations

import anyio
import structlog

from watcher.aio import sleep
from watcher.daemon.scheduler import PollScheduler
from watcher.daemon.selfreport import Probes
from watcher.logs import Repeated
from watcher.systemd_notify import SystemdNotifier

log = structlog.get_logger("watcher.daemon")


async def first(*events: anyio.Event) -> None:
    """Return as soon as any of `events` is set."""
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait, event)


async def systemd_loop(
    notifier: SystemdNotifier, scheduler: PollScheduler, probes: Probes, stop: anyio.Event
) -> None:
    """Tell systemd the truth: ready once there is data, alive only while the poll loop turns.

    The watchdog follows poll *attempts*, not fresh data: under throttling the data goes stale, yet a
    restart would not help, so the watchdog keeps being fed while readiness fails.
    """
    await first(scheduler.first_poll, stop)
    if stop.is_set():
        return
    notifier.ready()
    interval = notifier.watchdog_interval() or 5.0
    stalled = Repeated(log, "poll cycles stalled; withholding the systemd watchdog ping", level="error")
    stale = Repeated(log, "no fresh health observation (throttled?); not ready")
    while not await sleep(interval, stop):
        notifier.status(probes.summary_line())
        if probes.polls_recent(attempts=True):
            notifier.watchdog()
            stalled.ended()
        else:
            stalled.seen()
        if not probes.polls_recent():
            stale.seen()
        else:
            stale.ended()
