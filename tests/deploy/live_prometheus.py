"""A real Prometheus server for the end-to-end tests: started on loopback, scraping one target fast.

The Debian package's `prometheus` binary is run with a throw-away config and TSDB directory; the tests
talk to it over its HTTP API only, as a dashboard or an alert rule would. `prometheus_binary()` is
None when it is not installed (`sh deploy/install-system-deps.sh` installs it).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import Process

from tests.support import until

SCRAPE_INTERVAL = "500ms"

CONFIG = """\
global:
  scrape_interval: {interval}
  scrape_timeout: {interval}
  evaluation_interval: {interval}
scrape_configs:
  - job_name: failover-watcher
    metrics_path: /metrics
    static_configs:
      - targets: ["{target}"]
"""


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def free_port() -> int:
    """A loopback port that was free a moment ago (Prometheus takes an address, not a socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrometheusError(Exception):
    """The Prometheus API answered a query with an error."""


@dataclass
class Prometheus:
    """The HTTP API of a running server."""

    process: Process
    api: httpx.AsyncClient
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query, evaluated now; the result vector (`[{"metric": ..., "value": [t, "v"]}]`)."""
        r = await self.api.get("/api/v1/query", params={"query": expr})
        body = r.json()
        if r.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"{expr}: {body.get('errorType')}: {body.get('error')}")
        data = body["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    async def value(self, expr: str) -> float | None:
        """The single value of `expr`, or None when the vector is empty."""
        result = await self.query(expr)
        if not result:
            return None
        if len(result) != 1:
            raise PrometheusError(f"{expr}: expected one series, got {len(result)}")
        return float(result[0]["value"][1])

    async def until_target_up(self, timeout: float = 20.0) -> None:
        """Wait for the scrape target to be healthy (`/api/v1/targets`), with a deadline."""

        async def up() -> bool:
            if self.process.returncode is not None:
                raise RuntimeError(f"prometheus exited early:\n{self.log_tail()}")
            r = await self.api.get("/api/v1/targets", params={"state": "active"})
            if r.status_code != 200:
                return False
            targets = r.json()["data"]["activeTargets"]
            return bool(targets and all(t["health"] == "up" for t in targets))

        await until(up, "the scrape target up", timeout, interval=0.1)


@contextlib.asynccontextmanager
async def running_prometheus(workdir: Path, target: str) -> AsyncIterator[Prometheus]:
    """Start Prometheus scraping `target` (`host:port`) every 500 ms; stop it cleanly on exit."""
    binary = prometheus_binary()
    if binary is None:
        raise FileNotFoundError("prometheus not found; run: sh deploy/install-system-deps.sh")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(CONFIG.format(interval=SCRAPE_INTERVAL, target=target))
    port = free_port()
    log_path = workdir / "prometheus.log"
    cmd = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with log_path.open("wb") as log_file:
        process = await anyio.open_process(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as api:
                yield Prometheus(process, api, log_path)
        finally:
            await _stop(process)


async def _stop(process: Process) -> None:
    """SIGTERM, wait with a deadline, then SIGKILL (shielded: this runs on the way out of a failure too)."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            process.terminate()
            with anyio.move_on_after(10):
                await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.aclose()
