"""End to end: the simulator, the watcher daemon, the dns-sync receiver as its `[[sinks]]` URL, and
a real BIND 9 behind it. What an SRE checks: after a failover the name server answers the new
region's address, whatever was down on the way (the receiver, the name server) and whatever was
sent twice or forged.

A second sink, the plain `receive` receiver signed with the same secret, records what the watcher
sent, so a test can send one of the watcher's own events again (a replay).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon.conftest import PRIMARY, SECONDARY, STRATEGY, Harness, running_watcher
from tests.dnssync.bind import BindServer, free_port
from tests.dnssync.conftest import CONFIG, SIP_CNAME, VOICE_A, VOICE_AAAA, deliver, metric
from tests.dnssync.conftest import STRATEGY as VOICE
from tests.support import until
from watcher.dnssync import RunningDnsSync, load_dns_sync_config, running_dns_sync
from watcher.events import SWITCHED, ReceivedEvents, Signer, generate_secret, running_receiver

pytestmark = pytest.mark.anyio

# The receiver's own test config, its voice records following the daemon's strategy.
ANSWERS = {
    region: {
        ("voice.example.com.", "A"): VOICE_A[region],
        ("voice.example.com.", "AAAA"): VOICE_AAAA[region],
        ("sip.example.com.", "CNAME"): SIP_CNAME[region],
    }
    for region in (PRIMARY, SECONDARY)
}


def answers(bind: BindServer) -> dict[tuple[str, str], list[str]]:
    """What the name server answers now for every record the receiver keeps."""
    return {key: bind.query(*key) for key in ANSWERS[PRIMARY]}


def on_region(bind: BindServer, region: str) -> bool:
    try:
        return answers(bind) == ANSWERS[region]
    except OSError:  # the server is down: not yet
        return False


class Rig:
    """The receiver's files and port (fixed, so it can be stopped and started again at one URL)."""

    def __init__(self, tmp_path: Path, bind: BindServer) -> None:
        self.dir = tmp_path / "dns-sync"
        self.dir.mkdir()
        self.bind = bind
        self.secret = generate_secret()
        (self.dir / "sink_secret").write_text(self.secret.get_secret_value() + "\n")
        (self.dir / "tsig.key").write_text(bind.key_block)  # tsig-keygen's output as it is
        self.port = free_port()
        self.config = self.dir / "dns-sync.toml"
        text = CONFIG.format(dir=self.dir, server=bind.address, timeout=1.0)
        text = text.replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{self.port}"')
        self.config.write_text(text.replace(f'"{VOICE}"', f'"{STRATEGY}"'))
        self.state_dir = tmp_path / "state"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @contextlib.asynccontextmanager
    async def receiver(self) -> AsyncIterator[RunningDnsSync]:
        async with running_dns_sync(load_dns_sync_config(self.config)) as rx:
            yield rx

    def sinks(self, recorder: ReceivedEvents | None = None) -> list[dict[str, Any]]:
        secret = self.secret.get_secret_value()
        sinks = [{"name": "dns-sync", "url": self.url, "secret": secret}]
        if recorder is not None:
            sinks.append({"name": "recorder", "url": recorder.url, "secret": secret})
        return sinks

    def watcher(self, tmp_path: Path, recorder: ReceivedEvents | None = None) -> Any:
        return running_watcher(
            tmp_path,
            sinks=self.sinks(recorder),
            events={"retry_base_seconds": 0.05, "retry_cap_seconds": 0.3},
        )

    def pending(self) -> int:
        """Events for the receiver still in the watcher's outbox."""
        path = self.state_dir / "outbox.sqlite3"
        if not path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(path)) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM deliveries WHERE sink = 'dns-sync'").fetchone()
        return int(count)


@pytest.fixture
def rig(tmp_path: Path, bind: BindServer) -> Rig:
    return Rig(tmp_path, bind)


async def fail_primary(h: Harness) -> None:
    await h.ready()
    await h.set_region(PRIMARY, "DOWN")
    await h.until(lambda: h.active() == SECONDARY)


def receiver_metric(rx: RunningDnsSync, name: str, **labels: str) -> float:
    return metric(rx.service.metrics.exposition().decode(), name, **labels) or 0.0


async def test_start_up_resync_corrects_a_record_that_was_wrong(
    tmp_path: Path, rig: Rig, bind: BindServer
) -> None:
    bind.change_behind_our_back("voice.example.com.", "A", "203.0.113.7")  # an operator's mistake
    assert bind.query("voice.example.com.", "A") == ["203.0.113.7"]
    async with rig.receiver() as rx:
        async with rig.watcher(tmp_path) as h:
            await h.ready()
            # No switch happened: only the watcher's start-up resync can have put it right.
            await until(lambda: on_region(bind, PRIMARY), timeout=20, message="the resync to repair DNS")
            assert h.active() == PRIMARY
        applied = rx.service.store.last(STRATEGY)
        assert applied is not None

        # Another instance, with a state directory of its own (a new leader's host, or this one's
        # directory lost): what it numbers its resync with must still be newer than what the
        # receiver has applied, or the receiver would take it as old and leave DNS wrong.
        bind.change_behind_our_back("voice.example.com.", "A", "203.0.113.8")
        async with rig.watcher(tmp_path / "another-instance") as h:
            await h.ready()
            await until(lambda: on_region(bind, PRIMARY), timeout=20, message="the resync to repair DNS")


