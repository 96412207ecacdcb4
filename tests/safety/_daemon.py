"""The daemon under test, seen only from outside: its HTTP surface, its process, its log lines.

Two ways to run it:

- `in_process(config)`: `Watcher(load_config(F)).serve()` in the test's event loop (cheap, for the
  scenarios where no process is needed). If `serve()` ends before the test asked it to stop, that is
  recorded as an unexpected exit, not raised into the test's task group.
- `process(config)`: `python -m watcher.cli run --config F --log-json` as a child process, its JSON log
  lines collected with the time they arrived, for signals (SIGTERM, SIGKILL, SIGSTOP/SIGCONT) and
  exit codes.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import Process
from prometheus_client.parser import text_string_to_metric_families

from tests.safety._config import ADMIN_TOKEN
from watcher.config import load_config
from watcher.systemd_notify import SystemdNotifier

CLI = [sys.executable, "-m", "watcher.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without systemd's variables or WATCHER_* overrides, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WATCHER_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
    }
    return {**env, **extra}


async def eventually(
    check: Callable[[], Awaitable[bool] | bool],
    what: str,
    timeout: float = 10.0,
    interval: float = 0.05,
    detail: Callable[[], Any] | None = None,
) -> None:
    """Wait until `check()` is true, or fail naming `what` after `timeout` seconds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if not isinstance(result, bool):
                result = await result
        except httpx.TransportError:
            result = False  # the daemon is not answering (yet, or any more): the next round tells
        if result:
            return
        if time.monotonic() > deadline:
            seen = detail() if detail is not None else None
            if inspect.isawaitable(seen):
                seen = await seen
            extra = f"; last seen: {seen}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {what}{extra}")
        await anyio.sleep(interval)


def metric_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


