"""`failover-watcher dns-sync` as a real process: it tells systemd when it listens, converges DNS,
stops cleanly on SIGTERM, and never writes a secret to its logs or its metrics."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.dnssync.bind import BindServer, free_port, secret_of, tsig_keygen
from tests.dnssync.conftest import EU, STRATEGY, VOICE_A, Setup, deliver, metric, routing_event, signed
from tests.support import until
from watcher.events import Signer, generate_secret

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    """The AF_UNIX datagram socket systemd would hold for a Type=notify service (short path)."""
    directory = tempfile.mkdtemp(prefix="dns-sync-", dir="/tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(os.path.join(directory, "notify"))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()
        shutil.rmtree(directory)


def _messages(sock: socket.socket) -> list[str]:
    found = []
    while True:
        try:
            found.append(sock.recv(4096).decode())
        except BlockingIOError:
            return found


async def test_the_process_serves_stops_and_keeps_secrets_out_of_logs_and_metrics(
    setup: Setup, bind: BindServer, notify_socket: socket.socket
) -> None:
    port = free_port()
    setup.config.write_text(setup.config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}"))
    url = f"http://127.0.0.1:{port}/"
    out, err = setup.dir / "stdout.log", setup.dir / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    env.update(NOTIFY_SOCKET=notify_socket.getsockname(), WATCHER_LOG_LEVEL="DEBUG")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "watcher.cli", "dns-sync", "--config", str(setup.config), "--log-json"],
            stdout=stdout,
            stderr=stderr,
            cwd=REPO,
            env=env,
        )
    notes: list[str] = []
    try:

        def ready() -> bool:
            assert process.poll() is None, err.read_text()
            notes.extend(_messages(notify_socket))
            return "READY=1" in notes

        await until(ready, "READY=1", interval=0.05)
        async with httpx.AsyncClient(timeout=10) as client:
            # READY=1 means listening: no retry loop needed.
            assert (await client.get(url + "healthz")).json() == {"status": "ok"}
            assert (
                await deliver(client, url, routing_event(STRATEGY, EU, 1), setup.signer)
            ).status_code == 200
            assert bind.query("voice.example.com.", "A") == VOICE_A[EU]
            forged = Signer("x", [generate_secret()])
            assert (await deliver(client, url, routing_event(STRATEGY, EU, 2), forged)).status_code == 401
            retry = signed(routing_event(STRATEGY, EU, 3), setup.signer)
            bind.stop()
            assert (await retry.send(client, url)).status_code == 503
            bind.start()
            assert (await retry.send(client, url)).status_code == 200
            metrics = (await client.get(url + "metrics")).text
        process.send_signal(signal.SIGTERM)
        await until(
            lambda: process.poll() is not None, "dns-sync to exit", 15, interval=0.05, detail=err.read_text
        )
        assert process.returncode == 0, err.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    notes.extend(_messages(notify_socket))
    assert notes[-1] == "STOPPING=1"
    logs = out.read_text() + err.read_text()
    assert '"DNS updated"' in logs
    assert '"DNS update failed"' in logs
    assert '"delivery with a bad signature refused"' in logs
    assert metric(metrics, "failover_watcher_dns_sync_last_applied_sequence", strategy=STRATEGY) == 3
    webhook = setup.secret.get_secret_value()
    for secret in (webhook, webhook.removeprefix("whsec_"), bind.key_secret):
        assert secret not in logs
        assert secret not in metrics


async def test_a_wrong_key_is_logged_without_any_secret(setup: Setup, bind: BindServer) -> None:
    """The BADSIG path logs the key's name and the server's verdict, not the key."""
    wrong = tsig_keygen("failover-watcher.")
    (setup.dir / "tsig.key").write_text(wrong)
    port = free_port()
    setup.config.write_text(setup.config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}"))
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    env["WATCHER_LOG_LEVEL"] = "DEBUG"
    process = subprocess.Popen(
        [sys.executable, "-m", "watcher.cli", "dns-sync", "--config", str(setup.config), "--log-json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env=env,
    )
    try:
        async with httpx.AsyncClient(timeout=10) as client:

            def listening() -> bool:
                assert process.poll() is None
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        return True
                except OSError:
                    return False

            await until(listening, "the receiver to listen", interval=0.05)
            answer = await deliver(client, url, routing_event(STRATEGY, EU, 1), setup.signer)
            assert answer.status_code == 502
            metrics = (await client.get(url + "metrics")).text
        process.send_signal(signal.SIGTERM)
        logs, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    text = logs.decode()
    assert '"code": "BADSIG"' in text
    assert "failover-watcher." in text
    for secret in (secret_of(wrong), bind.key_secret):
        assert secret not in text
        assert secret not in metrics
