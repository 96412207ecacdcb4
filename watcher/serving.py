"""Serving an ASGI app with uvicorn as a guest in the caller's event loop.

The daemon, the simulator and the event receiver all serve HTTP from inside a process that owns its
signals and its logging; this is the one place that knows how to do that with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import socket
from collections.abc import AsyncIterator, Generator
from typing import Any

import anyio
import anyio.abc
import uvicorn

STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 5.0


class EmbeddedServer(uvicorn.Server):
    """uvicorn that installs no signal handlers, reports readiness through an event, and stops at
    once when asked.

    The host process owns SIGTERM/SIGINT/SIGHUP (graceful shutdown, reload); uvicorn would otherwise
    replace those handlers while it serves.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()

    async def main_loop(self) -> None:
        # uvicorn wakes every 0.1 s to poll should_exit; waiting on an event makes stop() immediate,
        # so the loop need only wake once a second, for the Date header (uvicorn refreshes it on
        # every tenth tick: the counter steps by ten). A daemon idles between polls: ten wake-ups a
        # second were a measurable share of its CPU.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864_000
            with anyio.move_on_after(1.0):
                await self._stopping.wait()


class ListenError(OSError):
    """An address that cannot be listened on, said in words: which address, and why."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if cause.errno == errno.EADDRINUSE:
            why = "the address is already in use (another process listens there: another watcher?)"
        elif cause.errno == errno.EADDRNOTAVAIL:
            why = "no interface of this host has that address"
        elif cause.errno == errno.EACCES:
            why = "permission denied (ports below 1024 need privileges)"
        else:
            why = cause.strerror or str(cause)
        super().__init__(cause.errno, f"cannot listen on {address}: {why}")
        self.address = address

    def __str__(self) -> str:
        return str(self.strerror)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on `host:port` ourselves, so port 0 yields a known free port.

    proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when it is, and
    without it keep-alive requests stall ~40 ms on Nagle and delayed ACKs.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, exc) from None
    sock.set_inheritable(True)
    return sock


def base_url_of(sock: socket.socket) -> tuple[str, int]:
    """`http://host:port` of a bound socket, and the port."""
    host, port = sock.getsockname()[:2]
    return (f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"), port


def server_config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        log_config=None,  # leave the host process's logging configuration alone
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_SECONDS),
    )


async def serve_app(
    app: Any,
    sock: socket.socket,
    *,
    name: str = "http",
    task_status: anyio.abc.TaskStatus[EmbeddedServer] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app` on `sock` until cancelled, as a task of the caller's task group (`tg.start`).

    Started once uvicorn listens; on cancellation it stops gracefully within a bound (uvicorn is
    shielded meanwhile, so open connections are closed properly), then forcefully, and closes `sock`.
    """
    server = EmbeddedServer(server_config(app))
    stopped = anyio.Event()
    shield = anyio.CancelScope(shield=True)

    async def run() -> None:
        try:
            with shield:
                await server.serve(sockets=[sock])
        finally:
            stopped.set()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, name=name)
            with anyio.fail_after(STARTUP_TIMEOUT_SECONDS):
                while not server.ready.is_set():
                    if stopped.is_set():
                        raise OSError(f"{name} server stopped during startup")
                    await anyio.sleep(0.01)
            task_status.started(server)
            try:
                await anyio.sleep_forever()
            finally:
                server.stop()
                with anyio.CancelScope(shield=True):
                    with anyio.move_on_after(SHUTDOWN_TIMEOUT_SECONDS):
                        await stopped.wait()
                    if not stopped.is_set():
                        server.force_exit = True
                        shield.cancel()
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def serving(app: Any, sock: socket.socket, *, name: str = "http") -> AsyncIterator[EmbeddedServer]:
    """Serve `app` on `sock` for the life of the block; started when the block begins."""
    async with anyio.create_task_group() as tg:
        server: EmbeddedServer = await tg.start(functools.partial(serve_app, app, sock, name=name))
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()
