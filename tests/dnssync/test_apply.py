"""Events applied to a real BIND 9: what the server answers afterwards is what the event said."""

from __future__ import annotations

import httpx
import pytest

from tests.dnssync.bind import BindServer
from tests.dnssync.conftest import (
    CHAT_A,
    EU,
    OTHER,
    SIP_CNAME,
    STRATEGY,
    US,
    VOICE_A,
    VOICE_AAAA,
    Setup,
    deliver,
    metric,
    resync_event,
    routing_event,
)
from watcher.events import DECISION, DRIFT, FAILBACK, REGION_CHANGED, build_event

pytestmark = pytest.mark.anyio


def _voice(bind: BindServer) -> tuple[list[str], list[str], list[str]]:
    return (
        bind.query("voice.example.com.", "A"),
        bind.query("voice.example.com.", "AAAA"),
        bind.query("sip.example.com.", "CNAME"),
    )


async def test_a_switch_moves_every_record_of_the_strategy(setup: Setup, bind: BindServer) -> None:
    assert _voice(bind) == (VOICE_A[US], VOICE_AAAA[US], SIP_CNAME[US])
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, routing_event(STRATEGY, EU, 1), setup.signer)
        assert answer.status_code == 200, answer.text
        assert answer.json()["applied"] == [STRATEGY]
        # A (two values), AAAA and CNAME, all on the new region, with the configured TTL.
        assert _voice(bind) == (VOICE_A[EU], VOICE_AAAA[EU], SIP_CNAME[EU])
        assert bind.ttl("voice.example.com.", "A") == 42
        assert bind.ttl("sip.example.com.", "CNAME") == 42
        # Another strategy's record is left alone.
        assert bind.query("chat.example.com.", "A") == CHAT_A[US]
        text = (await client.get(rx.url + "metrics")).text
        assert metric(text, "failover_watcher_dns_sync_updates_applied_total", strategy=STRATEGY) == 1
        assert metric(text, "failover_watcher_dns_sync_last_applied_sequence", strategy=STRATEGY) == 1
        assert metric(text, "failover_watcher_dns_sync_last_applied_sequence", strategy=OTHER) == -1


async def test_the_update_is_one_transaction_for_all_records(setup: Setup, bind: BindServer) -> None:
    """One message per event: named bumps the zone's serial once per update transaction."""
    assert bind.serial() == 1
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, routing_event(STRATEGY, EU, 1), setup.signer)
        assert answer.status_code == 200
        assert bind.serial() == 2
        answer = await deliver(client, rx.url, resync_event((STRATEGY, US, 2), (OTHER, EU, 2)), setup.signer)
        assert answer.status_code == 200
        assert bind.serial() == 3
    assert _voice(bind) == (VOICE_A[US], VOICE_AAAA[US], SIP_CNAME[US])
    assert bind.query("chat.example.com.", "A") == CHAT_A[EU]


@pytest.mark.parametrize("event_type", [FAILBACK, DRIFT, DECISION])
async def test_every_event_about_a_strategy_carries_its_region(
    setup: Setup, bind: BindServer, event_type: str
) -> None:
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(
            client, rx.url, routing_event(STRATEGY, EU, 3, event_type=event_type), setup.signer
        )
        assert answer.status_code == 200, answer.text
    assert bind.query("voice.example.com.", "A") == VOICE_A[EU]


async def test_events_without_a_region_or_records_are_acknowledged_and_change_nothing(
    setup: Setup, bind: BindServer
) -> None:
    region_event = build_event(
        REGION_CHANGED, source="urn:test", subject="us-east-1", data={"region": US, "healthy": False}
    )
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        for event in (
            region_event,
            routing_event(STRATEGY, None, 5),  # all regions down: no active region
            routing_event("unknown-strategy", EU, 5),  # no record follows it
        ):
            answer = await deliver(client, rx.url, event, setup.signer)
            assert answer.status_code == 200, answer.text
            assert answer.json()["applied"] == []
        text = (await client.get(rx.url + "metrics")).text
    assert _voice(bind) == (VOICE_A[US], VOICE_AAAA[US], SIP_CNAME[US])
    for reason in ("no_strategy", "no_active_region", "no_records"):
        assert metric(text, "failover_watcher_dns_sync_events_ignored_total", reason=reason) == 1
    # Nothing was applied, so nothing was recorded: a later event with sequence 0 still applies.
    assert not (setup.dir / "state" / "dns-sync-state.json").exists()


