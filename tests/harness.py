"""The daemon under test as a real process, seen only from outside: its HTTP surface, its log lines,
its signals and its exit code.

`daemon_process(config)` runs `python -m watcher.cli run --config F --log-json` as a child (against
the simulator the config names), collects its JSON log lines with the time each arrived (stderr too,
as raw text), and returns once its HTTP server answers (or it has exited). `write_sim_config` writes
a config for the simulator's default org. `d.ready()` waits for `/status` to say ready with every
region healthy, `d.status()` reads it, `d.stop()` sends SIGTERM and returns the exit code once the
last log line is read; a process still running when the block ends is killed.

    async with daemon_process(config) as d:
        await d.ready()
        assert (await d.status())["strategies"][0]["activeRegion"] == PRIMARY
        assert await d.stop() == 0
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import Process
from prometheus_client.parser import text_string_to_metric_families

from tests.support import until
from watcher.config import ConfigError, load_config
from watcher.sim import RunningSimulator

CLI = [sys.executable, "-m", "watcher.cli"]
STARTING = "failover-watcher starting"  # the daemon's first log line; it names the address it serves


# The simulator's default org (two regions, strategy-1 with rule-1), polled every `interval` seconds,
# the client secret in a file, the HTTP server on a free port (the first log line names it).
SIM_CONFIG = """
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


def write_sim_config(path: Path, sim: RunningSimulator, tmp: Path, interval: float = 0.2) -> Path:
    """Write `SIM_CONFIG` for `sim` to `path` (its secret file and state directory under `tmp`)."""
    secret = tmp / "client_secret"
    secret.write_text("sim-secret\n")
    path.write_text(
        SIM_CONFIG.format(url=sim.base_url, secret_file=secret, interval=interval, state=tmp / "state")
    )
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without systemd's variables or WATCHER_* overrides, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WATCHER_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
    }
    return {**env, **extra}


def metric_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


