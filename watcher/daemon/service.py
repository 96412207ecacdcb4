"""The watcher daemon's life: `startup()`, `main_loop()`, `shutdown()`.

One anyio task group holds every long-lived task (HTTP server, pollers, ticker, read-back, token
refresher, event dispatcher, resync, heartbeat, leadership, systemd), each named and guarded. A
stop event wakes every sleeping loop; shutdown waits for in-flight writes for a bounded grace
period, then cancels. Start-up builds the running parts once (`parts.py`); what the daemon says
about itself is `probes.py`, its operator commands `admin.py`, SIGHUP `reload.py`.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import httpx
import structlog
from anyio.abc import TaskGroup

from watcher import __version__
from watcher.aio import guard, sleep
from watcher.config import WatcherConfig
from watcher.core import (
    Action,
    AllRegionsDown,
    AllRegionsDownCleared,
    Event,
    Observation,
    Reweight,
    Tick,
    WorldState,
)
from watcher.daemon.admin import AdminCommands
from watcher.daemon.announce import Announcer
from watcher.daemon.engine import Engine, policy_from_config
from watcher.daemon.executor import SwitchReport, SwitchResult
from watcher.daemon.holds import OperatorState
from watcher.daemon.http import create_app
from watcher.daemon.parts import Parts, Shell, assemble, build_leadership, register_webhook
from watcher.daemon.probes import Probes
from watcher.daemon.reload import Reloader
from watcher.daemon.scheduler import PollScheduler
from watcher.daemon.status import WallClock
from watcher.daemon.watchdog import systemd_loop
from watcher.events import Outbox
from watcher.metrics import WatcherMetrics
from watcher.serving import base_url_of, bind_socket, serve_app
from watcher.systemd_notify import SystemdNotifier

log = structlog.get_logger("watcher.daemon")

TICK_SECONDS = 0.5
RESIGN_TIMEOUT_SECONDS = 3.0


class Watcher:
    """The daemon for one organization.

    >>> # watcher = Watcher(load_config("config/watcher.toml"))
    >>> # await watcher.serve()          # until SIGTERM / watcher.request_stop()
    """

    def __init__(
        self,
        cfg: WatcherConfig,
        *,
        config_path: str | None = None,
        metrics: WatcherMetrics | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        notifier: SystemdNotifier | None = None,
        listen_socket: socket.socket | None = None,
        clock: Callable[[], float] = time.monotonic,
        dry_run: bool | None = None,
    ) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.metrics = metrics or WatcherMetrics()
        self.clock = clock
        self.notifier = notifier or SystemdNotifier.from_env()
        self._transport = transport
        self._listen_socket = listen_socket
        self.stop = anyio.Event()
        self.started = anyio.Event()
        self.engine = Engine(policy_from_config(cfg, dry_run=dry_run), self._on_actions)
        self.leadership = build_leadership(cfg.leader)
        self.leadership.on_change = self._leadership_changed
        # Leadership ends after in-flight writes do, not with the stop signal: a successor must
        # not start writing while this instance still finishes a switch.
        self._resign = anyio.Event()
        self._resigned = anyio.Event()
        wall = WallClock(clock)
        self.announce = Announcer(
            self.metrics,
            wall,
            source=lambda: self.cfg.events.source,
            speaks=lambda: self.leadership.is_leader,
            clock=clock,
            state_dir=cfg.state.dir,
        )
        self.announce.active_of = self._active_region
        self.announce.settling = lambda s: self.parts is not None and s in self.parts.executor.in_flight
        self.shell = Shell(
            self.metrics,
            self.engine,
            self.leadership,
            self.announce,
            wall,
            self.stop,
            clock,
            lambda: self.cfg,
            self._on_switch,
        )
        self.parts: Parts | None = None
        self.probes: Probes | None = None
        self.admin: AdminCommands | None = None
        self._tg: TaskGroup | None = None
        self._reloader: Reloader | None = None
        self.listen_url = ""

    def _active_region(self, strategy: str) -> str | None:
        status = self.engine.world.strategies.get(strategy)
        return None if status is None else status.active_region

    @property
    def switch_log(self) -> list[dict[str, Any]]:
        """The last switches this instance executed, newest last."""
        return self.announce.switch_log

    @property
    def scheduler(self) -> PollScheduler | None:
        return None if self.parts is None else self.parts.scheduler

    @property
    def outbox(self) -> Outbox | None:
        return None if self.parts is None else self.parts.outbox

    # ------------------------------------------------------------------------------ lifecycle

    def request_stop(self) -> None:
        """Ask the daemon to stop (signal handlers and tests call this; it only sets a flag)."""
        self.stop.set()

    async def serve(self, *, install_signals: bool = False) -> None:
        """Run until stopped. Signals are only handled when asked (they need the main thread)."""
        cfg = self.cfg
        self.metrics.precreate(
            cfg.region_ids(), [(s.id, s.regions) for s in cfg.strategies], [s.name for s in cfg.sinks]
        )
        self.metrics.leader.set(0)
        self.metrics.dry_run.set(1 if self.engine.policy.dry_run else 0)
        sock = self._listen_socket or bind_socket(*cfg.server.host_port)
        self.listen_url = base_url_of(sock)[0]
        async with assemble(cfg, self.shell, transport=self._transport) as parts:
            self.parts = parts
            self.probes = probes = Probes(self.shell, parts)
            self.admin = admin = AdminCommands(
                self.shell, probes, OperatorState(cfg.state.dir, disk=self.announce.disk)
            )
            await admin.restore()
            app = create_app(probes, admin, cfg.admin_token())
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await tg.start(functools.partial(serve_app, app, sock, name="http"), name="http")
                if install_signals:
                    tg.start_soon(self._signals, name="signals")
                await self.startup(tg, parts, probes)
                await self.main_loop()
                await self.shutdown(tg, parts)

    def _task(
        self, tg: TaskGroup, name: str, body: Callable[[], Awaitable[None]], *, endless: bool = True
    ) -> None:
        def crashed(task: str) -> None:
            self.metrics.task_restarts.labels(task=task).inc()

        tg.start_soon(
            functools.partial(guard, name, body, stop=self.stop, endless=endless, on_crash=crashed), name=name
        )

    async def startup(self, tg: TaskGroup, parts: Parts, probes: Probes) -> None:
        cfg = self.cfg
        log.info(
            "failover-watcher starting",
            version=__version__,
            listen=self.listen_url,
            api=cfg.genesys.api_url,
            regions=cfg.region_ids(),
            strategies=[s.id for s in cfg.strategies],
            dry_run=self.engine.policy.dry_run,
        )
        self._reloader = Reloader(
            self.config_path,
            self.shell,
            parts,
            probes,
            self.notifier,
            apply=self._apply_config,
            read_new_strategies=lambda: self._read_strategies(again=False),
        )
        self._task(tg, "token-refresher", lambda: parts.client.tokens.run_refresher(self.stop))
        self._task(tg, "heartbeat", probes.heartbeat)
        # The strategies are read when leadership is gained (at once for a single instance).
        self._task(tg, "leadership", self._lead)
        self._task(tg, "ticker", self._tick_loop)
        self._task(tg, "read-back", parts.readback.run)
        self._task(tg, "scheduler", parts.scheduler.run)
        if parts.dispatcher is not None:
            self._task(tg, "dispatcher", parts.dispatcher.run)
            self._task(tg, "resync", self._resync_loop)
        self._task(tg, "state-dir", lambda: self.announce.keep_storing(self.stop))
        if cfg.webhook is not None:
            self._task(tg, "webhook-registration", lambda: register_webhook(cfg, parts.client), endless=False)
        self._task(tg, "systemd", lambda: systemd_loop(self.notifier, parts.scheduler, probes, self.stop))
        self.started.set()

    async def main_loop(self) -> None:
        await self.stop.wait()

    async def shutdown(self, tg: TaskGroup, parts: Parts) -> None:
        """Stop deciding; let in-flight writes finish within the grace period, then cancel them
        (their reports and events are stored all the same); release leadership only after the last
        write has ended, so a successor never writes while this instance still does."""
        grace = self.cfg.executor.shutdown_grace_seconds
        log.info("shutting down", grace_seconds=grace)
        self.notifier.stopping()
        executor = parts.executor
        with anyio.move_on_after(grace):
            await executor.wait_idle()
        if executor.in_flight:
            log.warning(
                "abandoning in-flight writes at the end of the grace period",
                strategies=sorted(executor.in_flight),
            )
            executor.abandon()
            with anyio.move_on_after(RESIGN_TIMEOUT_SECONDS + 5.0):
                await executor.wait_idle()
        self._resign.set()
        with anyio.move_on_after(RESIGN_TIMEOUT_SECONDS):
            await self._resigned.wait()
        tg.cancel_scope.cancel()
        log.info("stopped")

    async def _lead(self) -> None:
        try:
            await self.leadership.run(self._resign)
        finally:
            if self._resign.is_set():
                self._resigned.set()

    async def _signals(self) -> None:
        # Signal handlers only set flags; the work happens in the loops that own it.
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    await self.reload()
                elif self.stop.is_set():
                    # The operator insists: exit at once. The outbox and the audit trail are
                    # crash-safe, and the next start is level-triggered.
                    log.warning("second signal; exiting at once", signal=signal.Signals(signum).name)
                    os._exit(128 + signum)
                else:
                    log.info("signal received; stopping", signal=signal.Signals(signum).name)
                    self.request_stop()

    async def reload(self) -> bool:
        """SIGHUP: re-read the config; a bad one is refused and the old one kept."""
        return False if self._reloader is None else await self._reloader.reload()

    def _apply_config(self, cfg: WatcherConfig) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------------------------ loops

    async def _tick_loop(self) -> None:
        while not await sleep(TICK_SECONDS, self.stop):
            await self.engine.feed(Tick(self.clock()))
            if self.admin is not None:
                await self.admin.expire()

    async def _resync_loop(self) -> None:
        while not await sleep(self.cfg.events.resync_interval_seconds, self.stop):
            await self._resync()

    async def _resync(self) -> None:
        if self.probes is not None:
            await self.announce.resync(self.probes.status)

    async def _read_then_resync(self) -> None:
        if self.admin is not None:
            await self.admin.adopt_shared()  # holds in force before the first decision
        if self.parts is not None:
            await self.parts.readback.initial_read()
            await self._resync()

    # ------------------------------------------------------------------------------ actions

    async def _on_actions(self, actions: Sequence[Action], world: WorldState, event: Event) -> None:
        # Gauges first: they mirror the world, which already changed; the actions may await.
        policy = self.engine.policy
        if isinstance(event, Observation):
            # An observation changes its region and, at most, the strategies over it.
            self.announce.gauges(world, [event.region], policy.strategies_of(event.region))
        else:
            self.announce.gauges(world, world.regions, policy.strategies)
        # Writes start first: telling (log, outbox, audit trail: disk) must never delay a failover,
        # however slow the disk under the outbox is.
        for action in actions:
            if isinstance(action, Reweight) and self._tg is not None and self.parts is not None:
                self._tg.start_soon(self.parts.executor.execute, action, name=f"write:{action.strategy}")
            elif (
                isinstance(action, AllRegionsDown | AllRegionsDownCleared)
                and self._tg is not None
                and self.parts is not None
                and self.parts.followers.others_of(action.strategy)
            ):
                # Nothing is routed elsewhere, but `all-down` emergency groups follow this.
                follow = self.parts.readback.follow_now
                self._tg.start_soon(follow, action.strategy, name=f"follow:{action.strategy}")
        for action in actions:
            await self.announce.decision(action)

    async def _on_switch(self, report: SwitchReport, action: Reweight) -> None:
        if report.result is SwitchResult.PARTIAL and self.parts is not None:
            self.parts.readback.rule_repairs.add(action.strategy)  # the read-back finishes the rules
        await self.announce.switch(report, action)

    def _read_strategies(self, *, again: bool = True) -> None:
        """Start an initial read of the strategies not read yet (all of them, `again`)."""
        if self.parts is None or self._tg is None:
            return
        rb = self.parts.readback
        if again:
            rb.read_all_again()
        if rb.unread and not rb.reading:
            self._task(self._tg, "initial-read", self._read_then_resync, endless=False)

    def _leadership_changed(self, leader: bool) -> None:
        """Gaining leadership re-reads every strategy (what the API holds is the truth: the former
        leader may have switched, or died before it could); losing it stops writes at the gate."""
        self.metrics.leader.set(1 if leader else 0)
        (log.info if leader else log.warning)(
            "leadership " + ("gained" if leader else "lost"), **self.leadership.describe()
        )
        if leader:
            self._read_strategies()

    # ------------------------------------------------------------------------------ probes

    def status(self) -> dict[str, Any]:
        return {} if self.probes is None else self.probes.status()

    def readiness(self) -> tuple[bool, str]:
        return (False, "starting") if self.probes is None else self.probes.readiness()

    def liveness(self) -> tuple[bool, str]:
        return (True, "starting") if self.probes is None else self.probes.liveness()

    def metrics_text(self) -> bytes:
        return self.metrics.exposition()
