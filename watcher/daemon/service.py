"""The watcher daemon's life: `startup()`, `main_loop()`, `shutdown()`, and an explicit `Phase`.

One anyio task group holds every long-lived task (HTTP server, pollers, router, ticker, read-back,
token refresher, event dispatcher, resync, heartbeat, leadership, systemd), each named and guarded.
A stop event wakes every sleeping loop; shutdown waits for in-flight writes for a bounded grace
period, then cancels. The daemon is built whole before it starts (`root.py`): this module only runs
it, and nothing it starts calls back into it.
"""

from __future__ import annotations

import enum
import functools
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import structlog
from anyio.abc import TaskGroup

from watcher import __version__
from watcher.aio import guard, sleep
from watcher.config import WatcherConfig
from watcher.core import Tick
from watcher.daemon.admin import AdminCommands
from watcher.daemon.engine import Engine, policy_from_config
from watcher.daemon.http import create_app
from watcher.daemon.leadership import Takeovers
from watcher.daemon.parts import Foundation, LiveConfig, Parts, build_leadership, register_webhook
from watcher.daemon.root import Daemon, build
from watcher.daemon.router import Decisions
from watcher.daemon.scheduler import PollScheduler
from watcher.daemon.watchdog import systemd_loop
from watcher.events import Outbox
from watcher.metrics import WatcherMetrics
from watcher.serving import base_url_of, bind_socket, serve_app
from watcher.systemd_notify import SystemdNotifier

log = structlog.get_logger("watcher.daemon")

TICK_SECONDS = 0.5
RESIGN_TIMEOUT_SECONDS = 3.0


class Phase(enum.StrEnum):
    """Where the daemon is in its life."""

    CREATED = "created"
    STARTING = "starting"  # parts built, tasks starting
    RUNNING = "running"
    STOPPING = "stopping"  # no new work; in-flight writes finishing within the grace period
    STOPPED = "stopped"


