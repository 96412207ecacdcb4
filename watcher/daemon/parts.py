"""Start-up: the daemon's running parts, built once, in order, complete, and closed in reverse.

`Foundation` is what exists before start-up (the live config, the engine, leadership, the set of
unread strategies); `assemble` builds on it, in order, the client, the audit trail, the outbox and
its dispatcher, the announcer, the switch (stores, followers, executor), the read-back and the poll
scheduler, and yields them as two frozen records: `Shell` and `Parts`. Every part gets what it
needs when it is built; nothing is filled in later. Where two parts need each other, they share a
small object built before both (the unread strategies, the writes in flight, the rules to repair).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
import httpx
import structlog

from watcher.config import LeaderSettings, WatcherConfig
from watcher.daemon.announce import Announcer
from watcher.daemon.election import EtcdLeaderElection
from watcher.daemon.engine import Engine
from watcher.daemon.leadership import Leadership, SingleInstance
from watcher.daemon.readback import ReadBack
from watcher.daemon.readiness import ReadinessBoard, ReadinessRounds
from watcher.daemon.router import SwitchOutcomes
from watcher.daemon.scheduler import PollScheduler
from watcher.daemon.statedir import StateDisk, claim
from watcher.daemon.status import WallClock
from watcher.events import AuditTrail, Dispatcher, Outbox, RetryPolicy, SequenceStore, SinkSpec
from watcher.genesys import Copies, GenesysClient, RequestBudget, WebhookRequest
from watcher.health import HealthSources, public_http
from watcher.metrics import WatcherMetrics
from watcher.switch import (
    ApiStrategies,
    Executor,
    Fence,
    FollowerKinds,
    FollowerMemory,
    Followers,
    Strategies,
    VirtualStrategies,
    WritePolicy,
)

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


class LiveConfig:
    """The running config: the one object every part reads (`config()`); a reload replaces it."""

    def __init__(self, cfg: WatcherConfig) -> None:
        self._cfg = cfg

    def __call__(self) -> WatcherConfig:
        return self._cfg

    def replace(self, cfg: WatcherConfig) -> None:
        self._cfg = cfg


def build_leadership(settings: LeaderSettings, on_change: Callable[[bool], None]) -> Leadership:
    if settings.backend == "etcd":
        return EtcdLeaderElection(settings, on_change=on_change)
    return SingleInstance(settings.instance_id, on_change=on_change)


@dataclass(frozen=True)
class Foundation:
    """What exists before start-up, and lives as long as the daemon object."""

    config: LiveConfig
    metrics: WatcherMetrics
    clock: Callable[[], float]
    stop: anyio.Event
    engine: Engine
    leadership: Leadership
    # Strategies whose state the API has not told this instance yet (as leader): no write for
    # them. Shared by leadership changes, the read-back and the executor, changed in place.
    unread: set[str]


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
    readiness: ReadinessRounds


@dataclass(frozen=True)
class Shell:
    """What the operator's commands, the probes and a reload reach: the daemon's own parts."""

    metrics: WatcherMetrics
    engine: Engine
    leadership: Leadership
    announce: Announcer
    wall: WallClock
    stop: anyio.Event
    clock: Callable[[], float]
    config: LiveConfig


def _dispatcher(
    cfg: WatcherConfig, outbox: Outbox, http: httpx.AsyncClient, metrics: WatcherMetrics
) -> Dispatcher:
    sinks = [
        SinkSpec(s.name, s.url, cfg.sink_secrets(s), s.timeout_seconds, cfg.events.max_age_seconds)
        for s in cfg.sinks
    ]
    retry = RetryPolicy(cfg.events.retry_base_seconds, cfg.events.retry_cap_seconds)
    return Dispatcher(outbox, sinks, http, metrics, source=cfg.events.source, retry=retry)


def strategy_regions(cfg: WatcherConfig, strategy: str) -> list[str]:
    """The strategy's regions in preference order (a site's media regions follow it)."""
    return next((list(s.regions) for s in cfg.strategies if s.id == strategy), [])


def preferred_region(cfg: WatcherConfig, strategy: str) -> str | None:
    """The first region of the strategy's preference order (where it routes when all is well)."""
    return next((s.regions[0] for s in cfg.strategies if s.id == strategy), None)


