"""Start-up: the daemon's running parts, built once, in order, and closed in reverse.

`assemble` yields one frozen `Parts` record: the client, the audit trail, the outbox and its
dispatcher, the followers, the executor, the read-back and the poll scheduler. Nothing in it is
filled in later, so no part of the daemon has to ask whether another one exists yet.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
import httpx
import structlog

from watcher.config import LeaderSettings, WatcherConfig
from watcher.core import Reweight
from watcher.daemon.announce import Announcer
from watcher.daemon.election import EtcdLeaderElection
from watcher.daemon.engine import Engine
from watcher.daemon.executor import Executor, SwitchReport
from watcher.daemon.followers import Followers
from watcher.daemon.leadership import Leadership, SingleInstance
from watcher.daemon.platform_followers import platform_followers
from watcher.daemon.readback import ReadBack
from watcher.daemon.scheduler import PollScheduler
from watcher.daemon.statedir import claim
from watcher.daemon.status import WallClock
from watcher.daemon.virtual import VirtualStrategies
from watcher.events import AuditTrail, Dispatcher, Outbox, RetryPolicy, SequenceStore, SinkSpec
from watcher.genesys import Copies, GenesysClient, RequestBudget, WebhookRequest
from watcher.genesys.platform import PlatformCalls
from watcher.health import HealthSources, public_http
from watcher.metrics import WatcherMetrics

log = structlog.get_logger("watcher.daemon")


async def register_webhook(cfg: WatcherConfig, client: GenesysClient) -> None:
    """The DNS-sync webhook of `[webhook]`, registered once (idempotent across restarts)."""
    w = cfg.webhook
    if w is None:
        return
    request = WebhookRequest(
        name=w.name, targetUrl=w.target_url, secret=cfg.webhook_secret(), events=w.events
    )
    hook_id, created = await client.register_webhook_once(request)
    log.info("DNS-sync webhook " + ("registered" if created else "already registered"), id=hook_id)


def build_leadership(settings: LeaderSettings) -> Leadership:
    if settings.backend == "etcd":
        return EtcdLeaderElection(settings)
    return SingleInstance(settings.instance_id)


@dataclass(frozen=True)
class Parts:
    """The running parts of one daemon, fixed for its life."""

    client: GenesysClient
    trail: AuditTrail
    outbox: Outbox | None
    dispatcher: Dispatcher | None
    followers: Followers
    executor: Executor
    readback: ReadBack
    scheduler: PollScheduler
    health: HealthSources
    platform: PlatformCalls | None = None


@dataclass(frozen=True)
class Shell:
    """What the parts are wired to: the parts of the daemon that exist before start-up."""

    metrics: WatcherMetrics
    engine: Engine
    leadership: Leadership
    announce: Announcer
    wall: WallClock
    stop: anyio.Event
    clock: Callable[[], float]
    config: Callable[[], WatcherConfig]
    on_switch: Callable[[SwitchReport, Reweight], Awaitable[None]]


def _dispatcher(
    cfg: WatcherConfig, outbox: Outbox, http: httpx.AsyncClient, metrics: WatcherMetrics
) -> Dispatcher:
    sinks = [
        SinkSpec(s.name, s.url, cfg.sink_secrets(s), s.timeout_seconds, cfg.events.max_age_seconds)
        for s in cfg.sinks
    ]
    retry = RetryPolicy(cfg.events.retry_base_seconds, cfg.events.retry_cap_seconds)
    return Dispatcher(outbox, sinks, http, metrics, source=cfg.events.source, retry=retry)


def preferred_region(cfg: WatcherConfig, strategy: str) -> str | None:
    """The first region of the strategy's preference order (where it routes when all is well)."""
    return next((s.regions[0] for s in cfg.strategies if s.id == strategy), None)


@contextlib.asynccontextmanager
async def assemble(
    cfg: WatcherConfig, shell: Shell, *, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[Parts]:
    """Build every part for `cfg`; close them (in reverse) when the block ends."""
    m = shell.metrics
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(claim(cfg.state.dir))  # writable, and ours alone (SPEC 4.2)
        trail = AuditTrail(
            cfg.state.dir,
            max_bytes=cfg.state.audit_max_bytes,
            backups=cfg.state.audit_backups,
            on_write=shell.announce.disk.audit_written,
        )
        stack.callback(trail.close)
        g = cfg.genesys
        budget = RequestBudget(g.requests_per_minute, prioritized=g.write_priority)
        client = await stack.enter_async_context(
            GenesysClient(g, cfg.client_secret(), transport=transport, metrics=m, budget=budget)
        )
        # The last copy of every strategy and rule, shared by the writers and the read-back.
        copies = Copies() if cfg.executor.write_from_copies else None
        outbox: Outbox | None = None
        dispatcher: Dispatcher | None = None
        if cfg.sinks:
            outbox = Outbox(cfg.state.dir / "outbox.sqlite3")
            stack.callback(outbox.close)
            sink_http = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
            dispatcher = _dispatcher(cfg, outbox, sink_http, m)
        shell.announce.trail = trail
        shell.announce.dispatcher = dispatcher
        shell.announce.sequences = SequenceStore(cfg.state.dir)
        attempts = cfg.executor.conflict_retries
        platform = PlatformCalls(client)
        virtual = VirtualStrategies(cfg.state.dir, shell.config, shell.leadership)
        followers = Followers(
            client,
            cfg.rules,
            gate=shell.leadership,
            metrics=m,
            trail=trail,
            attempts=attempts,
            clock=shell.clock,
            others=platform_followers(platform, cfg.triggers, cfg.emergency_groups),
            preferred=lambda strategy: preferred_region(shell.config(), strategy),
            copies=copies,
        )
        executor = Executor(
            client,
            followers,
            shell.engine.feed,
            gate=shell.leadership,
            metrics=m,
            trail=trail,
            report=shell.on_switch,
            conflict_retries=attempts,
            grace_seconds=cfg.executor.shutdown_grace_seconds,
            clock=shell.clock,
            readable=shell.wall.convert,
            may_decide=lambda strategy: strategy not in readback.unread,
            intent=shell.announce.intent,
            virtual=virtual,
            copies=copies,
        )
        readback = ReadBack(
            client,
            shell.engine,
            executor,
            followers,
            shell.leadership,
            shell.config,
            metrics=m,
            stop=shell.stop,
            clock=shell.clock,
            virtual=virtual,
            copies=copies,
        )
        # The status page and `auth = "none"` probes: other hosts, no token, outside the API budget.
        public = await stack.enter_async_context(public_http())
        health = HealthSources(client, public, metrics=m, clock=shell.clock)
        scheduler = PollScheduler(
            cfg.region_ids(),
            health.build(cfg),
            cfg.health,
            shell.engine.feed,
            shell.engine.settling,
            stop=shell.stop,
            metrics=m,
            clock=shell.clock,
            decisive=shell.engine.decisive,
        )
        yield Parts(
            client, trail, outbox, dispatcher, followers, executor, readback, scheduler, health, platform
        )
