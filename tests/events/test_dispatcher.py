from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from tests.support import FakeClock, until
from watcher.events import (
    RESYNC,
    SWITCHED,
    Dispatcher,
    Outbox,
    RetryPolicy,
    SigningError,
    SinkSpec,
    build_event,
    generate_secret,
)
from watcher.metrics import WatcherMetrics

from ._support import sample, serve_chaos_proxy, serve_checking_receiver

pytestmark = pytest.mark.anyio

KEYS = ("strategy-1", "strategy-2", "strategy-3")


def _switch(key: str, seq: int) -> dict[str, Any]:
    return build_event(SWITCHED, source="urn:failover-watcher:test", subject=key, data={"seq": seq})


def _pending(metrics: WatcherMetrics, sink: str) -> float:
    return sample(metrics, "failover_watcher_outbox_pending", sink=sink)


def _deliveries(metrics: WatcherMetrics, sink: str, result: str) -> float:
    return sample(metrics, "failover_watcher_deliveries_total", sink=sink, result=result)


def _mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_sink_outage_then_recovery_loses_nothing_and_keeps_order(
    tmp_path: Path, metrics: WatcherMetrics
) -> None:
    secret = generate_secret()
    outage = ["503"] * 8 + ["drop"] * 8
    async with (
        serve_checking_receiver(secret) as rx,
        serve_chaos_proxy(int(rx.url.split(":")[2].split("/")[0]), outage) as proxy,
        httpx.AsyncClient() as http,
    ):
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        sink = SinkSpec("mesh", f"http://127.0.0.1:{proxy.port}/ingest", (secret,), 2.0)
        dispatcher = Dispatcher(
            outbox,
            [sink],
            http,
            metrics,
            rng=random.Random(1),
            retry=RetryPolicy(base_seconds=0.001, cap_seconds=0.01),
        )
        published: dict[str, list[str]] = {k: [] for k in KEYS}
        async with anyio.create_task_group() as tg:
            tg.start_soon(dispatcher.run)
            for seq in range(10):
                for key in KEYS:
                    published[key].append(await dispatcher.publish(_switch(key, seq), key))
            await until(lambda: len(rx.first_seen) == 30 and _pending(metrics, "mesh") == 0, timeout=20)
            tg.cancel_scope.cancel()
        outbox.close()

    assert rx.failures == []
    assert proxy.served["503"] == 8
    assert proxy.served["drop"] == 8
    for key in KEYS:
        arrived = [e for e in rx.first_seen if e["subject"] == key]
        assert [e["id"] for e in arrived] == published[key]  # in order, each once
        assert [e["data"]["seq"] for e in arrived] == list(range(10))
    lost = {i for ids in published.values() for i in ids} - {e["id"] for e in rx.first_seen}
    assert lost == set()
    assert rx.duplicates == len(rx.verified) - len(rx.first_seen)
    print(f"outage test: duplicates={rx.duplicates} lost={len(lost)}")
    assert _deliveries(metrics, "mesh", "success") == len(rx.verified)
    assert _deliveries(metrics, "mesh", "retry") >= 16


