"""Events, SPEC §4.1 and §5/§7: only the leader speaks (resync included); a sink that once answered
410 loses nothing published afterwards; the intent of a switch is stored before its write
(`com.genesys.failover.switching`), so a SIGKILL mid-write loses nothing."""

from __future__ import annotations

import contextlib
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from tests.harness import daemon_process
from tests.leader.conftest import RealEtcd
from tests.safety._bench import REGION_CHANGED, RESYNC, SWITCHED, SWITCHING, bench
from tests.safety._config import PRIMARY, SECONDARY, STRATEGY, sink
from tests.safety._daemon import alive, in_process
from tests.safety._sim import parse_time
from tests.support import until
from watcher.events import ReceivedEvents, build_app, running_receiver
from watcher.serving import bind_socket, serving

pytestmark = pytest.mark.anyio


def _about(e: dict[str, Any], strategy: str) -> bool:
    return bool(e["data"].get("strategy", e.get("subject")) == strategy)


async def test_only_the_leader_emits_events_resync_included(tmp_path: Path, real_etcd: RealEtcd) -> None:
    key = f"/failover-watcher-safety/{uuid.uuid4().hex}"
    async with (
        bench(tmp_path, receive=False) as b,
        running_receiver([b.secret]) as rx1,
        running_receiver([b.secret]) as rx2,
    ):

        def config(name: str, rx: ReceivedEvents) -> Path:
            return b.config(
                name,
                sinks=[sink("events", rx.url + "events", b.secret)],
                genesys={"request_timeout_seconds": 2.0},
                leader={
                    "backend": "etcd",
                    "endpoints": [real_etcd.url],
                    "key": key,
                    "ttl_seconds": 3,
                    "instance_id": name,
                },
                events={"source": f"urn:failover-watcher:{name}", "resync_interval_seconds": 0.5},
            )

        async with in_process(config("w1", rx1)) as w1:

            async def leads() -> bool:
                return (await w1.view.status())["leader"] is True

            await until(leads, "w1 elected leader", 10)
            async with in_process(config("w2", rx2)) as w2:
                await w1.view.ready()
                await w2.view.ready()
                assert (await w2.view.status())["leader"] is False
                await b.admin.set_region(PRIMARY, "DOWN")

                async def spoken() -> bool:
                    alive(w1)
                    alive(w2)
                    follower_saw = (await w2.view.region(PRIMARY))["healthy"] is False
                    resyncs = [e for e in rx1.events if e["type"] == RESYNC]
                    switched = [e for e in rx1.events if e["type"] == SWITCHED]
                    return follower_saw and bool(switched) and len(resyncs) >= 3

                await until(
                    spoken,
                    "the leader's switch and three resyncs at its receiver",
                    10,
                    detail=lambda: _kinds(rx1),
                )
        assert {e["source"] for e in rx1.events} == {"urn:failover-watcher:w1"}
        follower = [(e["type"], e["source"]) for e in rx2.events]
        assert follower == [], f"the follower emitted events: {follower}"


async def _kinds(rx: ReceivedEvents) -> list[str]:
    return [e["type"] for e in rx.events]


@dataclass
class GoneOnce:
    """A receiver that answers 410 Gone to its first delivery, then verifies and accepts."""

    received: ReceivedEvents
    gone: int = 0


@contextlib.asynccontextmanager
async def gone_once_receiver(secret: str, port: int) -> AsyncIterator[GoneOnce]:
    received = ReceivedEvents()
    accepting = build_app([secret], received)
    state = GoneOnce(received)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and state.gone == 0:
            state.gone += 1
            await send({"type": "http.response.start", "status": 410, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await accepting(scope, receive, send)

    async with serving(app, bind_socket("127.0.0.1", port), name="gone-once"):
        yield state


async def test_after_a_410_events_are_still_stored_and_delivered_after_a_restart(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b, gone_once_receiver(b.secret, b.sink_port) as sink_:
        config = b.config()
        async with in_process(config) as d:
            await d.view.ready()
            await until(lambda: sink_.gone == 1, "the sink to answer 410 once", 10)
            await b.admin.set_region(PRIMARY, "DOWN")

            async def switched() -> bool:
                s = await d.view.strategy(STRATEGY)
                return (s.get("lastSwitch") or {}).get("result") == "success"

            await until(switched, f"{STRATEGY} switched", 10)
            await d.stop()

        async with in_process(config) as d:

            def delivered() -> bool:
                return any(
                    e["type"] == SWITCHED and _about(e, STRATEGY) and e["data"].get("to") == SECONDARY
                    for e in sink_.received.events
                )

            await until(
                delivered,
                "the switched event published after the 410, after the restart",
                10,
                detail=lambda: _kinds(sink_.received),
            )


async def test_sigkill_mid_write_loses_no_event_and_the_intent_was_stored_first(tmp_path: Path) -> None:
    async with bench(tmp_path, receive=False) as b:
        config = b.config()
        async with daemon_process(config, "first") as d:
            await d.view.ready()
            put = await b.admin.fault(path="/routing/strategies/", method="PUT", delayMs=5000)
            await b.admin.set_region(PRIMARY, "DOWN")

            async def in_flight() -> bool:
                return await b.admin.fault_hits(put) >= 1

            await until(in_flight, "the strategy PUT in flight", 10)
            d.send(signal.SIGKILL)
            await d.wait_exit(10)
        killed = datetime.now(UTC)
        await b.admin.clear_faults()

        async with b.receiving(), daemon_process(config, "second"):

            def intent() -> bool:
                return any(
                    _about(e, STRATEGY)
                    and e["data"].get("from") == PRIMARY
                    and e["data"].get("to") == SECONDARY
                    for e in b.events(SWITCHING)
                )

            def unhealthy_before_kill() -> bool:
                return any(
                    e["data"].get("region") == PRIMARY
                    and e["data"].get("healthy") is False
                    and parse_time(e["time"]) < killed
                    for e in b.events(REGION_CHANGED)
                )

            await until(unhealthy_before_kill, "the region_changed event stored before the SIGKILL", 10)
            await until(
                intent,
                f"a {SWITCHING} event (strategy {STRATEGY}, from {PRIMARY}, to {SECONDARY})",
                10,
                detail=lambda: [e["type"] for e in b.events()],
            )
