"""A real Prometheus evaluating alert rules on flags the test sets: the simplest real flip.

A loopback HTTP endpoint serves one gauge per flag (`drill_test_<flag> 0|1`); Prometheus scrapes it
every 500 ms and evaluates `drill_test_<flag> > 0` as an alert of the flag's name with `for: 0s`.
Setting a flag makes its alert fire within a scrape and an evaluation; clearing it resolves it. The
server is started as `tests/deploy/live_prometheus.py` starts it (its helpers are reused; only the
config differs: it has rules).
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx

from tests.deploy.live_prometheus import free_port, prometheus_binary

CONFIG = """\
global:
  scrape_interval: 500ms
  scrape_timeout: 500ms
  evaluation_interval: 500ms
rule_files: ["{rules}"]
scrape_configs:
  - job_name: drill-flags
    static_configs:
      - targets: ["{target}"]
"""

RULE = """\
      - alert: {name}
        expr: drill_test_{metric} > 0
        for: 0s
"""

# An alert that always fires: it is not one the drills name, and it shows the rules are evaluated.
ALWAYS = """\
      - alert: Watchdog
        expr: vector(1)
"""


@dataclass
class Flags:
    """The values the endpoint serves, by alert name (0 or 1)."""

    values: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, name: str, value: int) -> None:
        with self.lock:
            self.values[name] = value

    def exposition(self) -> bytes:
        with self.lock:
            lines = [f"drill_test_{name.lower()} {value}" for name, value in sorted(self.values.items())]
        return ("\n".join(lines) + "\n").encode()


@contextlib.contextmanager
def flag_endpoint(flags: Flags) -> Iterator[str]:
    """Serve `flags` at `http://127.0.0.1:<port>/metrics` in a thread; yield `host:port`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = flags.exposition()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="flag-endpoint", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Alerting:
    """A running Prometheus: its base URL, and its process (to stop it mid-test)."""

    url: str
    process: anyio.abc.Process
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        """SIGTERM, wait with a deadline, then SIGKILL (shielded: this runs on the way out of a failure)."""
        with anyio.CancelScope(shield=True):
            if self.process.returncode is None:
                self.process.terminate()
                with anyio.move_on_after(10):
                    await self.process.wait()
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def running_alerting(workdir: Path, target: str, alerts: list[str]) -> AsyncIterator[Alerting]:
    """Prometheus scraping `target`, with an alert per name in `alerts` on its flag; stopped on exit."""
    binary = prometheus_binary()
    if binary is None:
        raise FileNotFoundError("prometheus not found; run: sh deploy/install-system-deps.sh")
    workdir.mkdir(parents=True, exist_ok=True)
    rules = workdir / "rules.yml"
    rules.write_text(
        "groups:\n  - name: drills\n    rules:\n"
        + "".join(RULE.format(name=name, metric=name.lower()) for name in alerts)
        + ALWAYS
    )
    config = workdir / "prometheus.yml"
    config.write_text(CONFIG.format(rules=rules, target=target))
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
        alerting = Alerting(f"http://127.0.0.1:{port}", process, log_path)
        try:
            await _until_ready(alerting)
            yield alerting
        finally:
            await alerting.stop()
            await process.aclose()


async def _until_ready(alerting: Alerting, timeout: float = 30.0) -> None:
    """Wait (with a deadline) for `/-/ready`; fail with the log if Prometheus exits first."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        with anyio.fail_after(timeout):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{alerting.url}/-/ready")).status_code == 200:
                        return
                if alerting.process.returncode is not None:
                    raise RuntimeError(f"prometheus exited early:\n{alerting.log_tail()}")
                await anyio.sleep(0.1)
