"""The watcher's own delivery path into the receiver: `Dispatcher` and its durable `Outbox`, the
receiver as a `[[sinks]]` URL, BIND 9 behind it. A 5xx while the primary is down keeps the event
in the outbox, which retries until DNS converges."""

from __future__ import annotations

import anyio
import httpx
import pytest

from tests.dnssync.bind import BindServer
from tests.dnssync.conftest import EU, OTHER, STRATEGY, US, VOICE_A, Setup, metric, routing_event
from tests.support import until
from watcher.events import Dispatcher, Outbox, RetryPolicy, SinkSpec
from watcher.metrics import WatcherMetrics

pytestmark = pytest.mark.anyio


async def test_the_outbox_retries_until_dns_converges(setup: Setup, bind: BindServer) -> None:
    outbox = Outbox(setup.dir / "outbox" / "outbox.db")
    metrics = WatcherMetrics()
    async with setup.receiver() as rx, httpx.AsyncClient() as http, anyio.create_task_group() as tg:
        sink = SinkSpec("dns-sync", rx.url, (setup.secret,), timeout_seconds=5.0)
        dispatcher = Dispatcher(
            outbox, [sink], http, metrics, retry=RetryPolicy(base_seconds=0.05, cap_seconds=0.2)
        )
        tg.start_soon(dispatcher.run)

        await dispatcher.publish(routing_event(STRATEGY, EU, 1), STRATEGY)
        await until(
            lambda: bind.query("voice.example.com.", "A") == VOICE_A[EU],
            "DNS on eu-west-1",
            20,
            interval=0.05,
        )
        await until(lambda: outbox.pending_count("dns-sync") == 0, "the outbox to drain", 20, interval=0.05)

        bind.stop()
        await dispatcher.publish(routing_event(STRATEGY, US, 2), STRATEGY)

        def failed_twice() -> bool:
            text = rx.service.metrics.exposition().decode()
            errors = metric(
                text, "failover_watcher_dns_sync_dns_errors_total", kind="connection", code="none"
            )
            return errors is not None and errors >= 2

        await until(failed_twice, "two refused attempts", 20, interval=0.05)
        assert outbox.pending_count("dns-sync") == 1  # kept, not dropped
        bind.start()
        await until(
            lambda: bind.query("voice.example.com.", "A") == VOICE_A[US],
            "DNS on us-east-1",
            20,
            interval=0.05,
        )
        await until(lambda: outbox.pending_count("dns-sync") == 0, "the outbox to drain", 20, interval=0.05)

        # The watcher's periodic resync repairs a change made behind its back.
        bind.change_behind_our_back("voice.example.com.", "A", "203.0.113.7")
        await dispatcher.resync(
            {
                "strategies": [
                    {"id": STRATEGY, "activeRegion": US, "sequence": 2},
                    {"id": OTHER, "activeRegion": None},
                ]
            }
        )
        await until(
            lambda: bind.query("voice.example.com.", "A") == VOICE_A[US],
            "the resync to repair DNS",
            20,
            interval=0.05,
        )
        tg.cancel_scope.cancel()
    outbox.close()
