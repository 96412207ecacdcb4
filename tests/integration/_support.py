"""Helpers of the integration tests: a config file for the simulator, a recorded sleep, a spying
transport, the request log, and the command line run in a worker thread."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from watcher import cli

CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret"


def config_text(base_url: str, state_dir: Path, *, max_retries: int = 2, timeout: float = 1.0) -> str:
    """A watcher config pointing both base URLs at the simulator, with small retries and timeouts."""
    return f"""
[genesys]
api_base_url = "{base_url}"
login_base_url = "{base_url}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
requests_per_minute = 300
max_retries = {max_retries}
request_timeout_seconds = {timeout}

[health]
interval_seconds = 5.0
timeout_seconds = {timeout}

[executor]
conflict_retries = 3

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

[state]
dir = "{state_dir}"
"""


@dataclass
class RecordedSleep:
    """A `sleep` for the client that records what it was asked to wait and returns at once."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await anyio.lowlevel.checkpoint()


ResponseHook = Callable[[httpx.Request, httpx.Response], Awaitable[None]]


class SpyTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport; calls `hook` after each answer arrives, before the client sees it.

    This is how a test acts *between* two requests of the client (a change behind its back after
    the read, before the write) over real HTTP, without patching the client.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, hook: ResponseHook) -> None:
        self.inner = inner
        self.hook = hook
        self.seen: list[tuple[str, str, int, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.seen.append(
            (request.method, request.url.path, response.status_code, response.headers.get("Retry-After"))
        )
        await self.hook(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def no_hook(request: httpx.Request, response: httpx.Response) -> None:
    return None


async def request_log(admin: httpx.AsyncClient, since: float | None = None) -> list[dict[str, Any]]:
    """`GET /_sim/requests`: what the simulator saw (method, path, status, time)."""
    params = {"since": str(since)} if since is not None else None
    response = await admin.get("/_sim/requests", params=params)
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()["requests"]
    return records


async def sim_now(admin: httpx.AsyncClient) -> float:
    response = await admin.get("/_sim/requests", params={"since": "1e18"})
    response.raise_for_status()
    now: float = response.json()["now"]
    return now


async def add_fault(admin: httpx.AsyncClient, **spec: Any) -> None:
    response = await admin.put("/_sim/faults", json=spec)
    assert response.status_code == 200, response.text


async def sim_state(admin: httpx.AsyncClient) -> dict[str, Any]:
    response = await admin.get("/_sim/state")
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def _run_cli_blocking(argv: list[str]) -> CliResult:
    with _captured() as (out, err):
        code = cli.main(argv)
    return CliResult(code, out.getvalue(), err.getvalue())


async def run_cli(*argv: str) -> CliResult:
    """`failover-watcher ARGV` in a worker thread (it runs its own event loop), output captured.

    The simulator keeps serving on this thread's loop meanwhile. A deadline guards a hung command.
    """
    with anyio.fail_after(20):
        return await anyio.to_thread.run_sync(_run_cli_blocking, list(argv), abandon_on_cancel=True)


def strategy_order(body: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(region, priority, weight) of a strategy body, best priority first."""
    regions = body["routingConfig"]["regions"]
    return sorted(((r["regionId"], r["priority"], r["weight"]) for r in regions), key=lambda t: t[1])


def by_id(items: list[dict[str, Any]], entity_id: str) -> dict[str, Any]:
    return next(item for item in items if item["id"] == entity_id)
