"""The watcher daemon's life: `startup()`, `main_loop()`, `shutdown()`.

One anyio task group holds every long-lived task (pollers, ticker, reconciler, token refresher,
event dispatcher, resync, heartbeat, HTTP server), each named and guarded. A stop event wakes every
sleeping loop; shutdown waits for in-flight writes for a bounded grace period, then cancels.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio
import httpx
import structlog
from anyio.abc import TaskGroup

from watcher import __version__
from watcher.config import ConfigError, WatcherConfig, load_config
from watcher.core import (
    Action,
    Event,
    Observation,
    OperatorHold,
    OperatorPin,
    OperatorRelease,
    Reweight,
    Tick,
    WorldState,
)
from watcher.daemon.announce import Announcer
from watcher.daemon.engine import Engine, policy_from_config
from watcher.daemon.executor import Executor, SwitchReport
from watcher.daemon.health import QuorumSource, RegionHealthEndpoint
from watcher.daemon.http import create_app
from watcher.daemon.leader import build_leadership
from watcher.daemon.readback import ReadBack
from watcher.daemon.scheduler import PollScheduler
from watcher.daemon.status import WallClock, render_status
from watcher.daemon.tasks import guarded, sleep
from watcher.events import (
    AuditTrail,
    Dispatcher,
    Outbox,
    SinkSpec,
)
from watcher.genesys import GenesysClient, WebhookRequest
from watcher.metrics import WatcherMetrics
from watcher.oneshot import register_webhook_once
from watcher.serving import bind_socket, serving
from watcher.systemd_notify import SystemdNotifier

log = structlog.get_logger("watcher.daemon")

TICK_SECONDS = 0.5
HEARTBEAT_SECONDS = 0.5
STALL_SECONDS = 10.0


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
        self.wall = WallClock(clock)
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
        self.announce = Announcer(
            self.metrics,
            self.wall,
            source=lambda: self.cfg.events.source,
            speaks=lambda: self.leadership.is_leader,
            clock=clock,
        )
        self._heartbeat = clock()
        self._tg: TaskGroup | None = None
        self._scheduler_scope: anyio.CancelScope | None = None
        self.readback: ReadBack | None = None
        self.listen_url = ""
        self.client: GenesysClient | None = None
        self.scheduler: PollScheduler | None = None
        self.executor: Executor | None = None
        self.dispatcher: Dispatcher | None = None
        self.outbox: Outbox | None = None
        self.trail: AuditTrail | None = None

    @property
    def switch_log(self) -> list[dict[str, Any]]:
        """The last switches this instance executed, newest last."""
        return self.announce.switch_log

    # ------------------------------------------------------------------------------ lifecycle

    def request_stop(self) -> None:
        """Ask the daemon to stop (signal handlers and tests call this; it only sets a flag)."""
        self.stop.set()

    async def serve(self, *, install_signals: bool = False) -> None:
        """Run until stopped. Signals are only handled when asked (they need the main thread)."""
        async with self._resources() as tg:
            self._tg = tg
            if install_signals:
                tg.start_soon(self._signals, name="signals")
            await self.startup(tg)
            await self.main_loop()
            await self.shutdown(tg)

    @contextlib.asynccontextmanager
    async def _resources(self) -> AsyncIterator[TaskGroup]:
        cfg = self.cfg
        cfg.state.dir.mkdir(parents=True, exist_ok=True)
        self.trail = AuditTrail(
            cfg.state.dir, max_bytes=cfg.state.audit_max_bytes, backups=cfg.state.audit_backups
        )
        self.metrics.precreate(
            cfg.region_ids(), [(s.id, s.regions) for s in cfg.strategies], [s.name for s in cfg.sinks]
        )
        self.metrics.leader.set(0)
        self.metrics.dry_run.set(1 if self.engine.policy.dry_run else 0)
        sock = self._listen_socket or bind_socket(*cfg.server.host_port)
        host, port = sock.getsockname()[:2]
        self.listen_url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        app = create_app(self, cfg.admin_token())
        async with contextlib.AsyncExitStack() as stack:
            self.client = await stack.enter_async_context(
                GenesysClient(
                    cfg.genesys, cfg.client_secret(), transport=self._transport, metrics=self.metrics
                )
            )
            if cfg.sinks:
                self.outbox = Outbox(cfg.state.dir / "outbox.sqlite3")
                stack.callback(self.outbox.close)
                sink_http = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
                self.dispatcher = Dispatcher(
                    self.outbox,
                    [
                        SinkSpec(
                            s.name, s.url, cfg.sink_secrets(s), s.timeout_seconds, cfg.events.max_age_seconds
                        )
                        for s in cfg.sinks
                    ],
                    sink_http,
                    self.metrics,
                    source=cfg.events.source,
                )
            stack.callback(self.trail.close)
            self.announce.trail = self.trail
            self.announce.dispatcher = self.dispatcher
            await stack.enter_async_context(serving(app, sock))
            async with anyio.create_task_group() as tg:
                yield tg

    async def startup(self, tg: TaskGroup) -> None:
        cfg = self.cfg
        assert self.client is not None
        self.executor = Executor(
            self.client,
            cfg.rules,
            self.engine.feed,
            metrics=self.metrics,
            trail=self.trail,
            report=self._on_switch,
            gate=self.leadership,
            conflict_retries=cfg.executor.conflict_retries,
            clock=self.clock,
            readable=self.wall.convert,
        )
        self.executor.grace_seconds = cfg.executor.shutdown_grace_seconds
        log.info(
            "failover-watcher starting",
            version=__version__,
            listen=self.listen_url,
            api=cfg.genesys.api_url,
            regions=cfg.region_ids(),
            strategies=[s.id for s in cfg.strategies],
            dry_run=self.engine.policy.dry_run,
        )
        client = self.client
        self.readback = ReadBack(
            client,
            self.engine,
            self.executor,
            self.leadership,
            lambda: self.cfg,
            metrics=self.metrics,
            stop=self.stop,
            clock=self.clock,
        )
        tg.start_soon(self._guard("token-refresher", lambda: client.tokens.run_refresher(self.stop)))
        tg.start_soon(self._guard("heartbeat", self._heartbeat_loop))
        # The strategies are read when leadership is gained (at once for a single instance).
        tg.start_soon(self._guard("leadership", self._lead))
        tg.start_soon(self._guard("ticker", self._tick_loop))
        tg.start_soon(self._guard("reconciler", self.readback.run))
        self._start_scheduler(tg)
        if self.dispatcher is not None:
            tg.start_soon(self._guard("dispatcher", self.dispatcher.run))
            tg.start_soon(self._guard("resync", self._resync_loop))
        if cfg.webhook is not None:
            tg.start_soon(self._guard("webhook-registration", self._register_webhook))
        tg.start_soon(self._guard("systemd", self._systemd_loop))
        self.started.set()

    async def main_loop(self) -> None:
        await self.stop.wait()

    async def shutdown(self, tg: TaskGroup) -> None:
        log.info("shutting down", grace_seconds=self.cfg.executor.shutdown_grace_seconds)
        self.notifier.stopping()
        executor = self.executor
        if executor is not None:
            with anyio.move_on_after(self.cfg.executor.shutdown_grace_seconds):
                await executor.wait_idle()
        self._resign.set()
        with anyio.move_on_after(3.0):
            await self._resigned.wait()
        if executor is not None and executor.in_flight:
            log.warning(
                "abandoning in-flight writes at the end of the grace period",
                strategies=sorted(executor.in_flight),
            )
        tg.cancel_scope.cancel()
        log.info("stopped")

    async def _lead(self) -> None:
        try:
            await self.leadership.run(self._resign)
        finally:
            if self._resign.is_set():
                self._resigned.set()

    def _guard(self, name: str, body: Callable[[], Any]) -> Callable[[], Any]:
        async def run() -> None:
            await guarded(name, body, stop=self.stop, metrics=self.metrics)

        run.__name__ = name
        return run

    async def _signals(self) -> None:
        # Signal handlers only set flags; the work happens in the loops that own it.
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    await self.reload()
                else:
                    log.info("signal received; stopping", signal=signal.Signals(signum).name)
                    self.request_stop()

    # ------------------------------------------------------------------------------ loops

    def _start_scheduler(self, tg: TaskGroup) -> None:
        assert self.client is not None
        source = QuorumSource([RegionHealthEndpoint(self.client, self.cfg.health, clock=self.clock)])
        self.scheduler = PollScheduler(
            self.cfg.region_ids(),
            source,
            self.cfg.health,
            self.engine.feed,
            self.engine.settling,
            stop=self.stop,
            metrics=self.metrics,
            clock=self.clock,
        )
        scheduler = self.scheduler

        async def run() -> None:
            with anyio.CancelScope() as scope:
                self._scheduler_scope = scope
                await scheduler.run()

        tg.start_soon(self._guard("scheduler", run))

    async def _heartbeat_loop(self) -> None:
        while not self.stop.is_set():
            self._heartbeat = self.clock()
            await sleep(HEARTBEAT_SECONDS, self.stop)

    async def _tick_loop(self) -> None:
        while not await sleep(TICK_SECONDS, self.stop):
            await self.engine.feed(Tick(self.clock()))

    async def _resync_loop(self) -> None:
        assert self.dispatcher is not None
        while not await sleep(self.cfg.events.resync_interval_seconds, self.stop):
            await self.dispatcher.resync(self.status())

    async def _register_webhook(self) -> None:
        assert self.client is not None
        assert self.cfg.webhook is not None
        w = self.cfg.webhook
        secret = self.cfg.webhook_secret()
        hook_id, created = await register_webhook_once(
            self.client, WebhookRequest(name=w.name, targetUrl=w.target_url, secret=secret, events=w.events)
        )
        log.info("DNS-sync webhook " + ("registered" if created else "already registered"), id=hook_id)

    async def _systemd_loop(self) -> None:
        """READY=1 after the first poll; WATCHDOG=1 only while polls keep completing; STATUS= summary."""
        n = self.notifier
        assert self.scheduler is not None
        async with anyio.create_task_group() as tg:

            async def first_poll() -> None:
                await self.scheduler.first_poll.wait()  # type: ignore[union-attr]
                tg.cancel_scope.cancel()

            tg.start_soon(first_poll)
            await self.stop.wait()
            tg.cancel_scope.cancel()
        if self.stop.is_set():
            return
        n.ready()
        interval = n.watchdog_interval() or 5.0
        while not await sleep(interval, self.stop):
            n.status(self.summary_line())
            if self._polls_recent(attempts=True):
                n.watchdog()
            else:
                log.error("poll cycles stalled; withholding the systemd watchdog ping")
            if not self._polls_recent():
                log.warning("no fresh health observation (throttled?); not ready")

    # ------------------------------------------------------------------------------ actions

    async def _on_actions(self, actions: Sequence[Action], world: WorldState, event: Event) -> None:
        # Gauges first: they mirror the world, which already changed; the actions may await.
        policy = self.engine.policy
        if isinstance(event, Observation):
            # An observation changes its region and, at most, the strategies over it.
            self.announce.gauges(world, [event.region], policy.strategies_of(event.region))
        else:
            self.announce.gauges(world, world.regions, policy.strategies)
        for action in actions:
            await self.announce.decision(action)
            if isinstance(action, Reweight):
                assert self._tg is not None
                assert self.executor is not None
                self._tg.start_soon(self.executor.execute, action, name=f"write:{action.strategy}")

    async def _on_switch(self, report: SwitchReport, action: Reweight) -> None:
        if report.result == "partial" and self.readback is not None:
            self.readback.rule_repairs.add(action.strategy)  # the read-back finishes the rules
        await self.announce.switch(report, action)

    def _read_strategies(self, *, again: bool = True) -> None:
        """Start an initial read of the strategies not read yet (all of them, `again`)."""
        rb = self.readback
        if rb is None or self._tg is None:
            return
        if again:
            rb.read_all_again()
        if rb.unread and not rb.reading:
            self._tg.start_soon(self._guard("initial-read", rb.initial_read))

    def _leadership_changed(self, leader: bool) -> None:
        """Gaining leadership re-reads every strategy (what the API holds is the truth: the former
        leader may have switched, or died before it could); losing it stops writes at the gate."""
        self.metrics.leader.set(1 if leader else 0)
        log.warning("leadership " + ("gained" if leader else "lost"), **self.leadership.describe())
        if leader:
            self._read_strategies()

    # ------------------------------------------------------------------------------ probes

    def _polls_recent(self, *, attempts: bool = False) -> bool:
        """A poll completed recently: with an observation (default), or at all (`attempts`)."""
        s = self.scheduler
        last = None if s is None else (s.last_attempt_at if attempts else s.last_poll_at)
        if last is None:
            return False
        limit = 3 * self.cfg.health.interval_seconds + self.cfg.health.timeout_seconds
        return self.clock() - last <= limit

    def liveness(self) -> tuple[bool, str]:
        lag = self.clock() - self._heartbeat
        if lag > STALL_SECONDS:
            return False, f"event loop heartbeat {lag:.1f}s old"
        return True, f"heartbeat {lag:.2f}s ago"

    def readiness(self) -> tuple[bool, str]:
        problems = []
        if self.client is None or not self.client.tokens.has_token:
            problems.append("no OAuth token held")
        unread = self.readback.unread if self.readback is not None else {"(all)"}
        if unread and self.leadership.is_leader:
            problems.append(f"strategies not read yet: {', '.join(sorted(unread))}")
        if not self._polls_recent():
            problems.append("no recent poll cycle")
        return (not problems, "; ".join(problems) or "ok")

    def metrics_text(self) -> bytes:
        return self.metrics.exposition()

    def summary_line(self) -> str:
        world = self.engine.world
        healthy = sum(1 for h in world.regions.values() if h.healthy)
        parts = [f"{healthy}/{len(world.regions)} regions healthy"]
        parts += [f"{s.id}->{s.active_region or '?'} ({s.phase.value})" for s in world.strategies.values()]
        return "; ".join(parts)

    def status(self) -> dict[str, Any]:
        outbox: dict[str, Any] = {}
        if self.outbox is not None:
            for sink in self.cfg.sinks:
                outbox[sink.name] = {
                    "pending": self.outbox.pending_count(sink.name),
                    "deadLetters": self.outbox.dead_letter_count(sink.name),
                }
        ready, why = self.readiness()
        return render_status(
            self.engine.world,
            self.wall,
            last_switches=self.announce.last_switches,
            extra={
                "outbox": outbox,
                "outboxDepth": sum(v["pending"] for v in outbox.values()),
                "leader": self.leadership.is_leader,
                "leadership": self.leadership.describe(),
                "dryRun": self.engine.policy.dry_run,
                "ready": ready,
                "readyDetail": why,
                "version": __version__,
                "summary": self.summary_line(),
            },
        )

    # ------------------------------------------------------------------------------ admin

    def _strategy_or_raise(self, strategy: str) -> None:
        if strategy not in self.engine.world.strategies:
            raise KeyError(f"unknown strategy {strategy!r}")

    async def hold(self, strategy: str, seconds: float, region: str | None, reason: str) -> dict[str, Any]:
        self._strategy_or_raise(strategy)
        now = self.clock()
        event: Event
        if region is not None:
            event = OperatorPin(strategy, region, now + seconds, now, reason)
        else:
            event = OperatorHold(strategy, now + seconds, now, reason)
        log.warning(
            "operator " + ("pin" if region else "hold"),
            strategy=strategy,
            region=region,
            seconds=seconds,
            reason=reason,
        )
        await self.engine.feed(event)
        return self._strategy_doc(strategy)

    async def release(self, strategy: str) -> dict[str, Any]:
        self._strategy_or_raise(strategy)
        log.warning("operator release", strategy=strategy)
        await self.engine.feed(OperatorRelease(strategy, self.clock()))
        return self._strategy_doc(strategy)

    async def set_dry_run(self, enabled: bool) -> dict[str, Any]:
        self.engine.replace_policy(policy_from_config(self.cfg, dry_run=enabled))
        self.metrics.dry_run.set(1 if enabled else 0)
        log.warning("dry run " + ("enabled" if enabled else "disabled"))
        return {"dryRun": enabled}

    def _strategy_doc(self, strategy: str) -> dict[str, Any]:
        return next(s for s in self.status()["strategies"] if s["id"] == strategy)

    # ------------------------------------------------------------------------------ reload

    async def reload(self) -> bool:
        """SIGHUP: re-read the config; a bad one is refused and the old one kept."""
        path = self.config_path
        if path is None:
            log.warning("reload requested but the config was not loaded from a file; ignoring")
            return False
        self.notifier.reloading()
        try:
            new = load_config(path)
        except ConfigError as exc:
            log.error("config reload refused; keeping the running config", config=path, problems=exc.problems)
            self.notifier.ready()
            return False
        restart_needed = [
            key
            for key in ("genesys", "server", "state", "sinks", "webhook", "events")
            if getattr(new, key) != getattr(self.cfg, key)
        ]
        old_ids = {s.id for s in self.cfg.strategies}
        new_ids = {s.id for s in new.strategies}
        self.cfg = new
        # In place: a running initial read holds this set.
        if self.readback is not None:
            self.readback.strategies_changed(old_ids, new_ids)
        self.engine.replace_policy(policy_from_config(new, dry_run=self.engine.policy.dry_run or new.dry_run))
        self.announce.forget_gauges()
        if self.executor is not None:
            self.executor.set_rules(new.rules)
        assert self._tg is not None
        if self.leadership.is_leader:
            self._read_strategies(again=False)
        # Pollers pick up new intervals and regions by restarting; health state is kept.
        if self._scheduler_scope is not None:
            self._scheduler_scope.cancel()
        self._start_scheduler(self._tg)
        self.metrics.precreate(new.region_ids(), [(s.id, s.regions) for s in new.strategies])
        log.warning("config reloaded", config=path, restart_needed_for=restart_needed or None)
        self.notifier.ready()
        return True