async def test_a_resync_converges_every_strategy_in_one_update(setup: Setup, bind: BindServer) -> None:
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        event = resync_event((STRATEGY, EU, 4), (OTHER, EU, 9), ("not-in-dns", US, 1))
        answer = await deliver(client, rx.url, event, setup.signer)
        assert answer.status_code == 200, answer.text
        assert sorted(answer.json()["applied"]) == sorted([STRATEGY, OTHER])
        assert answer.json()["ignored"] == ["not-in-dns"]
    assert _voice(bind) == (VOICE_A[EU], VOICE_AAAA[EU], SIP_CNAME[EU])
    assert bind.query("chat.example.com.", "A") == CHAT_A[EU]


async def test_a_resync_corrects_a_record_changed_behind_our_back(setup: Setup, bind: BindServer) -> None:
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        assert (
            await deliver(client, rx.url, routing_event(STRATEGY, EU, 7), setup.signer)
        ).status_code == 200
        # An operator points the name elsewhere with nsupdate, and drops the AAAA.
        bind.change_behind_our_back("voice.example.com.", "A", "203.0.113.99")
        bind.change_behind_our_back("sip.example.com.", "CNAME", "elsewhere.example.org.")
        assert bind.query("voice.example.com.", "A") == ["203.0.113.99"]
        # Same sequence as the last applied: a resync repairs, it is not stale.
        answer = await deliver(client, rx.url, resync_event((STRATEGY, EU, 7)), setup.signer)
        assert answer.status_code == 200, answer.text
        assert answer.json()["applied"] == [STRATEGY]
    assert _voice(bind) == (VOICE_A[EU], VOICE_AAAA[EU], SIP_CNAME[EU])


async def test_an_unknown_region_is_422_and_changes_nothing(setup: Setup, bind: BindServer) -> None:
    """The watcher routes to a region the receiver has no values for: a config mismatch. 422 keeps
    the event in the watcher's outbox (it retries) and DNS keeps the last good answer."""
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, routing_event(STRATEGY, "ap-south-1", 2), setup.signer)
        assert answer.status_code == 422
        assert "ap-south-1" in answer.json()["problems"][0]
        # In a resync the other strategies still converge.
        answer = await deliver(
            client, rx.url, resync_event((STRATEGY, "ap-south-1", 3), (OTHER, EU, 3)), setup.signer
        )
        assert answer.status_code == 422
        assert answer.json()["applied"] == [OTHER]
        text = (await client.get(rx.url + "metrics")).text
    assert _voice(bind) == (VOICE_A[US], VOICE_AAAA[US], SIP_CNAME[US])
    assert bind.query("chat.example.com.", "A") == CHAT_A[EU]
    assert metric(text, "failover_watcher_dns_sync_events_rejected_total", reason="unknown_region") == 2


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"strategy": STRATEGY, "activeRegion": EU, "sequence": "7"}, "data.sequence: not an integer"),
        ({"strategy": STRATEGY, "activeRegion": EU, "sequence": 7.0}, "data.sequence: not an integer"),
        ({"strategy": STRATEGY, "activeRegion": EU, "sequence": True}, "data.sequence: not an integer"),
        ({"strategy": STRATEGY, "activeRegion": EU}, "data.sequence: missing"),
        ({"strategy": STRATEGY, "activeRegion": 3, "sequence": 1}, "data.activeRegion"),
        ({"strategy": 5, "activeRegion": EU, "sequence": 1}, "data.strategy"),
    ],
)
async def test_a_verified_but_malformed_event_is_400_and_changes_nothing(
    setup: Setup, bind: BindServer, data: dict[str, object], problem: str
) -> None:
    event = build_event(DRIFT, source="urn:test", subject=STRATEGY, data=data)
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, event, setup.signer)
        assert answer.status_code == 400
        assert answer.json()["problem"].startswith(problem)
        text = (await client.get(rx.url + "metrics")).text
    assert metric(text, "failover_watcher_dns_sync_events_rejected_total", reason="bad_event") == 1
    assert bind.query("voice.example.com.", "A") == VOICE_A[US]


async def test_a_body_that_is_not_a_cloudevent_is_400(setup: Setup, bind: BindServer) -> None:
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        body = '{"hello": "world"}'
        headers = setup.signer.headers("msg-1", __import__("time").time(), body)
        answer = await client.post(rx.url, content=body, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["error"] == "not a CloudEvent 1.0"
    assert bind.query("voice.example.com.", "A") == VOICE_A[US]
