"""What the receiver answers when it cannot, or must not, change DNS: nothing changes, and the
answer tells the watcher's outbox whether to retry (5xx) or that the sender is not trusted (401)."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.dnssync.bind import KEY_NAME, BindServer, tsig_keygen
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
    routing_event,
    signed,
)
from watcher.events import Signer, generate_secret

pytestmark = pytest.mark.anyio


async def test_a_forged_signature_is_401_and_changes_nothing(setup: Setup, bind: BindServer) -> None:
    forger = Signer("dns-sync", [generate_secret()])
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, routing_event(STRATEGY, EU, 1), forger)
        assert answer.status_code == 401
        # A genuine delivery whose body was altered on the way: also refused.
        genuine = signed(routing_event(STRATEGY, EU, 2), setup.signer)
        tampered = genuine.body.replace(EU, "ap-south-1")
        answer = await client.post(rx.url, content=tampered, headers=genuine.headers)
        assert answer.status_code == 401
        answer = await client.post(rx.url, content=genuine.body)  # no signature at all
        assert answer.status_code == 401
        text = (await client.get(rx.url + "metrics")).text
    assert bind.query("voice.example.com.", "A") == VOICE_A[US]
    assert bind.serial() == 1
    assert metric(text, "failover_watcher_dns_sync_events_rejected_total", reason="bad_signature") == 3
    assert not (setup.dir / "state" / "dns-sync-state.json").exists()


async def test_dns_server_down_is_503_then_the_same_delivery_converges(
    setup: Setup, bind: BindServer
) -> None:
    delivery = signed(routing_event(STRATEGY, EU, 1), setup.signer)
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        bind.stop()
        answer = await delivery.send(client, rx.url)
        assert answer.status_code == 503
        assert answer.json()["kind"] == "connection"
        text = (await client.get(rx.url + "metrics")).text
        assert metric(text, "failover_watcher_dns_sync_dns_errors_total", kind="connection", code="none") == 1
        assert metric(text, "failover_watcher_dns_sync_updates_applied_total", strategy=STRATEGY) == 0
        # Nothing recorded: the retry is not mistaken for a replay.
        assert not (setup.dir / "state" / "dns-sync-state.json").exists()

        bind.start()  # same port, same zone (and journal)
        assert bind.query("voice.example.com.", "A") == VOICE_A[US]
        answer = await delivery.send(client, rx.url)  # the outbox's retry: the very same bytes
        assert answer.status_code == 200, answer.text
    assert bind.query("voice.example.com.", "A") == VOICE_A[EU]


async def test_a_server_that_never_answers_is_a_503_timeout(setup: Setup, bind: BindServer) -> None:
    """A primary that accepts the connection and says nothing: bounded by `[dns] timeout`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nobody reads
        setup.write(server=f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        async with setup.receiver() as rx, httpx.AsyncClient(timeout=10) as client:
            answer = await deliver(client, rx.url, routing_event(STRATEGY, EU, 1), setup.signer)
            assert answer.status_code == 503
            assert answer.json()["kind"] == "timeout"
            text = (await client.get(rx.url + "metrics")).text
    assert metric(text, "failover_watcher_dns_sync_dns_errors_total", kind="timeout", code="none") == 1
    assert bind.query("voice.example.com.", "A") == VOICE_A[US]


@pytest.mark.parametrize(
    ("which", "code"),
    [
        ("same name, other secret", "BADSIG"),
        ("a name named does not know", "BADKEY"),
    ],
)
async def test_a_wrong_tsig_key_is_502_and_changes_nothing(
    setup: Setup, bind: BindServer, which: str, code: str
) -> None:
    block = tsig_keygen(KEY_NAME if code == "BADSIG" else "stranger.")
    (setup.dir / "tsig.key").write_text(block)
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, routing_event(STRATEGY, EU, 1), setup.signer)
        assert answer.status_code == 502, which
        assert answer.json() == {"error": "DNS update failed", "kind": "tsig", "code": code}
        text = (await client.get(rx.url + "metrics")).text
    assert metric(text, "failover_watcher_dns_sync_dns_errors_total", kind="tsig", code=code) == 1
    assert bind.query("voice.example.com.", "A") == VOICE_A[US]
    assert bind.serial() == 1
    assert "tsig verify failure" in bind.log_tail()


async def test_a_key_without_update_rights_is_refused(setup: Setup, bind: BindServer) -> None:
    """named knows the key but the zone's allow-update does not grant it: REFUSED, a 502."""
    (setup.dir / "tsig.key").write_text(bind.read_only_block)
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, routing_event(STRATEGY, EU, 1), setup.signer)
        assert answer.status_code == 502
        assert answer.json()["code"] == "REFUSED"
        text = (await client.get(rx.url + "metrics")).text
    assert metric(text, "failover_watcher_dns_sync_dns_errors_total", kind="rcode", code="REFUSED") == 1
    assert bind.query("voice.example.com.", "A") == VOICE_A[US]


async def test_a_zone_the_server_is_not_primary_for_is_notauth(setup: Setup, bind: BindServer) -> None:
    text = setup.config.read_text().replace("example.com.", "example.org.")
    setup.config.write_text(text)
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, routing_event(STRATEGY, EU, 1), setup.signer)
        assert answer.status_code == 502
        assert answer.json()["code"] == "NOTAUTH"
    assert bind.query("voice.example.com.", "A") == VOICE_A[US]


async def test_a_narrow_update_policy_grants_exactly_the_configured_records(
    setup: Setup, bind: BindServer
) -> None:
    """The README's `update-policy`: the key may change voice A/AAAA and sip CNAME, nothing else."""
    bind.stop()
    bind.update_policy = (
        f"grant {KEY_NAME} name voice.example.com. A AAAA; grant {KEY_NAME} name sip.example.com. CNAME;"
    )
    bind.start()
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await deliver(client, rx.url, routing_event(STRATEGY, EU, 1), setup.signer)
        assert answer.status_code == 200, answer.text
        answer = await deliver(client, rx.url, routing_event(OTHER, EU, 1), setup.signer)
        assert answer.status_code == 502
        assert answer.json()["code"] == "REFUSED"
    assert bind.query("voice.example.com.", "A") == VOICE_A[EU]
    assert bind.query("chat.example.com.", "A") == CHAT_A[US]


async def test_an_oversized_body_is_413_before_anything_is_read(setup: Setup, bind: BindServer) -> None:
    async with setup.receiver() as rx, httpx.AsyncClient() as client:
        answer = await client.post(rx.url, content=b"x" * (1024 * 1024 + 1))
        assert answer.status_code == 413
        text = (await client.get(rx.url + "metrics")).text
    assert metric(text, "failover_watcher_dns_sync_events_rejected_total", reason="bad_event") == 1
    assert bind.serial() == 1
