"""The simulator and the daemon as processes of their own, for benchmarks 4 and 5.

The daemon runs as `failover-watcher run --config <tmp>.toml` (its CPU time and memory are its own,
read from /proc), the simulator as `failover-watcher simulate --per-minute N --seed-file <tmp>.json`.
On a machine with two or more CPUs the daemon is pinned to one CPU and the simulator to another.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import simproc
import tomli_w

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    base_url: str
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def simulator(seed: dict[str, Any], per_minute: int, tmp: Path, cpu: int | None) -> Iterator[Proc]:
    """`failover-watcher simulate` with `seed` and a budget of `per_minute` per token."""
    seed_file = tmp / "seed.json"
    seed_file.write_text(json.dumps(seed), encoding="utf-8")
    cmd = [str(simproc.CLI), "simulate", "--port", "0", "--per-minute", str(per_minute)]
    proc = subprocess.Popen(
        [*cmd, "--seed-file", str(seed_file)], stdout=subprocess.PIPE, stderr=sys.stderr, text=True
    )
    try:
        if cpu is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(proc.pid, {cpu})
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"simulator did not start: {line!r}")
        base_url = line.split("listening on ", 1)[1].split()[0]
        simproc._wait_ready(base_url)
        yield Proc(base_url, proc.pid)
    finally:
        _stop(proc)


@contextlib.contextmanager
def daemon(config: dict[str, Any], tmp: Path, cpu: int | None, log_path: Path) -> Iterator[Proc]:
    """`failover-watcher run --config <tmp>/watcher.toml`; ready once /readyz answers 200."""
    port = free_port()
    config = {**config, "server": {"listen": f"127.0.0.1:{port}", "admin_token": "bench-admin-token-0123"}}
    config["state"] = {"dir": str(tmp / "state")}
    path = tmp / "watcher.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    cmd = [str(simproc.CLI), "run", "--config", str(path), "--log-level", "WARNING", "--log-json"]
    with log_path.open("a", encoding="utf-8") as log:
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}  # not under systemd
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
    try:
        if cpu is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(proc.pid, {cpu})
        yield Proc(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        _stop(proc)


def wait_ready(base_url: str, timeout: float) -> float:
    """Wait until the daemon's /readyz answers 200; return when (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"daemon at {base_url} not ready within {timeout:g}s")
        time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def sim_log(base_url: str, since: float | None = None) -> list[dict[str, Any]]:
    params = {"since": str(since)} if since is not None else {}
    requests: list[dict[str, Any]] = httpx.get(f"{base_url}/_sim/requests", params=params, timeout=30).json()[
        "requests"
    ]
    return requests


def genesys(base_url: str, per_minute: int, **more: Any) -> dict[str, Any]:
    return {
        "api_base_url": base_url,
        "login_base_url": base_url,
        "client_id": simproc.CLIENT_ID,
        "client_secret": simproc.CLIENT_SECRET,
        "requests_per_minute": per_minute,
        **more,
    }
