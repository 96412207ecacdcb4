"""The outbox across a SIGKILL: what was enqueued before the kill is delivered after the restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.support import until
from watcher.events import Dispatcher, Outbox, RetryPolicy, SinkSpec, generate_secret
from watcher.metrics import WatcherMetrics

from ._support import sample, serve_checking_receiver

pytestmark = pytest.mark.anyio

_REPO = Path(__file__).resolve().parents[2]

_CHILD = """
import json, os, sys
from pathlib import Path
import anyio, httpx
from pydantic import SecretStr
from watcher.events import SWITCHED, Dispatcher, Outbox, RetryPolicy, SinkSpec, build_event
from watcher.metrics import WatcherMetrics

async def main() -> None:
    sink = SinkSpec("mesh", sys.argv[2], (SecretStr(os.environ["SINK_SECRET"]),))
    async with httpx.AsyncClient() as http, anyio.create_task_group() as tg:
        dispatcher = Dispatcher(Outbox(Path(sys.argv[1])), [sink], http, WatcherMetrics(),
                                retry=RetryPolicy(base_seconds=0.005, cap_seconds=0.02))
        tg.start_soon(dispatcher.run)
        ids = []
        for seq in range(5):
            for key in ("s1", "s2", "s3", "s4"):
                event = build_event(SWITCHED, source="urn:t", subject=key, data={"seq": seq})
                ids.append(await dispatcher.publish(event, key))
        print("IDS " + json.dumps(ids), flush=True)
        await anyio.sleep_forever()

anyio.run(main)
"""


async def test_everything_enqueued_before_a_sigkill_is_delivered_after_restart(
    tmp_path: Path, metrics: WatcherMetrics
) -> None:
    secret = generate_secret()
    path = tmp_path / "outbox.sqlite3"
    async with serve_checking_receiver(secret) as rx:
        rx.status = 500  # never acknowledges: everything stays in the outbox
        process = await anyio.open_process(
            [sys.executable, "-c", _CHILD, str(path), rx.url],
            stdout=subprocess.PIPE,
            env={
                **os.environ,
                "PYTHONPATH": str(_REPO),
                "SINK_SECRET": secret.get_secret_value(),
            },
        )
        async with process:
            try:
                assert process.stdout is not None
                # Unconfigured structlog also prints to stdout: look for our line.
                stdout = BufferedByteReceiveStream(process.stdout)
                line = b""
                with anyio.fail_after(20):
                    while not line.startswith(b"IDS "):
                        line = await stdout.receive_until(b"\n", 1 << 20)
                enqueued: list[str] = json.loads(line.removeprefix(b"IDS "))
                # Kill it mid-delivery: retries are running against the failing sink.
                await until(lambda: rx.attempts >= 10, timeout=20)
                process.send_signal(signal.SIGKILL)
            finally:
                if process.returncode is None:
                    process.kill()
            assert await process.wait() == -signal.SIGKILL
        assert rx.failures == []
        assert rx.verified == []

        rx.status = 200
        outbox = Outbox(path)
        assert outbox.pending_count("mesh") == len(enqueued) == 20
        sink = SinkSpec("mesh", rx.url, (secret,))
        async with httpx.AsyncClient() as http, anyio.create_task_group() as tg:
            dispatcher = Dispatcher(outbox, [sink], http, metrics, retry=RetryPolicy(0.001, 0.01))
            tg.start_soon(dispatcher.run)
            await until(
                lambda: (
                    sample(metrics, "failover_watcher_outbox_pending", sink="mesh") == 0
                    and len(rx.first_seen) == 20
                ),
                timeout=20,
            )
            tg.cancel_scope.cancel()
        outbox.close()

    assert [e["id"] for e in rx.first_seen if e["id"] in enqueued] == [e["id"] for e in rx.first_seen]
    assert {e["id"] for e in rx.first_seen} == set(enqueued)
    for key in ("s1", "s2", "s3", "s4"):
        assert [e["data"]["seq"] for e in rx.first_seen if e["subject"] == key] == list(range(5))
    assert rx.failures == []
