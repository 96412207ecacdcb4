"""Never backwards: an event older than the last applied is acknowledged and ignored, across
receiver restarts (the last sequence per strategy is on disk)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.dnssync.bind import BindServer
from tests.dnssync.conftest import (
    CHAT_A,
    EU,
    OTHER,
    STRATEGY,
    US,
    VOICE_A,
    Setup,
    deliver,
    metric,
    resync_event,
    routing_event,
    signed,
)
from watcher.dnssync import StateError

pytestmark = pytest.mark.anyio


async def test_an_older_event_replayed_is_acknowledged_and_changes_nothing(
    setup: Setup, bind: BindServer
) -> None:
    old = signed(routing_event(STRATEGY, US, 4), setup.signer)
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        assert (await old.send(client, rx.url)).status_code == 200
        assert (
            await deliver(client, rx.url, routing_event(STRATEGY, EU, 5), setup.signer)
        ).status_code == 200
        serial = bind.serial()
        # The outbox delivers the older event again (at least once), after the newer one.
        answer = await old.send(client, rx.url)
        assert answer.status_code == 200
        assert answer.json() == {"status": "unchanged", "applied": [], "stale": [STRATEGY], "ignored": []}
        # A resync that is older for one strategy and new for another applies only the new one.
        answer = await deliver(client, rx.url, resync_event((STRATEGY, US, 3), (OTHER, EU, 1)), setup.signer)
        assert answer.json()["applied"] == [OTHER]
        assert answer.json()["stale"] == [STRATEGY]
        text = (await client.get(rx.url + "metrics")).text
    assert bind.query("voice.example.com.", "A") == VOICE_A[EU]
    assert bind.query("chat.example.com.", "A") == CHAT_A[EU]
    assert bind.serial() == serial + 1  # only the resync's new strategy was written
    assert metric(text, "failover_watcher_dns_sync_events_stale_total", strategy=STRATEGY) == 2
    assert metric(text, "failover_watcher_dns_sync_last_applied_sequence", strategy=STRATEGY) == 5


async def test_the_same_sequence_is_applied_again_idempotently(setup: Setup, bind: BindServer) -> None:
    delivery = signed(routing_event(STRATEGY, EU, 9), setup.signer)
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        for _ in range(2):
            answer = await delivery.send(client, rx.url)
            assert answer.status_code == 200
            assert answer.json()["applied"] == [STRATEGY]
            assert bind.query("voice.example.com.", "A") == VOICE_A[EU]


async def test_the_last_sequence_survives_a_restart(setup: Setup, bind: BindServer) -> None:
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        assert (
            await deliver(client, rx.url, routing_event(STRATEGY, EU, 12), setup.signer)
        ).status_code == 200
    state = json.loads((setup.dir / "state" / "dns-sync-state.json").read_text())
    assert state["strategies"][STRATEGY]["sequence"] == 12
    assert state["strategies"][STRATEGY]["activeRegion"] == EU
    assert (setup.dir / "state").stat().st_mode & 0o077 == 0
    assert list((setup.dir / "state").glob("*.tmp")) == []  # no temp file left behind

    # A new receiver process reads it: the older event (an earlier leader's, delivered late) is stale.
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        text = (await client.get(rx.url + "metrics")).text
        assert metric(text, "failover_watcher_dns_sync_last_applied_sequence", strategy=STRATEGY) == 12
        answer = await deliver(client, rx.url, routing_event(STRATEGY, US, 11), setup.signer)
        assert answer.status_code == 200
        assert answer.json()["stale"] == [STRATEGY]
        assert bind.query("voice.example.com.", "A") == VOICE_A[EU]
        answer = await deliver(client, rx.url, routing_event(STRATEGY, US, 13), setup.signer)
        assert answer.json()["applied"] == [STRATEGY]
    assert bind.query("voice.example.com.", "A") == VOICE_A[US]


async def test_an_unreadable_state_file_is_refused_not_reset(setup: Setup, bind: BindServer) -> None:
    """Starting from nothing would take an old event for a new one: refuse, and say what to do."""
    (setup.dir / "state").mkdir()
    (setup.dir / "state" / "dns-sync-state.json").write_text("{not json")
    with pytest.raises(StateError, match="move it away to start afresh"):
        async with setup.receiver():
            pass