class NotRunning(RuntimeError):
    """A running part was asked for before `serve` built it, or after it stopped."""


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
        self.config = LiveConfig(cfg)
        self.config_path = config_path
        self.metrics = metrics or WatcherMetrics()
        self.clock = clock
        self.notifier = notifier or SystemdNotifier.from_env()
        self._transport = transport
        self._listen_socket = listen_socket
        self.stop = anyio.Event()
        self.started = anyio.Event()
        self.phase = Phase.CREATED
        self.decisions = Decisions()
        self.engine = Engine(policy_from_config(cfg, dry_run=dry_run), self.decisions.publish)
        unread = {s.id for s in cfg.strategies}
        self.takeovers = Takeovers(self.metrics, unread, self.config)
        self.leadership = build_leadership(cfg.leader, self.takeovers)
        self._base = Foundation(
            self.config, self.metrics, clock, self.stop, self.engine, self.leadership, unread
        )
        # Leadership ends after in-flight writes do, not with the stop signal: a successor must
        # not start writing while this instance still finishes a switch.
        self._resign = anyio.Event()
        self._resigned = anyio.Event()
        self._daemon: Daemon | None = None
        self.listen_url = ""

    @property
    def cfg(self) -> WatcherConfig:
        return self.config()

    @property
    def daemon(self) -> Daemon:
        """The running daemon (built by `serve`)."""
        if self._daemon is None:
            raise NotRunning(f"the watcher is {self.phase.value}")
        return self._daemon

    @property
    def parts(self) -> Parts:
        return self.daemon.parts

    @property
    def scheduler(self) -> PollScheduler:
        return self.daemon.parts.scheduler

    @property
    def outbox(self) -> Outbox | None:
        return self.daemon.parts.outbox

    @property
    def admin(self) -> AdminCommands:
        return self.daemon.admin

    @property
    def switch_log(self) -> list[dict[str, Any]]:
        """The last switches this instance executed, newest last."""
        return self.daemon.shell.announce.switch_log

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
        parts = (self._base, self.decisions, self.takeovers, self.notifier)
        async with build(*parts, config_path=self.config_path, transport=self._transport) as daemon:
            self._daemon, self.phase = daemon, Phase.STARTING
            await daemon.admin.restore()
            app = create_app(daemon.probes, daemon.admin, cfg.admin_token())
            async with anyio.create_task_group() as tg:
                await tg.start(functools.partial(serve_app, app, sock, name="http"), name="http")
                if install_signals:
                    tg.start_soon(self._signals, daemon, name="signals")
                await self.startup(tg, daemon)
                await self.main_loop()
                await self.shutdown(tg, daemon)
        self.phase = Phase.STOPPED
        self.decisions.close()

    def _task(
        self, tg: TaskGroup, name: str, body: Callable[[], Awaitable[None]], *, endless: bool = True
    ) -> None:
        def crashed(task: str) -> None:
            self.metrics.task_restarts.labels(task=task).inc()

        tg.start_soon(
            functools.partial(guard, name, body, stop=self.stop, endless=endless, on_crash=crashed), name=name
        )

    async def startup(self, tg: TaskGroup, daemon: Daemon) -> None:
        cfg, parts, probes = self.cfg, daemon.parts, daemon.probes
        log.info(
            "failover-watcher starting",
            version=__version__,
            listen=self.listen_url,
            api=cfg.genesys.api_url,
            regions=cfg.region_ids(),
            strategies=[s.id for s in cfg.strategies],
            dry_run=self.engine.policy.dry_run,
        )
        self._task(tg, "router", daemon.router.run)
        self._task(tg, "token-refresher", lambda: parts.client.tokens.run_refresher(self.stop))
        self._task(tg, "heartbeat", probes.heartbeat)
        # The strategies are read when leadership is gained (at once for a single instance).
        self._task(tg, "initial-read", functools.partial(self._initial_reads, daemon))
        self._task(tg, "leadership", self._lead)
        self._task(tg, "ticker", functools.partial(self._tick_loop, daemon))
        for name, body in daemon.tasks:  # the read-back, the scheduler, readiness, drills
            self._task(tg, name, body)
        if parts.dispatcher is not None:
            self._task(tg, "dispatcher", parts.dispatcher.run)
            self._task(tg, "resync", functools.partial(self._resync_loop, daemon))
        self._task(tg, "state-dir", functools.partial(daemon.shell.announce.pending.keep_storing, self.stop))
        if cfg.webhook is not None:
            self._task(tg, "webhook-registration", lambda: register_webhook(cfg, parts.client), endless=False)
        self._task(tg, "systemd", lambda: systemd_loop(self.notifier, parts.scheduler, probes, self.stop))
        self.phase = Phase.RUNNING
        self.started.set()

    async def main_loop(self) -> None:
        await self.stop.wait()

    async def shutdown(self, tg: TaskGroup, daemon: Daemon) -> None:
        """Stop deciding; let in-flight writes finish within the grace period, then cancel them
        (their reports and events are stored all the same); release leadership only after the last
        write has ended, so a successor never writes while this instance still does."""
        self.phase = Phase.STOPPING
        grace = self.cfg.executor.shutdown_grace_seconds
        log.info("shutting down", grace_seconds=grace)
        self.notifier.stopping()
        executor = daemon.parts.executor
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

    async def _signals(self, daemon: Daemon) -> None:
        # Signal handlers only set flags; the work happens in the loops that own it.
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    await daemon.reloader.reload()
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
        return await self.daemon.reloader.reload()

    # ------------------------------------------------------------------------------ loops

    async def _initial_reads(self, daemon: Daemon) -> None:
        """Whenever leadership is gained (or a reload adds strategies): holds in force first, then
        every unread strategy read (and fenced) before its first decision, then events resynced."""
        readback = daemon.parts.readback
        while True:
            await daemon.takeovers.next()
            if readback.unread:
                await daemon.admin.adopt_shared()
                await readback.initial_read()
                await daemon.shell.announce.resync(daemon.probes.status)

    async def _tick_loop(self, daemon: Daemon) -> None:
        while not await sleep(TICK_SECONDS, self.stop):
            await self.engine.feed(Tick(self.clock()))
            await daemon.admin.expire()

    async def _resync_loop(self, daemon: Daemon) -> None:
        while not await sleep(self.cfg.events.resync_interval_seconds, self.stop):
            await daemon.shell.announce.resync(daemon.probes.status)

    # ------------------------------------------------------------------------------ probes

    def status(self) -> dict[str, Any]:
        return self.daemon.probes.status() if self.phase is not Phase.CREATED else {}

    def readiness(self) -> tuple[bool, str]:
        return self.daemon.probes.readiness() if self.phase is not Phase.CREATED else (False, "starting")

    def liveness(self) -> tuple[bool, str]:
        return self.daemon.probes.liveness() if self.phase is not Phase.CREATED else (True, "starting")

    def metrics_text(self) -> bytes:
        return self.metrics.exposition()
