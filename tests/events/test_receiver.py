from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic import SecretStr

from tests.support import until
from watcher.events import (
    DRIFT,
    SWITCHED,
    Dispatcher,
    Outbox,
    SinkSpec,
    add_receive_parser,
    build_event,
    encode_event,
    generate_secret,
    running_receiver,
)
from watcher.events.receiver import _receive, event_line
from watcher.events.signing import Signer
from watcher.metrics import WatcherMetrics

pytestmark = pytest.mark.anyio


def _signed(secrets: list[SecretStr], event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = encode_event(event)
    headers = Signer("test", secrets).headers(event["id"], time.time(), body)
    headers["content-type"] = "application/cloudevents+json"
    return body.encode(), headers


def _event(event_type: str = SWITCHED) -> dict[str, Any]:
    return build_event(event_type, source="urn:t", subject="strategy-1", data={"to": "eu-west-1"})


async def test_verified_events_are_kept_once_and_printed_once() -> None:
    secret = generate_secret()
    printed: list[str] = []
    event = _event()
    async with (
        running_receiver([secret], on_event=lambda e: printed.append(event_line(e))) as rx,
        httpx.AsyncClient() as http,
    ):
        body, headers = _signed([secret], event)
        first = await http.post(rx.url, content=body, headers=headers)
        again = await http.post(rx.url, content=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "duplicate"}
    assert rx.events == [event]
    assert (rx.duplicates, rx.rejected) == (1, 0)
    assert printed == [f"{event['time']} com.genesys.failover.switched strategy-1 id={event['id']} verified"]


async def test_tampering_is_rejected_with_401() -> None:
    secret = generate_secret()
    async with running_receiver([secret]) as rx, httpx.AsyncClient() as http:
        body, headers = _signed([secret], _event())
        tampered_body = body.replace(b"eu-west-1", b"us-east-1")
        forged = {**headers, "webhook-signature": "v1," + "A" * 44}
        other_key = _signed([generate_secret()], _event())
        missing = {k: v for k, v in headers.items() if k != "webhook-signature"}
        answers = [
            await http.post(rx.url, content=tampered_body, headers=headers),
            await http.post(rx.url, content=body, headers=forged),
            await http.post(rx.url, content=other_key[0], headers=other_key[1]),
            await http.post(rx.url, content=body, headers=missing),
        ]
    assert [a.status_code for a in answers] == [401, 401, 401, 401]
    assert rx.rejected == 4
    assert rx.events == []


async def test_a_signed_non_cloudevent_is_rejected_with_400() -> None:
    secret = generate_secret()
    async with running_receiver([secret]) as rx, httpx.AsyncClient() as http:
        body = json.dumps({"id": "x", "specversion": "0.3"})
        headers = Signer("t", [secret]).headers("x", time.time(), body)
        answer = await http.post(rx.url, content=body, headers=headers)
    assert answer.status_code == 400
    assert rx.rejected == 1


async def test_rotation_either_secret_verifies(tmp_path: Path) -> None:
    old, new = generate_secret(), generate_secret()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    async with (
        running_receiver([old]) as old_rx,
        running_receiver([new]) as new_rx,
        httpx.AsyncClient() as http,
        anyio.create_task_group() as tg,
    ):
        sinks = [
            SinkSpec("old-only", old_rx.url, (old, new)),
            SinkSpec("new-only", new_rx.url, (old, new)),
        ]
        dispatcher = Dispatcher(outbox, sinks, http, WatcherMetrics())
        tg.start_soon(dispatcher.run)
        sent = [await dispatcher.publish(_event(t), "strategy-1") for t in (SWITCHED, DRIFT)]
        await until(lambda: len(old_rx.events) == 2 and len(new_rx.events) == 2)
        tg.cancel_scope.cancel()
    for rx in (old_rx, new_rx):
        assert [e["id"] for e in rx.events] == sent
        assert rx.rejected == 0
    outbox.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="failover-watcher")
    add_receive_parser(parser.add_subparsers(dest="command"))
    return parser


def test_receive_command_line() -> None:
    args = _parser().parse_args(
        ["receive", "--port", "9000", "--secret", "whsec_a", "--secret", "whsec_b", "--json"]
    )
    assert (args.port, args.host, args.secret, args.json) == (
        9000,
        "127.0.0.1",
        ["whsec_a", "whsec_b"],
        True,
    )
    assert callable(args.func)


def test_receive_refuses_missing_or_bad_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _receive(_parser().parse_args(["receive", "--port", "0"])) == 2
    secret_file = tmp_path / "secrets"
    secret_file.write_text("# current\nnot-a-secret-zebra\n")
    args = _parser().parse_args(["receive", "--port", "0", "--secret-file", str(secret_file)])
    assert _receive(args) == 2
    args = _parser().parse_args(["receive", "--port", "0", "--secret-file", str(tmp_path / "no")])
    assert _receive(args) == 2
    err = capsys.readouterr().err
    assert "secret #1" in err
    assert "zebra" not in err