async def test_gone_disables_only_that_sink(tmp_path: Path, metrics: WatcherMetrics) -> None:
    hits: dict[str, int] = {"gone": 0, "mesh": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        hits[host] += 1
        return httpx.Response(410 if host == "gone" else 200)

    outbox = Outbox(tmp_path / "outbox.sqlite3")
    sinks = [
        SinkSpec("gone", "http://gone/", (generate_secret(),)),
        SinkSpec("mesh", "http://mesh/", (generate_secret(),)),
    ]
    async with _mock_client(handler) as http, anyio.create_task_group() as tg:
        dispatcher = Dispatcher(outbox, sinks, http, metrics)
        with capture_logs() as logs:
            tg.start_soon(dispatcher.run)
            await dispatcher.publish(_switch("s", 0), "s")
            await until(lambda: dispatcher.disabled_sinks == {"gone"} and _pending(metrics, "mesh") == 0)
        await dispatcher.publish(_switch("s", 1), "s")
        await until(lambda: _deliveries(metrics, "mesh", "success") == 2)
        tg.cancel_scope.cancel()
    assert hits == {"gone": 1, "mesh": 2}
    assert _deliveries(metrics, "gone", "disabled") == 1
    # Kept on disk, the event published after the 410 too: a restart tries again, nothing is lost.
    assert outbox.pending_count("gone") == 2
    assert any(e["log_level"] == "error" and e["sink"] == "gone" for e in logs)
    outbox.close()


async def test_run_returns_when_every_sink_is_gone(tmp_path: Path, metrics: WatcherMetrics) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    async with _mock_client(lambda _: httpx.Response(410)) as http:
        dispatcher = Dispatcher(outbox, [SinkSpec("gone", "http://g/", (generate_secret(),))], http, metrics)
        await dispatcher.publish(_switch("s", 0), "s")
        with anyio.fail_after(5):
            await dispatcher.run()
    outbox.close()


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(tmp_path: Path, metrics: WatcherMetrics, status: int) -> None:
    clock = FakeClock(time.time(), autojump=True)
    secret = generate_secret()
    seen_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_at.append(clock())
        if len(seen_at) == 1:
            return httpx.Response(status, headers={"Retry-After": "120"})
        return httpx.Response(204)

    outbox = Outbox(tmp_path / "outbox.sqlite3")
    async with _mock_client(handler) as http, anyio.create_task_group() as tg:
        dispatcher = Dispatcher(
            outbox,
            [SinkSpec("mesh", "http://mesh/", (secret,))],
            http,
            metrics,
            clock=clock,
            sleep=clock.sleep,
            retry=RetryPolicy(base_seconds=0.5, cap_seconds=1.0),
        )
        tg.start_soon(dispatcher.run)
        await dispatcher.publish(_switch("s", 0), "s")
        await until(lambda: _deliveries(metrics, "mesh", "success") == 1)
        tg.cancel_scope.cancel()
    assert len(seen_at) == 2
    assert seen_at[1] - seen_at[0] == pytest.approx(120.0)  # not the 1 s backoff cap
    assert max(clock.sleeps) == pytest.approx(120.0)
    assert _deliveries(metrics, "mesh", "retry") == 1
    outbox.close()


async def test_too_old_events_are_dead_lettered(tmp_path: Path, metrics: WatcherMetrics) -> None:
    clock = FakeClock(1_000_000.0, autojump=True)
    attempted: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        attempted.add(request.headers["webhook-id"])
        return httpx.Response(500)

    outbox = Outbox(tmp_path / "outbox.sqlite3")
    sink = SinkSpec("mesh", "http://mesh/", (generate_secret(),), max_age_seconds=300.0)
    async with _mock_client(handler) as http, anyio.create_task_group() as tg:
        dispatcher = Dispatcher(
            outbox,
            [sink],
            http,
            metrics,
            clock=clock,
            sleep=clock.sleep,
            rng=random.Random(3),
            retry=RetryPolicy(base_seconds=1.0, cap_seconds=10.0),
        )
        with capture_logs() as logs:
            tg.start_soon(dispatcher.run)
            first = await dispatcher.publish(_switch("s", 0), "s")
            second = await dispatcher.publish(_switch("s", 1), "s")
            await until(
                lambda: sample(metrics, "failover_watcher_outbox_dead_letters", sink="mesh") == 2,
                timeout=3,
            )
        tg.cancel_scope.cancel()
    assert attempted == {first}  # the second waited behind the first, in order
    assert _pending(metrics, "mesh") == 0
    assert clock() - 1_000_000.0 >= 300.0
    assert _deliveries(metrics, "mesh", "retry") >= 20
    dead = [e for e in logs if "dead-lettered" in e["event"]]
    assert [e["event_id"] for e in dead] == [first, second]
    assert all(e["log_level"] == "error" for e in dead)
    outbox.close()


async def test_client_errors_are_retried_loudly_and_no_secret_is_logged(
    tmp_path: Path, metrics: WatcherMetrics
) -> None:
    clock = FakeClock(time.time(), autojump=True)
    secret = generate_secret()
    answers: list[Any] = [400, httpx.ConnectError("refused"), 401, 500, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    outbox = Outbox(tmp_path / "outbox.sqlite3")
    spec = SinkSpec("mesh", "http://mesh/", (secret, generate_secret()))
    async with _mock_client(handler) as http, anyio.create_task_group() as tg:
        dispatcher = Dispatcher(outbox, [spec], http, metrics, clock=clock, sleep=clock.sleep)
        with capture_logs() as logs:
            tg.start_soon(dispatcher.run)
            await dispatcher.publish(_switch("s", 0), "s")
            await until(lambda: _deliveries(metrics, "mesh", "success") == 1)
        tg.cancel_scope.cancel()
    assert answers == []
    assert _deliveries(metrics, "mesh", "failure") == 2
    assert _deliveries(metrics, "mesh", "retry") == 2
    failures = [e for e in logs if e["event"].startswith("event delivery failed")]
    assert [(e["log_level"], e["error"].split(":")[0]) for e in failures] == [
        ("error", "HTTP 400"),
        ("warning", "ConnectError"),
        ("error", "HTTP 401"),
        ("warning", "HTTP 500"),
    ]
    raw = secret.get_secret_value()
    texts = [repr(e) for e in logs] + [repr(spec), repr(dispatcher), repr(outbox)]
    assert not any(raw in t or raw[6:] in t for t in texts)
    outbox.close()


async def test_a_bad_secret_fails_at_start_naming_the_sink(tmp_path: Path, metrics: WatcherMetrics) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    async with httpx.AsyncClient() as http:
        with pytest.raises(SigningError, match="dns-sync") as info:
            Dispatcher(
                outbox,
                [SinkSpec("dns-sync", "http://x/", (SecretStr("correct-horse-battery"),))],
                http,
                metrics,
            )
    assert "correct-horse" not in str(info.value)
    outbox.close()


async def test_resync_carries_the_full_state_and_supersedes_stale_ones(
    tmp_path: Path, metrics: WatcherMetrics
) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        bodies.append(json.loads(request.content))
        return httpx.Response(200)

    outbox = Outbox(tmp_path / "outbox.sqlite3")
    async with _mock_client(handler) as http:
        dispatcher = Dispatcher(
            outbox, [SinkSpec("mesh", "http://mesh/", (generate_secret(),))], http, metrics
        )
        await dispatcher.resync({"strategies": [{"id": "s1", "activeRegion": "a"}]})
        latest = await dispatcher.resync({"strategies": [{"id": "s1", "activeRegion": "b"}]})
        assert outbox.pending_count("mesh") == 1
        async with anyio.create_task_group() as tg:
            tg.start_soon(dispatcher.run)
            await until(lambda: _deliveries(metrics, "mesh", "success") == 1)
            tg.cancel_scope.cancel()
    (body,) = bodies
    assert body["id"] == latest
    assert body["type"] == RESYNC
    assert body["data"]["strategies"][0]["activeRegion"] == "b"
    outbox.close()