@contextlib.asynccontextmanager
async def assemble(
    base: Foundation, *, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[tuple[Shell, Parts]]:
    """Build every part on `base`; close them (in reverse) when the block ends."""
    cfg, m, clock, gate = base.config(), base.metrics, base.clock, base.leadership
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(claim(cfg.state.dir))  # writable, and ours alone (SPEC 4.2)
        disk = StateDisk(m, cfg.state.dir)  # write failures under it, surfaced at once
        trail = AuditTrail(
            cfg.state.dir,
            max_bytes=cfg.state.audit_max_bytes,
            backups=cfg.state.audit_backups,
            on_write=disk.audit_written,
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
        in_flight: set[str] = set()  # strategies whose write runs: the executor's, the announcer's
        wall = WallClock(clock)
        ready = ReadinessBoard(m)  # the last readiness round: a switch's explanation names its failures
        announce = Announcer(
            m,
            wall,
            source=lambda: base.config().events.source,
            speaks=lambda: gate.is_leader,
            clock=clock,
            trail=trail,
            dispatcher=dispatcher,
            sequences=SequenceStore(cfg.state.dir),
            active_of=base.engine.active_region,
            settling=in_flight.__contains__,
            disk=disk,
            readiness=ready,
        )
        policy = WritePolicy(attempts=cfg.executor.conflict_retries, clock=clock)
        virtual = VirtualStrategies(cfg.state.dir, base.config, gate)
        strategies = Strategies(ApiStrategies(client, copies), virtual)
        kinds = FollowerKinds(
            client,
            copies,
            memory=FollowerMemory(cfg.state.dir, gate),
            preference=lambda strategy: strategy_regions(base.config(), strategy),
        )
        followers = Followers(
            kinds,
            cfg.rules,
            cfg.triggers,
            cfg.emergency_groups,
            sites=cfg.sites,
            ivrs=cfg.ivrs,
            data_actions=cfg.data_actions,
            gate=gate,
            metrics=m,
            trail=trail,
            policy=policy,
            preferred=lambda strategy: preferred_region(base.config(), strategy),
        )
        rule_repairs: set[str] = set()  # a partial switch adds to it; the read-back repairs them
        executor = Executor(
            strategies,
            followers,
            base.engine.feed,
            gate=gate,
            metrics=m,
            trail=trail,
            report=SwitchOutcomes(announce, rule_repairs),
            policy=policy,
            grace_seconds=cfg.executor.shutdown_grace_seconds,
            readable=wall.convert,
            unread=base.unread,
            intent=announce.intent,
            in_flight=in_flight,
        )
        readback = ReadBack(
            strategies,
            Fence(strategies, followers, gate, policy),
            base.engine,
            executor,
            followers,
            gate,
            base.config,
            metrics=m,
            stop=base.stop,
            clock=clock,
            unread=base.unread,
            rule_repairs=rule_repairs,
        )
        # The status page and `auth = "none"` probes: other hosts, no token, outside the API budget.
        public = await stack.enter_async_context(public_http())
        health = HealthSources(client, public, metrics=m, clock=clock)
        scheduler = PollScheduler(
            cfg.region_ids(),
            health.build(cfg),
            cfg.health,
            base.engine.feed,
            base.engine.settling,
            stop=base.stop,
            metrics=m,
            clock=clock,
            decisive=base.engine.decisive,
        )
        readiness = ReadinessRounds(
            base.config,
            base.engine,
            strategies,
            followers,
            health,
            ready,
            unread=base.unread,
            is_leader=lambda: gate.is_leader,
            stop=base.stop,
            clock=clock,
        )
        shell = Shell(m, base.engine, gate, announce, wall, base.stop, clock, base.config)
        yield (
            shell,
            Parts(
                client, trail, outbox, dispatcher, followers, executor, readback, scheduler, health, readiness
            ),
        )