class DaemonView:
    """The daemon's HTTP surface: `/status`, `/metrics`, `/healthz` and the admin API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
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

    async def admin(self, path: str, body: dict[str, Any], token: str | None = ADMIN_TOKEN) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        method = "PUT" if path == "/admin/dry-run" else "POST"
        return await self.http.request(method, path, json=body, headers=headers)

    async def ready(self, timeout: float = 15.0) -> None:
        """Ready (token, strategies read, polls recent) and every region healthy."""

        async def check() -> bool:
            s = await self.status_or_none()
            return bool(s and s.get("ready") and s["regions"] and all(r["healthy"] for r in s["regions"]))

        await eventually(
            check, f"{self.base_url} ready with every region healthy", timeout, detail=self.status_or_none
        )

    async def more_polls(self, region: str, count: int = 8, timeout: float = 10.0) -> None:
        """Wait until `count` more health checks of `region` have completed: time for a decision."""
        start = await self.polls(region)

        async def check() -> bool:
            return await self.polls(region) >= start + count

        await eventually(check, f"{count} more polls of {region}", timeout)


@contextlib.contextmanager
def single_errors() -> Iterator[None]:
    """Re-raise the one error of a task group as itself: a failed assertion reads as one."""
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


# ---------------------------------------------------------------------------------------- in-process


@dataclass
class InProcessDaemon:
    view: DaemonView
    config: Path
    ended: anyio.Event
    crash: BaseException | None = None
    stop_requested: bool = False
    _stop: Callable[[], None] = lambda: None

    @property
    def exited_unexpectedly(self) -> bool:
        return self.ended.is_set() and not self.stop_requested

    async def stop(self, timeout: float = 15.0) -> None:
        self.stop_requested = True
        self._stop()
        with anyio.fail_after(timeout):
            await self.ended.wait()


@contextlib.asynccontextmanager
async def in_process(config: Path) -> AsyncIterator[InProcessDaemon]:
    """The daemon of `config`, served in this event loop until the block ends."""
    from watcher.daemon.service import Watcher

    cfg = load_config(config)
    # Not under systemd, whatever the environment of the test run says.
    watcher = Watcher(cfg, config_path=str(config), notifier=SystemdNotifier(address=None))
    host, port = cfg.server.host_port
    view = DaemonView(f"http://{host}:{port}")
    daemon = InProcessDaemon(view, config, anyio.Event(), _stop=watcher.request_stop)

    async def serve() -> None:
        try:
            await watcher.serve()
        except Exception as exc:  # recorded: the test asserts the daemon did not die
            daemon.crash = exc
        finally:
            daemon.ended.set()

    with single_errors():
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            try:
                await eventually(lambda: daemon.ended.is_set() or view.answers(), "the daemon's HTTP server")
                yield daemon
            finally:
                if not daemon.ended.is_set():
                    await daemon.stop()
                await view.aclose()


# ---------------------------------------------------------------------------------------- processes


@dataclass
class DaemonProcess:
    """A `failover-watcher run` child process and its log lines, with the time each arrived."""

    name: str
    process: Process = field(repr=False)
    view: DaemonView = field(repr=False)
    started: float = field(default_factory=time.monotonic)
    lines: list[tuple[float, dict[str, Any]]] = field(default_factory=list, repr=False)
    raw: list[str] = field(default_factory=list, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def logged(self, predicate: Callable[[dict[str, Any]], bool]) -> bool:
        return any(predicate(line) for _, line in self.lines)

    def events(self) -> list[str]:
        return [str(line.get("event")) for _, line in self.lines]

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def wait_exit(self, timeout: float) -> int:
        with anyio.fail_after(timeout):
            return await self.process.wait()

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


@contextlib.asynccontextmanager
async def process(
    config: Path, name: str = "daemon", *, env: dict[str, str] | None = None
) -> AsyncIterator[DaemonProcess]:
    """`failover-watcher run --config F` as a child; killed when the block ends if still running."""
    cfg = load_config(config)
    host, port = cfg.server.host_port
    cmd = [*CLI, "run", "--config", str(config), "--log-json", "--log-level", "DEBUG"]
    async with await anyio.open_process(cmd, env=env or clean_env()) as proc:
        d = DaemonProcess(name, proc, DaemonView(f"http://{host}:{port}"))

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

        async def drain_stderr() -> None:
            assert proc.stderr is not None
            async for chunk in proc.stderr:
                d.raw.append(chunk.decode(errors="replace"))

        with single_errors():
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump)
                tg.start_soon(drain_stderr)
                try:
                    await eventually(
                        lambda: not d.running or d.view.answers(), f"{name}'s HTTP server", timeout=20
                    )
                    yield d
                finally:
                    if d.running:
                        with contextlib.suppress(ProcessLookupError):
                            proc.send_signal(signal.SIGCONT)
                            proc.kill()
                    with anyio.move_on_after(10):
                        await proc.wait()
                    await d.view.aclose()
                    tg.cancel_scope.cancel()


async def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, str, str]:
    """Run one `failover-watcher` command to completion: (exit code, stdout, stderr)."""
    with anyio.fail_after(timeout):
        result = await anyio.run_process([*CLI, *args], check=False, env=env or clean_env())
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def alive(d: DaemonProcess | InProcessDaemon) -> None:
    """Fail at once, with the evidence, if the daemon under test has died."""
    if isinstance(d, DaemonProcess):
        if not d.running:
            tail = "\n".join(d.raw[-25:])
            raise AssertionError(f"{d.name} exited with code {d.process.returncode}; last output:\n{tail}")
    elif d.ended.is_set() and not d.stop_requested:
        raise AssertionError(f"the daemon's serve() ended by itself: {d.crash!r}")


async def refused_at_start(config: Path, port: int, timeout: float = 30.0) -> tuple[int, str]:
    """`run --config F` must exit (with its code and stderr) instead of starting to serve on `port`."""
    cmd = [*CLI, "run", "--config", str(config), "--log-json"]
    started = False
    async with (
        await anyio.open_process(cmd, env=clean_env()) as proc,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        with anyio.fail_after(timeout):
            while proc.returncode is None and not started:
                try:
                    started = (await http.get("/healthz")).status_code in (200, 503)
                except httpx.TransportError:
                    await anyio.sleep(0.05)
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