async def test_failover_reaches_dns_and_forged_or_replayed_events_change_nothing(
    tmp_path: Path, rig: Rig, bind: BindServer
) -> None:
    before = answers(bind)
    async with (
        running_receiver([rig.secret]) as recorded,
        rig.receiver() as rx,
        rig.watcher(tmp_path, recorded) as h,
    ):
        await fail_primary(h)
        await until(lambda: on_region(bind, SECONDARY), timeout=20, message="DNS on eu-west-1")
        after = answers(bind)
        print(f"\nanswers before the failover: {before}\nanswers after the failover:  {after}")
        assert before == ANSWERS[PRIMARY]
        assert after == ANSWERS[SECONDARY]
        await until(lambda: any(e["type"] == SWITCHED for e in recorded.events), message="switched seen")
        failover = next(e for e in recorded.events if e["type"] == SWITCHED)
        assert failover["data"]["activeRegion"] == SECONDARY

        # Recovery: the watcher fails back after its hold; DNS follows.
        await h.set_region(PRIMARY, "HEALTHY")
        await h.until(lambda: h.active() == PRIMARY, timeout=20)
        await until(lambda: on_region(bind, PRIMARY), timeout=20, message="DNS back on us-east-1")
        serial = bind.serial()

        async with httpx.AsyncClient() as http:
            # The watcher's own failover event, sent again after the failback: acknowledged (the
            # outbox must not retry it forever), and DNS stays where the newer event put it.
            replay = await deliver(http, rx.url, failover, Signer("dns-sync", [rig.secret]))
            assert replay.is_success, replay.text
            # The same event signed with a key that is not the sink's: refused, nothing applied.
            forged = await deliver(http, rx.url, failover, Signer("dns-sync", [generate_secret()]))
            assert forged.status_code == 401
        assert on_region(bind, PRIMARY)
        assert bind.serial() == serial  # no update reached the server
        stale = receiver_metric(rx, "failover_watcher_dns_sync_events_stale_total", strategy=STRATEGY)
        assert stale >= 1
        forged_count = receiver_metric(
            rx, "failover_watcher_dns_sync_events_rejected_total", reason="bad_signature"
        )
        assert forged_count == 1
        async with httpx.AsyncClient() as http:
            scraped = (await http.get(rx.url + "metrics")).text
        print("receiver metrics after the run:")
        print("\n".join(ln for ln in scraped.splitlines() if ln.startswith("failover_watcher_dns_sync")))
        assert metric(scraped, "failover_watcher_dns_sync_updates_applied_total", strategy=STRATEGY)


async def test_receiver_down_during_a_failback_converges_once_back(
    tmp_path: Path, rig: Rig, bind: BindServer
) -> None:
    async with rig.watcher(tmp_path) as h:
        async with rig.receiver():
            await fail_primary(h)
            await until(lambda: on_region(bind, SECONDARY), timeout=20, message="DNS on eu-west-1")
        # The receiver is down; the primary recovers and the watcher fails back without it.
        await h.set_region(PRIMARY, "HEALTHY")
        await h.until(lambda: h.active() == PRIMARY, timeout=20)
        await until(lambda: rig.pending() >= 1, message="the failback event kept in the outbox")
        assert on_region(bind, SECONDARY)  # nobody told DNS yet
        async with rig.receiver():
            await until(lambda: on_region(bind, PRIMARY), timeout=20, message="DNS back on us-east-1")
            await until(lambda: rig.pending() == 0, message="the outbox to drain")


async def test_dns_server_down_answers_5xx_then_converges(tmp_path: Path, rig: Rig, bind: BindServer) -> None:
    async with rig.receiver() as rx, rig.watcher(tmp_path) as h:
        await h.ready()
        await until(lambda: rig.pending() == 0, message="the start-up events delivered")
        bind.stop()
        await h.set_region(PRIMARY, "DOWN")
        await h.until(lambda: h.active() == SECONDARY)

        def refused_twice() -> bool:
            errors = receiver_metric(rx, "failover_watcher_dns_sync_dns_errors_total", kind="connection")
            return errors >= 2

        await until(refused_twice, timeout=20, message="two deliveries answered 5xx")
        assert rig.pending() >= 1  # kept by the watcher, not dropped
        bind.start()
        await until(lambda: on_region(bind, SECONDARY), timeout=20, message="DNS on eu-west-1")
        await until(lambda: rig.pending() == 0, message="the outbox to drain")
