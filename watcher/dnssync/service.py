"""The receiver's life: assemble it from a checked config, serve, stop on SIGTERM.

`running_dns_sync` serves in the caller's event loop for the life of a block (tests, embedding);
`serve` is the command's main loop: it tells systemd when it listens (`READY=1`), pings the
watchdog while the loop turns, and stops on SIGTERM or SIGINT, letting a request in flight finish
within the HTTP server's grace period.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import structlog

from watcher.dnssync.app import build_app
from watcher.dnssync.checks import dns_server, resolve_records, resolve_tsig_key
from watcher.dnssync.config import DnsSyncConfig, expand_path
from watcher.dnssync.metrics import DnsSyncMetrics
from watcher.dnssync.records import strategies_of
from watcher.dnssync.state import AppliedSequences
from watcher.dnssync.sync import DnsSync
from watcher.dnssync.updater import DnsUpdater
from watcher.events import Verifier
from watcher.serving import base_url_of, bind_socket, serving
from watcher.systemd_notify import SystemdNotifier

_log = structlog.get_logger("watcher.dnssync")


@dataclass(frozen=True)
class DnsSyncService:
    """The parts of one receiver, built from a config that passed `load_dns_sync_config`."""

    cfg: DnsSyncConfig
    metrics: DnsSyncMetrics
    store: AppliedSequences
    updater: DnsUpdater
    sync: DnsSync
    verifier: Verifier

    @classmethod
    def from_config(cls, cfg: DnsSyncConfig) -> DnsSyncService:
        """Raises `StateError` when the state directory or file is unusable."""
        records = resolve_records(cfg)
        metrics = DnsSyncMetrics()
        metrics.precreate(strategies_of(records))
        store = AppliedSequences(expand_path(cfg.state.dir))
        server = dns_server(cfg.dns.server)
        assert server is not None  # checked
        updater = DnsUpdater(
            server,
            cfg.dns.zone,
            resolve_tsig_key(cfg),
            ttl=cfg.dns.ttl,
            timeout=cfg.dns.timeout,
            transport=cfg.dns.transport,
        )
        sync = DnsSync(records, store, updater, metrics)
        verifier = Verifier(cfg.webhook_secrets(), owner="receiver.secret")
        return cls(cfg, metrics, store, updater, sync, verifier)


@dataclass(frozen=True)
class RunningDnsSync:
    """A receiver serving: `url` is what the watcher's `[[sinks]] url` points at."""

    url: str
    port: int
    service: DnsSyncService


@contextlib.asynccontextmanager
async def running_dns_sync(cfg: DnsSyncConfig) -> AsyncIterator[RunningDnsSync]:
    """Serve the receiver on `[receiver] listen` (port 0: any free port) until the block exits.

    >>> async with running_dns_sync(load_dns_sync_config(path)) as rx:   # doctest: +SKIP
    ...     httpx.post(rx.url, content=body, headers=signer.headers(...))
    """
    service = DnsSyncService.from_config(cfg)
    host, port = cfg.receiver.host_port
    sock = bind_socket(host, port)
    url, bound = base_url_of(sock)
    async with serving(build_app(service.verifier, service.sync, service.metrics), sock, name="dns-sync"):
        yield RunningDnsSync(url + "/", bound, service)


async def serve(cfg: DnsSyncConfig, notifier: SystemdNotifier | None = None) -> None:
    """Run until SIGTERM or SIGINT."""
    notifier = notifier if notifier is not None else SystemdNotifier.from_env()
    # Signals can only be listened to from the main thread: open the receiver before serving.
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with running_dns_sync(cfg) as rx, anyio.create_task_group() as tg:
            _log.info(
                "dns-sync listening",
                url=rx.url,
                server=rx.service.updater.server,
                zone=cfg.dns.zone,
                records=len(cfg.records),
                state=str(rx.service.store.path),
            )
            notifier.ready()
            interval = notifier.watchdog_interval()
            if interval is not None:
                tg.start_soon(_watchdog, notifier, interval)
            async for signum in signals:
                _log.info("stopping", signal=signal.Signals(signum).name)
                notifier.stopping()
                break
            tg.cancel_scope.cancel()


async def _watchdog(notifier: SystemdNotifier, interval: float) -> None:
    while True:
        notifier.watchdog()
        await anyio.sleep(interval)
