"""The daemon as a real process: SIGTERM mid-switch, SIGHUP reloads, JSON logs without secrets."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import Process

from tests.daemon.conftest import PRIMARY, RULE, SECONDARY, STRATEGY, TARGETS
from tests.support import until
from watcher.sim import RunningSimulator, SimulatorState, default_seed, running_simulator

pytestmark = pytest.mark.anyio

CONFIG = """
[genesys]
api_base_url = "{url}"
login_base_url = "{url}"
client_id = "sim-client"
client_secret_file = "{secret_file}"
requests_per_minute = 6000
max_retries = 1

[health]
interval_seconds = {interval}
timeout_seconds = 0.15
fall = 2
rise = 2

[failback]
hold_seconds = 30

[[regions]]
id = "us-east-1"
[[regions]]
id = "eu-west-1"

[[strategies]]
id = "strategy-1"
regions = ["us-east-1", "eu-west-1"]

[[rules]]
id = "rule-1"
strategy = "strategy-1"
targets = {{ "us-east-1" = "target-use1", "eu-west-1" = "target-euw1" }}

[server]
listen = "127.0.0.1:0"

[state]
dir = "{state}"

[executor]
shutdown_grace_seconds = 10
"""


@dataclass
class Daemon:
    process: Process
    lines: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    def seen(self, event: str) -> bool:
        return any(line.get("event") == event for line in self.lines)

    async def until(self, predicate: Any, timeout: float = 15.0) -> None:
        await until(predicate, timeout=timeout, interval=0.02)

    def listen_url(self) -> str:
        return next(line["listen"] for line in self.lines if line.get("event") == "failover-watcher starting")


def write_config(path: Path, sim: RunningSimulator, tmp: Path, interval: float = 0.2) -> None:
    secret = tmp / "client_secret"
    secret.write_text("sim-secret\n")
    path.write_text(
        CONFIG.format(url=sim.base_url, secret_file=secret, interval=interval, state=tmp / "state")
    )


@asynccontextmanager
async def daemon(config: Path) -> AsyncIterator[Daemon]:
    cmd = [sys.executable, "-m", "watcher.cli", "run", "--config", str(config), "--log-level", "DEBUG"]
    async with await anyio.open_process(cmd) as process:
        d = Daemon(process)

        async def pump() -> None:
            assert process.stdout is not None
            buffer = b""
            async for chunk in process.stdout:
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    text = raw.decode()
                    d.raw.append(text)
                    with contextlib.suppress(ValueError):
                        d.lines.append(json.loads(text))

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                yield d
            finally:
                if process.returncode is None:
                    process.kill()
                tg.cancel_scope.cancel()


async def test_sigterm_during_a_switch_finishes_the_write_and_exits_cleanly(tmp_path: Path) -> None:
    async with (
        running_simulator(SimulatorState(default_seed())) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as admin,
    ):
        config = tmp_path / "watcher.toml"
        write_config(config, sim, tmp_path)
        async with daemon(config) as d:
            await d.until(
                lambda: (
                    d.seen("region healthy")
                    and sum(ln.get("event") == "region healthy" for ln in d.lines) >= 2
                )
            )
            # Every strategy call now takes 1.5 s: the switch will be in flight when SIGTERM lands.
            fault = {"path": "/routing/strategies/", "errorRate": 1, "delayMs": 1500}
            (await admin.put("/_sim/faults", json=fault)).raise_for_status()
            (await admin.put(f"/_sim/regions/{PRIMARY}", json={"status": "DOWN"})).raise_for_status()
            await d.until(lambda: d.seen("decision: switch"))
            d.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                code = await d.process.wait()
            assert code == 0
            assert d.seen("shutting down")
            assert d.seen("stopped")
        strategy = sim.state.org.strategies[STRATEGY]
        first = min(strategy["routingConfig"]["regions"], key=lambda r: r["priority"])
        assert first["regionId"] == SECONDARY  # the PUT completed
        assert sim.state.org.rules[RULE]["targets"][0]["id"] == TARGETS[SECONDARY]  # and the rule followed
        assert not any("sim-secret" in line for line in d.raw)


async def test_sighup_keeps_the_old_config_when_the_new_one_is_bad(tmp_path: Path) -> None:
    async with running_simulator(SimulatorState(default_seed())) as sim:
        config = tmp_path / "watcher.toml"
        write_config(config, sim, tmp_path)
        async with daemon(config) as d:
            await d.until(lambda: d.seen("region healthy"))
            url = d.listen_url()
            good = config.read_text()
            config.write_text(
                good.replace("fall = 2", "fall = 0").replace("timeout_seconds = 0.15", "timeout_seconds = 5")
            )
            d.process.send_signal(signal.SIGHUP)
            await d.until(lambda: d.seen("config reload refused; keeping the running config"))
            refused = next(
                ln for ln in d.lines if ln.get("event") == "config reload refused; keeping the running config"
            )
            assert any("health.fall" in p for p in refused["problems"]), refused
            assert any("health.timeout_seconds" in p for p in refused["problems"]), refused
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{url}/healthz")).status_code == 200
                status = (await http.get(f"{url}/status")).json()
            assert status["strategies"][0]["activeRegion"] == PRIMARY
            # A good config is taken.
            config.write_text(good.replace("interval_seconds = 0.2", "interval_seconds = 0.3"))
            d.process.send_signal(signal.SIGHUP)
            await d.until(lambda: d.seen("config reloaded"))
            d.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(15):
                assert await d.process.wait() == 0


async def test_bad_config_refuses_to_start_with_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[genesys]\nclient_id = "x"\napi_base_url = "http://example.com"\n[health]\nrise = 0\n')
    result = await anyio.run_process(
        [sys.executable, "-m", "watcher.cli", "run", "--config", str(config)], check=False
    )
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "genesys.api_base_url" in err
    assert "health.rise" in err
    assert "genesys.client_secret" in err
