"""Serving an ASGI app with uvicorn as a guest in the caller's event loop.

The daemon, the simulator and the event receiver all serve HTTP from inside a process that owns its
signals and its logging; this is the one place that knows how to do that with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from typing import Any

import anyio
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
        # uvicorn polls should_exit every 0.1 s; waiting on an event makes stop() immediate.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.1)


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
    except OSError:
        sock.close()
        raise
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


@contextlib.asynccontextmanager
async def serving(app: Any, sock: socket.socket, *, name: str = "http") -> AsyncIterator[EmbeddedServer]:
    """Serve `app` on `sock` for the life of the block; started when the block begins."""
    server = EmbeddedServer(server_config(app))
    task = asyncio.create_task(server.serve(sockets=[sock]), name=name)
    try:
        ready = asyncio.create_task(server.ready.wait())
        try:
            with anyio.fail_after(STARTUP_TIMEOUT_SECONDS):
                await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if task.done():
            task.result()  # re-raise why uvicorn did not start
            raise OSError(f"{name} server stopped during startup")
        yield server
    finally:
        server.stop()
        # Shielded: the block may be exiting because it was cancelled, and an orphaned server
        # would keep the port and the loop busy.
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(SHUTDOWN_TIMEOUT_SECONDS):
                await asyncio.wait({task})
            if not task.done():
                server.force_exit = True
                task.cancel()
                await asyncio.wait({task})
            elif not task.cancelled():
                task.exception()  # retrieved, so asyncio does not warn at exit
        sock.close()
