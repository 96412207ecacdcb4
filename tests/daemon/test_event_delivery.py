"""Events survive a dead receiver and a SIGKILLed daemon: every one arrives, verified, none lost."""

from __future__ import annotations

import signal
import socket
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.daemon.conftest import PRIMARY, SECONDARY, STRATEGY, running_watcher
from tests.harness import daemon_process, write_sim_config
from tests.support import until
from watcher.events import RESYNC_ORDERING_KEY, generate_secret, running_receiver
from watcher.sim import SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pending_ids(state_dir: Path, sink: str) -> list[str]:
    """Events waiting for `sink`; a pending resync is left out: the next one supersedes it by design
    (only the newest full state is worth sending), so it is replaced, not lost."""
    with sqlite3.connect(state_dir / "outbox.sqlite3") as db:
        rows = db.execute("SELECT event_id, ordering_key FROM deliveries WHERE sink = ?", (sink,))
        return [event_id for event_id, key in rows if key != RESYNC_ORDERING_KEY]


async def test_sigkill_with_undelivered_events_then_restart_delivers_them_all(tmp_path: Path) -> None:
    secret = generate_secret().get_secret_value()
    port = free_port()  # nothing listens here yet: the sink is down
    sink = f"""
[[sinks]]
name = "dns-sync"
url = "http://127.0.0.1:{port}/events"
secret = "{secret}"
"""
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        config = tmp_path / "watcher.toml"
        write_sim_config(config, sim, tmp_path)
        config.write_text(config.read_text() + sink)
        async with daemon_process(config) as d:
            await until(lambda: sum(ln.get("event") == "region healthy" for ln in d.records()) >= 2)
            (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DOWN"})).raise_for_status()
            await until(lambda: d.seen("switch success"))
            state_dir = tmp_path / "state"
            # region_changed x3 (2 healthy, 1 unhealthy), switching and switched: the switch is
            # logged before its event is stored, so the kill waits for the fifth.
            await until(lambda: len(pending_ids(state_dir, "dns-sync")) >= 5)
            await d.stop(signal.SIGKILL, timeout=10)
        undelivered = pending_ids(state_dir, "dns-sync")
        assert len(undelivered) >= 4  # region_changed x3 (2 healthy, 1 unhealthy) and switched, at least

        async with running_receiver([secret], port=port) as received, daemon_process(config) as d:
            await until(lambda: set(undelivered) <= {e["id"] for e in received.events}, timeout=30)
            assert await d.stop(signal.SIGTERM, timeout=15) == 0
        got = [e for e in received.events if e["id"] in set(undelivered)]
        types = [e["type"] for e in got]
        assert "com.genesys.failover.switched" in types
        switched = next(e for e in got if e["type"] == "com.genesys.failover.switched")
        assert switched["subject"] == STRATEGY
        assert switched["data"]["to"] == SECONDARY
        assert received.rejected == 0
        print(
            f"\noutage figures: sent={len(undelivered)} received={len(got)} "
            f"duplicates={received.duplicates} lost={len(set(undelivered) - {e['id'] for e in got})}"
        )


async def test_dns_sync_webhook_is_registered_once_across_restarts(tmp_path: Path) -> None:
    webhook = {"target_url": "https://dns.example.com/sync", "secret": "hook-secret-marker"}
    async with running_watcher(tmp_path, webhook=webhook) as h:
        await h.until(lambda: len(h.sim.state.org.webhooks) == 1)
    state = h.sim.state
    async with running_watcher(tmp_path / "second", state=state, webhook=webhook) as h2:
        await h2.ready()
        assert len(h2.requests("GET", "/platform/webhooks")) >= 1
        assert len(state.org.webhooks) == 1
