"""The simulator as a process (``simulate``) and its quiet handling of simulated resets."""

from __future__ import annotations

import logging
import signal
import sys

import anyio
import httpx
import pytest

from ._support import fetch_token

pytestmark = pytest.mark.anyio

SERVE = (
    "import sys; from watcher.sim._cli import add_simulate_parser; import argparse; "
    "p = argparse.ArgumentParser(); add_simulate_parser(p.add_subparsers()); "
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)


async def test_simulate_prints_its_url_serves_and_stops_on_sigterm() -> None:
    command = [sys.executable, "-c", SERVE, "simulate", "--port", "0", "--client-id", "cli-id"]
    command += ["--client-secret", "cli-secret-value"]
    async with await anyio.open_process(command) as process:
        assert process.stdout is not None
        line = b""
        with anyio.fail_after(15):
            while not line.endswith(b"\n"):
                line += await process.stdout.receive(1)
        text = line.decode()
        assert text.startswith("simulator listening on http://127.0.0.1:")
        assert "cli-id" in text
        assert "cli-secret-value" not in text
        base_url = text.split()[3]

        async with httpx.AsyncClient(base_url=base_url) as client:
            token = await fetch_token(client, "cli-id", "cli-secret-value")
            strategy = await client.get(
                "/api/v2/routing/strategies/strategy-1",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )

        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(15):
            code = await process.wait()

    assert token.status_code == 200
    assert strategy.json()["version"] == 1
    assert code == 0


async def test_reset_leaves_no_error_in_the_server_log(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await api.put("/_sim/faults", json={"path": "health", "reset": True})

    with caplog.at_level(logging.ERROR, logger="uvicorn.error"):
        with pytest.raises(httpx.RemoteProtocolError):
            await api.get("/api/v2/architecture/regions/us-east-1/health")
        await api.delete("/_sim/faults")
        await api.get("/api/v2/architecture/regions/us-east-1/health")

    assert caplog.records == []