class DaemonView:
    """The daemon's HTTP surface: `/status`, `/metrics`, `/healthz` and the admin API."""

    def __init__(self, base_url: str, admin_token: str | None = None) -> None:
        self.base_url = base_url
        self.admin_token = admin_token
        self.http = httpx.AsyncClient(base_url=base_url, timeout=5.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def answers(self) -> bool:
        try:
            return (await self.http.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def status(self) -> dict[str, Any]:
        response = await self.http.get("/status")
        response.raise_for_status()
        return dict(response.json())

    async def status_or_none(self) -> dict[str, Any] | None:
        try:
            return await self.status()
        except httpx.HTTPError:
            return None

    async def strategy(self, strategy_id: str) -> dict[str, Any]:
        return next(s for s in (await self.status())["strategies"] if s["id"] == strategy_id)

    async def region(self, region_id: str) -> dict[str, Any]:
        return next(r for r in (await self.status())["regions"] if r["id"] == region_id)

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
        text = (await self.http.get("/metrics")).text
        wanted = set(labels.items())
        return sum(v for (n, ls), v in metric_samples(text).items() if n == name and wanted <= ls)

    async def polls(self, region: str) -> float:
        """How many health checks of `region` completed (any result but throttled)."""
        text = (await self.http.get("/metrics")).text
        return sum(
            v
            for (n, ls), v in metric_samples(text).items()
            if n == "failover_watcher_health_checks_total"
            and ("region", region) in ls
            and ("result", "throttled") not in ls
        )

    async def admin(self, path: str, body: dict[str, Any], **override: str | None) -> httpx.Response:
        """An admin command, with the daemon's admin token (none if its config has none), or with
        `token=` (None: no Authorization header) to see what another caller gets."""
        token = override.get("token", self.admin_token)
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        method = "PUT" if path == "/admin/dry-run" else "POST"
        return await self.http.request(method, path, json=body, headers=headers)

    async def ready(self, timeout: float = 15.0) -> None:
        """Ready (token, strategies read, polls recent) and every region healthy."""

        async def check() -> bool:
            s = await self.status_or_none()
            return bool(s and s.get("ready") and s["regions"] and all(r["healthy"] for r in s["regions"]))

        await until(
            check, f"{self.base_url} ready with every region healthy", timeout, detail=self.status_or_none
        )

    async def more_polls(self, region: str, count: int = 8, timeout: float = 10.0) -> None:
        """Wait until `count` more health checks of `region` have completed: time for a decision."""
        start = await self.polls(region)

        async def check() -> bool:
            return await self.polls(region) >= start + count

        await until(check, f"{count} more polls of {region}", timeout)


@contextlib.contextmanager
def single_errors() -> Iterator[None]:
    """Re-raise the one error of a task group as itself: a failed assertion reads as one."""
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


@dataclass
class DaemonProcess:
    """A `failover-watcher run` child process and its log lines, with the time each arrived."""

    name: str
    process: Process = field(repr=False)
    admin_token: str | None = field(default=None, repr=False)
    started: float = field(default_factory=time.monotonic)
    lines: list[tuple[float, dict[str, Any]]] = field(default_factory=list, repr=False)
    raw: list[str] = field(default_factory=list, repr=False)
    output_closed: anyio.Event = field(default_factory=anyio.Event, repr=False)
    _view: DaemonView | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    @property
    def view(self) -> DaemonView:
        """Its HTTP surface, at the address its first log line names."""
        if self._view is None:
            listen = next((line["listen"] for _, line in self.lines if line.get("event") == STARTING), None)
            if listen is None:
                raise AssertionError(f"{self.name} has not logged {STARTING!r} with its address yet")
            self._view = DaemonView(str(listen), self.admin_token)
        return self._view

    def records(self) -> list[dict[str, Any]]:
        """Its JSON log lines, in order."""
        return [line for _, line in self.lines]

    def logged(self, predicate: Callable[[dict[str, Any]], bool]) -> bool:
        return any(predicate(line) for _, line in self.lines)

    def seen(self, event: str) -> bool:
        """Whether it logged `event`."""
        return self.count(event) > 0

    def count(self, event: str) -> int:
        """How many times it logged `event`."""
        return sum(line.get("event") == event for _, line in self.lines)

    def events(self) -> list[str]:
        return [str(line.get("event")) for _, line in self.lines]

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def wait_exit(self, timeout: float) -> int:
        """Its exit code, once it has exited and its last log line is read."""
        with anyio.fail_after(timeout):
            code = await self.process.wait()
            await self.output_closed.wait()
        return code

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send `sig` (SIGTERM: a clean shutdown) and return the exit code, within `timeout` seconds."""
        self.send(sig)
        return await self.wait_exit(timeout)

    async def ready(self, timeout: float = 15.0) -> None:
        """`/status` says ready and every region healthy."""
        await self.view.ready(timeout)

    async def status(self) -> dict[str, Any]:
        return await self.view.status()

    def timeline(self, since: float | None = None) -> str:
        """One line per log record: seconds since `since` (default: start), level, event, fields."""
        origin = self.started if since is None else since
        out = []
        for at, line in self.lines:
            rest = {k: v for k, v in line.items() if k not in ("event", "level", "timestamp", "explanation")}
            text = json.dumps(rest, default=str)
            if len(text) > 300:
                text = text[:300] + "..."
            out.append(
                f"[{self.name} {at - origin:+7.2f}s] {line.get('level', '?'):7} {line.get('event')} {text}"
            )
        return "\n".join(out)

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.raw[-lines:])


@contextlib.asynccontextmanager
async def daemon_process(
    config: Path,
    name: str = "daemon",
    *,
    env: dict[str, str] | None = None,
    log_level: str = "DEBUG",
    timeout: float = 20.0,
) -> AsyncIterator[DaemonProcess]:
    """`failover-watcher run --config F` as a child, once its HTTP server answers (or it exited);
    killed when the block ends if still running. `env` replaces `clean_env()`."""
    try:
        token = load_config(config).admin_token()
    except ConfigError:
        token = None  # a config that reads its secrets from `env` only (systemd credentials)
    cmd = [*CLI, "run", "--config", str(config), "--log-json", "--log-level", log_level]
    async with await anyio.open_process(cmd, env=env or clean_env()) as proc:
        d = DaemonProcess(name, proc, None if token is None else token.get_secret_value())

        async def pump() -> None:
            assert proc.stdout is not None
            buffer = b""
            async for chunk in proc.stdout:
                *complete, buffer = (buffer + chunk).split(b"\n")
                for raw in complete:
                    text = raw.decode(errors="replace")
                    d.raw.append(text)
                    with contextlib.suppress(ValueError):
                        parsed = json.loads(text)
                        if isinstance(parsed, dict):
                            d.lines.append((time.monotonic(), parsed))
            d.output_closed.set()

        async def drain_stderr() -> None:
            assert proc.stderr is not None
            async for chunk in proc.stderr:
                d.raw.append(chunk.decode(errors="replace"))

        async def serving() -> bool:
            return not d.running or (d.seen(STARTING) and await d.view.answers())

        with single_errors():
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump)
                tg.start_soon(drain_stderr)
                try:
                    await until(serving, f"{name}'s HTTP server", timeout, interval=0.05, detail=d.tail)
                    yield d
                finally:
                    if d.running:
                        with contextlib.suppress(ProcessLookupError):
                            proc.send_signal(signal.SIGCONT)
                            proc.kill()
                    with anyio.move_on_after(10):
                        await proc.wait()
                    if d._view is not None:
                        await d._view.aclose()
                    tg.cancel_scope.cancel()


async def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, str, str]:
    """Run one `failover-watcher` command to completion: (exit code, stdout, stderr)."""
    with anyio.fail_after(timeout):
        result = await anyio.run_process([*CLI, *args], check=False, env=env or clean_env())
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def refused_at_start(config: Path, port: int, timeout: float = 30.0) -> tuple[int, str]:
    """`run --config F` must exit (with its code and stderr) instead of starting to serve on `port`."""
    cmd = [*CLI, "run", "--config", str(config), "--log-json"]
    started = False
    async with (
        await anyio.open_process(cmd, env=clean_env()) as proc,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):

        async def exited_or_serving() -> bool:
            nonlocal started
            if proc.returncode is not None:
                return True
            started = (await http.get("/healthz")).status_code in (200, 503)
            return started

        await until(exited_or_serving, f"`run --config {config.name}` to exit", timeout, interval=0.05)
        if started:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"`run --config {config.name}` started serving instead of refusing")
        assert proc.stderr is not None
        err = b""
        async for chunk in proc.stderr:
            err += chunk
        code = await proc.wait()
    return code, err.decode(errors="replace")
